#!/usr/bin/env bash
# The whole test suite: every crate's unit, integration and doc tests, with every feature on
# (the store conformance suite is the `conformance` feature of benchkeep-core).
#
# The S3 store is tested against a real S3-compatible server on loopback: moto (from PyPI) is
# installed into target/s3-venv, started on a free port, and stopped when the script exits. The
# tests are told the server is expected (BENCHKEEP_REQUIRE_S3=1), so they fail rather than skip
# if it cannot be reached.
#
# The last line totals every test binary's result, because cargo's own last line belongs to
# whichever crate happened to run last (often one with no doc tests).
set -uo pipefail
cd "$(dirname "$0")/.."

venv=target/s3-venv
if [ ! -x "$venv/bin/moto_server" ]; then
  echo "installing the local S3 test server (moto) into $venv" >&2
  python3 -m venv "$venv" || { echo "error: python3 -m venv failed (python3 with venv is needed for the S3 tests)" >&2; exit 2; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==5.2.5" \
    || { echo "error: cannot install moto[server] from PyPI (needed for the S3 tests)" >&2; exit 2; }
fi
port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > target/s3-server.log 2>&1 &
server=$!
log=$(mktemp)
trap 'kill "$server" 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
  "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/')" 2>/dev/null && break
  sleep 0.1
done
"$venv/bin/python" - "$port" <<'PY' || { echo "error: the S3 test server did not start (see target/s3-server.log)" >&2; exit 2; }
import sys, urllib.request
request = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/benchkeep-test", method="PUT")
urllib.request.urlopen(request, timeout=10)
PY
export BENCHKEEP_S3_TEST_ENDPOINT="http://127.0.0.1:$port" BENCHKEEP_S3_TEST_BUCKET=benchkeep-test \
  BENCHKEEP_REQUIRE_S3=1 AWS_ACCESS_KEY_ID=benchkeep-test AWS_SECRET_ACCESS_KEY=benchkeep-test-secret \
  AWS_REGION=us-east-1 MOTO_S3_SERVER_PID="$server"

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
