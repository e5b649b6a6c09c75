//! benchkeep against hyperfine on the same commands, in one run (issue "Measure commands the
//! way hyperfine users expect", item 7): the runner's overhead as a ratio of whole-process
//! times (target <= 1.0x), and the medians both report for `sleep 0.01` and a ~30 ms CPU loop
//! (target: within 1%), with and without a shell. The two tools alternate, pair by pair, so
//! that drift in the machine's load falls on both alike.
//!
//! Run with `cargo bench -p benchkeep --bench hyperfine` (hyperfine must be on PATH; the bench
//! says so and stops when it is not).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use benchkeep_core::model::Run;
use benchkeep_core::stats;

const BIN: &str = env!("CARGO_BIN_EXE_benchkeep");

/// One measurement by `program` (benchkeep or hyperfine, each with its `leading` arguments)
/// with `--export-json`, which both write in hyperfine's shape: the median it reports (ms) and
/// the whole process's time (s).
fn exported(dir: &Path, program: &str, leading: &[&str], args: &[&str]) -> (f64, f64) {
    let export = dir.join("export.json");
    let start = Instant::now();
    let status = Command::new(program)
        .current_dir(dir)
        .args(leading)
        .arg("--export-json")
        .arg(&export)
        .args(args)
        .output()
        .unwrap();
    let total = start.elapsed().as_secs_f64();
    assert!(
        status.status.success(),
        "{program}: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(export).unwrap()).unwrap();
    (doc["results"][0]["median"].as_f64().unwrap() * 1e3, total)
}

/// benchkeep as a hyperfine user runs it: `run --no-record`, nothing kept but the export.
fn benchkeep(dir: &Path, args: &[&str]) -> (f64, f64) {
    exported(dir, BIN, &["run", "--no-record", "--quiet"], args)
}

fn hyperfine(dir: &Path, args: &[&str]) -> (f64, f64) {
    exported(dir, "hyperfine", &["--style", "none"], args)
}

/// The whole-process time (ms) of a run that is kept (`--out`: the speed probe runs), median of
/// `times`.
fn kept_run(dir: &Path, times: usize) -> f64 {
    let totals: Vec<f64> = (0..times)
        .map(|_| {
            let start = Instant::now();
            let status = Command::new(BIN)
                .current_dir(dir)
                .args(["run", "--no-record", "--quiet", "--out", "run.json"])
                .args(["-N", "-w", "0", "-r", "1", "true"])
                .output()
                .unwrap();
            assert!(status.status.success());
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let run: Run = serde_json::from_slice(&std::fs::read(dir.join("run.json")).unwrap()).unwrap();
    assert!(run.probe.is_some(), "a kept run has its speed probe");
    stats::median(&totals)
}

/// `pairs` alternating measurements of each tool with the same arguments: the medians of their
/// reported medians and of their whole-process times.
fn side_by_side(dir: &Path, args: &[&str], pairs: usize) -> ((f64, f64), (f64, f64)) {
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for pair in 0..pairs {
        // Who goes first alternates too.
        if pair % 2 == 0 {
            ours.push(benchkeep(dir, args));
            theirs.push(hyperfine(dir, args));
        } else {
            theirs.push(hyperfine(dir, args));
            ours.push(benchkeep(dir, args));
        }
    }
    let medians = |xs: &[(f64, f64)]| {
        let reported: Vec<f64> = xs.iter().map(|x| x.0).collect();
        let totals: Vec<f64> = xs.iter().map(|x| x.1).collect();
        (stats::median(&reported), stats::median(&totals))
    };
    (medians(&ours), medians(&theirs))
}

/// An awk loop of about 30 ms on this machine: its iteration count, found by doubling.
fn cpu_loop(dir: &Path) -> String {
    let mut iterations: u64 = 100_000;
    loop {
        let script = format!("awk 'BEGIN {{ for (i = 0; i < {iterations}; i++) s += i }}'");
        let (median, _) = benchkeep(dir, &["-N", "-r", "5", &script]);
        if median >= 30.0 || iterations > 1 << 34 {
            // Scale to 30 ms from the last measurement.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let scaled = (iterations as f64 * 30.0 / median) as u64;
            return format!("awk 'BEGIN {{ for (i = 0; i < {scaled}; i++) s += i }}'");
        }
        iterations *= 2;
    }
}

fn main() {
    if Command::new("hyperfine").arg("--version").output().is_err() {
        println!("hyperfine is not installed (apt-get install hyperfine): nothing to compare");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "benchkeep vs hyperfine, {} cores, load average {}",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );

    let ((ours_median, ours_total), (their_median, their_total)) =
        side_by_side(dir, &["-N", "-w", "3", "-r", "300", "true"], 7);
    let ((_, ours_once), (_, theirs_once)) =
        side_by_side(dir, &["-N", "-w", "0", "-r", "1", "true"], 7);
    println!(
        "overhead, `true` x 300 without a shell, 7 alternating pairs: whole process {:.1} ms vs {:.1} ms, ratio {:.3}x (target <= 1.0x); reported medians {ours_median:.3} vs {their_median:.3} ms",
        ours_total * 1e3,
        their_total * 1e3,
        ours_total / their_total
    );
    println!(
        "  of which fixed (one run of `true`): {:.1} ms vs {:.1} ms; per execution after that: {:.3} ms vs {:.3} ms, ratio {:.3}x",
        ours_once * 1e3,
        theirs_once * 1e3,
        (ours_total - ours_once) * 1e3 / 299.0,
        (their_total - theirs_once) * 1e3 / 299.0,
        (ours_total - ours_once) / (their_total - theirs_once)
    );
    println!(
        "  a kept run (`--out`, with the machine-speed probe): {:.1} ms for one run of `true`",
        kept_run(dir, 7)
    );

    let awk = cpu_loop(dir);
    for (label, command) in [
        ("sleep 0.01", "sleep 0.01".to_owned()),
        ("awk loop ~30 ms", awk),
    ] {
        for shell in [false, true] {
            let mut args = vec!["-w", "2", "-r", "30"];
            if !shell {
                args.push("-N");
            }
            args.push(&command);
            let ((ours, _), (theirs, _)) = side_by_side(dir, &args, 3);
            let difference = (ours / theirs - 1.0) * 100.0;
            println!(
                "{label}, {}: median {ours:.3} ms vs hyperfine {theirs:.3} ms, {difference:+.2}% ({} the 1% target)",
                if shell {
                    "through sh, start-up subtracted"
                } else {
                    "no shell (-N)"
                },
                if difference.abs() <= 1.0 {
                    "within"
                } else {
                    "OUTSIDE"
                }
            );
        }
    }
}
