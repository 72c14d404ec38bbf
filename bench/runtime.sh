#!/usr/bin/env bash
# Container start-up, side by side: `strata run --rm` vs `docker run --rm`
# vs `podman run --rm` (busybox, --network none, `true`), with hyperfine,
# plus strata with `--security-opt seccomp=unconfined` (the difference is
# what compiling and loading docker's seccomp profile costs);
# then 50 detached strata containers started and removed, checking that no
# mount, process or cgroup directory is left behind.
#
# Usage: bench/runtime.sh            (as root; builds strata in release mode)
# Env:   RUNS=30  STRATA=path/to/strata  CARGO_TARGET_DIR=…  SKIP_PEERS=1
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-30}
if [[ -z "${STRATA:-}" ]]; then
  cargo build --release -p strata >&2
  STRATA="${CARGO_TARGET_DIR:-$PWD/target}/release/strata"
fi
[[ $(id -u) == 0 ]] || { echo "bench/runtime.sh must run as root" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "hyperfine is required" >&2; exit 1; }

WORK=$(mktemp -d /tmp/strata-bench-runtime.XXXXXX)
export STRATA_ROOT="$WORK/root"
STARTED_DOCKERD=0
cleanup() {
  "$STRATA" ps -aq --no-trunc 2>/dev/null | xargs -r "$STRATA" rm -f >/dev/null 2>&1 || true
  rm -rf "$WORK"
  if [[ $STARTED_DOCKERD == 1 ]]; then /work/shared/lab/stop.sh >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

# A busybox image like the lab's: busybox-static plus its applet links.
BB=$(command -v busybox)
mkdir -p "$WORK/rootfs"/{bin,etc,dev,proc,sys,tmp,root,usr/bin,usr/sbin,sbin,var/tmp,home}
cp "$BB" "$WORK/rootfs/bin/busybox"
for p in $("$BB" --list-full); do [[ $p == bin/busybox ]] || ln -sf /bin/busybox "$WORK/rootfs/$p"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' > "$WORK/rootfs/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' > "$WORK/rootfs/etc/group"
tar -C "$WORK/rootfs" -cf "$WORK/busybox.tar" .
"$STRATA" image import --change 'CMD ["sh"]' "$WORK/busybox.tar" busybox >/dev/null

CMDS=(-n strata "$STRATA run --rm --network none busybox true"
      -n strata-no-seccomp "$STRATA run --rm --network none --security-opt seccomp=unconfined busybox true")
DOCKER=/usr/bin/docker
if [[ -z "${SKIP_PEERS:-}" ]]; then
  if [[ -x $DOCKER ]]; then
    if ! $DOCKER info >/dev/null 2>&1 && [[ -x /work/shared/lab/start.sh ]]; then
      /work/shared/lab/start.sh >/dev/null 2>&1 && STARTED_DOCKERD=1
    fi
    if $DOCKER image inspect busybox >/dev/null 2>&1; then
      CMDS+=(-n docker "$DOCKER run --rm --network=none busybox true")
    fi
  fi
  if command -v podman >/dev/null && podman image exists busybox 2>/dev/null; then
    CMDS+=(-n podman "podman run --rm --network=none busybox true")
  fi
fi

echo "== run --rm --network none busybox true (${RUNS} runs) =="
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$WORK/runtime.json" "${CMDS[@]}"
python3 - "$WORK/runtime.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
print("| tool | mean | median | min | max |")
print("|---|---|---|---|---|")
for x in r:
    print(f"| {x['command']} | {x['mean']*1000:.1f} ms | {x['median']*1000:.1f} ms | {x['min']*1000:.1f} ms | {x['max']*1000:.1f} ms |")
PY

echo
echo "== 50 detached containers, started and removed =="
cg_count() { find /sys/fs/cgroup -maxdepth 3 -path '*/strata/*' -type d 2>/dev/null | wc -l; }
mounts_before=$(grep -c "$STRATA_ROOT" /proc/self/mountinfo || true)
cg_before=$(cg_count)
t0=$(date +%s.%N)
ids=()
for i in $(seq 1 50); do ids+=("$("$STRATA" run -d --network none busybox sleep 600)"); done
t1=$(date +%s.%N)
running=$("$STRATA" ps -q | wc -l)
mounted=$(grep -c "$STRATA_ROOT" /proc/self/mountinfo || true)
"$STRATA" rm -f "${ids[@]}" >/dev/null
t2=$(date +%s.%N)
mounts_after=$(grep -c "$STRATA_ROOT" /proc/self/mountinfo || true)
procs_after=$(pgrep -fc "__shim supervise $STRATA_ROOT" || true)
sleeps_after=$(pgrep -fc '^sleep 600$' || true)
cg_after=$(cg_count)
printf 'started 50 in %.2f s (%d running, %d rootfs mounts); removed in %.2f s\n' \
  "$(echo "$t1 - $t0" | bc)" "$running" "$mounted" "$(echo "$t2 - $t1" | bc)"
echo "left behind: mounts $mounts_after (before $mounts_before), supervisors $procs_after, sleep processes $sleeps_after, cgroup dirs $cg_after (before $cg_before)"
if [[ $mounts_after != "$mounts_before" || $procs_after != 0 || $sleeps_after != 0 || $cg_after != "$cg_before" ]]; then
  echo "LEAK" >&2
  exit 1
fi
echo "no leaks"
