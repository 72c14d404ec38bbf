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
  userdel "$NAME" 2>/dev/null || true
  sed -i "/^$NAME:/d" /etc/subuid /etc/subgid
  rm -rf "$WORK"
}
trap cleanup EXIT
useradd -M -d "$WORK/home" -s /bin/sh "$NAME"
sed -i "/^$NAME:/d" /etc/subuid /etc/subgid
echo "$NAME:4000000:65536" >> /etc/subuid
echo "$NAME:4000000:65536" >> /etc/subgid
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
export -f as_user
export NAME WORK

as_user "$WORK/strata image import --change 'CMD [\"sh\"]' $WORK/busybox.tar busybox >/dev/null"
as_user "$WORK/strata run --rm --network none busybox true"
cmds=(-n "strata rootless" "as_user '$WORK/strata run --rm --network none busybox true'")
if [[ -z ${SKIP_PEERS:-} ]] && command -v podman >/dev/null; then
  as_user "podman import $WORK/busybox.tar busybox >/dev/null"
  as_user "podman run --rm --network none busybox true"
  cmds+=(-n "podman rootless" "as_user 'podman run --rm --network none busybox true'")
else
  echo "podman: skipped (SKIP_PEERS or not installed)" >&2
fi
# Both pay the same setpriv and shell; hyperfine subtracts its shell's start.
hyperfine --shell=bash --warmup 3 --runs "$RUNS" "${cmds[@]}"
