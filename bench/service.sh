#!/usr/bin/env bash
# The Docker Engine API's cost (`strata system service`), with hyperfine:
#   * `docker ps` through the service's socket with 100 containers in the
#     store (50 running, 50 exited)                       target ≤ 50 ms
#   * `docker run --rm busybox true` through the socket vs
#     `strata run --rm busybox true` (the same store, the same run)
#                                                         target ≤ 1.5×
# docker's CLI is Debian's /usr/bin/docker (20.10; `$DOCKER` to change it)
# with DOCKER_HOST=unix://…; it never reaches a daemon of its own.
# `docker version` through the socket is the floor: docker's CLI starting
# and one round trip, which every docker command pays.
#
# Usage: bench/service.sh            (as root; builds strata in release mode)
# Env:   RUNS=30  CONTAINERS=100  STRATA=path/to/strata  DOCKER=/usr/bin/docker
#        CARGO_TARGET_DIR=…
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-30}
CONTAINERS=${CONTAINERS:-100}
if [[ -z "${STRATA:-}" ]]; then
  cargo build --release -p strata >&2
  STRATA="${CARGO_TARGET_DIR:-$PWD/target}/release/strata"
fi
[[ $(id -u) == 0 ]] || { echo "bench/service.sh must run as root" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "hyperfine is required" >&2; exit 1; }
# Not the first `docker` on PATH: that may be another version.
DOCKER=${DOCKER:-/usr/bin/docker}
[[ -x $DOCKER ]] || { echo "docker's CLI ($DOCKER) is required" >&2; exit 1; }

WORK=$(mktemp -d /tmp/strata-bench-service.XXXXXX)
export STRATA_ROOT="$WORK/root"
SOCK="$WORK/api.sock"
export DOCKER_HOST="unix://$SOCK" DOCKER_CONFIG="$WORK/docker-config" DOCKER_BUILDKIT=0
SVC_PID=
cleanup() {
  "$STRATA" ps -aq --no-trunc 2>/dev/null | xargs -r "$STRATA" rm -f >/dev/null 2>&1 || true
  [[ -n $SVC_PID ]] && kill "$SVC_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# A busybox image: busybox-static plus its applet links.
BB=$(command -v busybox)
mkdir -p "$WORK/rootfs"/{bin,etc,dev,proc,sys,tmp,root}
cp "$BB" "$WORK/rootfs/bin/busybox"
for a in sh true sleep echo cat; do ln -s busybox "$WORK/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$WORK/rootfs/etc/passwd"
echo 'root:x:0:' >"$WORK/rootfs/etc/group"
tar -C "$WORK/rootfs" -cf "$WORK/busybox.tar" .
"$STRATA" image import --change 'CMD ["sh"]' "$WORK/busybox.tar" busybox >/dev/null

"$STRATA" system service --time 0 "unix://$SOCK" >"$WORK/service.log" 2>&1 &
SVC_PID=$!
for _ in $(seq 1 100); do "$DOCKER" version >/dev/null 2>&1 && break; sleep 0.1; done

echo "== $CONTAINERS containers (half running, --network none)"
for i in $(seq 1 "$CONTAINERS"); do
  if (( i % 2 )); then
    "$STRATA" run -d --network none --name "c$i" busybox sleep 600 >/dev/null
  else
    "$STRATA" run --network none --name "c$i" busybox true >/dev/null
  fi
done
echo "docker ps -a lists $("$DOCKER" ps -aq | wc -l) containers"

hyperfine -N --warmup 3 --runs "$RUNS" \
  -n 'docker version (socket)' "$DOCKER version" \
  -n 'docker ps (socket)' "$DOCKER ps" \
  -n 'docker ps -a (socket)' "$DOCKER ps -a" \
  -n 'strata ps -a' "$STRATA ps -a" \
  --export-json "$WORK/ps.json"

"$STRATA" ps -aq --no-trunc | xargs -r "$STRATA" rm -f >/dev/null

echo "== run --rm busybox true"
hyperfine -N --warmup 3 --runs "$RUNS" \
  -n 'docker version (socket)' "$DOCKER version" \
  -n 'strata run --rm' "$STRATA run --rm busybox true" \
  -n 'docker run --rm (socket)' "$DOCKER run --rm busybox true" \
  -n 'strata run --rm --network none' "$STRATA run --rm --network none busybox true" \
  -n 'docker run --rm --network none (socket)' "$DOCKER run --rm --network none busybox true"
