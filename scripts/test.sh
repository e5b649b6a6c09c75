#!/usr/bin/env bash
# The whole test suite: every crate's unit, integration and doc tests, with every feature on
# (the store conformance suite is the `conformance` feature of benchkeep-core).
#
# Stores that need a real server (the S3 store, once it lands) get it installed and started here,
# so that this one command stays all a newcomer needs. Today every test runs against local files,
# real git binaries and real processes only.
#
# The last line totals every test binary's result, because cargo's own last line belongs to
# whichever crate happened to run last (often one with no doc tests).
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --all-features --locked "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
awk '/^test result:/ {
       for (i = 2; i <= NF; i++) {
         if ($i == "passed;") passed += $(i - 1)
         if ($i == "failed;") failed += $(i - 1)
         if ($i == "ignored;") ignored += $(i - 1)
       }
     }
     END { printf "total: %d passed, %d failed, %d skipped\n", passed, failed, ignored }' "$log"
exit "$status"
