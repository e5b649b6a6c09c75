//! The load generator's targets, measured: run with `cargo bench -p benchkeep-runner --bench load`.
//!
//! - generator overhead: operations per second of a no-op closure, per core (target >= 20,000);
//! - command load vs a plain spawn loop (`true`), one worker each (target: limited only by
//!   process creation, a ratio near 1);
//! - the USL fit on a synthetic service with contention σ = 0.1 (target: within 20%);
//! - the leak detector on synthetic RSS series: a 1 KB/iteration leak found within 10,000
//!   iterations, and false alarms over 100 non-leaking trials (target: at most 1).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use benchkeep_runner::command::{CommandSpec, Interrupt};
use benchkeep_runner::leak::{LeakOptions, detect};
use benchkeep_runner::load::{self, CommandOperation, LoadOptions, Operation};

fn options(levels: &[usize], seconds: f64) -> LoadOptions {
    LoadOptions {
        levels: levels.to_vec(),
        duration: Duration::from_secs_f64(seconds),
        ramp_up: Duration::from_millis(100),
        ..LoadOptions::default()
    }
}

struct Service {
    in_flight: AtomicU64,
}

impl Operation for Service {
    fn call(&self) -> Result<(), String> {
        let n = self.in_flight.fetch_add(1, Ordering::SeqCst) as f64 + 1.0;
        std::thread::sleep(Duration::from_millis(3).mul_f64(1.0 + 0.1 * (n - 1.0)));
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}

fn main() {
    let interrupt = Interrupt::new();
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let noop = load::run(
        &|| Ok::<(), String>(()),
        &options(&[1, cores], 2.0),
        &interrupt,
    )
    .unwrap();
    for level in &noop.levels {
        println!(
            "no-op closure, {} worker(s): {:.0} ops/s = {:.0} per core (target >= 20,000 per core); p50 {:.0} ns",
            level.concurrency,
            level.throughput,
            level.throughput / level.concurrency.min(cores) as f64,
            level.latency.p50
        );
    }

    let spawn = CommandOperation {
        spec: CommandSpec::new(["true"]),
        timeout: None,
    };
    let loaded = load::run(&spawn, &options(&[1], 3.0), &interrupt).unwrap();
    let started = Instant::now();
    let mut plain = 0u64;
    while started.elapsed() < Duration::from_secs(3) {
        std::process::Command::new("true").status().unwrap();
        plain += 1;
    }
    let plain_rate = plain as f64 / started.elapsed().as_secs_f64();
    println!(
        "`true` under load, 1 worker: {:.0} ops/s; plain spawn loop: {plain_rate:.0} ops/s; ratio {:.3} (target ~1)",
        loaded.levels[0].throughput,
        loaded.levels[0].throughput / plain_rate
    );

    let service = Service {
        in_flight: AtomicU64::new(0),
    };
    let scaling = load::run(&service, &options(&[1, 2, 4, 8, 16], 1.5), &interrupt).unwrap();
    let usl = scaling.scaling.usl.unwrap();
    println!(
        "synthetic service, σ = 0.1: fitted σ = {:.4} ({:+.1}%, target within 20%), κ = {:.5}, R² = {:.4}",
        usl.sigma,
        (usl.sigma / 0.1 - 1.0) * 100.0,
        usl.kappa,
        usl.r_squared
    );

    let series = |leak: f64, seed: u64| -> Vec<(u64, f64)> {
        let mut rng = benchkeep_core::stats::Rng::seed_from_u64(seed);
        (1..=200u64)
            .map(|s| {
                let i = s * 50;
                let warm = 2e6 * (1.0 - (-(i as f64) / 500.0).exp());
                let arena = if rng.unit_f64() < 0.3 { 65_536.0 } else { 0.0 };
                let jitter = (rng.unit_f64() * 8.0).floor() * 4096.0;
                (
                    i,
                    ((50e6 + warm + leak * i as f64 + arena + jitter) / 4096.0).floor() * 4096.0,
                )
            })
            .collect()
    };
    let options = LeakOptions::default();
    let found = (0..100)
        .filter(|&s| detect(&series(1024.0, s), &options).unwrap().grows)
        .count();
    let false_alarms = (0..100)
        .filter(|&s| detect(&series(0.0, s), &options).unwrap().grows)
        .count();
    println!(
        "leak detector, 10,000 iterations, 200 samples: a 1 KB/iteration leak found in {found}/100 trials; false alarms without a leak: {false_alarms}/100 (target <= 1)"
    );
}
