//! Plans and runs three batches, printing the plan, the predicted and the measured speedup.
//!
//! `cargo run --release -p benchkeep-runner --example optimize`

use std::time::Instant;

use benchkeep_runner::optimize::{Options, Plan, execute, optimize};

fn spin(steps: u64) -> u64 {
    (0..steps).fold(0u64, |acc, i| {
        std::hint::black_box(acc.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i))
    })
}

fn median_seconds(mut run: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[2]
}

fn report(name: &str, items: &[u64], work: &(impl Fn(&u64) -> u64 + Sync)) {
    let plan = optimize(items, work, &Options::default());
    let serial = Plan {
        workers: 1,
        serial: true,
        ..plan.clone()
    };
    let serial_time = median_seconds(|| {
        execute(&serial, items, work).unwrap();
    });
    let planned_time = median_seconds(|| {
        execute(&plan, items, work).unwrap();
    });
    let measured = serial_time / planned_time;
    let predicted = plan.predicted_speedup;
    let accuracy = 1.0 - (measured - predicted).abs() / measured.max(predicted);
    println!(
        "{name}: {} workers, chunks of {}: predicted {predicted:.2}x, measured {measured:.2}x (accuracy {:.0}%)",
        plan.workers,
        plan.chunk_size,
        100.0 * accuracy
    );
    for reason in &plan.reasons {
        println!("    {reason}");
    }
}

fn main() {
    let items: Vec<u64> = (0..4_000).collect();
    report("heavy (50 µs items)", &items, &|_: &u64| spin(50_000));
    report("trivial (tens of ns)", &items, &|x: &u64| spin(*x % 16));
    report("variable (heavy tail)", &items, &|x: &u64| {
        spin(if x.is_multiple_of(50) { 500_000 } else { 5_000 })
    });
}
