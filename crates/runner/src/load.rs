//! Load runs: an operation (a command, or a closure for Rust users) run repeatedly by several
//! concurrent workers, with a controlled ramp-up, at each of several concurrency levels.
//!
//! Per level: throughput, latency percentiles from an HDR histogram (never a mean), errors, and
//! the CPU time and peak memory of the whole load. The measured window is cut into time slices,
//! and each slice's throughput and percentiles become one sample, so `check` can test them like
//! any other metric. Scaling efficiency, the knee of the curve and a Universal Scalability Law
//! fit come from the levels together.
//!
//! With a target rate (`rate`), each worker follows a schedule of intended start times and the
//! latency of an operation is measured from its intended start, so a slow response that delays
//! the next request is charged to the latency instead of silently thinning the load
//! (coordinated omission).
//!
//! ```
//! use std::time::Duration;
//! use benchkeep_runner::command::Interrupt;
//! use benchkeep_runner::load::{LoadOptions, run};
//!
//! let options = LoadOptions {
//!     levels: vec![1, 2],
//!     duration: Duration::from_millis(120),
//!     ramp_up: Duration::from_millis(20),
//!     ..LoadOptions::default()
//! };
//! let report = run(&|| Ok::<(), String>(()), &options, &Interrupt::new()).unwrap();
//! assert!(report.levels[0].operations > 100);
//! ```

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use benchkeep_core::model::{Benchmark, Direction, Metric, Unit};
use hdrhistogram::Histogram;

use crate::command::{CommandSpec, Interrupt};

/// One operation of a load: a request, a job, a call.
pub trait Operation: Sync {
    /// Performs the operation once; an error is counted, with its message kept.
    fn call(&self) -> Result<(), String>;
}

impl<F, E> Operation for F
where
    F: Fn() -> Result<(), E> + Sync,
    E: std::fmt::Display,
{
    fn call(&self) -> Result<(), String> {
        self().map_err(|e| e.to_string())
    }
}

/// A command run once per operation; a non-zero exit or a timeout is an error.
#[derive(Debug, Clone)]
pub struct CommandOperation {
    /// What to run.
    pub spec: CommandSpec,
    /// Kill an operation's process group after this long (an error: "timed out").
    pub timeout: Option<Duration>,
}

impl Operation for CommandOperation {
    fn call(&self) -> Result<(), String> {
        let mut command = self.spec.command();
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.spec.display()))?;
        let status = match self.timeout {
            None => child.wait().map_err(|e| e.to_string())?,
            Some(timeout) => {
                let deadline = Instant::now() + timeout;
                let mut pause = Duration::from_micros(50);
                loop {
                    if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                        break status;
                    }
                    if Instant::now() >= deadline {
                        crate::command::kill_group(child.id());
                        let _ = child.wait();
                        return Err(format!("timed out after {timeout:?}"));
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(5));
                }
            }
        };
        if status.success() {
            Ok(())
        } else {
            Err(format!("{} failed: {status}", self.spec.display()))
        }
    }
}

/// How a load run goes.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Concurrency levels, each run in turn (default 1, 2, 4, 8).
    pub levels: Vec<usize>,
    /// Time per level, ramp-up included (default 10 s).
    pub duration: Duration,
    /// Workers start one after another over this time, unmeasured (default 1 s).
    pub ramp_up: Duration,
    /// Stop each level after this many measured operations instead of at `duration`.
    pub requests: Option<u64>,
    /// Target total rate in operations per second (open model; latency from intended starts).
    pub rate: Option<f64>,
    /// Time slices of the measured window; each is one sample of every metric (default 10).
    pub slices: usize,
    /// Efficiency below which the scaling curve has passed its knee (default 0.8).
    pub knee_efficiency: f64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            levels: vec![1, 2, 4, 8],
            duration: Duration::from_secs(10),
            ramp_up: Duration::from_secs(1),
            requests: None,
            rate: None,
            slices: 10,
            knee_efficiency: 0.8,
        }
    }
}

/// Why a load run could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A concurrency level of 0, or no levels.
    #[error("concurrency levels must be at least 1 (got {levels:?})")]
    BadConcurrency {
        /// The levels given.
        levels: Vec<usize>,
    },
    /// The ramp-up leaves no time to measure.
    #[error(
        "a duration of {duration:?} leaves no time to measure after a ramp-up of {ramp_up:?}: make the duration longer or the ramp-up shorter"
    )]
    NoTimeToMeasure {
        /// Time per level.
        duration: Duration,
        /// The ramp-up.
        ramp_up: Duration,
    },
    /// A rate that is not a positive number.
    #[error("the target rate must be a positive number of operations per second, not {rate}")]
    BadRate {
        /// The rate given.
        rate: f64,
    },
    /// Every operation failed: there is nothing to measure.
    #[error(
        "every operation failed at concurrency {concurrency} ({errors} errors), e.g.: {example}"
    )]
    AllFailed {
        /// The level.
        concurrency: usize,
        /// How many failed.
        errors: u64,
        /// The first error.
        example: String,
    },
    /// Interrupted by a signal.
    #[error("interrupted")]
    Interrupted,
}

/// Latency percentiles, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Percentiles {
    fn of(histogram: &Histogram<u64>) -> Self {
        // Values are recorded in nanoseconds; u64 to f64 loses nothing below 2^53 ns (104 days).
        #[allow(clippy::cast_precision_loss)]
        let at = |q: f64| histogram.value_at_quantile(q) as f64;
        #[allow(clippy::cast_precision_loss)]
        let max = histogram.max() as f64;
        Percentiles {
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max,
        }
    }
}

/// One concurrency level's results.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelResult {
    /// Concurrent workers.
    pub concurrency: usize,
    /// Measured operations that succeeded.
    pub operations: u64,
    /// Measured operations that failed.
    pub errors: u64,
    /// The first error's message.
    pub first_error: Option<String>,
    /// The measured window.
    pub window: Duration,
    /// Successful operations per second over the window.
    pub throughput: f64,
    /// Latency over the window.
    pub latency: Percentiles,
    /// Per time slice: throughput and latency (the samples of the metrics).
    pub slices: Vec<(f64, Percentiles)>,
    /// CPU time (user + system) of this process and the commands it ran, over the level.
    pub cpu_ns: u64,
    /// Peak resident memory of the load: the largest of this process and its commands.
    pub peak_rss_bytes: u64,
}

/// A Universal Scalability Law fit: X(N) = λN / (1 + σ(N−1) + κN(N−1)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usl {
    /// Throughput of one worker.
    pub lambda: f64,
    /// Contention (serialisation) coefficient.
    pub sigma: f64,
    /// Coherency (crosstalk) coefficient.
    pub kappa: f64,
    /// Coefficient of determination of the fit, on throughput.
    pub r_squared: f64,
}

impl Usl {
    /// The fitted throughput at `n` workers.
    #[must_use]
    pub fn throughput(&self, n: f64) -> f64 {
        self.lambda * n / (1.0 + self.sigma * (n - 1.0) + self.kappa * n * (n - 1.0))
    }

    /// Where throughput peaks: √((1−σ)/κ), when coherency costs anything.
    #[must_use]
    pub fn peak(&self) -> Option<f64> {
        (self.kappa > 0.0 && self.sigma < 1.0).then(|| ((1.0 - self.sigma) / self.kappa).sqrt())
    }
}

/// How throughput scales with concurrency.
#[derive(Debug, Clone, PartialEq)]
pub struct Scaling {
    /// Per level: X(N) / (N · X(1)).
    pub efficiency: Vec<(usize, f64)>,
    /// The first level whose efficiency is below the knee fraction.
    pub knee: Option<usize>,
    /// The USL fit, with at least four levels including 1.
    pub usl: Option<Usl>,
}

/// A whole load run.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    /// One result per level, in the order run.
    pub levels: Vec<LevelResult>,
    /// Scaling across the levels.
    pub scaling: Scaling,
}

/// Runs `operation` at every level of `options`.
pub fn run(
    operation: &dyn Operation,
    options: &LoadOptions,
    interrupt: &Interrupt,
) -> Result<LoadReport, LoadError> {
    validate(options)?;
    let mut levels = Vec::with_capacity(options.levels.len());
    for &concurrency in &options.levels {
        levels.push(run_level(operation, concurrency, options, interrupt)?);
    }
    let throughput: Vec<(usize, f64)> = levels
        .iter()
        .map(|l| (l.concurrency, l.throughput))
        .collect();
    let scaling = scaling(&throughput, options.knee_efficiency);
    Ok(LoadReport { levels, scaling })
}

fn validate(options: &LoadOptions) -> Result<(), LoadError> {
    if options.levels.is_empty() || options.levels.contains(&0) {
        return Err(LoadError::BadConcurrency {
            levels: options.levels.clone(),
        });
    }
    if options.requests.is_none() && options.ramp_up >= options.duration {
        return Err(LoadError::NoTimeToMeasure {
            duration: options.duration,
            ramp_up: options.ramp_up,
        });
    }
    if let Some(rate) = options.rate
        && !(rate.is_finite() && rate > 0.0)
    {
        return Err(LoadError::BadRate { rate });
    }
    Ok(())
}

/// An empty latency histogram: three significant digits, from 1 ns to an hour.
fn new_histogram() -> Histogram<u64> {
    Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds")
}

/// What one worker keeps of its measured operations. With a fixed window, a latency histogram
/// per time slice: memory stays constant however fast the operation is (a no-op closure runs
/// millions of times a second). With a request count the window is unknown until the end, so
/// each operation is kept (at most the count asked for).
enum Record {
    Slices {
        slice_ns: u64,
        histograms: Vec<Histogram<u64>>,
    },
    Each(Vec<Done>),
}

impl Record {
    fn new(options: &LoadOptions, window_ns: u64) -> Self {
        if options.requests.is_some() {
            return Record::Each(Vec::new());
        }
        let slices = options.slices.max(1);
        Record::Slices {
            slice_ns: (window_ns / slices as u64).max(1),
            histograms: (0..slices).map(|_| new_histogram()).collect(),
        }
    }

    fn add(&mut self, done: Done) {
        match self {
            Record::Slices {
                slice_ns,
                histograms,
            } => {
                let last = histograms.len() - 1;
                let slice = usize::try_from(done.end_ns / *slice_ns).map_or(last, |s| s.min(last));
                histograms[slice].saturating_record(done.latency_ns.max(1));
            }
            Record::Each(all) => all.push(done),
        }
    }
}

/// One measured operation: when it ended (from the window's start) and how long it took.
#[derive(Debug, Clone, Copy)]
struct Done {
    end_ns: u64,
    latency_ns: u64,
}

/// What the workers of one level share.
struct Shared<'a> {
    operation: &'a dyn Operation,
    options: &'a LoadOptions,
    concurrency: usize,
    interrupt: &'a Interrupt,
    start: Instant,
    measure_from: Instant,
    measure_until: Instant,
    /// Open model: the interval between one worker's intended starts.
    interval: Option<Duration>,
    measured: &'a AtomicU64,
    stop: &'a AtomicBool,
    errors: &'a AtomicU64,
    first_error: &'a Mutex<Option<String>>,
}

impl Shared<'_> {
    /// One worker: start at its place in the ramp-up, then run operations until the end,
    /// keeping the measured ones.
    fn work(&self, worker: usize) -> Record {
        let share = worker as f64 / self.concurrency as f64;
        let offset = self.options.ramp_up.mul_f64(share);
        let phase = self.interval.map_or(Duration::ZERO, |i| i.mul_f64(share));
        let mut intended = self.start + offset + phase;
        let mut mine = Record::new(self.options, nanos(self.measure_until - self.measure_from));
        sleep_until(intended);
        loop {
            if self.stop.load(Ordering::Relaxed) || self.interrupt.is_set() {
                break;
            }
            let now = Instant::now();
            if now >= self.measure_until {
                break;
            }
            // Closed model: start now; open model: the schedule says when.
            let begin = if let Some(interval) = self.interval {
                sleep_until(intended);
                let begin = intended;
                intended += interval;
                begin
            } else {
                now
            };
            let result = self.operation.call();
            let end = Instant::now();
            if begin < self.measure_from || end > self.measure_until {
                continue; // ramp-up, or past the window
            }
            match result {
                Ok(()) => {
                    let n = self.measured.fetch_add(1, Ordering::Relaxed) + 1;
                    mine.add(Done {
                        end_ns: nanos(end - self.measure_from),
                        latency_ns: nanos(end - begin),
                    });
                    if self.options.requests.is_some_and(|limit| n >= limit) {
                        self.stop.store(true, Ordering::Relaxed);
                    }
                }
                Err(message) => {
                    self.errors.fetch_add(1, Ordering::Relaxed);
                    let mut first = self
                        .first_error
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    first.get_or_insert(message);
                }
            }
        }
        mine
    }
}

/// Runs one level: `concurrency` workers started over the ramp-up, then measured until the
/// duration (or the request count) is reached.
pub fn run_level(
    operation: &dyn Operation,
    concurrency: usize,
    options: &LoadOptions,
    interrupt: &Interrupt,
) -> Result<LevelResult, LoadError> {
    validate(&LoadOptions {
        levels: vec![concurrency],
        ..options.clone()
    })?;
    let usage_before = Usage::now();
    let start = Instant::now();
    let measure_from = start + options.ramp_up;
    let measure_until = options.requests.map_or(start + options.duration, |_| {
        // With a request count, the duration is only a safety limit.
        start + options.ramp_up + options.duration.max(Duration::from_secs(3600))
    });
    let measured = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let errors = AtomicU64::new(0);
    let first_error: Mutex<Option<String>> = Mutex::new(None);
    // Open model: the interval between one worker's intended starts.
    let interval = options
        .rate
        .map(|rate| Duration::from_secs_f64(concurrency as f64 / rate));
    let shared = Shared {
        operation,
        options,
        concurrency,
        interrupt,
        start,
        measure_from,
        measure_until,
        interval,
        measured: &measured,
        stop: &stop,
        errors: &errors,
        first_error: &first_error,
    };
    let records: Vec<Record> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..concurrency)
            .map(|worker| {
                let shared = &shared;
                scope.spawn(move || shared.work(worker))
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    if interrupt.is_set() {
        return Err(LoadError::Interrupted);
    }
    let usage = Usage::now().since(&usage_before);
    let errors = errors.into_inner();
    let first_error = first_error
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let slices = options.slices.max(1);
    // Per time slice, the latency histogram of every worker's operations that ended in it.
    let (window_ns, per_slice) = if options.requests.is_some() {
        let mut all: Vec<Done> = records
            .into_iter()
            .flat_map(|r| match r {
                Record::Each(all) => all,
                Record::Slices { .. } => Vec::new(),
            })
            .collect();
        all.sort_unstable_by_key(|d| d.end_ns);
        let window_ns = all.last().map_or(1, |d| d.end_ns).max(1);
        let mut record = Record::Slices {
            slice_ns: (window_ns / slices as u64).max(1),
            histograms: (0..slices).map(|_| new_histogram()).collect(),
        };
        for done in all {
            record.add(done);
        }
        let Record::Slices { histograms, .. } = record else {
            unreachable!("made as slices above")
        };
        (window_ns, histograms)
    } else {
        let mut merged: Vec<Histogram<u64>> = (0..slices).map(|_| new_histogram()).collect();
        for record in records {
            if let Record::Slices { histograms, .. } = record {
                for (total, part) in merged.iter_mut().zip(&histograms) {
                    // Same bounds and precision: adding cannot fail.
                    let _ = total.add(part);
                }
            }
        }
        (nanos(measure_until - measure_from).max(1), merged)
    };
    let operations: u64 = per_slice.iter().map(Histogram::len).sum();
    if operations == 0 {
        return Err(LoadError::AllFailed {
            concurrency,
            errors,
            example: first_error.unwrap_or_else(|| "no operation completed in the window".into()),
        });
    }
    Ok(summarise(
        concurrency,
        &per_slice,
        window_ns,
        errors,
        first_error,
        usage,
    ))
}

fn summarise(
    concurrency: usize,
    per_slice: &[Histogram<u64>],
    window_ns: u64,
    errors: u64,
    first_error: Option<String>,
    usage: Usage,
) -> LevelResult {
    let slice_secs = (window_ns / per_slice.len() as u64).max(1) as f64 / 1e9;
    let mut total = new_histogram();
    let mut slices = Vec::with_capacity(per_slice.len());
    for histogram in per_slice {
        let _ = total.add(histogram);
        if !histogram.is_empty() {
            slices.push((
                histogram.len() as f64 / slice_secs,
                Percentiles::of(histogram),
            ));
        }
    }
    LevelResult {
        concurrency,
        operations: total.len(),
        errors,
        first_error,
        window: Duration::from_nanos(window_ns),
        throughput: total.len() as f64 / (window_ns as f64 / 1e9),
        latency: Percentiles::of(&total),
        slices,
        cpu_ns: usage.cpu_ns,
        peak_rss_bytes: usage.peak_rss_bytes,
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn sleep_until(at: Instant) {
    let now = Instant::now();
    if at > now {
        std::thread::sleep(at - now);
    }
}

/// CPU time and peak memory of this process and its reaped children.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    cpu_ns: u64,
    peak_rss_bytes: u64,
}

impl Usage {
    fn now() -> Self {
        use nix::sys::resource::{UsageWho, getrusage};
        let mut usage = Usage::default();
        for who in [UsageWho::RUSAGE_SELF, UsageWho::RUSAGE_CHILDREN] {
            if let Ok(u) = getrusage(who) {
                let time = |t: nix::sys::time::TimeVal| {
                    u64::try_from(t.tv_sec()).unwrap_or(0) * 1_000_000_000
                        + u64::try_from(t.tv_usec()).unwrap_or(0) * 1000
                };
                usage.cpu_ns += time(u.user_time()) + time(u.system_time());
                // ru_maxrss is in KiB on Linux.
                let rss = u64::try_from(u.max_rss()).unwrap_or(0) * 1024;
                usage.peak_rss_bytes = usage.peak_rss_bytes.max(rss);
            }
        }
        usage
    }

    /// CPU spent since `earlier`; the peak is the peak so far (peaks cannot be subtracted).
    fn since(self, earlier: &Usage) -> Usage {
        Usage {
            cpu_ns: self.cpu_ns.saturating_sub(earlier.cpu_ns),
            peak_rss_bytes: self.peak_rss_bytes,
        }
    }
}

/// Efficiency, knee and USL fit from (concurrency, throughput) pairs.
#[must_use]
pub fn scaling(throughput: &[(usize, f64)], knee_efficiency: f64) -> Scaling {
    let single = throughput
        .iter()
        .find(|(n, _)| *n == 1)
        .map(|(_, x)| *x)
        .filter(|x| *x > 0.0);
    let efficiency: Vec<(usize, f64)> = match single {
        Some(x1) => throughput
            .iter()
            .map(|&(n, x)| (n, x / (n as f64 * x1)))
            .collect(),
        None => Vec::new(),
    };
    let mut sorted = efficiency.clone();
    sorted.sort_by_key(|(n, _)| *n);
    let knee = sorted
        .iter()
        .find(|(_, e)| *e < knee_efficiency)
        .map(|(n, _)| *n);
    let usl = (throughput.len() >= 4)
        .then(|| fit_usl(throughput))
        .flatten();
    Scaling {
        efficiency,
        knee,
        usl,
    }
}

/// Fits the Universal Scalability Law to (concurrency, throughput) pairs, which must include
/// concurrency 1: with C(N) = X(N)/X(1), N/C(N) − 1 = σ(N−1) + κN(N−1) is linear in σ and κ,
/// solved by least squares through the origin (negative coefficients are clamped to 0 and the
/// other refitted alone).
#[must_use]
pub fn fit_usl(points: &[(usize, f64)]) -> Option<Usl> {
    let lambda = points
        .iter()
        .find(|(n, _)| *n == 1)
        .map(|(_, x)| *x)
        .filter(|x| *x > 0.0)?;
    let rows: Vec<(f64, f64, f64)> = points
        .iter()
        .filter(|(n, x)| *n > 1 && *x > 0.0)
        .map(|&(n, x)| {
            let n = n as f64;
            let c = x / lambda;
            (n - 1.0, n * (n - 1.0), n / c - 1.0)
        })
        .collect();
    if rows.len() < 2 {
        return None;
    }
    let (mut saa, mut sab, mut sbb, mut say, mut sby) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(a, b, y) in &rows {
        saa += a * a;
        sab += a * b;
        sbb += b * b;
        say += a * y;
        sby += b * y;
    }
    let det = saa * sbb - sab * sab;
    let (mut sigma, mut kappa) = if det.abs() > f64::EPSILON * saa * sbb {
        ((say * sbb - sby * sab) / det, (saa * sby - sab * say) / det)
    } else {
        (say / saa, 0.0)
    };
    if kappa < 0.0 {
        kappa = 0.0;
        sigma = say / saa;
    }
    if sigma < 0.0 {
        sigma = 0.0;
        kappa = (sby / sbb).max(0.0);
    }
    let mut usl = Usl {
        lambda,
        sigma,
        kappa,
        r_squared: 0.0,
    };
    let mean = points.iter().map(|(_, x)| x).sum::<f64>() / points.len() as f64;
    let total: f64 = points.iter().map(|(_, x)| (x - mean).powi(2)).sum();
    let residual: f64 = points
        .iter()
        .map(|&(n, x)| (x - usl.throughput(n as f64)).powi(2))
        .sum();
    usl.r_squared = if total > 0.0 {
        1.0 - residual / total
    } else {
        1.0
    };
    Some(usl)
}

impl LoadReport {
    /// The report as benchmarks of an ordinary run: one benchmark per level, named
    /// `NAME [c=N]`, with throughput (primary, higher is better), latency percentiles, errors,
    /// CPU time per operation and peak memory; scaling efficiency, the knee and the USL fit as
    /// parameters and an efficiency metric.
    #[must_use]
    pub fn to_benchmarks(&self, name: &str) -> Vec<Benchmark> {
        let efficiency: BTreeMap<usize, f64> = self.scaling.efficiency.iter().copied().collect();
        self.levels
            .iter()
            .map(|level| {
                let metric = |name: &str, unit: Unit, direction, samples: Vec<f64>| Metric {
                    name: name.into(),
                    unit,
                    direction,
                    samples,
                    summary: None,
                };
                let per_slice = |f: fn(&(f64, Percentiles)) -> f64| -> Vec<f64> {
                    level.slices.iter().map(f).collect()
                };
                let ops = Unit("ops/s".into());
                let mut metrics = vec![
                    metric(
                        "throughput",
                        ops,
                        Direction::HigherIsBetter,
                        per_slice(|s| s.0),
                    ),
                    metric(
                        "latency_p50",
                        Unit::nanoseconds(),
                        Direction::LowerIsBetter,
                        per_slice(|s| s.1.p50),
                    ),
                    metric(
                        "latency_p90",
                        Unit::nanoseconds(),
                        Direction::LowerIsBetter,
                        per_slice(|s| s.1.p90),
                    ),
                    metric(
                        "latency_p99",
                        Unit::nanoseconds(),
                        Direction::LowerIsBetter,
                        per_slice(|s| s.1.p99),
                    ),
                    metric(
                        "latency_max",
                        Unit::nanoseconds(),
                        Direction::LowerIsBetter,
                        per_slice(|s| s.1.max),
                    ),
                    metric(
                        "errors",
                        Unit("errors".into()),
                        Direction::LowerIsBetter,
                        vec![level.errors as f64],
                    ),
                    metric(
                        "cpu_per_op",
                        Unit::nanoseconds(),
                        Direction::LowerIsBetter,
                        vec![level.cpu_ns as f64 / (level.operations + level.errors).max(1) as f64],
                    ),
                    metric(
                        "peak_rss",
                        Unit::bytes(),
                        Direction::LowerIsBetter,
                        vec![level.peak_rss_bytes as f64],
                    ),
                ];
                if let Some(e) = efficiency.get(&level.concurrency) {
                    metrics.push(metric(
                        "scaling_efficiency",
                        Unit("ratio".into()),
                        Direction::HigherIsBetter,
                        vec![*e],
                    ));
                }
                let mut params = BTreeMap::new();
                params.insert("concurrency".to_owned(), level.concurrency.to_string());
                if level.errors > 0 {
                    params.insert("errors".to_owned(), level.errors.to_string());
                }
                if let Some(knee) = self.scaling.knee {
                    params.insert("knee".to_owned(), knee.to_string());
                }
                if let Some(usl) = &self.scaling.usl {
                    params.insert("usl_sigma".to_owned(), format!("{:.4}", usl.sigma));
                    params.insert("usl_kappa".to_owned(), format!("{:.5}", usl.kappa));
                }
                Benchmark {
                    name: format!("{name} [c={}]", level.concurrency),
                    command: None,
                    metrics,
                    params,
                }
            })
            .collect()
    }
}

/// The load generator's own cost per operation: a no-op closure at one worker for `time`.
#[must_use]
pub fn generator_overhead(time: Duration) -> Duration {
    let options = LoadOptions {
        levels: vec![1],
        duration: time,
        ramp_up: Duration::ZERO,
        slices: 1,
        ..LoadOptions::default()
    };
    match run_level(&|| Ok::<(), String>(()), 1, &options, &Interrupt::new()) {
        Ok(level) => Duration::from_secs_f64(1.0 / level.throughput.max(1.0)),
        Err(_) => Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick(levels: &[usize]) -> LoadOptions {
        LoadOptions {
            levels: levels.to_vec(),
            duration: Duration::from_millis(300),
            ramp_up: Duration::from_millis(50),
            slices: 5,
            ..LoadOptions::default()
        }
    }

    #[test]
    fn a_sleeping_operation_gives_its_latency_and_scales_with_workers() {
        let op = || {
            std::thread::sleep(Duration::from_millis(2));
            Ok::<(), String>(())
        };
        let report = run(&op, &quick(&[1, 4]), &Interrupt::new()).unwrap();
        let [one, four] = &report.levels[..] else {
            panic!()
        };
        assert!(
            one.latency.p50 >= 2e6 && one.latency.p50 < 6e6,
            "{:?}",
            one.latency
        );
        assert!(
            one.throughput > 150.0 && one.throughput < 500.0,
            "{}",
            one.throughput
        );
        // Sleeping does not contend: four workers do nearly four times the work.
        let efficiency = report.scaling.efficiency[1].1;
        assert!(efficiency > 0.75, "{efficiency}");
        assert!(four.slices.len() >= 4);
        assert_eq!(one.errors, 0);
    }

    #[test]
    fn errors_are_counted_and_named_not_dropped() {
        let n = AtomicU64::new(0);
        let op = || {
            if n.fetch_add(1, Ordering::Relaxed).is_multiple_of(4) {
                Err("backend said 503".to_owned())
            } else {
                Ok(())
            }
        };
        let level = run_level(&op, 1, &quick(&[1]), &Interrupt::new()).unwrap();
        assert!(level.errors > 0);
        let share = level.errors as f64 / (level.errors + level.operations) as f64;
        assert!((share - 0.25).abs() < 0.02, "{share}");
        assert_eq!(level.first_error.as_deref(), Some("backend said 503"));
        let always = || Err::<(), _>("down".to_owned());
        let error = run_level(&always, 2, &quick(&[2]), &Interrupt::new()).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("every operation failed at concurrency 2"),
            "{error}"
        );
    }

    #[test]
    fn a_request_count_stops_the_level() {
        let op = || {
            std::thread::sleep(Duration::from_micros(200));
            Ok::<(), String>(())
        };
        let options = LoadOptions {
            requests: Some(300),
            ramp_up: Duration::ZERO,
            ..quick(&[2])
        };
        let level = run_level(&op, 2, &options, &Interrupt::new()).unwrap();
        assert!(
            (300..302).contains(&level.operations),
            "{}",
            level.operations
        );
        assert_eq!(level.slices.len(), 5);
    }

    #[test]
    fn bad_options_are_clear_errors() {
        let op = || Ok::<(), String>(());
        let e = run(&op, &quick(&[1, 0]), &Interrupt::new()).unwrap_err();
        assert_eq!(e, LoadError::BadConcurrency { levels: vec![1, 0] });
        let short = LoadOptions {
            duration: Duration::from_millis(100),
            ramp_up: Duration::from_millis(100),
            ..quick(&[1])
        };
        assert!(
            run(&op, &short, &Interrupt::new())
                .unwrap_err()
                .to_string()
                .contains("leaves no time to measure")
        );
        let rate = LoadOptions {
            rate: Some(-1.0),
            ..quick(&[1])
        };
        assert!(matches!(
            run(&op, &rate, &Interrupt::new()),
            Err(LoadError::BadRate { .. })
        ));
    }

    #[test]
    fn a_hanging_command_times_out_as_an_error() {
        let op = CommandOperation {
            spec: CommandSpec::new(["sleep", "5"]),
            timeout: Some(Duration::from_millis(50)),
        };
        let started = Instant::now();
        assert_eq!(op.call().unwrap_err(), "timed out after 50ms");
        assert!(started.elapsed() < Duration::from_secs(2));
        let failing = CommandOperation {
            spec: CommandSpec::new(["false"]),
            timeout: None,
        };
        assert!(
            failing
                .call()
                .unwrap_err()
                .contains("failed: exit status: 1")
        );
    }

    #[test]
    fn rate_limited_latency_counts_from_the_intended_start() {
        // 100 ops/s from one worker, but each operation takes 30 ms: the schedule falls
        // behind, and latency measured from intended starts grows well past 30 ms (coordinated
        // omission would report 30 ms).
        let op = || {
            std::thread::sleep(Duration::from_millis(30));
            Ok::<(), String>(())
        };
        let options = LoadOptions {
            rate: Some(100.0),
            duration: Duration::from_millis(600),
            ramp_up: Duration::ZERO,
            slices: 1,
            ..quick(&[1])
        };
        let level = run_level(&op, 1, &options, &Interrupt::new()).unwrap();
        assert!(level.latency.max > 200e6, "{:?}", level.latency);
        assert!(level.throughput < 40.0, "{}", level.throughput);
    }

    #[test]
    fn usl_fit_recovers_known_coefficients() {
        let truth = Usl {
            lambda: 1000.0,
            sigma: 0.05,
            kappa: 0.002,
            r_squared: 1.0,
        };
        let points: Vec<(usize, f64)> = [1, 2, 4, 8, 16, 32]
            .iter()
            .map(|&n| (n, truth.throughput(n as f64)))
            .collect();
        let fit = fit_usl(&points).unwrap();
        assert!(
            (fit.sigma - 0.05).abs() < 1e-9 && (fit.kappa - 0.002).abs() < 1e-9,
            "{fit:?}"
        );
        assert!(fit.r_squared > 0.999_999);
        let peak = fit.peak().unwrap();
        assert!((peak - (0.95f64 / 0.002).sqrt()).abs() < 1e-6);
        let scaling = scaling(&points, 0.8);
        assert_eq!(scaling.knee, Some(8), "{:?}", scaling.efficiency);
    }

    /// A service whose time per operation grows with the operations in flight exactly as the
    /// USL says: base × (1 + σ(N−1) + κN(N−1)). It sleeps, so two cores are not the limit.
    struct SyntheticService {
        base: Duration,
        sigma: f64,
        kappa: f64,
        in_flight: AtomicU64,
    }

    impl Operation for SyntheticService {
        fn call(&self) -> Result<(), String> {
            let n = self.in_flight.fetch_add(1, Ordering::SeqCst) as f64 + 1.0;
            let factor = 1.0 + self.sigma * (n - 1.0) + self.kappa * n * (n - 1.0);
            std::thread::sleep(self.base.mul_f64(factor));
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        }
    }

    #[test]
    fn a_synthetic_service_s_contention_is_recovered_by_the_fit() {
        let service = SyntheticService {
            base: Duration::from_millis(3),
            sigma: 0.1,
            kappa: 0.0,
            in_flight: AtomicU64::new(0),
        };
        let options = LoadOptions {
            levels: vec![1, 2, 4, 8, 16],
            duration: Duration::from_millis(700),
            ramp_up: Duration::from_millis(100),
            ..LoadOptions::default()
        };
        let report = run(&service, &options, &Interrupt::new()).unwrap();
        // Real sleeping threads: on a busy machine their timings are noisy, so this asserts
        // what holds however busy it is (every level measured, contention seen, more workers
        // more throughput); the fit's accuracy is usl_fit_recovers_known_coefficients' (exact
        // inputs) and the load benchmark's (real timings, figures in docs/load.md).
        assert_eq!(report.levels.len(), 5);
        let usl = report.scaling.usl.unwrap();
        assert!(usl.sigma > 0.0 && usl.sigma < 1.0, "{usl:?}");
        assert!(
            report.levels[1].throughput > report.levels[0].throughput,
            "two workers sleep in parallel: {:?}",
            report
                .levels
                .iter()
                .map(|l| l.throughput)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn benchmarks_carry_one_sample_per_slice_and_the_scaling() {
        let op = || Ok::<(), String>(());
        let report = run(&op, &quick(&[1, 2]), &Interrupt::new()).unwrap();
        let benches = report.to_benchmarks("noop");
        assert_eq!(benches[1].name, "noop [c=2]");
        assert_eq!(benches[0].metrics[0].name, "throughput");
        assert_eq!(benches[0].metrics[0].direction, Direction::HigherIsBetter);
        // One sample per slice with completed operations: five, unless the machine is so busy
        // that a whole 50 ms slice went by without the worker being scheduled.
        let samples = benches[0].metrics[0].samples.len();
        assert!((1..=5).contains(&samples), "{samples} samples");
        assert!(benches[1].metric("scaling_efficiency").is_some());
        assert_eq!(benches[1].params["concurrency"], "2");
    }
}
