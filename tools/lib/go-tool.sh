# Shared by tools/<name>/build.sh: builds a Go program of the module in that directory once per
# version, or reuses the cached binary; prints the binary's path on stdout.
#
#   here=...; source "$here/../lib/go-tool.sh"
#   go_tool NAME VERSION HASH [go build arguments...]
#
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/gitops/NAME/VERSION-HASH/NAME, HASH being what the
# caller says decides the binary (its go.mod, go.sum, sources, build flags). Go's module and
# build caches (GOMODCACHE, GOCACHE) are Go's own, in $HOME too. Two builds at once (CI and a
# developer, two worktrees) wait for each other on a lock. GO_TOOL_NO_GO says what the missing
# Go means for the tests.

go_tool() {
  local name="$1" version="$2" hash="$3"
  shift 3
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/gitops/$name/$version-$hash"
  local bin="$cache/$name"
  if [ -x "$bin" ]; then
    echo "$bin"
    return 0
  fi
  if ! command -v go >/dev/null 2>&1; then
    echo "$name/build.sh: Go is not installed; ${GO_TOOL_NO_GO:-the tests that need $name fail without it}" >&2
    return 1
  fi
  mkdir -p "$cache"
  exec 9>"$cache/.lock"
  flock 9
  if [ -x "$bin" ]; then
    echo "$bin"
    return 0
  fi
  local start tmp
  start=$(date +%s)
  tmp="$(mktemp "$cache/.$name.XXXXXX")"
  # shellcheck disable=SC2064 # the path is fixed now, on purpose.
  trap "rm -f '$tmp'" EXIT
  (
    cd "$here"
    # -mod=readonly: go.mod and go.sum pin every module; nothing is resolved anew.
    GOFLAGS=-mod=readonly go build -trimpath -o "$tmp" "$@"
  )
  mv -f "$tmp" "$bin"
  # Each change makes a new directory: keep this one and the one before.
  ls -1dt "${cache%/*}/$version"-* 2>/dev/null | tail -n +3 | xargs -r rm -rf
  echo "$name/build.sh: built $name $version in $(($(date +%s) - start)) s: $bin" >&2
  echo "$bin"
}
