# Sourced by test.sh and bench-s3.sh: installs moto (a real S3-compatible server, from PyPI) into
# target/s3-venv, starts it on a free loopback port with a `benchkeep-test` bucket, stops it when
# the sourcing script exits, and exports what the tests and benches read.
venv=target/s3-venv
if [ ! -x "$venv/bin/moto_server" ]; then
  echo "installing the local S3 test server (moto) into $venv" >&2
  python3 -m venv "$venv" || { echo "error: python3 -m venv failed (python3 with venv is needed for the S3 tests)" >&2; exit 2; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==5.2.5" \
    || { echo "error: cannot install moto[server] from PyPI (needed for the S3 tests)" >&2; exit 2; }
fi
s3_port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$s3_port" > target/s3-server.log 2>&1 &
s3_server=$!
trap 'kill "$s3_server" 2>/dev/null' EXIT
for _ in $(seq 1 100); do
  "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$s3_port/')" 2>/dev/null && break
  sleep 0.1
done
"$venv/bin/python" - "$s3_port" <<'PY' || { echo "error: the S3 test server did not start (see target/s3-server.log)" >&2; exit 2; }
import sys, urllib.request
request = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/benchkeep-test", method="PUT")
urllib.request.urlopen(request, timeout=10)
PY
export BENCHKEEP_S3_TEST_ENDPOINT="http://127.0.0.1:$s3_port" BENCHKEEP_S3_TEST_BUCKET=benchkeep-test \
  BENCHKEEP_REQUIRE_S3=1 AWS_ACCESS_KEY_ID=benchkeep-test AWS_SECRET_ACCESS_KEY=benchkeep-test-secret \
  AWS_REGION=us-east-1
