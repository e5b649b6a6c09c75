#!/usr/bin/env bash
# `pip install benchkeep`, tested from this checkout: builds the Python wheel that pyproject.toml
# describes (maturin, `bindings = "bin"`: the benchkeep binary alone) with cargo offline, installs
# it with `pip install --no-index` into a fresh venv, and runs the installed `benchkeep` as a
# Python project's CI would: `--version` must print the crate's version, and
# `check --import pytest-benchmark` must read a real pytest-benchmark output and pass.
#
# maturin (PyPI) is installed into target/validators/maturin-venv if missing. The wheel is built
# with the release profile (not pyproject.toml's, which may be a slower one for publishing), so a
# `cargo build --release` already done makes it take seconds; from nothing it is a full release
# build. Run by crates/cli/tests/wheel.rs when BENCHKEEP_TEST_WHEEL or BENCHKEEP_REQUIRE_TOOLS is set.
#
# Any failure exits 1 with one `error: ...` line last.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
  echo "error: $*" >&2
  exit 1
}

command -v cargo >/dev/null || fail "cargo is not on PATH"
command -v python3 >/dev/null || fail "python3 is not on PATH (pip and venv install the wheel)"

maturin_version=1.16.0
maturin_venv=target/validators/maturin-venv
# Checked by the installed version, not by running pip, which takes seconds even with nothing to
# do; a changed pin is seen as missing and installed.
if ! compgen -G "$maturin_venv/lib/python3*/site-packages/maturin-$maturin_version.dist-info" >/dev/null; then
  echo "installing maturin $maturin_version (PyPI) into $maturin_venv" >&2
  python3 -m venv "$maturin_venv" || fail "cannot install maturin: python3 -m venv failed (python3 with venv is needed)"
  "$maturin_venv/bin/pip" install --quiet --disable-pip-version-check "maturin==$maturin_version" \
    || fail "cannot install maturin $maturin_version from PyPI"
fi

# maturin reads `cargo metadata`, which resolves every platform's dependencies (windows-sys and
# the like), not only the ones `cargo build` downloads for this machine. Fetching them is the one
# step that may reach crates.io, and only when the cache lacks some; the build itself is offline.
if ! cargo fetch --locked --offline >/dev/null 2>&1; then
  echo "fetching the crates of Cargo.lock for every platform (maturin's cargo metadata reads them)" >&2
  cargo fetch --locked --quiet || fail "cannot fetch the crates of Cargo.lock from crates.io"
fi

# The version the wheel and `benchkeep --version` must carry, from cargo rather than from the
# wheel's name, which maturin makes from the same place.
pkgid=$(cargo pkgid --offline --manifest-path crates/cli/Cargo.toml) || fail "cargo pkgid failed"
version=${pkgid##*[#@]}

fixture=crates/import/tests/fixtures/import/pytest-benchmark/real.json
[ -f "$fixture" ] || fail "$fixture is missing (a real pytest-benchmark --benchmark-json output)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --release overrides pyproject.toml's profile; CARGO_NET_OFFLINE: a dependency missing from the
# cache fails the build instead of being downloaded.
echo "building the wheel (maturin $maturin_version, release profile, cargo offline)" >&2
CARGO_NET_OFFLINE=true "$maturin_venv/bin/maturin" build --release --locked -o "$tmp/dist" \
  || fail "maturin build failed (its output is above)"
wheels=("$tmp/dist"/benchkeep-*.whl)
{ [ "${#wheels[@]}" = 1 ] && [ -f "${wheels[0]}" ]; } || fail "maturin build made no single benchkeep wheel in $tmp/dist"
wheel=${wheels[0]}
case ${wheel##*/} in
  "benchkeep-$version-py3-none-"*) ;;
  *) fail "the wheel ${wheel##*/} is not benchkeep $version for any Python 3 (py3-none)" ;;
esac

# A fresh venv, and nothing but the wheel: --no-index makes a dependency the wheel should not
# have, or a PyPI download of benchkeep in its place, a failure.
python3 -m venv "$tmp/venv" || fail "python3 -m venv failed"
"$tmp/venv/bin/pip" install --quiet --disable-pip-version-check --no-index "$wheel" \
  || fail "pip install --no-index ${wheel##*/} failed"
benchkeep=$tmp/venv/bin/benchkeep
[ -x "$benchkeep" ] || fail "the wheel installed no $benchkeep"

# Run from an empty directory outside any repository, with no store or configuration from the
# environment, as a fresh CI job would.
mkdir "$tmp/work"
run() {
  (cd "$tmp/work" && env -u BENCHKEEP_STORE -u BENCHKEEP_CONFIG GIT_CEILING_DIRECTORIES="$tmp" "$benchkeep" "$@")
}

# On a failure its output is shown first, so that the error line stays the last and one line.
printed=$(run --version 2>&1) || { status=$?; echo "$printed" >&2; fail "the installed benchkeep --version exited $status"; }
[ "$printed" = "benchkeep $version" ] || fail "the installed benchkeep --version printed \"$printed\", not \"benchkeep $version\""

printed=$(run check --import pytest-benchmark "$PWD/$fixture" --no-record --color never 2>&1) \
  || { status=$?; echo "$printed" >&2; fail "the installed benchkeep check --import pytest-benchmark $fixture --no-record exited $status"; }
grep -qF 'test_bench.py::test_sum_squares[1000]' <<<"$printed" \
  || { echo "$printed" >&2; fail "the installed benchkeep check --import pytest-benchmark did not show test_bench.py::test_sum_squares[1000]"; }

size=$(du -k "$wheel" | cut -f1)
echo "ok: ${wheel##*/} (${size} KiB) installs with pip --no-index; benchkeep --version and check --import pytest-benchmark pass"
