#!/usr/bin/env bash
# The size and start-up time of the dist binary (Cargo.toml's [profile.dist], what releases and
# the Action ship), with every feature and with --no-default-features, beside hyperfine's:
#
#   bash scripts/binary-size.sh
#
# Start-up is `--version` measured by hyperfine itself (-N: no shell), so both sides pay the
# same process creation. The target: the all-features dist binary at most 15 MB.
set -euo pipefail
cd "$(dirname "$0")/.."

limit_bytes=$((15 * 1000 * 1000))
out=target/binary-size
mkdir -p "$out"
for variant in all-features no-default-features; do
  flags=()
  [ "$variant" = no-default-features ] && flags=(--no-default-features)
  cargo build --quiet --locked --profile dist -p benchkeep "${flags[@]}"
  cp target/dist/benchkeep "$out/benchkeep-$variant"
done

size() { stat -c %s "$1"; }
mb() { awk -v b="$1" 'BEGIN { printf "%.2f MB", b / 1e6 }'; }
hyperfine_bin=$(command -v hyperfine || true)
printf '%-32s %12s\n' binary size
for variant in all-features no-default-features; do
  printf '%-32s %12s\n' "benchkeep ($variant)" "$(mb "$(size "$out/benchkeep-$variant")")"
done
[ -n "$hyperfine_bin" ] && printf '%-32s %12s\n' "hyperfine ($hyperfine_bin)" "$(mb "$(size "$hyperfine_bin")")"
printf '%-32s %12s\n' "benchkeep release profile" "$( [ -f target/release/benchkeep ] && mb "$(size target/release/benchkeep)" || echo 'not built')"

if [ -n "$hyperfine_bin" ]; then
  echo
  hyperfine -N --warmup 20 --runs 200 --style basic \
    -n "benchkeep --version (all features)" "$out/benchkeep-all-features --version" \
    -n "benchkeep --version (no default features)" "$out/benchkeep-no-default-features --version" \
    -n "hyperfine --version" "$hyperfine_bin --version"
fi

all=$(size "$out/benchkeep-all-features")
if [ "$all" -gt "$limit_bytes" ]; then
  echo "MISSED: the all-features dist binary is $(mb "$all"), over the 15 MB target" >&2
  exit 1
fi
echo "met: the all-features dist binary is $(mb "$all") (target: at most 15 MB)"
