#!/usr/bin/env bash
# A LiveKit server for LiveKit mode (docs/livekit.md): find it, or build it once from the Go
# module proxy and keep it.
#
#   scripts/livekit-server.sh            print the binary's path (building it if needed)
#   scripts/livekit-server.sh --dev      run a loopback development server: ws://127.0.0.1:7880,
#                                        key "devkey", secret "characters-dev-secret-0123456789"
#                                        (the settings to use are printed first)
#   scripts/livekit-server.sh --config F run it with the configuration file F
#
# Where the binary comes from, first found wins: $CHARACTERS_LIVEKIT_SERVER; `livekit-server` on
# PATH (LiveKit's release binary or container image); the cache
# ${CHARACTERS_LIVEKIT_CACHE:-${XDG_CACHE_HOME:-~/.cache}/characters/livekit}/<version>/server;
# else `go install github.com/livekit/livekit-server/cmd/server@<version>` (CGO off) into that
# cache: a few minutes once, then instant. Needs Go 1.24+ for the build.
#
# The version is v1.9.12: the issue named v1.9.9, but the Go module proxy here answers
# "403 Forbidden: This module version is not available" for it; v1.9.12 is the nearest one it
# serves, and builds with `go install` (no replace directives in its go.mod).
set -euo pipefail

VERSION=v1.9.12
DEV_KEY=devkey
DEV_SECRET=characters-dev-secret-0123456789

die() { printf 'livekit-server.sh: error: %s\n' "$*" >&2; exit 1; }

find_server() {
  if [[ -n ${CHARACTERS_LIVEKIT_SERVER:-} ]]; then
    [[ -x $CHARACTERS_LIVEKIT_SERVER ]] || die "CHARACTERS_LIVEKIT_SERVER=$CHARACTERS_LIVEKIT_SERVER is not an executable file"
    printf '%s\n' "$CHARACTERS_LIVEKIT_SERVER"
    return
  fi
  if command -v livekit-server >/dev/null; then
    command -v livekit-server
    return
  fi
  local cache=${CHARACTERS_LIVEKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/characters/livekit}/$VERSION
  if [[ ! -x $cache/server ]]; then
    command -v go >/dev/null || die "no livekit-server found and no Go to build it: install Go 1.24+ (Debian: apt-get install golang), or LiveKit's release binary as livekit-server on PATH"
    mkdir -p "$cache"
    printf 'building livekit-server %s from the Go module proxy into %s (a few minutes, once)\n' "$VERSION" "$cache" >&2
    local log=$cache/build.log
    if ! CGO_ENABLED=0 GOBIN=$cache timeout 1800 go install "github.com/livekit/livekit-server/cmd/server@$VERSION" >"$log" 2>&1; then
      tail -n 20 "$log" >&2
      die "go install github.com/livekit/livekit-server/cmd/server@$VERSION failed (log: $log)"
    fi
  fi
  printf '%s\n' "$cache/server"
}

case ${1:-} in
  "")
    find_server
    ;;
  --dev)
    server=$(find_server)
    dir=$(mktemp -d)
    trap 'rm -rf "$dir"' EXIT
    cat >"$dir/livekit.yaml" <<EOF
port: 7880
bind_addresses: ["127.0.0.1"]
rtc:
  tcp_port: 7881
  port_range_start: 50000
  port_range_end: 50200
  node_ip: 127.0.0.1
  use_external_ip: false
  enable_loopback_candidate: true
room:
  auto_create: false  # only Characters makes rooms: an ended call's token opens nothing
keys:
  $DEV_KEY: $DEV_SECRET
EOF
    cat >&2 <<EOF
LiveKit development server on loopback. Start Characters with:
  CHARACTERS_LIVEKIT_URL=ws://127.0.0.1:7880 CHARACTERS_LIVEKIT_API_KEY=$DEV_KEY \\
  CHARACTERS_LIVEKIT_API_SECRET=$DEV_SECRET characters serve
EOF
    "$server" --config "$dir/livekit.yaml"
    ;;
  --config)
    [[ -n ${2:-} ]] || die "--config needs a file"
    [[ -f $2 ]] || die "no configuration file $2"
    exec "$(find_server)" --config "$2"
    ;;
  -h | --help)
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
    ;;
  *)
    die "unknown option $1 (try --help)"
    ;;
esac
