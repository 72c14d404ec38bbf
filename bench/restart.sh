#!/usr/bin/env bash
# Restart latency (issue 10's target: a restart within 100 ms + backoff):
#   * `strata restart -t 0 C` of a running container (`sleep`, --network
#     none and the default network), with hyperfine; docker 20.10's
#     `docker restart -t 0` beside it when DOCKER_HOST names a daemon;
#   * the restart policy: a container with `--restart on-failure:1` whose
#     first run exits 1 and whose second run stays up; StartedAt of the
#     second run minus FinishedAt of the first is the supervisor's restart
#     time plus the first backoff (100 ms); the script prints both.
#
# Usage: bench/restart.sh            (as root; builds strata in release mode)
# Env:   RUNS=20  STRATA=path/to/strata  CARGO_TARGET_DIR=…  DOCKER_HOST=unix://…
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-20}
if [[ -z "${STRATA:-}" ]]; then
  cargo build --release -p strata >&2
  STRATA="${CARGO_TARGET_DIR:-$PWD/target}/release/strata"
fi
[[ $(id -u) == 0 ]] || { echo "bench/restart.sh must run as root" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "hyperfine is required" >&2; exit 1; }

WORK=$(mktemp -d /tmp/strata-bench-restart.XXXXXX)
export STRATA_ROOT="$WORK/root"
cleanup() {
  "$STRATA" ps -aq --no-trunc 2>/dev/null | xargs -r "$STRATA" rm -f >/dev/null 2>&1 || true
  if [[ -n "${DOCKER_HOST:-}" ]]; then docker rm -f bench-restart >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

BB=$(command -v busybox)
mkdir -p "$WORK/rootfs"/{bin,etc,tmp}
cp "$BB" "$WORK/rootfs/bin/busybox"
for p in sh sleep true; do ln -sf busybox "$WORK/rootfs/bin/$p"; done
tar -C "$WORK/rootfs" -cf "$WORK/busybox.tar" .
"$STRATA" image import --change 'CMD ["sh"]' "$WORK/busybox.tar" busybox >/dev/null

echo "== restart -t 0 of a running container"
"$STRATA" run -d --name r-none --network none busybox sleep 100000 >/dev/null
"$STRATA" run -d --name r-net busybox sleep 100000 >/dev/null
cmds=(-n "strata restart (--network none)" "$STRATA restart -t 0 r-none"
      -n "strata restart (default network)" "$STRATA restart -t 0 r-net")
if [[ -n "${DOCKER_HOST:-}" ]] && docker info >/dev/null 2>&1; then
  docker import --change 'CMD ["sh"]' "$WORK/busybox.tar" bench-restart-bb >/dev/null
  docker run -d --name bench-restart bench-restart-bb sleep 100000 >/dev/null
  cmds+=(-n "docker 20.10 restart" "docker restart -t 0 bench-restart")
fi
hyperfine -N --warmup 3 --runs "$RUNS" "${cmds[@]}"

echo
echo "== restart policy: the exit to the next start (on-failure:1, backoff 100 ms)"
ns() { date -d "$1" +%s%N; }
total=0
for i in $(seq 1 "$RUNS"); do
  "$STRATA" run -d --name "p$i" --network none --restart on-failure:1 busybox \
    sh -c '[ -f /ran ] && exec sleep 100000; touch /ran; exit 1' >/dev/null
  for _ in $(seq 1 200); do
    [[ $("$STRATA" inspect -f '{{.RestartCount}} {{.State.Status}}' "p$i") == "1 running" ]] && break
    sleep 0.02
  done
  read -r started finished < <("$STRATA" inspect -f '{{.State.StartedAt}} {{.State.FinishedAt}}' "p$i")
  gap=$(( ($(ns "$started") - $(ns "$finished")) / 1000000 ))
  total=$((total + gap))
  "$STRATA" rm -f "p$i" >/dev/null
done
mean=$((total / RUNS))
echo "exit → next start: mean ${mean} ms over $RUNS (backoff 100 ms: restart itself $((mean - 100)) ms)"
