#!/usr/bin/env bash
# Builds the real kubeseal CLI (Sealed Secrets) from its Go module once per version, or reuses
# the cached one; prints the binary's path on stdout. The Sealed Secrets tests seal and unseal
# with it as the peer of ours.
#
#   GITOPS_KUBESEAL=$(tools/kubeseal/build.sh) cargo test -p gitops-secrets
#
# go.mod pins sealed-secrets (a `tool` directive; the last release under the bitnami-labs module
# path) and go.sum every module it needs. Cache and locking: tools/lib/go-tool.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lib/go-tool.sh"
version="$(awk '$1 == "github.com/bitnami-labs/sealed-secrets" { print $2 }' "$here/go.mod")"
if [ -z "$version" ]; then
  echo "kubeseal/build.sh: go.mod does not require github.com/bitnami-labs/sealed-secrets" >&2
  exit 1
fi
hash="$(cat "$here/go.mod" "$here/go.sum" "$here/build.sh" | sha256sum | cut -c1-12)"
GO_TOOL_NO_GO="the Sealed Secrets peer tests fail when GITOPS_KUBESEAL is set and skip when it is not" CGO_ENABLED=0 \
  go_tool kubeseal "$version" "$hash" -ldflags='-s -w' github.com/bitnami-labs/sealed-secrets/cmd/kubeseal
