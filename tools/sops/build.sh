#!/usr/bin/env bash
# Builds the real sops CLI from its Go module once per version, or reuses the cached one;
# prints the binary's path on stdout. The SOPS tests of gitops-secrets and gitops-cli encrypt
# and decrypt with it as the peer of ours.
#
#   GITOPS_SOPS=$(tools/sops/build.sh) cargo test -p gitops-secrets
#
# go.mod pins sops (a `tool` directive) and go.sum every module it needs. Cache and locking:
# tools/lib/go-tool.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lib/go-tool.sh"
sops="$(awk '$1 == "github.com/getsops/sops/v3" { print $2 }' "$here/go.mod")"
if [ -z "$sops" ]; then
  echo "sops/build.sh: go.mod does not require github.com/getsops/sops/v3" >&2
  exit 1
fi
hash="$(cat "$here/go.mod" "$here/go.sum" "$here/build.sh" | sha256sum | cut -c1-12)"
GO_TOOL_NO_GO="the SOPS peer tests fail when GITOPS_SOPS is set and skip when it is not" CGO_ENABLED=0 \
  go_tool sops "$sops" "$hash" -ldflags='-s -w' github.com/getsops/sops/v3/cmd/sops
