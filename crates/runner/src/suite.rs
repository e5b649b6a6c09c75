//! The standard workload suite: five batches of known character run through the optimizer.
//!
//! For each workload the suite sweeps worker counts and chunk sizes exhaustively, plans with
//! [`optimize`], then measures serial execution, the plan and the sweep's best configuration in
//! interleaved repetitions (seeded random order, so slow drifts of the machine hit every side
//! alike). It reports the measured speedup against the predicted one, the accuracy of the
//! prediction, and how far the plan is from the sweep's best, and turns all of it into an ordinary
//! [`Benchmark`] so that `check`, baselines and every store work on it unchanged.
//!
//! ```no_run
//! use benchkeep_runner::suite::{SuiteOptions, measure, workloads};
//!
//! for workload in workloads() {
//!     let result = measure(&workload, &SuiteOptions::quick(), &mut |_| {}).unwrap();
//!     println!("{}: {:.2}x measured, {:.2}x predicted", result.name, result.measured_speedup(), result.plan.predicted_speedup);
//! }
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use benchkeep_core::model::{Benchmark, Direction, Metric, Unit};
use benchkeep_core::stats::{Rng, median};

use crate::optimize::{
    ExecuteError, ItemCost, MAX_OVERSUBSCRIPTION, Options, Plan, execute, optimize, overheads,
    plan_for,
};

/// Names of the metrics a workload records.
pub mod metric_names {
    /// Serial time over the plan's time, per repetition (higher is better).
    pub const SPEEDUP: &str = "speedup";
    /// `1 - |measured - predicted| / max(measured, predicted)` per repetition, in percent.
    pub const ACCURACY: &str = "accuracy";
    /// The plan's time per batch.
    pub const WALL_TIME: &str = "wall_time";
    /// Serial time per batch.
    pub const SERIAL_TIME: &str = "serial_time";
    /// The plan's time over the sweep's best configuration's time, per repetition.
    pub const PLAN_VS_BEST: &str = "plan_vs_best";
}

/// One workload: a batch of items and the function applied to each.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Short name, used as the benchmark name.
    pub name: &'static str,
    /// What the workload stands for.
    pub description: &'static str,
    /// The batch.
    pub items: Vec<u64>,
    /// Memory one item needs while it runs, declared to the optimizer.
    pub item_memory_bytes: Option<u64>,
    work: fn(&u64) -> u64,
}

impl Workload {
    /// The per-item function.
    #[must_use]
    pub fn work(&self) -> fn(&u64) -> u64 {
        self.work
    }
}

/// A pure compute loop of `steps` dependent multiply-adds (about a nanosecond each).
fn spin(steps: u64, seed: u64) -> u64 {
    (0..steps).fold(seed, |acc, i| {
        std::hint::black_box(acc.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i))
    })
}

/// A stateless 64-bit mix (splitmix64's finalizer): item `i`'s pseudo-random draw.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

// By reference: the optimizer maps `Fn(&T) -> R` over the items.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn cpu_intensive(item: &u64) -> u64 {
    spin(20_000, *item)
}

// By reference: the optimizer maps `Fn(&T) -> R` over the items.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn mixed_workload(item: &u64) -> u64 {
    let computed = spin(10_000, *item);
    std::thread::sleep(Duration::from_micros(50));
    computed
}

/// Bytes of the shared table `memory_intensive` reads from: larger than this machine's caches.
const MEMORY_TABLE_BYTES: usize = 64 << 20;
/// Bytes of the table one item reads.
const MEMORY_ITEM_BYTES: usize = 2 << 20;
/// Bytes one item holds at a time (its buffer), declared to the optimizer's memory cap.
const MEMORY_HELD_BYTES: u64 = 4 << 10;

fn memory_table() -> &'static [u64] {
    static TABLE: std::sync::OnceLock<Vec<u64>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| (0..(MEMORY_TABLE_BYTES / 8) as u64).map(mix).collect())
}

// By reference: the optimizer maps `Fn(&T) -> R` over the items.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn memory_intensive(item: &u64) -> u64 {
    // Reads a 2 MiB window of a 64 MiB table one cache line at a time (bandwidth, not
    // arithmetic), one value per line of each 32 KiB into a freshly allocated 4 KiB buffer
    // (the allocator).
    // Each buffer is freed before the next is allocated: holding them all would make glibc give
    // the heap back to the kernel and fault it in again on every item, on the main thread only,
    // which measured the kernel's page faults instead of the memory system.
    let table = memory_table();
    let words = MEMORY_ITEM_BYTES / 8;
    let span = u64::try_from(table.len() - words).unwrap_or(1);
    let start = usize::try_from(mix(*item) % span).unwrap_or(0);
    let window = &table[start..start + words];
    let mut sum = 0u64;
    for lines in window.chunks(512 * 8) {
        let mut buffer = Vec::with_capacity(512);
        for line in lines.chunks(8) {
            sum = sum.wrapping_add(line[0]);
            buffer.push(sum);
        }
        sum ^= std::hint::black_box(&buffer)[buffer.len() / 2];
    }
    sum
}

// By reference: the optimizer maps `Fn(&T) -> R` over the items.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn fast_function(item: &u64) -> u64 {
    mix(*item)
}

// By reference: the optimizer maps `Fn(&T) -> R` over the items.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn variable_time(item: &u64) -> u64 {
    // Pareto-distributed cost (shape 1.5, capped at 200x): most items are cheap, a few cost as
    // much as a hundred others together.
    let uniform = (mix(*item) >> 11) as f64 / (1u64 << 53) as f64;
    let factor = (1.0 - uniform).powf(-1.0 / 1.5).min(200.0);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let steps = (10_000.0 * factor) as u64;
    spin(steps, *item)
}

/// The five standard workloads, named as in the seeds of the project.
#[must_use]
pub fn workloads() -> Vec<Workload> {
    let items = |n: u64| (0..n).collect::<Vec<u64>>();
    vec![
        Workload {
            name: "cpu_intensive",
            description: "pure compute, about 25 µs per item, 1000 items",
            items: items(1_000),
            item_memory_bytes: None,
            work: cpu_intensive,
        },
        Workload {
            name: "mixed_workload",
            description: "10 µs of compute and a 50 µs blocking sleep per item, 200 items",
            items: items(200),
            item_memory_bytes: None,
            work: mixed_workload,
        },
        Workload {
            name: "memory_intensive",
            description: "reads 2 MiB of a 64 MiB table through 64 fresh buffers per item, 100 items",
            items: items(100),
            item_memory_bytes: Some(MEMORY_HELD_BYTES),
            work: memory_intensive,
        },
        Workload {
            name: "fast_function",
            description: "a few nanoseconds per item, 2000 items: overhead dominates",
            items: items(2_000),
            item_memory_bytes: None,
            work: fast_function,
        },
        Workload {
            name: "variable_time",
            description: "heavy-tailed cost (Pareto 1.5, 10 µs to 2 ms), 500 items",
            items: items(500),
            item_memory_bytes: None,
            work: variable_time,
        },
    ]
}

/// How long and how often the suite measures.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteOptions {
    /// Each timed sample repeats the batch until it lasts at least this long.
    pub sample_time: Duration,
    /// Interleaved repetitions of serial, plan and best configuration.
    pub repetitions: usize,
    /// Samples per configuration in the sweep (their median ranks the configurations).
    pub sweep_repetitions: usize,
    /// Seed of the order of each repetition.
    pub seed: u64,
}

impl SuiteOptions {
    /// The full suite: 20 ms samples, 11 repetitions, 3 per sweep configuration.
    #[must_use]
    pub fn full() -> Self {
        SuiteOptions {
            sample_time: Duration::from_millis(20),
            repetitions: 11,
            sweep_repetitions: 3,
            seed: 0x5eed,
        }
    }

    /// The quick suite for CI: 10 ms samples, 7 repetitions, 2 per sweep configuration.
    #[must_use]
    pub fn quick() -> Self {
        SuiteOptions {
            sample_time: Duration::from_millis(10),
            repetitions: 7,
            sweep_repetitions: 2,
            seed: 0x5eed,
        }
    }
}

/// One configuration of the sweep and its measured time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepPoint {
    /// Worker threads (1 = serial).
    pub workers: usize,
    /// Items per chunk.
    pub chunk_size: usize,
    /// Median time per batch, in nanoseconds.
    pub batch_ns: f64,
}

/// What the suite measured on one workload.
#[derive(Debug, Clone)]
pub struct WorkloadResult {
    /// The workload's name.
    pub name: &'static str,
    /// The workload's description.
    pub description: &'static str,
    /// The optimizer's plan.
    pub plan: Plan,
    /// Batches run back to back in each timed sample.
    pub batches_per_sample: usize,
    /// Serial time per batch, one per repetition, in nanoseconds.
    pub serial_ns: Vec<f64>,
    /// The plan's time per batch, one per repetition.
    pub planned_ns: Vec<f64>,
    /// The sweep's best configuration's time per batch, one per repetition.
    pub best_ns: Vec<f64>,
    /// The best configuration of the sweep.
    pub best: SweepPoint,
    /// Every configuration the sweep measured.
    pub sweep: Vec<SweepPoint>,
}

/// `1 - |actual - predicted| / max(actual, predicted)`: 1 for a perfect prediction, 0.5 when one
/// is twice the other.
#[must_use]
pub fn accuracy(actual: f64, predicted: f64) -> f64 {
    let larger = actual.max(predicted);
    if larger <= 0.0 {
        return 0.0;
    }
    1.0 - (actual - predicted).abs() / larger
}

impl WorkloadResult {
    /// Serial time over the plan's time, per repetition (the two were measured side by side).
    #[must_use]
    pub fn speedups(&self) -> Vec<f64> {
        self.serial_ns
            .iter()
            .zip(&self.planned_ns)
            .map(|(serial, planned)| serial / planned)
            .collect()
    }

    /// The median of [`Self::speedups`].
    #[must_use]
    pub fn measured_speedup(&self) -> f64 {
        median(&self.speedups())
    }

    /// The accuracy of the predicted speedup against the measured median.
    #[must_use]
    pub fn accuracy(&self) -> f64 {
        accuracy(self.measured_speedup(), self.plan.predicted_speedup)
    }

    /// The plan's time over the sweep's best time, per repetition.
    #[must_use]
    pub fn plan_vs_best(&self) -> Vec<f64> {
        self.planned_ns
            .iter()
            .zip(&self.best_ns)
            .map(|(planned, best)| planned / best)
            .collect()
    }

    /// The plan's median time over the serial median time (above 1: the plan is slower).
    #[must_use]
    pub fn plan_vs_serial(&self) -> f64 {
        median(&self.planned_ns) / median(&self.serial_ns)
    }

    /// The result as a benchmark: speedup (primary), accuracy, the plan's and serial wall time,
    /// the plan against the sweep's best; the plan itself in `params`.
    #[must_use]
    pub fn to_benchmark(&self) -> Benchmark {
        let metric = |name: &str, unit: &str, direction, samples: Vec<f64>| Metric {
            name: name.to_owned(),
            unit: Unit(unit.to_owned()),
            direction,
            samples,
            summary: None,
        };
        let predicted = self.plan.predicted_speedup;
        let speedups = self.speedups();
        let accuracies = speedups
            .iter()
            .map(|&s| 100.0 * accuracy(s, predicted))
            .collect();
        let mut params = BTreeMap::new();
        params.insert("workers".to_owned(), self.plan.workers.to_string());
        params.insert("chunk_size".to_owned(), self.plan.chunk_size.to_string());
        params.insert("serial".to_owned(), self.plan.serial.to_string());
        Benchmark {
            name: self.name.to_owned(),
            command: None,
            metrics: vec![
                metric(
                    metric_names::SPEEDUP,
                    "x",
                    Direction::HigherIsBetter,
                    speedups,
                ),
                metric(
                    metric_names::ACCURACY,
                    "%",
                    Direction::HigherIsBetter,
                    accuracies,
                ),
                metric(
                    metric_names::WALL_TIME,
                    "ns",
                    Direction::LowerIsBetter,
                    self.planned_ns.clone(),
                ),
                metric(
                    metric_names::SERIAL_TIME,
                    "ns",
                    Direction::LowerIsBetter,
                    self.serial_ns.clone(),
                ),
                metric(
                    metric_names::PLAN_VS_BEST,
                    "x",
                    Direction::LowerIsBetter,
                    self.plan_vs_best(),
                ),
            ],
            params,
        }
    }
}

/// A plan that runs `workers` threads with chunks of `chunk_size` (serial for one worker).
fn configuration(template: &Plan, workers: usize, chunk_size: usize) -> Plan {
    Plan {
        workers,
        chunk_size,
        serial: workers <= 1,
        reasons: Vec::new(),
        ..template.clone()
    }
}

/// Time per batch of running `batches` batches back to back with `plan`, in nanoseconds.
fn time_batches(workload: &Workload, plan: &Plan, batches: usize) -> Result<f64, ExecuteError> {
    let work = workload.work;
    let start = Instant::now();
    for _ in 0..batches {
        std::hint::black_box(execute(plan, &workload.items, &work)?);
    }
    Ok(start.elapsed().as_nanos() as f64 / batches as f64)
}

/// The configurations the sweep measures: serial; every worker count up to twice the cores
/// and four times the cores (what the optimizer allows items that block); chunk sizes that are
/// powers of four or even splits into 1-16 chunks per worker.
fn sweep_grid(items: usize, cores: usize) -> Vec<(usize, usize)> {
    let mut workers: Vec<usize> = (2..=2 * cores.max(1)).collect();
    workers.push(MAX_OVERSUBSCRIPTION * cores.max(1));
    workers.dedup();
    let mut grid = vec![(1, items.max(1))];
    for &w in &workers {
        let mut chunks: Vec<usize> = std::iter::successors(Some(1usize), |c| Some(c * 4))
            .take_while(|&c| c <= items)
            .collect();
        chunks.extend([1, 2, 4, 8, 16].map(|k| items.div_ceil(w * k).max(1)));
        chunks.sort_unstable();
        chunks.dedup();
        grid.extend(chunks.into_iter().map(|c| (w, c)));
    }
    grid
}

/// Sweeps the configurations of `workload`, plans it, and measures serial, the plan and the
/// sweep's best side by side.
/// `progress` receives one short line per phase.
pub fn measure(
    workload: &Workload,
    options: &SuiteOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<WorkloadResult, ExecuteError> {
    let work = workload.work;
    // One warm-up call, so that the plan describes the steady state (memory_intensive builds its
    // shared table on first use) rather than a cold start.
    if let Some(first) = workload.items.first() {
        std::hint::black_box(work(first));
    }
    // Configurations are built from a template; only workers, chunk size and `serial` matter
    // to `execute`.
    let template = plan_for(
        workload.items.len(),
        ItemCost {
            sampled: 0,
            mean_ns: 0.0,
            cpu_ns: 0.0,
            cv: 0.0,
        },
        overheads(),
        &Options::default(),
    );
    let serial = configuration(&template, 1, workload.items.len().max(1));
    // Warm up, then size the samples so each lasts at least `sample_time` serially.
    time_batches(workload, &serial, 1)?;
    let one = time_batches(workload, &serial, 1)?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let batches = ((options.sample_time.as_nanos() as f64 / one.max(1.0)).ceil() as usize)
        .clamp(1, 1_000_000);

    let mut sweep = Vec::new();
    for (workers, chunk) in sweep_grid(workload.items.len(), template.overheads.cores) {
        let config = configuration(&template, workers, chunk);
        let times = (0..options.sweep_repetitions.max(1))
            .map(|_| time_batches(workload, &config, batches))
            .collect::<Result<Vec<f64>, _>>()?;
        sweep.push(SweepPoint {
            workers,
            chunk_size: chunk,
            batch_ns: median(&times),
        });
    }
    let best = *sweep
        .iter()
        .min_by(|a, b| a.batch_ns.total_cmp(&b.batch_ns))
        .expect("the grid is never empty");
    progress(&format!(
        "{}: sweep of {} configurations, best {} workers, chunks of {}",
        workload.name,
        sweep.len(),
        best.workers,
        best.chunk_size
    ));

    // Planned right before it is measured, as a caller plans right before running a batch: the
    // prediction describes the machine as it is when the plan runs, not seconds earlier.
    let plan = optimize(
        &workload.items,
        &work,
        &Options {
            item_memory_bytes: workload.item_memory_bytes,
            ..Options::default()
        },
    );
    progress(&format!(
        "{}: plan {} workers, chunks of {}, predicted {:.2}x",
        workload.name, plan.workers, plan.chunk_size, plan.predicted_speedup
    ));

    // The sweep's best was picked as the minimum of noisy medians, so it is measured again
    // here, side by side with serial and the plan, rather than reported from the sweep.
    let best_config = configuration(&template, best.workers, best.chunk_size);
    let sides = [&serial, &plan, &best_config];
    let mut rng = Rng::seed_from_u64(options.seed);
    let mut times: [Vec<f64>; 3] = Default::default();
    for _ in 0..options.repetitions.max(1) {
        let mut order = [0usize, 1, 2];
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        for side in order {
            times[side].push(time_batches(workload, sides[side], batches)?);
        }
    }
    let [serial_ns, planned_ns, best_ns] = times;
    Ok(WorkloadResult {
        name: workload.name,
        description: workload.description,
        plan,
        batches_per_sample: batches,
        serial_ns,
        planned_ns,
        best_ns,
        best,
        sweep,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_is_symmetric_and_one_when_exact() {
        assert!((accuracy(2.0, 2.0) - 1.0).abs() < 1e-12);
        assert!((accuracy(1.0, 2.0) - 0.5).abs() < 1e-12);
        assert!((accuracy(2.0, 1.0) - 0.5).abs() < 1e-12);
        assert!((accuracy(0.81, 1.59) - (1.0 - 0.78 / 1.59)).abs() < 1e-12);
        assert!(accuracy(0.0, 0.0).abs() < 1e-12);
    }

    #[test]
    fn the_five_workloads_have_the_seeds_names_and_distinct_characters() {
        let names: Vec<&str> = workloads().iter().map(|w| w.name).collect();
        assert_eq!(
            names,
            [
                "cpu_intensive",
                "mixed_workload",
                "memory_intensive",
                "fast_function",
                "variable_time"
            ]
        );
        // variable_time is heavy-tailed: its most expensive item costs far more than the median.
        let costs: Vec<f64> = (0..500u64)
            .map(|i| {
                let uniform = (mix(i) >> 11) as f64 / (1u64 << 53) as f64;
                (1.0 - uniform).powf(-1.0 / 1.5).min(200.0)
            })
            .collect();
        let largest = costs.iter().copied().fold(0.0, f64::max);
        assert!(largest > 30.0 * median(&costs), "{costs:?}");
    }

    #[test]
    fn the_sweep_covers_serial_the_cores_and_oversubscription() {
        let grid = sweep_grid(100, 2);
        assert!(grid.contains(&(1, 100)));
        assert!(grid.contains(&(2, 50)) && grid.contains(&(4, 1)) && grid.contains(&(8, 16)));
        assert!(
            grid.contains(&(3, 9)),
            "even splits: 100 / (3 * 4) rounded up"
        );
        assert!(grid.iter().all(|&(w, c)| w >= 1 && (1..=100).contains(&c)));
        assert_eq!(grid.iter().filter(|&&(w, _)| w == 1).count(), 1);
    }

    #[test]
    fn a_quick_measurement_pairs_every_side_and_records_the_plan() {
        let workload = Workload {
            name: "tiny",
            description: "test",
            items: (0..64).collect(),
            item_memory_bytes: None,
            work: |x| spin(2_000, *x),
        };
        let options = SuiteOptions {
            sample_time: Duration::from_millis(1),
            repetitions: 5,
            sweep_repetitions: 1,
            seed: 1,
        };
        let mut lines = Vec::new();
        let result = measure(&workload, &options, &mut |l| lines.push(l.to_owned())).unwrap();
        assert_eq!(result.serial_ns.len(), 5);
        assert_eq!(result.planned_ns.len(), 5);
        assert_eq!(result.best_ns.len(), 5);
        assert!(result.sweep.iter().any(|p| p.workers == 1));
        assert_eq!(lines.len(), 2, "{lines:?}");
        let bench = result.to_benchmark();
        assert_eq!(bench.metrics[0].name, "speedup");
        assert_eq!(bench.metrics[0].direction, Direction::HigherIsBetter);
        assert_eq!(bench.metric("accuracy").unwrap().samples.len(), 5);
        assert!(
            bench
                .metric("accuracy")
                .unwrap()
                .samples
                .iter()
                .all(|a| (0.0..=100.0).contains(a))
        );
        assert_eq!(bench.params["workers"], result.plan.workers.to_string());
    }
}
