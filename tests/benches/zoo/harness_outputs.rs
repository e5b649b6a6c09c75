//! Real harness outputs: does a +20% benchmark in another tool's output come out regressed, and
//! does any untouched benchmark get flagged? Deterministic: no measuring, only the importer
//! fixtures (crates/import/tests/fixtures/import) and small outputs written here in each format's
//! documented shape where no fixture exists. Each output is copied with one benchmark 20% slower
//! (its times × 1.2, its rates ÷ 1.2); both are imported with `benchkeep import --out` and
//! compared with `benchkeep compare --format json` at default settings.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::cli::{Benchkeep, Samples, Verdict, run_samples};
use crate::workloads::SplitMix;

/// The injected slowdown.
const SLOWER: f64 = 1.2;

/// One output and its slowed copy.
struct Case {
    format: &'static str,
    source: String,
    original: PathBuf,
    slowed: PathBuf,
}

/// What benchkeep made of one case.
#[derive(Debug)]
pub(crate) struct ImportRow {
    pub(crate) format: &'static str,
    pub(crate) source: String,
    pub(crate) benchmarks: usize,
    /// Fewest and most samples per benchmark (primary metric).
    pub(crate) samples: (usize, usize),
    pub(crate) slowed_name: String,
    /// The +20% benchmark's gating verdict and relative change.
    pub(crate) slowed_verdict: String,
    pub(crate) slowed_change: Option<f64>,
    pub(crate) slowed_reason: String,
    /// Untouched benchmarks: how many were flagged (regressed or improved), and all verdicts.
    pub(crate) others_flagged: usize,
    pub(crate) others: String,
    pub(crate) exit: Option<i32>,
    pub(crate) error: Option<String>,
}

/// Runs every case in `dir` and returns one row per case.
pub(crate) fn run(bk: &Benchkeep, fixtures: &Path, dir: &Path) -> Result<Vec<ImportRow>, String> {
    let cases = cases(fixtures, dir).map_err(|e| format!("writing harness outputs: {e}"))?;
    Ok(cases
        .iter()
        .enumerate()
        .map(|(i, case)| {
            evaluate(bk, case, &dir.join(format!("case{i}"))).unwrap_or_else(|error| ImportRow {
                format: case.format,
                source: case.source.clone(),
                benchmarks: 0,
                samples: (0, 0),
                slowed_name: String::new(),
                slowed_verdict: String::new(),
                slowed_change: None,
                slowed_reason: String::new(),
                others_flagged: 0,
                others: String::new(),
                exit: None,
                error: Some(error),
            })
        })
        .collect())
}

fn evaluate(bk: &Benchkeep, case: &Case, prefix: &Path) -> Result<ImportRow, String> {
    let import = |input: &Path, side: &str| -> Result<(PathBuf, Samples), String> {
        let out = PathBuf::from(format!("{}-{side}.json", prefix.display()));
        let args = [
            "import".as_ref(),
            "-q".as_ref(),
            "--no-record".as_ref(),
            "--format".as_ref(),
            case.format.as_ref(),
            input.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ];
        let output = bk.run(&args)?;
        if output.code != Some(0) {
            return Err(output.failure(&format!("import {side}")));
        }
        let samples = run_samples(&out, None)?;
        Ok((out, samples))
    };
    let (original_run, original) = import(&case.original, "original")?;
    let (slowed_run, slowed) = import(&case.slowed, "slowed")?;
    // The slowed benchmark is the one whose samples changed: found in what the importer read,
    // so a scaling that missed the fields the importer uses shows up as an error, not a miss.
    let changed: Vec<&str> = original
        .iter()
        .filter(|(name, samples)| {
            slowed.iter().find(|s| &s.0 == name).map(|s| &s.1) != Some(samples)
        })
        .map(|(name, _)| name.as_str())
        .collect();
    let [slowed_name] = changed[..] else {
        return Err(format!(
            "expected exactly one benchmark to differ after slowing, found {changed:?}"
        ));
    };
    let out = bk.run(&[
        "compare".as_ref(),
        original_run.as_os_str(),
        slowed_run.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ])?;
    if !matches!(out.code, Some(0 | 1)) {
        return Err(out.failure("compare"));
    }
    let verdict = Verdict::parse(&out.stdout)?;
    let primary = |name: &str| {
        verdict
            .entries
            .iter()
            .find(|e| e.gating && e.benchmark == name)
    };
    let slowed_entry =
        primary(slowed_name).ok_or_else(|| format!("no gating entry for {slowed_name}"))?;
    let mut others = std::collections::BTreeMap::<&str, usize>::new();
    let mut others_flagged = 0;
    for (name, _) in original.iter().filter(|(n, _)| n != slowed_name) {
        let verdict = primary(name).map_or("(no entry)", |e| e.verdict.as_str());
        others_flagged += usize::from(matches!(verdict, "regressed" | "improved"));
        *others.entry(verdict).or_default() += 1;
    }
    let counts = original.iter().map(|(_, s)| s.len());
    Ok(ImportRow {
        format: case.format,
        source: case.source.clone(),
        benchmarks: original.len(),
        samples: (counts.clone().min().unwrap_or(0), counts.max().unwrap_or(0)),
        slowed_name: slowed_name.to_owned(),
        slowed_verdict: slowed_entry.verdict.clone(),
        slowed_change: slowed_entry.change,
        slowed_reason: slowed_entry.reason.clone(),
        others_flagged,
        others: others
            .iter()
            .map(|(v, n)| format!("{n} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        exit: out.code,
        error: None,
    })
}

/// Writes every output and its slowed copy into `dir`.
#[allow(clippy::too_many_lines)] // one short paragraph per format, read top to bottom
fn cases(fixtures: &Path, dir: &Path) -> std::io::Result<Vec<Case>> {
    let mut cases = Vec::new();
    let mut add = |format: &'static str, source: &str, name: &str, original: &str, slowed: &str| {
        let (a, b) = (dir.join(format!("{name}-a")), dir.join(format!("{name}-b")));
        std::fs::write(&a, original)?;
        std::fs::write(&b, slowed)?;
        cases.push(Case {
            format,
            source: source.to_owned(),
            original: a,
            slowed: b,
        });
        std::io::Result::Ok(())
    };
    let read = |path: &str| std::fs::read_to_string(fixtures.join(path));
    let read_json = |path: &str| -> std::io::Result<Value> {
        serde_json::from_str(&read(path)?).map_err(std::io::Error::other)
    };
    let to_text = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();

    // criterion JSON messages: the first `benchmark-complete` line's measured values and
    // estimates.
    let messages = read("criterion/messages.json")?;
    let mut done = false;
    let slowed: Vec<String> = messages
        .lines()
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(mut v) if !done && v["reason"] == "benchmark-complete" => {
                done = true;
                for key in [
                    "measured_values",
                    "typical",
                    "mean",
                    "median",
                    "median_abs_dev",
                    "slope",
                ] {
                    scale_all(&mut v[key], SLOWER);
                }
                v.to_string()
            }
            _ => line.to_owned(),
        })
        .collect();
    add(
        "criterion",
        "fixture: criterion/messages.json (cargo criterion --message-format=json)",
        "criterion-messages",
        &messages,
        &(slowed.join("\n") + "\n"),
    )?;

    // hyperfine: the one result with a unique command.
    let original = read_json("hyperfine/real.json")?;
    let mut slowed = original.clone();
    for key in [
        "times", "mean", "stddev", "median", "user", "system", "min", "max",
    ] {
        scale_all(&mut slowed["results"][1][key], SLOWER);
    }
    add(
        "hyperfine",
        "fixture: hyperfine/real.json",
        "hyperfine",
        &to_text(&original),
        &to_text(&slowed),
    )?;

    // Google Benchmark, real output (3 repetitions and aggregates), and two written here.
    let original = read_json("google-benchmark/real.json")?;
    let slowed = slow_google(&original, "sum_squares");
    add(
        "google-benchmark",
        "fixture: google-benchmark/real.json (3 repetitions + aggregates)",
        "gbench-real",
        &to_text(&original),
        &to_text(&slowed),
    )?;
    let five = google_output(5, false);
    add(
        "google-benchmark",
        "written: 5 repetitions + aggregates",
        "gbench-5",
        &to_text(&five),
        &to_text(&slow_google(&five, "BM_parse")),
    )?;
    let aggregates = google_output(5, true);
    add(
        "google-benchmark",
        "written: 5 repetitions, --benchmark_report_aggregates_only",
        "gbench-agg",
        &to_text(&aggregates),
        &to_text(&slow_google(&aggregates, "BM_parse")),
    )?;

    // pytest-benchmark, with every round and with the summary only.
    for (path, label) in [
        (
            "pytest-benchmark/real.json",
            "fixture: pytest-benchmark/real.json (rounds kept)",
        ),
        (
            "pytest-benchmark/without-data.json",
            "fixture: pytest-benchmark/without-data.json (summary only)",
        ),
    ] {
        let original = read_json(path)?;
        let mut slowed = original.clone();
        let stats = &mut slowed["benchmarks"][0]["stats"];
        for key in [
            "min", "max", "mean", "stddev", "median", "iqr", "q1", "q3", "ld15iqr", "hd15iqr",
            "total", "data",
        ] {
            scale_all(&mut stats[key], SLOWER);
        }
        scale_all(&mut stats["ops"], 1.0 / SLOWER);
        add(
            "pytest-benchmark",
            label,
            path.replace('/', "-").as_str(),
            &to_text(&original),
            &to_text(&slowed),
        )?;
    }

    // JMH: the first entry is throughput mode, so slower means fewer operations per second.
    let original = read_json("jmh/result.json")?;
    let mut slowed = original.clone();
    scale_all(&mut slowed[0]["primaryMetric"], 1.0 / SLOWER);
    add(
        "jmh",
        "fixture: jmh/result.json (thrpt entry slowed)",
        "jmh",
        &to_text(&original),
        &to_text(&slowed),
    )?;

    // BenchmarkDotNet: the workload measurements and their statistics (variance is squared).
    let original = read_json("benchmarkdotnet/report-full.json")?;
    let mut slowed = original.clone();
    let bench = &mut slowed["Benchmarks"][0];
    for m in bench["Measurements"].as_array_mut().into_iter().flatten() {
        if m["IterationMode"] == "Workload" {
            scale_all(&mut m["Nanoseconds"], SLOWER);
        }
    }
    for key in [
        "OriginalValues",
        "Min",
        "LowerFence",
        "Q1",
        "Median",
        "Mean",
        "Q3",
        "UpperFence",
        "Max",
        "InterquartileRange",
        "StandardError",
        "StandardDeviation",
    ] {
        scale_all(&mut bench["Statistics"][key], SLOWER);
    }
    scale_all(&mut bench["Statistics"]["Variance"], SLOWER * SLOWER);
    add(
        "benchmarkdotnet",
        "fixture: benchmarkdotnet/report-full.json",
        "bdn",
        &to_text(&original),
        &to_text(&slowed),
    )?;

    // Catch2 XML: the first benchmark's mean and standard deviation.
    let original = read("catch2/results.xml")?;
    add(
        "catch2",
        "fixture: catch2/results.xml (means only)",
        "catch2",
        &original,
        &slow_catch2(&original),
    )?;

    // libtest: criterion's bencher output (one line per benchmark), and five concatenated runs.
    let original = read("libtest/criterion-bencher.txt")?;
    let slowed: Vec<String> = original
        .lines()
        .map(|l| {
            if l.starts_with("test fib 20 ") {
                scale_libtest_line(l, SLOWER)
            } else {
                l.to_owned()
            }
        })
        .collect();
    add(
        "libtest",
        "fixture: libtest/criterion-bencher.txt (1 line each)",
        "libtest-fixture",
        &original,
        &(slowed.join("\n") + "\n"),
    )?;
    add(
        "libtest",
        "written: 5 concatenated `cargo bench` outputs",
        "libtest-5",
        &libtest_output(1.0),
        &libtest_output(SLOWER),
    )?;

    // go test -bench -benchmem -count 5.
    add(
        "go",
        "written: go test -bench . -benchmem -count 5",
        "go",
        &go_output(1.0),
        &go_output(SLOWER),
    )?;

    // Benchmark.js: one run (one line per benchmark), and five runs concatenated.
    add(
        "benchmarkjs",
        "written: one Benchmark.js run",
        "bjs-1",
        &benchmarkjs_output(1, 1.0),
        &benchmarkjs_output(1, SLOWER),
    )?;
    add(
        "benchmarkjs",
        "written: 5 Benchmark.js runs concatenated",
        "bjs-5",
        &benchmarkjs_output(5, 1.0),
        &benchmarkjs_output(5, SLOWER),
    )?;

    // criterion's target/criterion directory: one benchmark's new/sample.json and estimates.
    let (a, b) = (dir.join("criterion-dir-a"), dir.join("criterion-dir-b"));
    copy_dir(&fixtures.join("criterion/fast"), &a)?;
    copy_dir(&fixtures.join("criterion/fast"), &b)?;
    for file in ["sample.json", "estimates.json"] {
        let path = b.join("parse/1000/new").join(file);
        let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)
            .map_err(std::io::Error::other)?;
        if file == "sample.json" {
            scale_all(&mut v["times"], SLOWER);
        } else {
            scale_all(&mut v, SLOWER);
        }
        std::fs::write(&path, v.to_string())?;
    }
    cases.push(Case {
        format: "criterion",
        source: "fixture: criterion/fast (target/criterion directory)".into(),
        original: a,
        slowed: b,
    });
    Ok(cases)
}

/// Multiplies every number in `v` (recursively) by `factor`, except confidence levels, which
/// are not measurements.
fn scale_all(v: &mut Value, factor: f64) {
    match v {
        Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                *v = json!(x * factor);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| scale_all(i, factor)),
        Value::Object(map) => map
            .iter_mut()
            .filter(|(k, _)| k.as_str() != "confidence_level")
            .for_each(|(_, i)| scale_all(i, factor)),
        _ => {}
    }
}

/// Google Benchmark output with `run_name` slowed: times × 1.2, rates ÷ 1.2, the coefficient
/// of variation (a percentage) untouched.
fn slow_google(original: &Value, run_name: &str) -> Value {
    let mut slowed = original.clone();
    for entry in slowed["benchmarks"].as_array_mut().into_iter().flatten() {
        if entry["run_name"] != run_name || entry["aggregate_unit"] == "percentage" {
            continue;
        }
        for key in ["real_time", "cpu_time"] {
            scale_all(&mut entry[key], SLOWER);
        }
        for key in ["items_per_second", "bytes_per_second"] {
            scale_all(&mut entry[key], 1.0 / SLOWER);
        }
    }
    slowed
}

/// Three benchmarks with `repetitions` repetitions and their aggregates, as
/// `--benchmark_format=json --benchmark_repetitions=N` prints them (only the aggregates with
/// `--benchmark_report_aggregates_only`).
fn google_output(repetitions: usize, aggregates_only: bool) -> Value {
    let mut noise = Noise::new(11);
    let mut entries = Vec::new();
    for (family, (name, ns)) in [
        ("BM_parse", 1520.0),
        ("BM_render", 8200.0),
        ("BM_hash/1024", 310.0),
    ]
    .into_iter()
    .enumerate()
    {
        let times: Vec<f64> = (0..repetitions).map(|_| ns * noise.next()).collect();
        let base = json!({"family_index": family, "per_family_instance_index": 0, "run_name": name,
            "repetitions": repetitions, "threads": 1, "time_unit": "ns"});
        for (i, t) in times.iter().enumerate() {
            if !aggregates_only {
                let mut e = base.clone();
                e["name"] = json!(name);
                e["run_type"] = json!("iteration");
                e["repetition_index"] = json!(i);
                e["iterations"] = json!(100_000);
                e["real_time"] = json!(t);
                e["cpu_time"] = json!(t * 0.99);
                entries.push(e);
            }
        }
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        let median = crate::stats::median(&times).unwrap_or(mean);
        let sd = (times.iter().map(|t| (t - mean).powi(2)).sum::<f64>()
            / (times.len() as f64 - 1.0))
            .sqrt();
        for (aggregate, value, unit) in [
            ("mean", mean, "time"),
            ("median", median, "time"),
            ("stddev", sd, "time"),
            ("cv", sd / mean, "percentage"),
        ] {
            let mut e = base.clone();
            e["name"] = json!(format!("{name}_{aggregate}"));
            e["run_type"] = json!("aggregate");
            e["aggregate_name"] = json!(aggregate);
            e["aggregate_unit"] = json!(unit);
            e["iterations"] = json!(repetitions);
            e["real_time"] = json!(value);
            e["cpu_time"] = json!(value * 0.99);
            entries.push(e);
        }
    }
    json!({
        "context": {"date": "2026-11-23T22:22:17+00:00", "host_name": "vm", "executable": "./bench",
                    "num_cpus": 2, "mhz_per_cpu": 2445, "cpu_scaling_enabled": false,
                    "library_version": "1.9.5", "library_build_type": "release", "json_schema_version": 1},
        "benchmarks": entries,
    })
}

/// Catch2's XML with the first benchmark's mean and standard deviation × 1.2.
fn slow_catch2(xml: &str) -> String {
    let mut first = true;
    let mut inside = false;
    let mut out = String::new();
    for line in xml.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("<BenchmarkResults") {
            inside = first;
            first = false;
        } else if trimmed.starts_with("</BenchmarkResults") {
            inside = false;
        }
        let mut line = line.to_owned();
        if inside && (trimmed.starts_with("<mean") || trimmed.starts_with("<standardDeviation")) {
            for attribute in ["value", "lowerBound", "upperBound"] {
                line = scale_attribute(&line, attribute, SLOWER);
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// `name="123.4"` in `line` with the number × `factor` (thousands separators allowed).
fn scale_attribute(line: &str, name: &str, factor: f64) -> String {
    let key = format!(" {name}=\"");
    let Some(start) = line.find(&key).map(|i| i + key.len()) else {
        return line.to_owned();
    };
    let Some(len) = line[start..].find('"') else {
        return line.to_owned();
    };
    match line[start..start + len].replace(',', "").parse::<f64>() {
        Ok(x) => format!("{}{}{}", &line[..start], x * factor, &line[start + len..]),
        Err(_) => line.to_owned(),
    }
}

/// A libtest line `test NAME ... bench: N ns/iter (+/- M)` with N and M × `factor`.
fn scale_libtest_line(line: &str, factor: f64) -> String {
    let Some((head, tail)) = line.split_once("bench:") else {
        return line.to_owned();
    };
    let numbers: Vec<f64> = tail
        .split(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.'))
        .filter_map(|t| t.replace(',', "").parse().ok())
        .collect();
    match numbers[..] {
        [n, m] => format!(
            "{head}bench: {:>10.0} ns/iter (+/- {:.0})",
            n * factor,
            m * factor
        ),
        _ => line.to_owned(),
    }
}

/// Five concatenated `cargo bench` outputs of three benchmarks, the first × `factor`.
fn libtest_output(factor: f64) -> String {
    let mut noise = Noise::new(3);
    let mut out = String::new();
    for _ in 0..5 {
        out.push_str("\nrunning 3 tests\n");
        for (i, (name, ns)) in [
            ("parse", 48_210.0),
            ("render", 9_120.0),
            ("hash_1k", 1_305.0),
        ]
        .into_iter()
        .enumerate()
        {
            let ns = ns * noise.next() * if i == 0 { factor } else { 1.0 };
            let _ = writeln!(
                out,
                "test {name:<10} ... bench: {ns:>10.0} ns/iter (+/- {:.0})",
                ns * 0.03
            );
        }
        out.push_str(
            "\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 3 filtered out\n",
        );
    }
    out
}

/// `go test -bench . -benchmem -count 5` of three benchmarks, the first's ns/op × `factor`.
fn go_output(factor: f64) -> String {
    let mut noise = Noise::new(5);
    let mut out =
        String::from("goos: linux\ngoarch: amd64\npkg: example.com/parse\ncpu: AMD EPYC\n");
    for (i, (name, ns, bytes, allocs)) in [
        ("BenchmarkParse-2", 51_234.0, 4096, 12),
        ("BenchmarkRender-2", 8_840.0, 512, 3),
        ("BenchmarkHash-2", 1_210.0, 0, 0),
    ]
    .into_iter()
    .enumerate()
    {
        for _ in 0..5 {
            let ns = ns * noise.next() * if i == 0 { factor } else { 1.0 };
            let _ = writeln!(
                out,
                "{name}   \t   20000\t  {ns:>10.1} ns/op\t  {bytes:>6} B/op\t  {allocs:>4} allocs/op"
            );
        }
    }
    out.push_str("PASS\nok  \texample.com/parse\t9.876s\n");
    out
}

/// `runs` Benchmark.js runs of three benchmarks, the first's ops/sec ÷ `factor`.
fn benchmarkjs_output(runs: usize, factor: f64) -> String {
    let mut noise = Noise::new(9);
    let mut out = String::new();
    for _ in 0..runs {
        for (i, (name, ops)) in [
            ("parse", 1_234_567.0),
            ("render", 98_765.0),
            ("RegExp#test", 43_428_362.0),
        ]
        .into_iter()
        .enumerate()
        {
            let ops = ops / noise.next() / if i == 0 { factor } else { 1.0 };
            let _ = writeln!(
                out,
                "{name} x {} ops/sec \u{b1}0.93% (94 runs sampled)",
                thousands(ops)
            );
        }
        out.push_str("Fastest is RegExp#test\n");
    }
    out
}

/// `1234567.4` as `1,234,567` (Benchmark.js prints integer rates with separators).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn thousands(x: f64) -> String {
    let digits = (x.round() as u64).to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Multiplicative run-to-run noise of about ±2%, the same every time the benchmark runs.
struct Noise(SplitMix);

impl Noise {
    fn new(seed: u64) -> Noise {
        Noise(SplitMix(seed))
    }

    fn next(&mut self) -> f64 {
        1.0 + (self.0.below(4001) as f64 - 2000.0) / 100_000.0
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
