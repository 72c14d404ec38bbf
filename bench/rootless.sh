#!/usr/bin/env bash
# Rootless strata beside rootless podman, with hyperfine: an unprivileged
# user (made here with subordinate ids, removed at the end) runs, with each
# tool's own store and runtime dir (see docs/rootless.md):
#   1. `run --rm --network none busybox true` (container start-up);
#   2. the seed's web-ping (demo/web-ping) rebuilt with nothing changed.
# podman runs with the cgroupfs manager and file events (a user without a
# systemd session has no user bus: with the systemd manager its conmon
# waited out its timeout on every run).
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
mkdir -p "$WORK/home/run" "$WORK/home/.config/containers"
printf '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' \
  > "$WORK/home/.config/containers/containers.conf"
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
# web-ping's base (diamol/node) only has to exist: nothing runs node.
as_user "$WORK/strata tag busybox diamol/node"
cp -r demo/web-ping "$WORK/web-ping"
chmod -R a+rX "$WORK/web-ping"
wrapper "$WORK/strata-run" "$WORK/strata" run --rm --network none busybox true
wrapper "$WORK/strata-build" "$WORK/strata" build -q -t web-ping "$WORK/web-ping"
"$WORK/strata-run"
"$WORK/strata-build" >/dev/null
run_cmds=(-n "strata rootless run" "$WORK/strata-run")
build_cmds=(-n "strata rootless web-ping no-op rebuild" "$WORK/strata-build")
if [[ -z ${SKIP_PEERS:-} ]] && command -v podman >/dev/null; then
  as_user "podman import $WORK/busybox.tar busybox >/dev/null 2>&1"
  as_user "podman tag busybox docker.io/diamol/node:latest"
  wrapper "$WORK/podman-run" podman run --rm --network none busybox true
  wrapper "$WORK/podman-build" podman build -q --pull=never -t web-ping "$WORK/web-ping"
  "$WORK/podman-run"
  "$WORK/podman-build" >/dev/null
  # podman 4.3 sometimes waits out its 20 s conmon timeout on every run
  # (seen for freshly made users on a loaded machine; not understood):
  # say so rather than report it as podman's start time.
  t0=$(date +%s%N); "$WORK/podman-run"; t1=$(date +%s%N)
  (( (t1 - t0) / 1000000 < 10000 )) ||
    echo "WARNING: podman run took $(( (t1 - t0) / 1000000 )) ms: its conmon timeout, not its start time" >&2
  run_cmds+=(-n "podman rootless run" "$WORK/podman-run")
  build_cmds+=(-n "podman rootless web-ping no-op rebuild" "$WORK/podman-build")
else
  echo "podman: skipped (SKIP_PEERS or not installed)" >&2
fi
hyperfine -N --warmup 3 --runs "$RUNS" "${run_cmds[@]}"
hyperfine -N --warmup 3 --runs "$RUNS" "${build_cmds[@]}"
