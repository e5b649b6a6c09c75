//! Import's size targets (issue "Fail closed everywhere", item 7): 1,000,000 benchmarks import
//! in under 10 s with peak memory under 3x the input's size, and the time grows linearly
//! (100,000 then 1,000,000: about 10x, not 100x as with a linear name search).
//!
//! Run with `cargo bench -p benchkeep --bench import`. The inputs (custom format, five samples
//! per benchmark; about 9 and 90 MB) are written once into target/bench-import; each import is
//! `benchkeep import --no-record` timed three times by benchkeep's own runner (wall time and
//! peak RSS of that process; the peak includes this benchmark's own resident size at spawn,
//! a few MB, because Linux carries it into the child through exec).

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
        let mut spec = CommandSpec::new([
            BIN,
            "import",
            "--no-record",
            "--format",
            "custom",
            input.to_str().unwrap(),
        ]);
        spec.cwd = Some(dir.clone());
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
}
