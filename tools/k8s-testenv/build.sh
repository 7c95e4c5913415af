#!/usr/bin/env bash
# Builds the k8s-testenv harness (kube-apiserver + kube-controller-manager + etcd in one Go
# binary) once per version, or reuses the cached one; prints the binary's path on stdout.
#
#   GITOPS_TESTENV=$(tools/k8s-testenv/build.sh) cargo test -p gitops-kube --test apiserver
#
# Cache and locking: tools/lib/go-tool.sh (keyed by the Kubernetes version and a hash of the Go
# sources). The first build on a machine downloads the modules and compiles the servers (see
# README, "Testing").
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lib/go-tool.sh"
k8s="$(awk '$1 == "k8s.io/kubernetes" { print $2 }' "$here/go.mod")"
hash="$(cat "$here/go.mod" "$here/go.sum" "$here"/*.go | sha256sum | cut -c1-12)"
GO_TOOL_NO_GO="the real-API-server tests need it" go_tool k8s-testenv "$k8s" "$hash" -ldflags='-s -w' .
