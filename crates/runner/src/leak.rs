//! Memory-growth detection: repeat a workload many times in one long-lived process, sample its
//! resident memory, and decide from a robust slope whether memory grows per iteration.
//!
//! The slope is Theil-Sen's (the median of the slopes between every pair of samples), which one
//! allocator step or a page-granular jump cannot move, with Sen's rank-based confidence interval.
//! Samples from the first part of the run (warm-up: caches filling, pools growing to their
//! working size) are ignored. Memory grows when the whole interval lies above the threshold; the
//! verdict also says how small a growth the data could have detected.
//!
//! A command under test reads one line per job on standard input and writes one line per job
//! done on standard output (any text); benchkeep reads its RSS from `/proc/PID/statm` as it goes.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::Stdio;
use std::time::Duration;

use benchkeep_core::model::{Benchmark, Direction, Metric, Unit};

use crate::command::{CommandSpec, Interrupt};

/// How a leak check runs and decides.
#[derive(Debug, Clone, PartialEq)]
pub struct LeakOptions {
    /// Jobs to run in all (default 10,000).
    pub iterations: u64,
    /// RSS samples to take, evenly spaced (default 200).
    pub samples: u64,
    /// Share of the iterations treated as warm-up and ignored (default 0.2).
    pub warmup_fraction: f64,
    /// Growth, in bytes per iteration, that counts as a leak when the whole interval is above
    /// it (default 16: a leak of 16 KB per 1,000 jobs).
    pub threshold_bytes_per_iteration: f64,
    /// Confidence of the slope's interval (default 0.99: repeated checks rarely cry wolf).
    pub confidence: f64,
    /// Kill the process if one job takes longer than this.
    pub job_timeout: Option<Duration>,
}

impl Default for LeakOptions {
    fn default() -> Self {
        LeakOptions {
            iterations: 10_000,
            samples: 200,
            warmup_fraction: 0.2,
            threshold_bytes_per_iteration: 16.0,
            confidence: 0.99,
            job_timeout: Some(Duration::from_secs(10)),
        }
    }
}

/// What the detector decided.
#[derive(Debug, Clone, PartialEq)]
pub struct LeakVerdict {
    /// Theil-Sen slope, bytes per iteration.
    pub slope: f64,
    /// Its confidence interval, bytes per iteration.
    pub interval: (f64, f64),
    /// Samples used (after warm-up).
    pub samples: usize,
    /// Whether the whole interval is above the threshold.
    pub grows: bool,
    /// The smallest growth per iteration the data could tell from none: the interval's half
    /// width, or the threshold if larger.
    pub detectable: f64,
}

impl std::fmt::Display for LeakVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let per_thousand = |bytes: f64| Unit::bytes().format(bytes * 1000.0);
        if self.grows {
            write!(
                f,
                "grows ~{} per 1,000 iterations ({} to {})",
                per_thousand(self.slope),
                per_thousand(self.interval.0),
                per_thousand(self.interval.1)
            )
        } else {
            write!(
                f,
                "no growth detected (could detect >= {} per 1,000 iterations)",
                per_thousand(self.detectable)
            )
        }
    }
}

/// Why a leak check could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LeakError {
    /// Too few samples to decide.
    #[error("a leak check needs at least 10 samples after warm-up, got {got}")]
    TooFewSamples {
        /// How many there were.
        got: usize,
    },
    /// The process could not be started or talked to.
    #[error("{command}: {detail}")]
    Process {
        /// The command.
        command: String,
        /// What went wrong.
        detail: String,
    },
    /// Interrupted by a signal.
    #[error("interrupted")]
    Interrupted,
}

/// Decides from `(iteration, rss_bytes)` samples, in iteration order.
pub fn detect(samples: &[(u64, f64)], options: &LeakOptions) -> Result<LeakVerdict, LeakError> {
    let last = samples.last().map_or(0, |s| s.0);
    // Warm-up is a share of the iterations run, which is robust to uneven sampling.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let warm = (last as f64 * options.warmup_fraction) as u64;
    let kept: Vec<(f64, f64)> = samples
        .iter()
        .filter(|(i, _)| *i >= warm)
        .map(|&(i, rss)| (i as f64, rss))
        .collect();
    if kept.len() < 10 {
        return Err(LeakError::TooFewSamples { got: kept.len() });
    }
    let mut slopes = Vec::with_capacity(kept.len() * (kept.len() - 1) / 2);
    for (a, &(xa, ya)) in kept.iter().enumerate() {
        for &(xb, yb) in &kept[a + 1..] {
            if xb > xa {
                slopes.push((yb - ya) / (xb - xa));
            }
        }
    }
    slopes.sort_by(f64::total_cmp);
    let m = slopes.len();
    let slope = benchkeep_core::stats::median_of_sorted(&slopes);
    // Sen (1968): the interval's ranks from the variance of Kendall's S (no-ties form).
    let n = kept.len() as f64;
    let z = normal_quantile(0.5 + options.confidence / 2.0);
    let c = z * (n * (n - 1.0) * (2.0 * n + 5.0) / 18.0).sqrt();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let lower_rank = ((m as f64 - c) / 2.0).floor().max(0.0) as usize;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let upper_rank = (f64::midpoint(m as f64, c).ceil() as usize).min(m - 1);
    let interval = (slopes[lower_rank.min(m - 1)], slopes[upper_rank]);
    let grows = interval.0 > options.threshold_bytes_per_iteration;
    Ok(LeakVerdict {
        slope,
        interval,
        samples: kept.len(),
        grows,
        detectable: ((interval.1 - interval.0) / 2.0).max(options.threshold_bytes_per_iteration),
    })
}

/// The standard normal quantile.
fn normal_quantile(p: f64) -> f64 {
    statrs::function::erf::erfc_inv(2.0 * (1.0 - p)) * std::f64::consts::SQRT_2
}

/// Runs `spec` as a long-lived worker: one line per job on its stdin, one line per job done on
/// its stdout; samples its RSS and decides.
pub fn check_command(
    spec: &CommandSpec,
    options: &LeakOptions,
    interrupt: &Interrupt,
) -> Result<(LeakVerdict, Vec<(u64, f64)>), LeakError> {
    let fail = |detail: String| LeakError::Process {
        command: spec.display(),
        detail,
    };
    let mut command = spec.command();
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command
        .spawn()
        .map_err(|e| fail(format!("cannot start: {e}")))?;
    let pid = child.id();
    let mut input = child.stdin.take().ok_or_else(|| fail("no stdin".into()))?;
    let output = child
        .stdout
        .take()
        .ok_or_else(|| fail("no stdout".into()))?;
    // Job lines are read on a helper thread so a hung job can time out.
    let (done_tx, done_rx) = std::sync::mpsc::channel::<bool>();
    let reader = std::thread::spawn(move || {
        let mut lines = BufReader::new(output).lines();
        loop {
            let ok = matches!(lines.next(), Some(Ok(_)));
            if done_tx.send(ok).is_err() || !ok {
                break;
            }
        }
    });
    let every = (options.iterations / options.samples.max(1)).max(1);
    let mut samples = Vec::new();
    let result = (|| {
        for job in 1..=options.iterations {
            if interrupt.is_set() {
                return Err(LeakError::Interrupted);
            }
            input
                .write_all(b"job\n")
                .and_then(|()| input.flush())
                .map_err(|e| fail(format!("it exited (or closed stdin) before job {job}: {e}")))?;
            let answered = match options.job_timeout {
                Some(t) => done_rx.recv_timeout(t).map_err(|_| {
                    fail(format!(
                        "job {job} got no answer within {t:?} (it must print a line per job)"
                    ))
                })?,
                None => done_rx.recv().unwrap_or(false),
            };
            if !answered {
                return Err(fail(format!("it exited or closed stdout at job {job}")));
            }
            if job % every == 0 {
                let rss =
                    rss_of(pid).ok_or_else(|| fail(format!("cannot read /proc/{pid}/statm")))?;
                #[allow(clippy::cast_precision_loss)]
                samples.push((job, rss as f64));
            }
        }
        Ok(())
    })();
    drop(input);
    if result.is_err() {
        let _ = child.kill();
    }
    let _ = child.wait();
    let _ = reader.join();
    result?;
    let verdict = detect(&samples, options)?;
    Ok((verdict, samples))
}

/// Resident memory of process `pid`, in bytes (Linux).
fn rss_of(pid: u32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|p| u64::try_from(p).ok())
        .unwrap_or(4096);
    Some(pages * page)
}

/// The verdict as a benchmark of an ordinary run: `memory_growth` in bytes per 1,000
/// iterations (lower is better; the Theil-Sen slope as one sample), with the interval and the
/// verdict as parameters.
#[must_use]
pub fn to_benchmark(name: &str, verdict: &LeakVerdict) -> Benchmark {
    let mut params = std::collections::BTreeMap::new();
    params.insert(
        "interval_per_1000".to_owned(),
        format!(
            "{:.0}..{:.0}",
            verdict.interval.0 * 1000.0,
            verdict.interval.1 * 1000.0
        ),
    );
    params.insert("verdict".to_owned(), verdict.to_string());
    Benchmark {
        name: format!("{name} [leak check]"),
        command: None,
        metrics: vec![Metric {
            name: "memory_growth".into(),
            unit: Unit("bytes/1000 iterations".into()),
            direction: Direction::LowerIsBetter,
            samples: vec![verdict.slope * 1000.0],
            summary: None,
        }],
        params,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use benchkeep_core::stats::Rng;

    /// RSS of a process as the kernel reports it: page-granular, with allocator steps (a
    /// 64 KiB arena now and then, given back later) and a warm-up that grows to a working size.
    fn synthetic(leak_per_iteration: f64, iterations: u64, seed: u64) -> Vec<(u64, f64)> {
        let mut rng = Rng::seed_from_u64(seed);
        let every = iterations / 200;
        (1..=200u64)
            .map(|s| {
                let i = s * every;
                let warm = 2e6 * (1.0 - (-(i as f64) / (iterations as f64 * 0.05)).exp());
                let arena = if rng.unit_f64() < 0.3 { 65_536.0 } else { 0.0 };
                let jitter = (rng.unit_f64() * 8.0).floor() * 4096.0;
                let bytes = 50e6 + warm + leak_per_iteration * i as f64 + arena + jitter;
                (i, (bytes / 4096.0).floor() * 4096.0)
            })
            .collect()
    }

    #[test]
    fn a_leak_of_1kb_per_iteration_is_found_within_10000_iterations() {
        let verdict = detect(&synthetic(1024.0, 10_000, 1), &LeakOptions::default()).unwrap();
        assert!(verdict.grows, "{verdict:?}");
        assert!((verdict.slope - 1024.0).abs() < 100.0, "{verdict:?}");
        assert!(verdict.to_string().starts_with("grows ~100"), "{verdict}");
    }

    #[test]
    fn noisy_memory_without_a_leak_is_flagged_at_most_once_in_100_trials() {
        let flagged = (0..100)
            .filter(|&seed| {
                detect(&synthetic(0.0, 10_000, seed), &LeakOptions::default())
                    .unwrap()
                    .grows
            })
            .count();
        assert!(flagged <= 1, "{flagged} false alarms in 100");
        let verdict = detect(&synthetic(0.0, 10_000, 7), &LeakOptions::default()).unwrap();
        assert!(
            verdict
                .to_string()
                .starts_with("no growth detected (could detect >= "),
            "{verdict}"
        );
    }

    #[test]
    fn too_few_samples_is_an_error() {
        let samples: Vec<(u64, f64)> = (1..=5).map(|i| (i, 1.0)).collect();
        assert!(matches!(
            detect(&samples, &LeakOptions::default()),
            Err(LeakError::TooFewSamples { got: 5 })
        ));
    }

    #[test]
    fn a_real_leaking_process_is_caught_and_a_steady_one_is_not() {
        let worker = |leak: bool| {
            let keep = if leak {
                "keep.append(bytearray(1024))"
            } else {
                "scratch = bytearray(1024)"
            };
            CommandSpec::new([
                "python3",
                "-c",
                &format!(
                    "import sys\nkeep = []\nfor line in sys.stdin:\n    {keep}\n    print('ok', flush=True)\n"
                ),
            ])
        };
        let options = LeakOptions {
            iterations: 10_000,
            ..LeakOptions::default()
        };
        let (leaky, _) = check_command(&worker(true), &options, &Interrupt::new()).unwrap();
        assert!(leaky.grows, "{leaky:?}");
        assert!(leaky.slope > 900.0 && leaky.slope < 1400.0, "{leaky:?}");
        let (steady, _) = check_command(&worker(false), &options, &Interrupt::new()).unwrap();
        assert!(!steady.grows, "{steady:?}");
    }

    #[test]
    fn a_worker_that_stops_answering_is_a_clear_error() {
        let silent = CommandSpec::new(["sh", "-c", "read line; sleep 5"]);
        let options = LeakOptions {
            iterations: 100,
            job_timeout: Some(Duration::from_millis(200)),
            ..LeakOptions::default()
        };
        let error = check_command(&silent, &options, &Interrupt::new())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("job 1 got no answer within 200ms"),
            "{error}"
        );
        let quits = CommandSpec::new(["sh", "-c", "read line; echo ok"]);
        let error = check_command(&quits, &options, &Interrupt::new())
            .unwrap_err()
            .to_string();
        assert!(error.contains("exited"), "{error}");
    }
}
