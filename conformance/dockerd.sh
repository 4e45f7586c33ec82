#!/usr/bin/env bash
# Start or stop a private Docker engine for the conformance tier.
#
#   conformance/dockerd.sh start [DEST]   # prints DOCKER_HOST=unix://DEST/docker/docker.sock once it answers
#   conformance/dockerd.sh stop [DEST]
#
# ALWAYS --bridge=none --iptables=false --ip6tables=false: the default bridge takes a private address
# range that is forbidden on these machines. Containers get host networking or none. Its own data root,
# exec root, pid file and socket under DEST/docker/, so it never touches a system Docker.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="${2:-$(dirname "$HERE")/.conformance}"
DIR="$(mkdir -p "$DEST/docker" && cd "$DEST/docker" && pwd)"
SOCK="$DIR/docker.sock"
PIDFILE="$DIR/dockerd.pid"
# the exec root holds containerd's socket: a unix socket path must stay under 108 bytes
EXEC_ROOT="/run/deployc-dockerd-$(printf '%s' "$DIR" | sha256sum | cut -c1-12)"

answers() { DOCKER_HOST="unix://$SOCK" docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

case "${1:-}" in
  start)
    if [ -S "$SOCK" ] && answers; then echo "DOCKER_HOST=unix://$SOCK"; exit 0; fi
    rm -f "$SOCK"
    mkdir -p "$DIR/data" "$EXEC_ROOT"
    nohup dockerd --bridge=none --iptables=false --ip6tables=false \
      --data-root "$DIR/data" --exec-root "$EXEC_ROOT" --pidfile "$PIDFILE" \
      --host "unix://$SOCK" >"$DIR/dockerd.log" 2>&1 </dev/null &
    for _ in $(seq 1 120); do
      if answers; then echo "DOCKER_HOST=unix://$SOCK"; exit 0; fi
      sleep 0.25
    done
    echo "dockerd did not answer within 30 s; its log ($DIR/dockerd.log):" >&2
    tail -30 "$DIR/dockerd.log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$PIDFILE" ]; then
      pid="$(cat "$PIDFILE")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    fi
    ;;
  *) echo "usage: $0 start|stop [DEST]" >&2; exit 2 ;;
esac
