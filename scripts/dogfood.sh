#!/usr/bin/env bash
# benchkeep guards its own parallelism optimizer: run the standard workload suite (quick) with a
# release build and gate it against the baseline kept in benchmarks/ (an ordinary fs store), on
# the optimizer's speedup and prediction accuracy. Exit 1 on a regression, 3 if the baseline is
# missing (never bootstrap one in CI), 2 on any other error. See docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked -p benchkeep
bin=target/release/benchkeep
config=benchmarks/benchkeep.toml
run=target/dogfood-suite.json

"$bin" --config "$config" suite --quick --no-record --out "$run"
"$bin" --config "$config" check --run "$run" --no-record --require-baseline "$@"
