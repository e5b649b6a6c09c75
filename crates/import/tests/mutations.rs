//! Fuzz-style properties of every importer, on real outputs and their mutations: truncation
//! at every point, a duplicated line, a deleted line, flipped bytes. No importer may panic; a
//! truncated output either fails or imports exactly what the whole output does (line-stream
//! formats with no closing structure may import a prefix of it, every sample intact: the gate
//! names the rest missing); an output that records a failed benchmark is never imported,
//! whatever is cut from or repeated in it.

use std::path::PathBuf;

use benchkeep_core::model::Benchmark;
use benchkeep_import::{Format, import_bytes};
use proptest::prelude::*;

fn fixture(path: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Real (or realistic) successful outputs of every format.
fn passing() -> Vec<(Format, &'static str, Vec<u8>)> {
    vec![
        (
            Format::GoogleBenchmark,
            "google",
            fixture("google-benchmark/real.json"),
        ),
        (
            Format::PytestBenchmark,
            "pytest",
            fixture("pytest-benchmark/real.json"),
        ),
        (
            Format::PytestBenchmark,
            "pytest-summary",
            fixture("pytest-benchmark/without-data.json"),
        ),
        (Format::Catch2, "catch2", fixture("catch2/results.xml")),
        (
            Format::BenchmarkDotNet,
            "dotnet",
            fixture("benchmarkdotnet/report-full.json"),
        ),
        (Format::Jmh, "jmh", fixture("jmh/result.json")),
        (
            Format::Libtest,
            "libtest",
            fixture("libtest/criterion-bencher.txt"),
        ),
        (
            Format::Hyperfine,
            "hyperfine",
            fixture("hyperfine/real.json"),
        ),
        (
            Format::Criterion,
            "criterion",
            fixture("criterion/messages.json"),
        ),
        (
            Format::Go,
            "go",
            b"goos: linux\ngoarch: amd64\npkg: example.com/x\ncpu: Example CPU\n\
BenchmarkSum-2   \t 1000000\t      1043 ns/op\nBenchmarkSum-2   \t 1000000\t      1051 ns/op\n\
BenchmarkParse-2 \t  500000\t      2210 ns/op\t     512 B/op\t       4 allocs/op\nPASS\n\
ok  \texample.com/x\t3.214s\n"
                .to_vec(),
        ),
        (
            Format::BenchmarkJs,
            "benchmarkjs",
            "RegExp#test x 43,428,362 ops/sec ±0.93% (94 runs sampled)\n\
String#indexOf x 781,632,010 ops/sec ±0.41% (96 runs sampled)\n"
                .as_bytes()
                .to_vec(),
        ),
        (
            Format::Custom,
            "custom",
            br#"{"benchmarks": [
  {"name": "parse", "unit": "ns", "samples": [1200, 1180, 1230]},
  {"name": "parse", "metric": "rss", "unit": "bytes", "value": 1048576},
  {"name": "requests", "unit": "req/s", "value": 5400, "direction": "bigger_is_better"}
]}
"#
            .to_vec(),
        ),
    ]
}

/// Outputs that record a failed benchmark: a command that exited 1, a FAILED test, a thrown
/// error, an error Google Benchmark reported, a go benchmark that failed.
fn failing() -> Vec<(Format, &'static str, Vec<u8>)> {
    vec![
        (
            Format::Hyperfine,
            "hyperfine-exit",
            br#"{"results": [
  {"command": "ok", "mean": 0.5, "times": [0.5, 0.5, 0.5], "exit_codes": [0, 0, 0]},
  {"command": "./broken", "mean": 0.001, "times": [0.001, 0.001, 0.001], "exit_codes": [1, 1, 1]}
]}
"#
            .to_vec(),
        ),
        (
            Format::Libtest,
            "libtest-failed",
            b"running 2 tests\ntest parse ... bench:       1,234 ns/iter (+/- 56)\n\
test render ... FAILED\n\nfailures:\n\n---- render stdout ----\npanicked at src/lib.rs:3:5\n\n\
failures:\n    render\n\ntest result: FAILED. 0 passed; 1 failed; 0 ignored; 1 measured; 0 filtered out\n"
                .to_vec(),
        ),
        (
            Format::BenchmarkJs,
            "benchmarkjs-threw",
            b"parse x 1,234 ops/sec \xc2\xb11.00% (90 runs sampled)\nrender: name: TypeError, message: x is undefined\n"
                .to_vec(),
        ),
        (
            Format::Go,
            "go-fail",
            b"goos: linux\nBenchmarkSum-2   \t 1000000\t      1043 ns/op\n--- FAIL: BenchmarkParse-2\n    x_test.go:12: bad input\nFAIL\nexit status 1\nFAIL\texample.com/x\t1.204s\n"
                .to_vec(),
        ),
        (
            Format::GoogleBenchmark,
            "google-error",
            br#"{"context": {"date": "2026-01-01", "num_cpus": 2},
 "benchmarks": [
  {"name": "BM_ok", "run_name": "BM_ok", "run_type": "iteration", "repetitions": 1, "repetition_index": 0, "iterations": 1000, "real_time": 10.0, "cpu_time": 10.0, "time_unit": "ns"},
  {"name": "BM_broken", "run_name": "BM_broken", "run_type": "iteration", "repetitions": 1, "repetition_index": 0, "error_occurred": true, "error_message": "out of memory", "iterations": 0, "real_time": 0.0, "cpu_time": 0.0, "time_unit": "ns"}
 ]}
"#
            .to_vec(),
        ),
    ]
}

/// Formats whose output is a stream of independent lines with no closing structure: a cut at
/// a line boundary leaves a valid, shorter output.
fn line_stream(format: Format) -> bool {
    matches!(
        format,
        Format::Libtest | Format::Criterion | Format::BenchmarkJs
    )
}

/// Whether `part` is `whole`'s benchmarks, or (line streams) a prefix of them with every kept
/// benchmark exactly as in `whole` except, for the last, fewer metrics or samples cut away is
/// not allowed either: each kept benchmark must be identical.
fn acceptable_subset(format: Format, part: &[Benchmark], whole: &[Benchmark]) -> bool {
    if part == whole {
        return true;
    }
    line_stream(format) && part.len() < whole.len() && part.iter().all(|b| whole.contains(b))
}

fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split_inclusive(|&b| b == b'\n').collect()
}

#[test]
fn the_fixtures_import_and_the_failing_outputs_are_refused() {
    for (format, name, bytes) in passing() {
        let imported = import_bytes(format, name, &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!imported.benchmarks.is_empty(), "{name}");
    }
    for (format, name, bytes) in failing() {
        assert!(
            import_bytes(format, name, &bytes).is_err(),
            "{name} imported"
        );
    }
}

#[test]
fn every_truncation_fails_or_loses_nothing_it_keeps() {
    let mut cases = 0;
    for (format, name, bytes) in passing() {
        let whole = import_bytes(format, name, &bytes).unwrap().benchmarks;
        // Every cut in the first and last 2 KiB, and every 7th byte between (the middle of a
        // large document is the same JSON or XML structure throughout).
        let cuts =
            (0..bytes.len()).filter(|&cut| cut < 2048 || bytes.len() - cut < 2048 || cut % 7 == 0);
        for cut in cuts {
            cases += 1;
            if let Ok(part) = import_bytes(format, name, &bytes[..cut]) {
                assert!(
                    acceptable_subset(format, &part.benchmarks, &whole),
                    "{name} cut at byte {cut} of {} imported {} benchmark(s) that differ from the whole output's {}",
                    bytes.len(),
                    part.benchmarks.len(),
                    whole.len()
                );
            }
        }
    }
    assert!(cases > 10_000, "{cases} cases");
}

#[test]
fn a_failing_output_is_refused_however_it_is_cut_or_repeated() {
    let mut cases = 0;
    for (format, name, bytes) in failing() {
        let mut variants: Vec<(String, Vec<u8>)> = Vec::new();
        let all = lines(&bytes);
        for i in 0..all.len() {
            let mut repeated = all.clone();
            repeated.insert(i, all[i]);
            variants.push((format!("line {} repeated", i + 1), repeated.concat()));
        }
        for (what, variant) in variants {
            cases += 1;
            assert!(
                import_bytes(format, name, &variant).is_err(),
                "{name} with {what} imported"
            );
        }
        // A cut may remove the failure, but then it removes the end of the output as well:
        // a truncated failing output must not import either, or only the benchmarks before
        // the failure (which the gate compares, and names the failed one missing).
        for cut in 0..bytes.len() {
            cases += 1;
            if let Ok(part) = import_bytes(format, name, &bytes[..cut]) {
                let before_failure = line_stream(format);
                assert!(
                    before_failure,
                    "{name} cut at byte {cut} imported {} benchmark(s)",
                    part.benchmarks.len()
                );
            }
        }
    }
    assert!(cases > 1_000, "{cases} cases");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Flipped bytes and deleted or repeated lines of real outputs: never a panic, and never
    /// an import of a benchmark with a non-finite or negative sample.
    #[test]
    fn mutated_outputs_never_panic(
        which in 0usize..64,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        line_op in proptest::option::of((any::<prop::sample::Index>(), any::<bool>())),
    ) {
        let inputs: Vec<(Format, &str, Vec<u8>)> = passing().into_iter().chain(failing()).collect();
        let (format, name, bytes) = &inputs[which % inputs.len()];
        let mut bytes = bytes.clone();
        if let Some((index, repeat)) = line_op {
            let all = lines(&bytes);
            let i = index.index(all.len());
            let mut changed: Vec<&[u8]> = all.clone();
            if repeat { changed.insert(i, all[i]); } else { changed.remove(i); }
            bytes = changed.concat();
        }
        for (index, byte) in flips {
            if !bytes.is_empty() {
                let i = index.index(bytes.len());
                bytes[i] = byte;
            }
        }
        if let Ok(imported) = import_bytes(*format, name, &bytes) {
            for bench in &imported.benchmarks {
                for metric in &bench.metrics {
                    prop_assert!(
                        metric.samples.iter().all(|s| s.is_finite() && *s >= 0.0),
                        "{name}: {} {} has samples {:?}", bench.name, metric.name, metric.samples
                    );
                }
            }
        }
    }
}
