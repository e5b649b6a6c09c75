//! The optimizer's plan against rayon's default `par_iter().map().collect()` and against serial,
//! side by side on the standard suite's workloads.
//!
//! `cargo bench -p benchkeep-runner --bench optimizer` (`OPTIMIZER_BENCH_QUICK=1`: 5 repetitions
//! instead of 15). Each repetition times the three engines in a seeded random order, each over
//! enough batches to last 20 ms; the figures are medians over repetitions, and `plan/rayon` is
//! the median of the per-repetition ratios (below 1: the plan is faster). The plan is made once
//! per workload, before timing; its cost is printed separately, in batches.

use std::time::{Duration, Instant};

use benchkeep_core::stats::{Rng, median, sorted};
use benchkeep_runner::optimize::{Options, Plan, execute, optimize};
use benchkeep_runner::suite::{Workload, workloads};
use rayon::prelude::*;

const SAMPLE: Duration = Duration::from_millis(20);

/// Nanoseconds per batch over `batches` batches of `run`.
fn time(batches: usize, mut run: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..batches {
        run();
    }
    start.elapsed().as_nanos() as f64 / batches as f64
}

struct Row {
    name: &'static str,
    plan: String,
    plan_cost_batches: f64,
    serial_ns: f64,
    ours_speedup: f64,
    rayon_speedup: f64,
    ours_over_rayon: f64,
    ratio_range: (f64, f64),
}

fn bench(workload: &Workload, repetitions: usize, seed: u64) -> Row {
    let work = workload.work();
    let items = &workload.items;
    std::hint::black_box(work(&items[0]));
    let planning = Instant::now();
    let plan = optimize(
        items,
        &work,
        &Options {
            item_memory_bytes: workload.item_memory_bytes,
            ..Options::default()
        },
    );
    let plan_ns = planning.elapsed().as_nanos() as f64;
    let serial = Plan {
        workers: 1,
        serial: true,
        ..plan.clone()
    };
    let run_serial = || {
        std::hint::black_box(execute(&serial, items, &work).unwrap());
    };
    let run_ours = || {
        std::hint::black_box(execute(&plan, items, &work).unwrap());
    };
    let run_rayon = || {
        std::hint::black_box(items.par_iter().map(work).collect::<Vec<u64>>());
    };
    time(1, run_serial);
    let one = time(1, run_serial);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let batches = ((SAMPLE.as_nanos() as f64 / one.max(1.0)).ceil() as usize).max(1);
    let mut rng = Rng::seed_from_u64(seed);
    let mut times: [Vec<f64>; 3] = Default::default();
    for _ in 0..repetitions {
        let mut order = [0usize, 1, 2];
        for i in (1..3).rev() {
            order.swap(i, rng.below(i + 1));
        }
        for engine in order {
            let t = match engine {
                0 => time(batches, run_serial),
                1 => time(batches, run_ours),
                _ => time(batches, run_rayon),
            };
            times[engine].push(t);
        }
    }
    let ratios: Vec<f64> = times[1].iter().zip(&times[2]).map(|(o, r)| o / r).collect();
    let sorted_ratios = sorted(&ratios);
    let serial_ns = median(&times[0]);
    Row {
        name: workload.name,
        plan: if plan.serial {
            "serial".to_owned()
        } else {
            format!("{} × {}", plan.workers, plan.chunk_size)
        },
        plan_cost_batches: plan_ns / serial_ns,
        serial_ns,
        ours_speedup: serial_ns / median(&times[1]),
        rayon_speedup: serial_ns / median(&times[2]),
        ours_over_rayon: median(&ratios),
        ratio_range: (sorted_ratios[0], sorted_ratios[sorted_ratios.len() - 1]),
    }
}

fn main() {
    let quick = std::env::var_os("OPTIMIZER_BENCH_QUICK").is_some();
    let repetitions = if quick { 5 } else { 15 };
    // Start rayon's pool before anything is timed: a user's pool is warm too.
    std::hint::black_box((0..10_000u64).into_par_iter().sum::<u64>());
    println!(
        "{} cores, rayon with {} threads, {repetitions} repetitions of 20 ms samples",
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        rayon::current_num_threads()
    );
    println!(
        "{:<17} {:>8} {:>10} {:>9} {:>9} {:>10} {:>15} {:>12}",
        "workload", "plan", "serial", "plan", "rayon", "plan/rayon", "range", "plan cost"
    );
    let mut at_or_below = 0;
    let all = workloads();
    for (i, workload) in all.iter().enumerate() {
        let row = bench(workload, repetitions, 0x0b5e_55ed + i as u64);
        if row.ours_over_rayon <= 1.0 {
            at_or_below += 1;
        }
        println!(
            "{:<17} {:>8} {:>8.2}ms {:>8.2}x {:>8.2}x {:>9.3}x {:>6.3}-{:<6.3}x {:>7.1} batch",
            row.name,
            row.plan,
            row.serial_ns / 1e6,
            row.ours_speedup,
            row.rayon_speedup,
            row.ours_over_rayon,
            row.ratio_range.0,
            row.ratio_range.1,
            row.plan_cost_batches
        );
    }
    println!(
        "plan at least as fast as rayon (median ratio <= 1.0) on {at_or_below} of {} workloads",
        all.len()
    );
}
