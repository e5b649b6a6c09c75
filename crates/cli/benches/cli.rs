//! The foundation's speed and memory targets, measured on the real binary.
//!
//! Run with `cargo bench -p benchkeep --bench cli`. It prints one line per figure with the target
//! beside it. Processes are timed with benchkeep's own runner (wait4: wall time and peak RSS of
//! exactly that process); hyperfine, when installed, runs side by side for the overhead figures.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use benchkeep_core::key::BaselineKey;
use benchkeep_core::model::{Benchmark, Direction, Fingerprint, Metric, Run, RunId, Unit};
use benchkeep_core::stats::{self, Rng};
use benchkeep_core::store::encode_run;
use benchkeep_runner::command::{
    CommandSpec, Interrupt, MeasureOptions, NoProgress, RunCount, Sample, measure,
};

const BIN: &str = env!("CARGO_BIN_EXE_benchkeep");

fn synthetic_run(benchmarks: usize, samples: usize, shift: f64, seed: u64, millis: i64) -> Run {
    let at = jiff::Timestamp::from_millisecond(1_790_000_000_000 + millis).unwrap();
    let key = BaselineKey::new("main", "linux-x86_64").unwrap();
    let mut run = Run::new(RunId::new(at, seed), at, key, Fingerprint::default());
    let mut rng = Rng::seed_from_u64(seed);
    for b in 0..benchmarks {
        let center = 1e6 * (1.0 + (b % 97) as f64);
        run.benchmarks.push(Benchmark {
            params: std::collections::BTreeMap::new(),
            name: format!("group{}/bench{b}", b % 50),
            command: None,
            metrics: vec![Metric {
                name: "wall_time".into(),
                unit: Unit::nanoseconds(),
                direction: Direction::LowerIsBetter,
                samples: (0..samples)
                    .map(|_| (center * shift * (1.0 + 0.02 * (rng.unit_f64() - 0.5))).round())
                    .collect(),
                summary: None,
            }],
        });
    }
    run
}

fn time(argv: &[&str], dir: &Path, runs: u32) -> Vec<Sample> {
    let mut spec = CommandSpec::new(argv.iter().copied());
    spec.cwd = Some(dir.to_owned());
    let options = MeasureOptions {
        warmup: 1,
        runs: RunCount::Fixed(runs),
        ..MeasureOptions::default()
    };
    match measure(&spec, &options, &Interrupt::new(), &mut NoProgress) {
        Ok(m) => m.samples,
        // Exit code 1 (a regression) is a legitimate result for compare/check; time it anyway.
        Err(_) => (0..runs)
            .map(|_| {
                let start = Instant::now();
                let _ = Command::new(argv[0])
                    .args(&argv[1..])
                    .current_dir(dir)
                    .output();
                Sample {
                    wall_ns: u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX),
                    user_ns: 0,
                    system_ns: 0,
                    peak_rss_bytes: 0,
                }
            })
            .collect(),
    }
}

fn median_ms(samples: &[Sample]) -> f64 {
    let wall: Vec<f64> = samples.iter().map(|s| s.wall_ns as f64 / 1e6).collect();
    stats::median(&wall)
}

fn max_rss_mib(samples: &[Sample]) -> f64 {
    samples.iter().map(|s| s.peak_rss_bytes).max().unwrap_or(0) as f64 / (1024.0 * 1024.0)
}

/// A compare that finds regressions exits 1, which `measure` treats as a failure; a shell wrapper
/// makes the exit code 0 (its own cost, a `sh` start, is about 1 ms and included).
fn gate_ignoring(dir: &Path, args: &str) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        format!("cd {} && {BIN} {args} >/dev/null; true", dir.display()),
    ]
}

fn bench_compare(report: &mut String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.json"),
        encode_run(&synthetic_run(10_000, 30, 1.0, 1, 0)),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.json"),
        encode_run(&synthetic_run(10_000, 30, 1.03, 2, 1)),
    )
    .unwrap();
    let argv = gate_ignoring(dir.path(), "compare a.json b.json --format json");
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let samples = time(&argv, dir.path(), 20);
    let _ = writeln!(
        report,
        "compare, 10,000 benchmarks x 30 samples (CLI, files to JSON verdict): median {:.1} ms (target < 200 ms), peak RSS {:.1} MiB (target < 100 MB)",
        median_ms(&samples),
        max_rss_mib(&samples)
    );
}

fn bench_store(report: &mut String) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(".benchkeep");
    // Fill the layout directly (no fsync per file) so setting up 10,000 runs takes seconds.
    let key = BaselineKey::new("main", "linux-x86_64").unwrap();
    let runs_dir = root.join("runs").join(key.storage_name());
    std::fs::create_dir_all(&runs_dir).unwrap();
    for dir_name in ["baselines", "locks", "tmp"] {
        std::fs::create_dir_all(root.join(dir_name)).unwrap();
    }
    for i in 0..10_000u64 {
        let run = synthetic_run(5, 30, 1.0, i, i64::try_from(i).unwrap() * 1000);
        std::fs::write(runs_dir.join(format!("{}.json", run.id)), encode_run(&run)).unwrap();
    }
    std::fs::write(
        dir.path().join("current.json"),
        encode_run(&synthetic_run(5, 30, 1.0, 99_999, 99_999_999)),
    )
    .unwrap();
    let set = "baseline set --last 3 --branch main --platform linux-x86_64";
    let check = "check --run current.json --no-record".to_owned();
    let both = gate_ignoring(dir.path(), &format!("{set} && {BIN} {check}"));
    let argv: Vec<&str> = both.iter().map(String::as_str).collect();
    let samples = time(&argv, dir.path(), 10);
    let _ = writeln!(
        report,
        "baseline set --last 3 + check, fs store holding 10,000 runs: median {:.1} ms for both (target < 1 s)",
        median_ms(&samples)
    );
}

fn tiny_sleeper(dir: &Path) -> Option<std::path::PathBuf> {
    let source = dir.join("nap.c");
    let binary = dir.join("nap");
    std::fs::write(
        &source,
        "#include <time.h>\nint main(void){struct timespec t={0,50000000};nanosleep(&t,0);return 0;}\n",
    )
    .ok()?;
    let built = Command::new("cc")
        .args(["-O2", "-static", "-o"])
        .arg(&binary)
        .arg(&source)
        .status()
        .ok()?;
    built.success().then_some(binary)
}

fn hyperfine(args: &[&str]) -> Option<(f64, f64)> {
    let dir = tempfile::tempdir().ok()?;
    let export = dir.path().join("h.json");
    let start = Instant::now();
    let status = Command::new("hyperfine")
        .args(["-N", "--style", "none", "--export-json"])
        .arg(&export)
        .args(args)
        .output()
        .ok()?;
    let total = start.elapsed().as_secs_f64();
    if !status.status.success() {
        return None;
    }
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(export).ok()?).ok()?;
    let median = doc["results"][0]["median"].as_f64()?;
    Some((median * 1e3, total))
}

fn bench_runner(report: &mut String) {
    const RUNS: u32 = 1000;
    let runs = RUNS.to_string();
    let start = Instant::now();
    let out = Command::new(BIN)
        .args([
            "run",
            "--no-record",
            "--quiet",
            "--warmup",
            "3",
            "--runs",
            &runs,
            "--out",
        ])
        .arg(std::env::temp_dir().join("benchkeep-true.json"))
        .args(["--", "true"])
        .output()
        .unwrap();
    let ours_total = start.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run: Run = serde_json::from_slice(
        &std::fs::read(std::env::temp_dir().join("benchkeep-true.json")).unwrap(),
    )
    .unwrap();
    let ours_median = stats::median(&run.benchmarks[0].metrics[0].samples) / 1e6;
    match hyperfine(&["--warmup", "3", "--runs", &runs, "true"]) {
        Some((their_median, their_total)) => {
            let _ = writeln!(
                report,
                "runner overhead, `true` x {RUNS}: benchkeep median {ours_median:.3} ms, total {:.3} ms/run; hyperfine -N median {their_median:.3} ms, total {:.3} ms/run; ratio (benchkeep/hyperfine) median {:.2}x, total {:.2}x (target <= 1.0x)",
                ours_total * 1e3 / f64::from(RUNS),
                their_total * 1e3 / f64::from(RUNS),
                ours_median / their_median,
                ours_total / their_total
            );
        }
        None => {
            let _ = writeln!(
                report,
                "runner overhead, `true` x {RUNS}: benchkeep median {ours_median:.3} ms, total {:.3} ms/run; hyperfine not installed (apt-get install hyperfine) so no ratio",
                ours_total * 1e3 / f64::from(RUNS)
            );
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let mut sleepers: Vec<(String, Vec<String>)> = vec![(
        "coreutils `sleep 0.05`".into(),
        vec!["sleep".into(), "0.05".into()],
    )];
    if let Some(nap) = tiny_sleeper(dir.path()) {
        sleepers.push((
            "static nanosleep(50 ms) binary".into(),
            vec![nap.display().to_string()],
        ));
    }
    for (label, argv) in sleepers {
        let m = measure(
            &CommandSpec::new(argv.clone()),
            &MeasureOptions {
                warmup: 1,
                runs: RunCount::Fixed(30),
                ..MeasureOptions::default()
            },
            &Interrupt::new(),
            &mut NoProgress,
        )
        .unwrap();
        let median = median_ms(&m.samples);
        let theirs = hyperfine(&["--runs", "30", &argv.join(" ")]).map_or_else(
            || "hyperfine not installed".to_owned(),
            |(h, _)| format!("hyperfine -N median {h:.3} ms"),
        );
        let _ = writeln!(
            report,
            "{label}: benchkeep median {median:.3} ms = {:+.2}% vs 50 ms (target within 1%); {theirs}",
            (median / 50.0 - 1.0) * 100.0
        );
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing useful. Run either way.
    let mut report = String::new();
    bench_compare(&mut report);
    bench_store(&mut report);
    bench_runner(&mut report);
    print!("{report}");
}
