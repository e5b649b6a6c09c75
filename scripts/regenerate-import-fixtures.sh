#!/usr/bin/env bash
# Re-creates the real-tool fixtures of the importer tests (crates/import/tests/fixtures/import)
# from the real tools, as they were made: criterion 0.5 and cargo-criterion (crates.io),
# pytest-benchmark and Google Benchmark's Python bindings (PyPI), hyperfine (Debian).
# Not run by CI: the fixtures are committed so the tests do not depend on timing. Review the diff
# after running it; the tests assert names and sample counts, not timings (except criterion's
# "slow" directory, which must stay measurably slower on the parse benchmarks).
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/crates/import/tests/fixtures/import"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# criterion: a normal run, a run with SLOW=1 (parse ~30% slower), bencher text, JSON messages.
mkdir -p "$work/crit/benches" "$work/crit/src"
touch "$work/crit/src/lib.rs"
cat > "$work/crit/Cargo.toml" <<'TOML'
[package]
name = "crit"
version = "0.1.0"
edition = "2021"

[dev-dependencies]
criterion = { version = "0.5", default-features = false, features = ["cargo_bench_support"] }

[[bench]]
name = "work"
harness = false
TOML
cat > "$work/crit/benches/work.rs" <<'RS'
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};

fn spin(n: u64) -> u64 {
    // SLOW=1 makes the parse benchmarks 30% more work, for a real regression.
    let scale = if std::env::var("SLOW").is_ok() { 13 } else { 10 };
    (0..n * scale / 10).fold(0u64, |a, x| a.wrapping_mul(31).wrapping_add(black_box(x)))
}

fn benches(c: &mut Criterion) {
    c.bench_function("fib 20", |b| b.iter(|| (0..2000u64).fold(0u64, |a, x| a ^ black_box(x))));
    let mut group = c.benchmark_group("parse");
    for size in [1000u64, 10000] {
        group.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, &s| b.iter(|| spin(s)));
    }
    group.finish();
}

criterion_group!(benches_group, benches);
criterion_main!(benches_group);
RS
(
  cd "$work/crit"
  quick=(--warm-up-time 0.5 --measurement-time 1)
  cargo bench --bench work -- "${quick[@]}" >/dev/null
  rm -rf "$out/criterion/fast" && cp -r target/criterion "$out/criterion/fast"
  rm -rf target/criterion
  SLOW=1 cargo bench --bench work -- "${quick[@]}" >/dev/null
  rm -rf "$out/criterion/slow" && cp -r target/criterion "$out/criterion/slow"
  find "$out/criterion" -name report -prune -exec rm -rf {} +
  cargo bench --bench work -- --output-format bencher "${quick[@]}" > "$out/libtest/criterion-bencher.txt" 2>&1
  command -v cargo-criterion >/dev/null || cargo install --locked cargo-criterion
  cargo criterion --bench work --message-format=json -- "${quick[@]}" > "$out/criterion/messages.json"
)

# pytest-benchmark and Google Benchmark (Python bindings).
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet pytest pytest-benchmark google-benchmark
cat > "$work/test_bench.py" <<'PY'
import pytest

def work(n):
    return sum(i * i for i in range(n))

@pytest.mark.parametrize("n", [100, 1000])
def test_sum_squares(benchmark, n):
    benchmark(work, n)

def test_sorted(benchmark):
    data = list(range(2000, 0, -1))
    benchmark(sorted, data)
PY
cat > "$work/gbench.py" <<'PY'
import google_benchmark as benchmark

@benchmark.register
def sum_squares(state):
    while state:
        sum(i * i for i in range(200))

@benchmark.register
@benchmark.option.range(8, limit=64)
def sort_list(state):
    data = list(range(state.range(0), 0, -1))
    while state:
        sorted(data)
    state.items_processed = state.iterations * state.range(0)

if __name__ == "__main__":
    benchmark.main()
PY
(
  cd "$work"
  "$work/venv/bin/pytest" -q test_bench.py --benchmark-json="$out/pytest-benchmark/real.json" \
    --benchmark-max-time=0.000001 --benchmark-min-rounds=25 >/dev/null
  # The shape of pytest-benchmark < 4 without --benchmark-save-data: no per-round data.
  python3 - "$out/pytest-benchmark" <<'PY'
import json, sys
d = json.load(open(f"{sys.argv[1]}/real.json"))
for b in d["benchmarks"]:
    del b["stats"]["data"]
json.dump(d, open(f"{sys.argv[1]}/without-data.json", "w"), indent=4)
PY
  "$work/venv/bin/python" gbench.py --benchmark_format=json --benchmark_repetitions=3 \
    --benchmark_min_time=0.05s > "$out/google-benchmark/real.json"
)

# hyperfine: one plain command and a parameter list.
hyperfine --runs 8 --warmup 1 --export-json "$out/hyperfine/real.json" -N 'sleep 0.01' \
  --parameter-list n 1,2 'sleep 0.00{n}' >/dev/null
echo "regenerated the real-tool fixtures in $out"
