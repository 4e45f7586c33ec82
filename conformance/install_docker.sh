#!/usr/bin/env bash
# A real Docker engine for `deployc up` tests (called by install.sh; safe to re-run).
#
#   conformance/install_docker.sh [DEST]     (default DEST: <repo>/.conformance)
#
# 1. apt-get install docker.io busybox-static (Debian's dockerd 20.10, containerd, runc; a static busybox),
#    skipped when dockerd and busybox are already there.
# 2. DEST/docker/busybox-rootfs.tar: a root filesystem of busybox-static and its applet links, plus
#    /standin.sh (a stand-in engine: serves its --port's /health with busybox httpd), which the tests
#    `docker import` as a local image (no registry is reachable here).
# 3. Starts nothing: tests/conformance/conftest.py's `dockerd` fixture starts the daemon for the test
#    session with conformance/dockerd.sh and stops it afterwards. `bash conformance/dockerd.sh start DEST`
#    starts one by hand (DOCKER_HOST=unix://DEST/docker/docker.sock).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
DEST="${1:-$REPO/.conformance}"
DIR="$DEST/docker"
log() { printf '[conformance] %s\n' "$*" >&2; }

t0=$SECONDS
if command -v dockerd >/dev/null && command -v containerd >/dev/null && command -v runc >/dev/null \
    && [ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx httpd; then
  log "docker: dockerd $(dockerd --version | cut -d' ' -f3 | tr -d ,) and busybox already installed"
else
  log "docker: apt-get install docker.io busybox-static"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # --no-install-recommends: no bridge-utils, no cgroupfs-mount, no git; the daemon runs with --bridge=none
  apt-get install -y -qq --no-install-recommends docker.io busybox-static >/dev/null
fi
# busybox-static installs /bin/busybox; Debian's busybox (dynamic) would too, but then /bin/busybox
# needs libc in the image: the rootfs below must hold a static binary.
BUSYBOX=/bin/busybox
if ldd "$BUSYBOX" >/dev/null 2>&1; then   # ldd fails on a static binary
  log "docker: $BUSYBOX is not static; apt-get install busybox-static"; exit 1
fi

mkdir -p "$DIR"
stamp="$DIR/.rootfs-stamp"
want="$(sha256sum "$BUSYBOX" "$HERE/standin.sh" | sha256sum | cut -d' ' -f1)"
if [ -f "$DIR/busybox-rootfs.tar" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  log "docker: busybox rootfs up to date ($DIR/busybox-rootfs.tar)"
else
  root="$(mktemp -d)"
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root/bin" "$root/tmp" "$root/www" "$root/etc"
  cp "$BUSYBOX" "$root/bin/busybox"
  for applet in $("$BUSYBOX" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
  done
  install -m 0755 "$HERE/standin.sh" "$root/standin.sh"
  echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
  tar -C "$root" --numeric-owner --owner=0 --group=0 -cf "$DIR/busybox-rootfs.tar" .
  echo "$want" > "$stamp"
  log "docker: wrote $DIR/busybox-rootfs.tar ($(du -h "$DIR/busybox-rootfs.tar" | cut -f1))"
fi
log "docker: done in $((SECONDS - t0))s"
