//! Import's size targets (issue "Fail closed everywhere", item 7): 1,000,000 benchmarks import
//! in under 10 s with peak memory under 3x the input's size, and the time grows linearly
//! (100,000 then 1,000,000: about 10x, not 100x as with a linear name search).
//!
//! Run with `cargo bench -p benchkeep --bench import`. The inputs are written once into
//! target/bench-import: benchkeep's custom format with five samples per benchmark (about 9 and
//! 90 MB: 90 bytes a benchmark, the most compact input there is), a Google Benchmark JSON of
//! 1,000,000 benchmarks as the library writes it (369 MB), and one of 100,000 aggregates-only
//! families (`--benchmark_report_aggregates_only`, which was quadratic). Each import is
//! `benchkeep import --no-record` timed three times by benchkeep's own runner (wall time and
//! peak RSS of that process alone).

use std::fmt::Write as _;
use std::path::Path;

use benchkeep_runner::command::{
    CommandSpec, Interrupt, MeasureOptions, NoProgress, RunCount, measure,
};

const BIN: &str = env!("CARGO_BIN_EXE_benchkeep");

fn write_input(path: &Path, benchmarks: usize) {
    let mut text = String::with_capacity(benchmarks * 90);
    text.push_str("{\"benchmarks\": [\n");
    for i in 0..benchmarks {
        let separator = if i + 1 == benchmarks { "" } else { "," };
        let base = 1000 + (i % 977);
        let _ = writeln!(
            text,
            "{{\"name\": \"suite::case_{i:07}\", \"unit\": \"ns\", \"samples\": [{base}, {}, {}, {}, {}]}}{separator}",
            base + 3,
            base + 1,
            base + 7,
            base + 2
        );
    }
    text.push_str("]}\n");
    std::fs::write(path, text).unwrap();
}

fn write_google_benchmark(path: &Path, benchmarks: usize, aggregates_only: bool) {
    let mut text = String::with_capacity(benchmarks * 400);
    text.push_str("{\n  \"context\": {\"library_build_type\": \"release\", \"num_cpus\": 2},\n  \"benchmarks\": [\n");
    let mut first = true;
    for i in 0..benchmarks {
        let time = 1000.0 + (i % 977) as f64 + 0.125;
        let runs: &[(&str, &str, f64)] = if aggregates_only {
            &[
                ("aggregate", "mean", time),
                ("aggregate", "median", time - 1.0),
                ("aggregate", "stddev", 3.5),
                ("aggregate", "cv", 0.003),
            ]
        } else {
            &[("iteration", "", time)]
        };
        for (run_type, aggregate, value) in runs {
            if !first {
                text.push_str(",\n");
            }
            first = false;
            let suffix = if aggregate.is_empty() {
                String::new()
            } else {
                format!("_{aggregate}")
            };
            let _ = write!(
                text,
                "    {{\n      \"name\": \"BM_case_{i:07}/64{suffix}\",\n      \"family_index\": {i},\n      \"per_family_instance_index\": 0,\n      \"run_name\": \"BM_case_{i:07}/64\",\n      \"run_type\": \"{run_type}\",\n      \"repetitions\": 5,\n      \"repetition_index\": 0,\n      \"threads\": 1,\n      \"aggregate_name\": \"{aggregate}\",\n      \"iterations\": 1000000,\n      \"real_time\": {value},\n      \"cpu_time\": {value},\n      \"time_unit\": \"ns\"\n    }}"
            );
        }
    }
    text.push_str("\n  ]\n}\n");
    std::fs::write(path, text).unwrap();
}

/// Median wall time (s) and peak RSS (bytes) of three imports of `input` in `format`.
fn import(dir: &Path, format: &str, input: &Path) -> (f64, f64) {
    let mut spec = CommandSpec::new([
        BIN,
        "import",
        "--no-record",
        "--format",
        format,
        input.to_str().unwrap(),
    ]);
    spec.cwd = Some(dir.to_path_buf());
    let options = MeasureOptions {
        warmup: 0,
        runs: RunCount::Fixed(3),
        ..MeasureOptions::default()
    };
    let measured =
        measure(&spec, &options, &Interrupt::new(), &mut NoProgress).expect("import runs");
    let wall = median(
        measured
            .samples
            .iter()
            .map(|s| s.wall_ns as f64 / 1e9)
            .collect(),
    );
    let rss = median(
        measured
            .samples
            .iter()
            .map(|s| s.peak_rss_bytes as f64)
            .collect(),
    );
    (wall, rss)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-import");
    std::fs::create_dir_all(&dir).unwrap();
    let mut seconds = Vec::new();
    for benchmarks in [100_000, 1_000_000] {
        let input = dir.join(format!("custom-{benchmarks}.json"));
        if !input.exists() {
            eprintln!("writing {benchmarks} benchmarks into {}", input.display());
            write_input(&input, benchmarks);
        }
        let size = std::fs::metadata(&input).unwrap().len() as f64;
        let (wall, rss) = import(&dir, "custom", &input);
        println!(
            "import of {benchmarks} benchmarks ({:.1} MB): median {wall:.2} s, peak RSS {:.0} MB = {:.2}x the input",
            size / 1e6,
            rss / 1e6,
            rss / size
        );
        if benchmarks == 1_000_000 {
            println!(
                "targets: under 10 s ({}), peak under 3x the input ({})",
                if wall < 10.0 { "met" } else { "MISSED" },
                if rss < 3.0 * size { "met" } else { "MISSED" }
            );
        }
        seconds.push(wall);
    }
    println!(
        "100,000 -> 1,000,000 benchmarks: {:.1}x the time (linear: 10x)",
        seconds[1] / seconds[0]
    );
    for (name, benchmarks, aggregates_only) in [
        ("google-benchmark-1000000.json", 1_000_000, false),
        ("google-benchmark-aggregates-100000.json", 100_000, true),
    ] {
        let input = dir.join(name);
        if !input.exists() {
            eprintln!("writing {}", input.display());
            write_google_benchmark(&input, benchmarks, aggregates_only);
        }
        let size = std::fs::metadata(&input).unwrap().len() as f64;
        let (wall, rss) = import(&dir, "google-benchmark", &input);
        println!(
            "import of Google Benchmark JSON, {benchmarks} {} ({:.1} MB): median {wall:.2} s, peak RSS {:.0} MB = {:.2}x the input",
            if aggregates_only {
                "aggregates-only families"
            } else {
                "benchmarks"
            },
            size / 1e6,
            rss / 1e6,
            rss / size
        );
    }
}
