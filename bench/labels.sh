#!/usr/bin/env bash
# Build cost vs Dockerfile length (issue 11): `FROM scratch` + N `LABEL`
# lines, N in $SIZES (default 2000 4000 8000 16000), built cold (an empty
# store each run), strata side by side with `DOCKER_BUILDKIT=1 docker build`
# on the private dockerd of scripts/test.sh when it is running (its build
# cache pruned before each run). Also reports the store's growth per
# build (the target: 16,000 LABELs in ≤ 2 s and ≤ 50 MB).
#
#   bench/labels.sh
#   SIZES="2000 16000" RUNS=5 bench/labels.sh
#
# Env: RUNS (default 3), STRATA (binary; default: release build), SIZES.
# Needs hyperfine and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
source bench/lib.sh
RUNS=${RUNS:-3}
SIZES=${SIZES:-2000 4000 8000 16000}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
[ -n "${STRATA:-}" ] || { cargo build --release -q -p strata; STRATA=$TARGET/release/strata; }
command -v hyperfine >/dev/null && command -v jq >/dev/null || { echo "need hyperfine and jq" >&2; exit 1; }
W=$(mktemp -d /tmp/strata-bench-labels.XXXX)
trap 'rm -rf "$W"' EXIT

DOCKER=()
if d=$(private_docker); then
  read -ra DOCKER <<<"env DOCKER_BUILDKIT=1 ${d#env }"
else
  say "no private dockerd on $STRATA_DOCKER_SOCK (scripts/test.sh starts one): strata only"
fi

printf '%8s  %12s  %14s  %12s\n' LABELS "strata (s)" "store growth" "docker (s)" >"$W/table"
for n in $SIZES; do
  ctx=$W/ctx$n
  mkdir -p "$ctx"
  labels_dockerfile "$n" >"$ctx/Dockerfile"
  say "$n LABELs: $(stat -c %s "$ctx/Dockerfile") bytes of Dockerfile"
  cmds=(--prepare "rm -rf $W/root; $STRATA --root $W/root images -q >/dev/null"
        "$STRATA --root $W/root build -q -t labels:$n $ctx")
  if [ ${#DOCKER[@]} -gt 0 ]; then
    cmds+=(--prepare "${DOCKER[*]} builder prune -af >/dev/null 2>&1 || true"
           "${DOCKER[*]} build -q -t strata-bench-labels:$n $ctx")
  fi
  hyperfine --runs "$RUNS" --export-json "$W/$n.json" "${cmds[@]}"
  # Store growth of one cold build (an empty store's files subtracted).
  rm -rf "$W/root"; "$STRATA" --root "$W/root" images -q >/dev/null
  empty=$(du -sb "$W/root" | cut -f1)
  "$STRATA" --root "$W/root" build -q -t "labels:$n" "$ctx" >/dev/null
  grown=$(( $(du -sb "$W/root" | cut -f1) - empty ))
  s=$(jq '.results[0].mean' "$W/$n.json")
  d=$(jq -r 'if (.results | length) > 1 then .results[1].mean else "-" end' "$W/$n.json")
  printf '%8s  %12.3f  %11s MB  %12s\n' "$n" "$s" "$(awk -v g="$grown" 'BEGIN{printf "%.1f", g/1e6}')" "$d" >>"$W/table"
  "$STRATA" --root "$W/root" system df | sed -n '/Build Cache/p'
  [ ${#DOCKER[@]} -gt 0 ] && "${DOCKER[@]}" rmi -f "strata-bench-labels:$n" >/dev/null 2>&1 || true
done
cat "$W/table"
