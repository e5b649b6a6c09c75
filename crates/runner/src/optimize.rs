//! The parallelism optimizer: how to run a batch of independent items on this machine.
//!
//! [`optimize`] samples the per-item cost on a few items, combines it with this machine's measured
//! thread-start and per-chunk dispatch overheads and the cores the process may really use, and
//! picks the worker count and chunk size whose modelled time is lowest, or serial execution when
//! the predicted gain is below 1.2x. [`execute`] runs a plan with scoped threads pulling chunks from
//! a shared counter and returns the results in input order. The model is described in
//! `docs/optimizer.md`.
//!
//! ```
//! use benchkeep_runner::optimize::{execute, optimize, Options};
//!
//! let items: Vec<u64> = (0..2_000).collect();
//! let work = |n: &u64| (0..2_000u64).fold(*n, |acc, i| acc.wrapping_mul(31).wrapping_add(i));
//! let plan = optimize(&items, &work, &Options::default());
//! assert!(plan.workers >= 1 && plan.chunk_size >= 1);
//! let results = execute(&plan, &items, &work).unwrap();
//! assert_eq!(results.len(), items.len());
//! assert_eq!(results[7], work(&7));
//! ```

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Below this predicted speedup the plan is serial (Amorsize's rule: parallelism that gains less
/// is not worth its risk and resource use).
pub const MIN_SPEEDUP: f64 = 1.2;

/// Settings of [`optimize`].
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Stop sampling items after this much time (default 20 ms) ...
    pub sample_time: Duration,
    /// ... or this many items (default 64), whichever comes first (at least 3 are sampled).
    pub max_sample_items: usize,
    /// Memory each item in flight needs, if known; caps the workers so the batch fits.
    pub item_memory_bytes: Option<u64>,
    /// Memory available to the batch (default: `MemAvailable` of /proc/meminfo).
    pub available_memory_bytes: Option<u64>,
    /// Most workers to consider (default: the cores this process may use).
    pub max_workers: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sample_time: Duration::from_millis(20),
            max_sample_items: 64,
            item_memory_bytes: None,
            available_memory_bytes: None,
            max_workers: None,
        }
    }
}

/// This machine's costs of running work in parallel, measured once per process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Overheads {
    /// Cores this process may use (affinity and cgroup quota).
    pub cores: usize,
    /// Cost of starting and joining one scoped thread, in nanoseconds.
    pub spawn_ns: f64,
    /// Cost of handing out one chunk (a contended atomic increment and the bookkeeping), in
    /// nanoseconds.
    pub dispatch_ns: f64,
}

/// What the sample of items showed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ItemCost {
    /// Items sampled.
    pub sampled: usize,
    /// Mean time per item, in nanoseconds.
    pub mean_ns: f64,
    /// Coefficient of variation of the time per item.
    pub cv: f64,
}

/// How to run a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Worker threads (1 = serial).
    pub workers: usize,
    /// Items handed out at a time.
    pub chunk_size: usize,
    /// Whether the batch runs on the calling thread.
    pub serial: bool,
    /// Items in the batch.
    pub items: usize,
    /// Modelled serial time over modelled time of this plan.
    pub predicted_speedup: f64,
    /// The sample the plan rests on.
    pub cost: ItemCost,
    /// The machine's overheads.
    pub overheads: Overheads,
    /// Why, in a few short sentences.
    pub reasons: Vec<String>,
}

/// Why a parallel run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecuteError {
    /// The function panicked on an item; the other workers stopped at their next chunk.
    #[error("the function panicked on item {index}: {message}")]
    Panicked {
        /// Index of the item in the input.
        index: usize,
        /// The panic message, when it was a string.
        message: String,
    },
}

/// Measures (once per process) what starting threads and handing out chunks cost here.
#[must_use]
pub fn overheads() -> Overheads {
    static MEASURED: OnceLock<Overheads> = OnceLock::new();
    *MEASURED.get_or_init(measure_overheads)
}

fn measure_overheads() -> Overheads {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let spawn_ns = median((0..15).map(|_| {
        let start = Instant::now();
        std::thread::scope(|scope| {
            for _ in 0..cores.max(2) {
                scope.spawn(|| std::hint::black_box(0));
            }
        });
        start.elapsed().as_nanos() as f64 / cores.max(2) as f64
    }));
    // Contended increments from every core, as workers pulling chunks do.
    let counter = AtomicUsize::new(0);
    let per_thread = 20_000usize;
    let dispatch_ns = median((0..5).map(|_| {
        counter.store(0, Ordering::Relaxed);
        let start = Instant::now();
        std::thread::scope(|scope| {
            for _ in 0..cores.max(2) {
                scope.spawn(|| {
                    for _ in 0..per_thread {
                        std::hint::black_box(counter.fetch_add(1, Ordering::AcqRel));
                    }
                });
            }
        });
        let elapsed = start.elapsed().as_nanos() as f64;
        // Wall time per increment per worker: what one chunk hand-out costs a worker.
        elapsed / per_thread as f64
    }));
    Overheads {
        cores,
        spawn_ns,
        dispatch_ns,
    }
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let values: Vec<f64> = values.collect();
    benchkeep_core::stats::median_of_sorted(&benchkeep_core::stats::sorted(&values))
}

/// Times `f` on the first items (at least 3, at most `options.max_sample_items`, stopping after
/// `options.sample_time`). The results are discarded.
fn sample<T, R>(items: &[T], f: &impl Fn(&T) -> R, options: &Options) -> ItemCost {
    let limit = items.len().min(options.max_sample_items.max(3));
    let started = Instant::now();
    let mut times = Vec::with_capacity(limit);
    for item in &items[..limit] {
        let start = Instant::now();
        std::hint::black_box(f(item));
        times.push(start.elapsed().as_nanos() as f64);
        if times.len() >= 3 && started.elapsed() >= options.sample_time {
            break;
        }
    }
    let n = times.len().max(1) as f64;
    let mean = times.iter().sum::<f64>() / n;
    let variance = times.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / n;
    ItemCost {
        sampled: times.len(),
        mean_ns: mean,
        cv: if mean > 0.0 {
            variance.sqrt() / mean
        } else {
            0.0
        },
    }
}

/// The modelled wall time of running `items` with `workers` and `chunk` (see docs/optimizer.md).
#[must_use]
pub fn modelled_time_ns(
    items: usize,
    workers: usize,
    chunk: usize,
    cost: &ItemCost,
    overheads: &Overheads,
) -> f64 {
    let n = items as f64;
    let serial = n * cost.mean_ns;
    if workers <= 1 {
        return serial;
    }
    let w = workers as f64;
    let chunks = items.div_ceil(chunk.max(1)) as f64;
    let c = chunk.min(items.max(1)) as f64;
    // More workers than cores share the cores.
    let running = w.min(overheads.cores as f64);
    let work = serial + chunks * overheads.dispatch_ns;
    // Dynamic scheduling ends unevenly: on average half a chunk of idle time per worker, plus the
    // spread of the last chunks (the expected maximum of `w` chunk-time deviations).
    let chunk_time = c * cost.mean_ns;
    let chunk_sd = cost.cv * cost.mean_ns * c.sqrt();
    let tail = 0.5 * chunk_time * (1.0 - 1.0 / w) + chunk_sd * (2.0 * w.ln()).sqrt();
    w * overheads.spawn_ns + work / running + tail
}

/// Chooses how to run `items` through `f` on this machine (runs `f` on a few items to time it).
#[must_use]
pub fn optimize<T, R>(items: &[T], f: &impl Fn(&T) -> R, options: &Options) -> Plan {
    let overheads = overheads();
    if items.is_empty() {
        return serial_plan(
            0,
            ItemCost {
                sampled: 0,
                mean_ns: 0.0,
                cv: 0.0,
            },
            overheads,
            vec!["no items: nothing to run".into()],
        );
    }
    let cost = sample(items, f, options);
    plan_for(items.len(), cost, overheads, options)
}

fn serial_plan(items: usize, cost: ItemCost, overheads: Overheads, reasons: Vec<String>) -> Plan {
    Plan {
        workers: 1,
        chunk_size: items.max(1),
        serial: true,
        items,
        predicted_speedup: 1.0,
        cost,
        overheads,
        reasons,
    }
}

/// The plan for `items` items of measured `cost` (the decision without the sampling).
#[must_use]
pub fn plan_for(items: usize, cost: ItemCost, overheads: Overheads, options: &Options) -> Plan {
    let mut reasons = Vec::new();
    let mut max_workers = options
        .max_workers
        .unwrap_or(overheads.cores)
        .clamp(1, overheads.cores.max(1));
    if let Some(per_item) = options.item_memory_bytes.filter(|b| *b > 0) {
        let available = options
            .available_memory_bytes
            .or_else(available_memory)
            .unwrap_or(u64::MAX);
        let fit = usize::try_from(available / per_item)
            .unwrap_or(usize::MAX)
            .max(1);
        if fit < max_workers {
            reasons.push(format!(
                "memory caps workers at {fit}: {per_item} bytes per item, {available} available"
            ));
            max_workers = fit;
        }
    }
    if items < 2 || max_workers < 2 {
        reasons.push(if items < 2 {
            "one item: serial".to_owned()
        } else {
            "one core available: serial".to_owned()
        });
        return serial_plan(items, cost, overheads, reasons);
    }
    if cost.mean_ns <= 0.0 {
        reasons.push("sampled items took no measurable time: serial".into());
        return serial_plan(items, cost, overheads, reasons);
    }
    let serial = modelled_time_ns(items, 1, items, &cost, &overheads);
    let mut best: Option<(usize, usize, f64)> = None;
    for workers in 2..=max_workers {
        for chunk in chunk_candidates(items, workers) {
            let t = modelled_time_ns(items, workers, chunk, &cost, &overheads);
            if best.is_none_or(|(_, _, top)| t < top) {
                best = Some((workers, chunk, t));
            }
        }
    }
    let (workers, chunk, time) = best.expect("at least one candidate");
    let speedup = serial / time;
    reasons.push(format!(
        "items cost {} each (cv {:.2}, {} sampled); a thread costs {} to start, a chunk {} to hand out",
        human_ns(cost.mean_ns),
        cost.cv,
        cost.sampled,
        human_ns(overheads.spawn_ns),
        human_ns(overheads.dispatch_ns)
    ));
    if speedup < MIN_SPEEDUP {
        reasons.push(format!(
            "best parallel plan ({workers} workers, chunks of {chunk}) predicts {speedup:.2}x, below {MIN_SPEEDUP}x: serial"
        ));
        return serial_plan(items, cost, overheads, reasons);
    }
    reasons.push(format!(
        "{workers} workers, chunks of {chunk} ({} chunks): predicted {speedup:.2}x",
        items.div_ceil(chunk)
    ));
    if cost.cv > 0.5 {
        reasons.push("items vary widely in cost: smaller chunks balance the load".into());
    }
    Plan {
        workers,
        chunk_size: chunk,
        serial: false,
        items,
        predicted_speedup: speedup,
        cost,
        overheads,
        reasons,
    }
}

/// Chunk sizes worth modelling: powers of two, and even splits into 1-16 chunks per worker.
fn chunk_candidates(items: usize, workers: usize) -> Vec<usize> {
    let mut sizes: Vec<usize> = (0..usize::BITS)
        .map(|p| 1usize << p)
        .take_while(|&s| s <= items)
        .collect();
    sizes.extend((1..=16).map(|per_worker| items.div_ceil(workers * per_worker).max(1)));
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

fn human_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// `MemAvailable` from /proc/meminfo, in bytes.
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Runs `plan` over `items`, returning `f`'s results in input order.
///
/// Workers pull chunks from a shared counter. If `f` panics on an item, the other workers stop
/// at their next chunk, every thread is joined, and the error names the item.
pub fn execute<T, R>(
    plan: &Plan,
    items: &[T],
    f: &(impl Fn(&T) -> R + Sync),
) -> Result<Vec<R>, ExecuteError>
where
    T: Sync,
    R: Send,
{
    let run_one = |index: usize| {
        catch_unwind(AssertUnwindSafe(|| f(&items[index]))).map_err(|payload| {
            ExecuteError::Panicked {
                index,
                message: panic_message(payload.as_ref()),
            }
        })
    };
    if plan.serial || plan.workers <= 1 || items.len() < 2 {
        return (0..items.len()).map(run_one).collect();
    }
    let chunk = plan.chunk_size.max(1);
    let chunks = items.len().div_ceil(chunk);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let parts: Vec<WorkerOutcome<R>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..plan.workers.min(chunks))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        if failed.load(Ordering::Relaxed) {
                            return Ok(done);
                        }
                        let index = next.fetch_add(1, Ordering::AcqRel);
                        if index >= chunks {
                            return Ok(done);
                        }
                        let range = index * chunk..((index + 1) * chunk).min(items.len());
                        let mut out = Vec::with_capacity(range.len());
                        for i in range {
                            match run_one(i) {
                                Ok(r) => out.push(r),
                                Err(e) => {
                                    failed.store(true, Ordering::Relaxed);
                                    return Err(e);
                                }
                            }
                        }
                        done.push((index, out));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut ordered: Vec<Option<Vec<R>>> = (0..chunks).map(|_| None).collect();
    let mut first_error: Option<ExecuteError> = None;
    for part in parts {
        match part {
            Ok(done) => {
                for (index, out) in done {
                    ordered[index] = Some(out);
                }
            }
            Err(e) => {
                let earlier = match (&first_error, &e) {
                    (
                        Some(ExecuteError::Panicked { index: a, .. }),
                        ExecuteError::Panicked { index: b, .. },
                    ) => b < a,
                    (None, _) => true,
                };
                if earlier {
                    first_error = Some(e);
                }
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    Ok(ordered.into_iter().flatten().flatten().collect())
}

/// What one worker brings back: the chunks it finished (by chunk index), or the first panic.
type WorkerOutcome<R> = Result<Vec<(usize, Vec<R>)>, ExecuteError>;

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(not a string)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spin(n: u64) -> u64 {
        (0..n).fold(0u64, |acc, i| acc.wrapping_mul(31).wrapping_add(i))
    }

    fn machine(cores: usize) -> Overheads {
        Overheads {
            cores,
            spawn_ns: 30_000.0,
            dispatch_ns: 50.0,
        }
    }

    fn cost(mean_ns: f64, cv: f64) -> ItemCost {
        ItemCost {
            sampled: 20,
            mean_ns,
            cv,
        }
    }

    #[test]
    fn trivial_items_run_serially_and_heavy_ones_in_parallel() {
        let options = Options::default();
        // 1,000 items of 20 ns: 20 µs of work, less than starting one thread.
        let fast = plan_for(1_000, cost(20.0, 0.1), machine(2), &options);
        assert!(fast.serial, "{fast:?}");
        let heavy = plan_for(1_000, cost(100_000.0, 0.1), machine(2), &options);
        assert!(!heavy.serial && heavy.workers == 2, "{heavy:?}");
        assert!(heavy.predicted_speedup > 1.8 && heavy.predicted_speedup <= 2.0);
    }

    #[test]
    fn variable_items_get_smaller_chunks() {
        let options = Options::default();
        let even = plan_for(4_000, cost(10_000.0, 0.05), machine(4), &options);
        let wild = plan_for(4_000, cost(10_000.0, 3.0), machine(4), &options);
        assert!(wild.chunk_size < even.chunk_size, "{even:?} {wild:?}");
    }

    #[test]
    fn memory_caps_workers() {
        let options = Options {
            item_memory_bytes: Some(1 << 30),
            available_memory_bytes: Some(3 << 30),
            ..Options::default()
        };
        let plan = plan_for(100, cost(1e6, 0.1), machine(8), &options);
        assert_eq!(plan.workers, 3, "{plan:?}");
        assert!(plan.reasons[0].contains("memory caps workers at 3"));
    }

    #[test]
    fn edge_cases_are_defined() {
        let options = Options::default();
        let f = |x: &u64| spin(*x);
        let empty: [u64; 0] = [];
        let plan = optimize(&empty, &f, &options);
        assert!(plan.serial);
        assert!(execute(&plan, &empty, &f).unwrap().is_empty());
        let one = optimize(&[5u64], &f, &options);
        assert!(one.serial);
        assert_eq!(execute(&one, &[5u64], &f).unwrap(), vec![spin(5)]);
        let zero = plan_for(100, cost(0.0, 0.0), machine(4), &options);
        assert!(zero.serial);
        let capped = plan_for(
            100,
            cost(1e6, 0.1),
            machine(2),
            &Options {
                max_workers: Some(64),
                ..Options::default()
            },
        );
        assert!(capped.workers <= 2, "more workers than cores are not used");
    }

    #[test]
    fn results_come_back_in_input_order() {
        let items: Vec<u64> = (0..1_000).collect();
        let plan = plan_for(items.len(), cost(1e5, 0.1), machine(4), &Options::default());
        let plan = Plan {
            workers: 4,
            chunk_size: 7,
            serial: false,
            ..plan
        };
        let out = execute(&plan, &items, &|x: &u64| x * 2).unwrap();
        assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
    }

    #[test]
    fn a_panicking_item_is_named_and_stops_the_others() {
        // 4,000 items of 1 ms on 4 workers: a second of work each, far longer than the panic
        // hook takes to print (with a backtrace) before the other workers are told to stop.
        let items: Vec<u64> = (0..4_000).collect();
        let plan = Plan {
            workers: 4,
            chunk_size: 10,
            serial: false,
            ..plan_for(items.len(), cost(1e5, 0.1), machine(4), &Options::default())
        };
        let calls = AtomicUsize::new(0);
        let err = execute(&plan, &items, &|x: &u64| {
            calls.fetch_add(1, Ordering::Relaxed);
            assert!(*x != 123, "bad item");
            std::thread::sleep(Duration::from_millis(1));
            *x
        })
        .unwrap_err();
        match err {
            ExecuteError::Panicked { index, message } => {
                assert_eq!(index, 123);
                assert!(message.contains("bad item"), "{message}");
            }
        }
        let calls = calls.load(Ordering::Relaxed);
        assert!(
            calls < items.len() / 2,
            "the other workers ran on: {calls} calls"
        );
    }

    #[test]
    fn overheads_are_measured_and_plausible() {
        let o = overheads();
        assert!(o.cores >= 1);
        assert!(o.spawn_ns > 100.0 && o.spawn_ns < 50e6, "{o:?}");
        assert!(o.dispatch_ns > 0.0 && o.dispatch_ns < 1e6, "{o:?}");
    }
}
