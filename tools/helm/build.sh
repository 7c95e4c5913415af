#!/usr/bin/env bash
# Builds the real helm CLI from its Go module once per version, or reuses the cached one;
# prints the binary's path on stdout.
#
#   GITOPS_HELM=$(tools/helm/build.sh) cargo test -p gitops-render
#
# go.mod pins helm (a `tool` directive: `go build helm.sh/helm/v4/cmd/helm` inside this module)
# and go.sum every module it needs. Cache and locking: tools/lib/go-tool.sh. The first build on
# a machine downloads the modules and compiles helm (see README, "Testing").
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lib/go-tool.sh"
helm="$(awk '$1 == "helm.sh/helm/v4" { print $2 }' "$here/go.mod")"
if [ -z "$helm" ]; then
  echo "helm/build.sh: go.mod does not require helm.sh/helm/v4" >&2
  exit 1
fi
# This script too: its build flags decide what the binary is.
hash="$(cat "$here/go.mod" "$here/go.sum" "$here/build.sh" | sha256sum | cut -c1-12)"
# The version is stamped as helm's Makefile does, so `helm version` tells which helm rendered.
GO_TOOL_NO_GO="tests fall back to tools/helm-shim without it" CGO_ENABLED=0 go_tool helm "$helm" "$hash" \
  -ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=$helm -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
  helm.sh/helm/v4/cmd/helm
