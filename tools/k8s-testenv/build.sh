#!/usr/bin/env bash
# Builds the k8s-testenv harness (kube-apiserver + kube-controller-manager + etcd in one Go
# binary) once per version, or reuses the cached one; prints the binary's path on stdout.
#
#   GITOPS_TESTENV=$(tools/k8s-testenv/build.sh) cargo test -p gitops-kube --test apiserver
#
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/gitops/k8s-testenv/<k8s version>-<hash of the Go sources>/.
# Go's module and build caches (GOMODCACHE, GOCACHE) are Go's own, in $HOME too. The first
# build on a machine downloads the modules and compiles the servers (see README, "Testing").
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
k8s="$(awk '$1 == "k8s.io/kubernetes" { print $2 }' "$here/go.mod")"
hash="$(cat "$here/go.mod" "$here/go.sum" "$here"/*.go | sha256sum | cut -c1-12)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/gitops/k8s-testenv/$k8s-$hash"
bin="$cache/k8s-testenv"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "k8s-testenv/build.sh: Go is not installed; the real-API-server tests need it" >&2
  exit 1
fi
mkdir -p "$cache"
# Two builds at once (CI and a developer, two worktrees) wait for each other.
exec 9>"$cache/.lock"
flock 9
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
start=$(date +%s)
tmp="$(mktemp "$cache/.k8s-testenv.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
(
  cd "$here"
  # -mod=readonly: go.mod and go.sum pin every module; nothing is resolved anew.
  GOFLAGS=-mod=readonly go build -trimpath -ldflags='-s -w' -o "$tmp" .
)
mv -f "$tmp" "$bin"
# Each harness change makes a new directory (about 130 MB): keep this one and the one before.
ls -1dt "${cache%/*}/$k8s"-* 2>/dev/null | tail -n +3 | xargs -r rm -rf
echo "k8s-testenv/build.sh: built $k8s in $(($(date +%s) - start)) s: $bin" >&2
echo "$bin"
