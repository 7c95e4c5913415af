#!/usr/bin/env bash
# Builds the real helm CLI from its Go module once per version, or reuses the cached one;
# prints the binary's path on stdout.
#
#   GITOPS_HELM=$(tools/helm/build.sh) cargo test -p gitops-render
#
# go.mod pins helm (a `tool` directive: `go build helm.sh/helm/v4/cmd/helm` inside this module)
# and go.sum every module it needs. Cache:
# ${XDG_CACHE_HOME:-$HOME/.cache}/gitops/helm/<helm version>-<hash of go.mod, go.sum, this script>/helm.
# Go's module and build caches (GOMODCACHE, GOCACHE) are Go's own, in $HOME too. The first
# build on a machine downloads the modules and compiles helm (see README, "Testing").
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
helm="$(awk '$1 == "helm.sh/helm/v4" { print $2 }' "$here/go.mod")"
if [ -z "$helm" ]; then
  echo "helm/build.sh: go.mod does not require helm.sh/helm/v4" >&2
  exit 1
fi
# This script too: its build flags decide what the binary is.
hash="$(cat "$here/go.mod" "$here/go.sum" "$here/build.sh" | sha256sum | cut -c1-12)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/gitops/helm/$helm-$hash"
bin="$cache/helm"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "helm/build.sh: Go is not installed; tests fall back to tools/helm-shim without it" >&2
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
tmp="$(mktemp "$cache/.helm.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
(
  cd "$here"
  # -mod=readonly: go.mod and go.sum pin every module; nothing is resolved anew. The version
  # is stamped as helm's Makefile does, so `helm version` tells which helm rendered.
  GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath \
    -ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=$helm -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
    -o "$tmp" helm.sh/helm/v4/cmd/helm
)
mv -f "$tmp" "$bin"
# Each go.mod change makes a new directory (about 60 MB): keep this one and the one before.
ls -1dt "${cache%/*}/$helm"-* 2>/dev/null | tail -n +3 | xargs -r rm -rf
echo "helm/build.sh: built helm $helm in $(($(date +%s) - start)) s: $bin" >&2
echo "$bin"
