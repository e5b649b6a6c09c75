//! Peak memory as benchkeep measures it, beside GNU time's figure for the same commands: run with
//! `cargo bench -p benchkeep-runner --bench peak_rss`.
//!
//! Target (issue 16): within 10% of GNU time (`/usr/bin/time -f %M`, Debian package `time`) for
//! `true`, `sleep 0` and a 100 MiB allocation (`dd bs=100M`, whose block buffer is written). The
//! benchmark first makes its own process large (200 MiB resident), as benchkeep is while it holds
//! a big run: a runner that spawned commands directly reported at least that for each of them.
//! It also prints the whole cost of one execution of `true` (what the helper adds to every run).

use std::process::Command;
use std::time::Instant;

use benchkeep_runner::command::{
    CommandSpec, Interrupt, MeasureOptions, NoProgress, RunCount, measure,
};

const REPEATS: u32 = 9;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// benchkeep's median peak RSS of `argv`, in KiB.
fn benchkeep_kib(argv: &[&str]) -> f64 {
    let options = MeasureOptions {
        runs: RunCount::Fixed(REPEATS),
        ..MeasureOptions::default()
    };
    let measured = measure(
        &CommandSpec::new(argv.iter().copied()),
        &options,
        &Interrupt::new(),
        &mut NoProgress,
    )
    .expect("the command runs");
    assert_eq!(
        measured.peak_rss_unavailable, None,
        "no helper in this build"
    );
    median(
        measured
            .samples
            .iter()
            .map(|s| s.peak_rss_bytes as f64 / 1024.0)
            .collect(),
    )
}

/// GNU time's median `%M` (KiB) for `argv`, if GNU time is installed.
fn gnu_time_kib(argv: &[&str]) -> Option<f64> {
    let mut values = Vec::new();
    for _ in 0..REPEATS {
        let output = Command::new("/usr/bin/time")
            .args(["-f", "%M"])
            .args(argv)
            .stdout(std::process::Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&output.stderr);
        values.push(text.lines().last()?.trim().parse().ok()?);
    }
    Some(median(values))
}

fn main() {
    // Resident, and kept alive until the end: the situation in which direct spawning failed.
    let ballast = std::hint::black_box(vec![1_u8; 200 << 20]);
    let commands: [(&str, &[&str]); 3] = [
        ("true", &["true"]),
        ("sleep 0", &["sleep", "0"]),
        (
            "a 100 MiB buffer (dd bs=100M count=1)",
            &["dd", "if=/dev/zero", "of=/dev/null", "bs=100M", "count=1"],
        ),
    ];
    for (label, argv) in commands {
        let ours = benchkeep_kib(argv);
        match gnu_time_kib(argv) {
            Some(theirs) => println!(
                "peak RSS of {label}: benchkeep {ours:.0} KiB, GNU time {theirs:.0} KiB: {:.2}x (target within 10%)",
                ours / theirs
            ),
            None => {
                println!("peak RSS of {label}: benchkeep {ours:.0} KiB (GNU time not installed)");
            }
        }
    }
    let runs = 1000;
    let options = MeasureOptions {
        runs: RunCount::Fixed(runs),
        ..MeasureOptions::default()
    };
    let started = Instant::now();
    let measured = measure(
        &CommandSpec::new(["true"]),
        &options,
        &Interrupt::new(),
        &mut NoProgress,
    )
    .expect("true runs");
    let total = started.elapsed().as_secs_f64() * 1e3 / f64::from(runs);
    let reported = median(
        measured
            .samples
            .iter()
            .map(|s| s.wall_ns as f64 / 1e6)
            .collect(),
    );
    println!(
        "`true` x {runs}: median reported wall time {reported:.3} ms, whole cost per execution {total:.3} ms"
    );
    drop(ballast);
}
