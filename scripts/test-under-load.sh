#!/usr/bin/env bash
# The whole test suite (scripts/test.sh) on a busy machine, as CI machines are: one busy loop
# per core plus a parallel release build running throughout, for ROUNDS rounds in a row
# (default 3). Tests must assert verdicts on deterministic inputs, so they pass however busy
# the machine is; this script is how that is checked.
#
#   bash scripts/test-under-load.sh [ROUNDS]
#
# Prints each round's result and the load average, and exits non-zero at the first failing
# round.
set -uo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
cores=$(nproc)
load_pids=()
cleanup() {
  for pid in "${load_pids[@]}"; do
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null
  done
}
trap cleanup EXIT

# One busy loop per core.
for _ in $(seq "$cores"); do
  setsid bash -c 'while :; do :; done' &
  load_pids+=($!)
done
# A parallel build, over and over, in a target directory of its own.
setsid bash -c 'while :; do
  cargo build --workspace --release --quiet --target-dir target/load-build >/dev/null 2>&1
  cargo clean --release --quiet --target-dir target/load-build >/dev/null 2>&1
done' &
load_pids+=($!)
echo "load: $cores busy loop(s) and a parallel release build" >&2

for round in $(seq "$rounds"); do
  started=$(date +%s)
  if bash scripts/test.sh; then
    status=passed
  else
    status=failed
  fi
  echo "round $round of $rounds: $status in $(( $(date +%s) - started )) s; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  if [ "$status" = failed ]; then
    exit 1
  fi
done
echo "passed $rounds round(s) in a row under load" >&2
