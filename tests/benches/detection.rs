//! The detection-quality benchmark: how often does benchkeep cry wolf, and how often does it
//! catch a real slowdown, on the machine it runs on?
//!
//! Workloads are calibrated CPU-bound loops whose work grows by an exact percentage (the loop
//! count), measured with real timers on this machine, so every bit of noise is real. It measures:
//!
//! - **paired mode** (`benchkeep ab`'s engine): base and head alternate in random order for
//!   30 rounds in one process; A/A false alarms per benchmark (1,000 comparisons) and per suite
//!   of 50 benchmarks (100 suites drawn from those, Benjamini-Hochberg across each suite),
//!   detection of 2/3/5/10% slowdowns (200 comparisons each);
//! - **stored mode** (`benchkeep check`'s engine): separately started jobs (this binary re-runs
//!   itself as a child process per job, which warms up for 50 ms); each trial compares one job
//!   with a baseline pooled from the 10 jobs before it (history method), or from 1 job (the
//!   fallback without history); a slowed workload is measured by a job of its own, in the same
//!   position as the unchanged one in the other jobs;
//! - side by side, the simple rules users would otherwise use on the same data: a fixed 5%
//!   threshold on the median of one job against the previous job (github-action-benchmark
//!   style), and a plain Mann-Whitney test at p < 0.05 against the previous job's samples.
//!
//! Run with `cargo bench -p benchkeep-tests --bench detection` (about 6 minutes on 2 cores).
//! `DETECTION_QUICK=1` runs a fifth of the trials, for a smoke test.

use std::hint::black_box;
use std::io::{BufRead as _, Write as _};
use std::process::{Command, Stdio};
use std::time::Instant;

use benchkeep_core::baseline::Baseline;
use benchkeep_core::compare::{CompareConfig, Method, Verdict, compare, compare_with_baseline};
use benchkeep_core::key::BaselineKey;
use benchkeep_core::model::{Benchmark, Direction, Fingerprint, Metric, Run, RunId, Unit};
use benchkeep_core::stats::{self, Rng};

/// Rounds (paired) or samples per job (stored): the "at most 30 rounds per side".
const SAMPLES: usize = 30;
/// Benchmarks in a suite.
const SUITE: usize = 50;
/// Past jobs in a history baseline.
const HISTORY: usize = 10;
/// Injected slowdowns.
const SLOWDOWNS: [f64; 4] = [0.02, 0.03, 0.05, 0.10];
/// Target duration of one workload call. At 0.5 ms this VM's scheduler noise reaches ±5% per
/// call; from 1 ms it is about ±1%, like the commands people benchmark.
const CALL_SECONDS: f64 = 0.001;
const JOB_ENV: &str = "BENCHKEEP_DETECTION_JOB";

/// The calibrated workload: `iterations` steps of a 64-bit mixing loop.
fn work(iterations: u64) -> u64 {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..iterations {
        x = (x ^ (x >> 29))
            .wrapping_mul(0xbf58_476d_1ce4_e5b9)
            .wrapping_add(black_box(i));
    }
    x
}

fn time_ns(iterations: u64) -> f64 {
    let start = Instant::now();
    black_box(work(black_box(iterations)));
    start.elapsed().as_nanos() as f64
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn scaled(iterations: u64, factor: f64) -> u64 {
    (iterations as f64 * factor).round() as u64
}

/// Loop count for one call of about `CALL_SECONDS`.
fn calibrate() -> u64 {
    let probe = 1_000_000u64;
    let best = (0..7).map(|_| time_ns(probe)).fold(f64::INFINITY, f64::min);
    scaled(probe, CALL_SECONDS * 1e9 / best)
}

fn metric(samples: Vec<f64>) -> Metric {
    Metric {
        name: "wall_time".into(),
        unit: Unit::nanoseconds(),
        direction: Direction::LowerIsBetter,
        samples,
        summary: None,
    }
}

fn bench(name: &str, samples: Vec<f64>) -> Benchmark {
    Benchmark {
        params: std::collections::BTreeMap::new(),
        name: name.into(),
        command: None,
        metrics: vec![metric(samples)],
    }
}

/// One paired comparison: `SAMPLES` rounds, each AB or BA at random, one warm-up per side.
fn paired_rounds(base: u64, head: u64, rng: &mut Rng) -> (Vec<f64>, Vec<f64>) {
    time_ns(base);
    time_ns(head);
    (0..SAMPLES)
        .map(|_| {
            if rng.next_u64() & 1 == 1 {
                let h = time_ns(head);
                (time_ns(base), h)
            } else {
                let b = time_ns(base);
                (b, time_ns(head))
            }
        })
        .unzip()
}

fn regressed(entries: &[benchkeep_core::compare::MetricComparison]) -> bool {
    entries.iter().any(|e| e.verdict == Verdict::Regressed)
}

/// A row of the results table.
struct Row {
    method: &'static str,
    false_alarms: Option<(usize, usize)>,
    suite_alarms: Option<(usize, usize)>,
    detected: Vec<(usize, usize)>,
}

fn rate((hits, trials): (usize, usize)) -> String {
    format!(
        "{:.1}% ({hits}/{trials})",
        100.0 * hits as f64 / trials.max(1) as f64
    )
}

/// One paired comparison of one benchmark: whether benchkeep flagged a regression, whether the
/// fixed 5% rule did, and the rounds measured.
fn paired_trial(
    base: u64,
    head: u64,
    config: &CompareConfig,
    rng: &mut Rng,
) -> (bool, bool, (Vec<f64>, Vec<f64>)) {
    let (base, head) = paired_rounds(base, head, rng);
    let cmp = compare(
        &[bench("b", base.clone())],
        &[bench("b", head.clone())],
        config,
    );
    let naive = fixed_threshold(&base, &head, 0.05);
    (regressed(&cmp.entries), naive, (base, head))
}

/// Paired mode. Per-benchmark false alarms come from `pool` measured A/A comparisons; each of
/// `suites` suites is 50 distinct comparisons drawn from that pool (measuring 100 x 50 fresh ones
/// would take an hour), analysed together as one run with false discovery control.
fn paired_mode(iterations: u64, pool: usize, trials: usize, suites: usize) -> Vec<Row> {
    let config = CompareConfig {
        method: Method::Paired,
        threshold: 0.02,
        ..CompareConfig::default()
    };
    let mut rng = Rng::seed_from_u64(1);
    let mut alarms = (0, 0);
    let mut naive_alarms = (0, 0);
    let mut measured = Vec::with_capacity(pool);
    for _ in 0..pool {
        let (alarm, naive_alarm, rounds) = paired_trial(iterations, iterations, &config, &mut rng);
        alarms.0 += usize::from(alarm);
        alarms.1 += 1;
        naive_alarms.0 += usize::from(naive_alarm);
        naive_alarms.1 += 1;
        measured.push(rounds);
    }
    let mut suite_alarms = (0, 0);
    for _ in 0..suites {
        let mut picked: Vec<usize> = (0..pool).collect();
        for i in 0..SUITE.min(pool) {
            let j = i + rng.below(pool - i);
            picked.swap(i, j);
        }
        let (base, head): (Vec<Benchmark>, Vec<Benchmark>) = picked[..SUITE.min(pool)]
            .iter()
            .enumerate()
            .map(|(b, &i)| {
                let name = format!("b{b}");
                (
                    bench(&name, measured[i].0.clone()),
                    bench(&name, measured[i].1.clone()),
                )
            })
            .unzip();
        suite_alarms.0 += usize::from(regressed(&compare(&base, &head, &config).entries));
        suite_alarms.1 += 1;
    }
    let mut detected = Vec::new();
    let mut naive_detected = Vec::new();
    for slowdown in SLOWDOWNS {
        let head_iterations = scaled(iterations, 1.0 + slowdown);
        let (mut hits, mut naive_hits) = (0, 0);
        for _ in 0..trials {
            let (hit, naive_hit, _) = paired_trial(iterations, head_iterations, &config, &mut rng);
            hits += usize::from(hit);
            naive_hits += usize::from(naive_hit);
        }
        detected.push((hits, trials));
        naive_detected.push((naive_hits, trials));
    }
    vec![
        Row {
            method: "benchkeep paired (ab), 30 rounds, threshold 2%",
            false_alarms: Some(alarms),
            suite_alarms: Some(suite_alarms),
            detected,
        },
        Row {
            method: "fixed 5% threshold on medians, same job (no test)",
            false_alarms: Some(naive_alarms),
            suite_alarms: None,
            detected: naive_detected,
        },
    ]
}

fn fixed_threshold(base: &[f64], head: &[f64], threshold: f64) -> bool {
    stats::median(head) / stats::median(base) - 1.0 > threshold
}

/// One job's samples of the suite (unchanged workloads); `slowed[s]` is a separate job that
/// measured only benchmark 0 slowed by `SLOWDOWNS[s]`, first, as the suite's jobs measure it.
struct Job {
    suite: Vec<Vec<f64>>,
    slowed: Vec<Vec<f64>>,
}

/// Child process: measure one job and print one line of samples per benchmark.
fn run_job(spec: &str) {
    let iterations: Vec<u64> = spec.split(',').map(|s| s.parse().unwrap()).collect();
    let mut out = std::io::stdout().lock();
    // A fresh process runs slow for its first few milliseconds (page faults, the CPU's clock
    // ramping up); harnesses warm up for that, and so does this job.
    let warm = Instant::now();
    while warm.elapsed().as_millis() < 50 {
        time_ns(iterations[0]);
    }
    for &n in &iterations {
        time_ns(n); // warm-up
        let samples: Vec<String> = (0..SAMPLES).map(|_| time_ns(n).to_string()).collect();
        writeln!(out, "{}", samples.join(" ")).unwrap();
    }
}

fn spawn_job(iterations: &[u64]) -> Vec<Vec<f64>> {
    let spec: Vec<String> = iterations.iter().map(u64::to_string).collect();
    let child = Command::new(std::env::current_exe().unwrap())
        .env(JOB_ENV, spec.join(","))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "a job failed");
    output
        .stdout
        .lines()
        .map(|line| {
            line.unwrap()
                .split_whitespace()
                .map(|v| v.parse().unwrap())
                .collect()
        })
        .collect()
}

// One table's worth of bookkeeping, read top to bottom; splitting it would scatter the trial.
#[allow(clippy::too_many_lines)]
fn stored_mode(iterations: u64, trials: usize) -> Vec<Row> {
    // Suite benchmarks vary in size (0.5x to 1.5x the calibrated call) like a real suite.
    let suite_iterations: Vec<u64> = (0..SUITE)
        .map(|b| scaled(iterations, 0.5 + b as f64 / SUITE as f64))
        .collect();
    // Slowed jobs are only needed for the jobs compared as "current".
    let jobs: Vec<Job> = (0..trials + HISTORY)
        .map(|index| Job {
            suite: spawn_job(&suite_iterations),
            slowed: if index >= HISTORY {
                SLOWDOWNS
                    .iter()
                    .map(|s| spawn_job(&[scaled(suite_iterations[0], 1.0 + s)]).remove(0))
                    .collect()
            } else {
                Vec::new()
            },
        })
        .collect();
    let key = BaselineKey::new("main", "linux-x86_64").unwrap();
    let as_run = |index: usize, benchmarks: Vec<Benchmark>| {
        let offset = i64::try_from(index).unwrap() * 60;
        let at = jiff::Timestamp::from_second(1_800_000_000 + offset).unwrap();
        let mut run = Run::new(
            RunId::new(at, index as u64),
            at,
            key.clone(),
            Fingerprint::default(),
        );
        run.benchmarks = benchmarks;
        run
    };
    let suite_run = |index: usize| {
        as_run(
            index,
            jobs[index]
                .suite
                .iter()
                .enumerate()
                .map(|(b, s)| bench(&format!("b{b}"), s.clone()))
                .collect(),
        )
    };
    let config = CompareConfig {
        threshold: 0.05,
        ..CompareConfig::default()
    };
    let now = jiff::Timestamp::from_second(1_900_000_000).unwrap();

    // [history of 10, one past job (fallback), fixed 5% vs previous job, Mann-Whitney vs previous]
    let mut alarms = [(0, 0); 4];
    let mut suite_alarms = [(0, 0); 4];
    let mut detected = vec![[(0, 0); 4]; SLOWDOWNS.len()];
    // What the history method measured: job-to-job spread and detectable effect of b0.
    let mut spreads = Vec::new();
    let mut detectable = Vec::new();
    for t in 0..trials {
        let current = t + HISTORY;
        let history: Vec<Run> = (t..current).map(suite_run).collect();
        let full = Baseline::from_runs(key.clone(), &history, now).unwrap();
        let previous = Baseline::from_runs(key.clone(), &history[HISTORY - 1..], now).unwrap();
        let previous_samples = |b: usize| &jobs[current - 1].suite[b];
        let evaluate = |benchmarks: &[Benchmark], only_first: bool| -> [bool; 4] {
            let considered = if only_first {
                &benchmarks[..1]
            } else {
                benchmarks
            };
            let with_history = compare_with_baseline(&full, considered, &config);
            let one_job = compare_with_baseline(&previous, considered, &config);
            let fixed = considered.iter().enumerate().any(|(b, bench)| {
                fixed_threshold(previous_samples(b), &bench.metrics[0].samples, 0.05)
            });
            let mann_whitney = considered.iter().enumerate().any(|(b, bench)| {
                let test = stats::mann_whitney_sorted(
                    &stats::sorted(previous_samples(b)),
                    &stats::sorted(&bench.metrics[0].samples),
                );
                let slower =
                    stats::median(&bench.metrics[0].samples) > stats::median(previous_samples(b));
                test.p_value < 0.05 && slower
            });
            [
                regressed(&with_history.entries),
                regressed(&one_job.entries),
                fixed,
                mann_whitney,
            ]
        };
        let same = suite_run(current).benchmarks;
        let first = &compare_with_baseline(&full, &same[..1], &config).entries[0];
        spreads.extend(first.history.map(|h| h.between_jobs));
        detectable.extend(first.detectable);
        for (i, hit) in evaluate(&same, true).into_iter().enumerate() {
            alarms[i].0 += usize::from(hit);
            alarms[i].1 += 1;
        }
        for (i, hit) in evaluate(&same, false).into_iter().enumerate() {
            suite_alarms[i].0 += usize::from(hit);
            suite_alarms[i].1 += 1;
        }
        for (s, slowed) in jobs[current].slowed.iter().enumerate() {
            let benchmarks = vec![bench("b0", slowed.clone())];
            for (i, hit) in evaluate(&benchmarks, true).into_iter().enumerate() {
                detected[s][i].0 += usize::from(hit);
                detected[s][i].1 += 1;
            }
        }
    }
    eprintln!(
        "history method, medians over trials: job-to-job spread {:.2}%, detectable effect {:.2}%",
        100.0 * stats::median(&spreads),
        100.0 * stats::median(&detectable)
    );
    let names = [
        "benchkeep stored (check), history of 10 jobs, threshold 5%",
        "benchkeep stored, 1 past job (no history: fallback), threshold 5%",
        "fixed 5% threshold on medians vs previous job",
        "Mann-Whitney p < 0.05 vs previous job's samples",
    ];
    names
        .into_iter()
        .enumerate()
        .map(|(i, method)| Row {
            method,
            false_alarms: Some(alarms[i]),
            suite_alarms: Some(suite_alarms[i]),
            detected: detected.iter().map(|d| d[i]).collect(),
        })
        .collect()
}

fn main() {
    if let Ok(spec) = std::env::var(JOB_ENV) {
        run_job(&spec);
        return;
    }
    let quick = std::env::var_os("DETECTION_QUICK").is_some();
    let (pool, trials, suites, stored_trials) = if quick {
        (200, 40, 20, 20)
    } else {
        (1000, 200, 100, 110)
    };
    let iterations = calibrate();
    let started = Instant::now();
    eprintln!(
        "calibrated: {iterations} loop steps per call (~{:.2} ms); paired: {pool} A/A and {trials} per slowdown, {suites} suites of {SUITE}; stored: {stored_trials} trials",
        time_ns(iterations) / 1e6
    );
    let mut rows = paired_mode(iterations, pool, trials, suites);
    eprintln!(
        "paired mode done after {:.0} s",
        started.elapsed().as_secs_f64()
    );
    rows.extend(stored_mode(iterations, stored_trials));
    eprintln!(
        "stored mode done after {:.0} s",
        started.elapsed().as_secs_f64()
    );

    println!(
        "| method | A/A false alarms (1 benchmark) | A/A false alarms (suite of {SUITE}) | detects +2% | +3% | +5% | +10% |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let detected: Vec<String> = row.detected.iter().copied().map(rate).collect();
        println!(
            "| {} | {} | {} | {} |",
            row.method,
            row.false_alarms.map_or_else(|| "-".into(), rate),
            row.suite_alarms.map_or_else(|| "-".into(), rate),
            detected.join(" | ")
        );
    }
    println!(
        "\n{} CPUs, {:.0} s in total.",
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        started.elapsed().as_secs_f64()
    );
}
