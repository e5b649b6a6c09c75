# Sourced by test.sh and bench-s3.sh: installs moto (a real S3-compatible server, from PyPI) into
# target/s3-venv, starts it on a free loopback port with a `benchkeep-test` bucket, stops it when
# the sourcing script exits, and exports what the tests and benches read.
# Also two servers the store's probe must refuse (docs/stores/s3.md):
# - s3rver (npm, into target/s3rver), a widely used S3 server for tests, which ignores
#   If-None-Match and If-Match and lists no common prefixes two levels up;
#   BENCHKEEP_S3RVER_ENDPOINT;
# - Garage (crates.io), a production self-hosted S3 store, run as a single node, which ignores
#   both conditions on PUT. `cargo install` compiles it for minutes (8.5 min on 2 cores), so it
#   is built once into $BENCHKEEP_TOOLS_CACHE (default ~/.cache/benchkeep-tools), outside the
#   checkout, and reused; BENCHKEEP_GARAGE_ENDPOINT, _KEY_ID and _SECRET.
venv=target/s3-venv
if [ ! -x "$venv/bin/moto_server" ]; then
  echo "installing the local S3 test server (moto) into $venv" >&2
  python3 -m venv "$venv" || { echo "error: python3 -m venv failed (python3 with venv is needed for the S3 tests)" >&2; exit 2; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==5.2.5" \
    || { echo "error: cannot install moto[server] from PyPI (needed for the S3 tests)" >&2; exit 2; }
fi
# A port nothing listens on, from the kernel.
free_port() { "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Waits up to 10 s for the Python expression `check` to succeed, then tries it once more with
# its error shown; exits 2 naming the server and its log if that fails too.
wait_for() {
  local what=$1 log=$2 check=$3
  for _ in $(seq 1 100); do
    "$venv/bin/python" -c "$check" 2>/dev/null && return 0
    sleep 0.1
  done
  "$venv/bin/python" -c "$check" || { echo "error: $what did not start (see $log)" >&2; exit 2; }
}
s3_port=$(free_port)
"$venv/bin/moto_server" -H 127.0.0.1 -p "$s3_port" > target/s3-server.log 2>&1 &
s3_server=$!
s3rver_server=""
garage_server=""
trap 'kill "$s3_server" $s3rver_server $garage_server 2>/dev/null' EXIT
wait_for "the S3 test server" target/s3-server.log \
  "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$s3_port/', timeout=10)"
"$venv/bin/python" - "$s3_port" <<'PY' || { echo "error: the S3 test server did not start (see target/s3-server.log)" >&2; exit 2; }
import sys, urllib.request
request = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/benchkeep-test", method="PUT")
urllib.request.urlopen(request, timeout=10)
PY
export BENCHKEEP_S3_TEST_ENDPOINT="http://127.0.0.1:$s3_port" BENCHKEEP_S3_TEST_BUCKET=benchkeep-test \
  BENCHKEEP_REQUIRE_S3=1 AWS_ACCESS_KEY_ID=benchkeep-test AWS_SECRET_ACCESS_KEY=benchkeep-test-secret \
  AWS_REGION=us-east-1

# The servers the probe must refuse are for the tests; benchmarks measure moto alone.
if [ "${BENCHKEEP_REFUSED_SERVERS:-1}" = 1 ]; then
s3rver_dir=target/s3rver
if [ ! -f "$s3rver_dir/node_modules/s3rver/bin/s3rver.js" ]; then
  echo "installing s3rver 3.7.1 (npm) into $s3rver_dir, an S3 server the store must refuse" >&2
  mkdir -p "$s3rver_dir"
  npm install --silent --no-audit --no-fund --prefix "$s3rver_dir" s3rver@3.7.1 >/dev/null \
    || { echo "error: cannot install s3rver from npm (needed for the S3 probe tests)" >&2; exit 2; }
fi
s3rver_port=$(free_port)
rm -rf "$s3rver_dir/data" && mkdir -p "$s3rver_dir/data"
# Its credentials are its own (S3RVER / S3RVER), which its tests pass.
node "$s3rver_dir/node_modules/s3rver/bin/s3rver.js" -d "$s3rver_dir/data" -a 127.0.0.1 -p "$s3rver_port" -s \
  --configure-bucket benchkeep-test > target/s3rver.log 2>&1 &
s3rver_server=$!
wait_for s3rver target/s3rver.log \
  "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$s3rver_port/benchkeep-test', timeout=10)"
export BENCHKEEP_S3RVER_ENDPOINT="http://127.0.0.1:$s3rver_port"

garage_version=2.5.0
garage_root=${BENCHKEEP_TOOLS_CACHE:-$HOME/.cache/benchkeep-tools}/garage-$garage_version
if [ ! -x "$garage_root/bin/garage" ]; then
  echo "building Garage $garage_version (crates.io) into $garage_root, once: a few minutes" >&2
  cargo install --quiet --locked "garage@$garage_version" --root "$garage_root" \
    || { echo "error: cannot build Garage $garage_version with cargo install (needed for the S3 probe tests)" >&2; exit 2; }
fi
garage_dir=target/garage
rm -rf "$garage_dir" && mkdir -p "$garage_dir"
garage_port=$(free_port)
garage_rpc_port=$(free_port)
cat > "$garage_dir/garage.toml" <<TOML
metadata_dir = "$PWD/$garage_dir/meta"
data_dir = "$PWD/$garage_dir/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$garage_rpc_port"
rpc_public_addr = "127.0.0.1:$garage_rpc_port"
rpc_secret = "$("$venv/bin/python" -c 'import secrets; print(secrets.token_hex(32))')"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$garage_port"
TOML
BENCHKEEP_GARAGE_KEY_ID=GK$("$venv/bin/python" -c 'import secrets; print(secrets.token_hex(12))')
BENCHKEEP_GARAGE_SECRET=$("$venv/bin/python" -c 'import secrets; print(secrets.token_hex(32))')
GARAGE_DEFAULT_ACCESS_KEY=$BENCHKEEP_GARAGE_KEY_ID GARAGE_DEFAULT_SECRET_KEY=$BENCHKEEP_GARAGE_SECRET \
  GARAGE_DEFAULT_BUCKET=benchkeep-test \
  "$garage_root/bin/garage" -c "$garage_dir/garage.toml" server --single-node --default-bucket \
  > target/garage.log 2>&1 &
garage_server=$!
# Up when its S3 port answers (with an error for an unsigned request: that is an answer).
wait_for Garage target/garage.log \
  "import socket; socket.create_connection(('127.0.0.1', $garage_port), timeout=5)"
export BENCHKEEP_GARAGE_ENDPOINT="http://127.0.0.1:$garage_port" BENCHKEEP_GARAGE_KEY_ID BENCHKEEP_GARAGE_SECRET
fi
