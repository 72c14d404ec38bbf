#!/usr/bin/env bash
# Rootless container start-up, side by side, with hyperfine: an unprivileged
# user (made here with subordinate ids, removed at the end) runs
# `run --rm --network none busybox true` with strata and with Debian's
# podman, each with its own store and runtime dir (see docs/rootless.md).
#
# Usage: bench/rootless.sh            (as root; builds strata in release mode)
# Env:   RUNS=30  STRATA=path/to/strata  CARGO_TARGET_DIR=…  SKIP_PEERS=1
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-30}
if [[ -z "${STRATA:-}" ]]; then
  cargo build --release -p strata >&2
  STRATA="${CARGO_TARGET_DIR:-$PWD/target}/release/strata"
fi
[[ $(id -u) == 0 ]] || { echo "bench/rootless.sh must run as root (it makes a user)" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "hyperfine is required" >&2; exit 1; }
command -v newuidmap >/dev/null || { echo "newuidmap is required (apt-get install uidmap)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/strata-bench-rootless.XXXXXX)
chmod 755 "$WORK"
NAME="sbench$$"
cleanup() {
  # The pause processes (strata's and podman's) this user's runs left;
  # userdel refuses a user with processes.
  local f
  for f in "$WORK/home/run/strata/pause.pid" "$WORK/home/run/libpod/tmp/pause.pid"; do
    [[ -s $f ]] && kill "$(cut -d' ' -f1 "$f")" 2>/dev/null || true
  done
  for _ in $(seq 1 50); do userdel "$NAME" 2>/dev/null && break; sleep 0.1; done
  rm -rf "$WORK"
}
trap cleanup EXIT
useradd -M -d "$WORK/home" -s /bin/sh "$NAME"
# useradd gives subordinate ids where login.defs says so; else add some.
grep -q "^$NAME:" /etc/subuid || usermod --add-subuids 4000000-4065535 --add-subgids 4000000-4065535 "$NAME"
mkdir -p "$WORK/home/run"
# The binary where the user can run it.
cp "$STRATA" "$WORK/strata"
chmod 755 "$WORK/strata"

# A busybox image: busybox-static plus its applet links.
BB=$(command -v busybox)
mkdir -p "$WORK/rootfs"/{bin,etc,dev,proc,sys,tmp,root,usr/bin,usr/sbin,sbin,var/tmp,home}
cp "$BB" "$WORK/rootfs/bin/busybox"
for p in $("$BB" --list-full); do [[ $p == bin/busybox ]] || ln -sf /bin/busybox "$WORK/rootfs/$p"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$WORK/rootfs/etc/passwd"
tar -C "$WORK/rootfs" -cf "$WORK/busybox.tar" .
chown -R "$NAME:$NAME" "$WORK/home"
chmod 700 "$WORK/home/run"

# as_user CMD: runs CMD (a shell line) as the user with its own environment.
as_user() {
  setpriv --reuid "$NAME" --regid "$NAME" --init-groups -- env -i \
    HOME="$WORK/home" XDG_RUNTIME_DIR="$WORK/home/run" PATH=/usr/bin:/bin:/usr/sbin:/sbin \
    sh -c "cd; $1"
}
# wrapper FILE ARGV...: a script that execs ARGV as the user (hyperfine -N
# runs it without a shell; through hyperfine's shell podman waited 20 s for
# its conmon on every run).
wrapper() {
  local f=$1; shift
  printf '#!/bin/sh\ncd / && exec setpriv --reuid %q --regid %q --init-groups -- env -i HOME=%q XDG_RUNTIME_DIR=%q PATH=/usr/bin:/bin:/usr/sbin:/sbin %s\n' \
    "$NAME" "$NAME" "$WORK/home" "$WORK/home/run" "$*" > "$f"
  chmod 755 "$f"
}

as_user "$WORK/strata image import --change 'CMD [\"sh\"]' $WORK/busybox.tar busybox >/dev/null"
wrapper "$WORK/strata-run" "$WORK/strata" run --rm --network none busybox true
"$WORK/strata-run"
cmds=(-n "strata rootless" "$WORK/strata-run")
if [[ -z ${SKIP_PEERS:-} ]] && command -v podman >/dev/null; then
  as_user "podman import $WORK/busybox.tar busybox >/dev/null 2>&1"
  wrapper "$WORK/podman-run" podman run --rm --network none busybox true
  "$WORK/podman-run"
  cmds+=(-n "podman rootless" "$WORK/podman-run")
else
  echo "podman: skipped (SKIP_PEERS or not installed)" >&2
fi
# Known issue here (a loaded 2-core VM): podman 4.3 sometimes waits its
# 20 s conmon timeout on every run for a freshly made user; the numbers of
# issue 12's note come from this script's strata half and the same wrappers
# run for a user made by hand.
hyperfine -N --warmup 3 --runs "$RUNS" "${cmds[@]}"
