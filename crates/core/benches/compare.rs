//! In-process cost of the comparison pipeline for library users: decode two stored runs of
//! 10,000 benchmarks x 30 samples, compare them, encode the result.
//!
//! Run with `cargo bench -p benchkeep-core --bench compare`.

use std::time::Instant;

use benchkeep_core::compare::{CompareConfig, compare};
use benchkeep_core::key::BaselineKey;
use benchkeep_core::model::{Benchmark, Direction, Fingerprint, Metric, Run, RunId, Unit};
use benchkeep_core::stats::{self, Rng};
use benchkeep_core::store::{decode_run, encode_run};

fn synthetic_run(benchmarks: usize, samples: usize, shift: f64, seed: u64) -> Run {
    let at = jiff::Timestamp::from_millisecond(1_790_000_000_000).unwrap();
    let key = BaselineKey::new("main", "linux-x86_64").unwrap();
    let mut run = Run::new(RunId::new(at, seed), at, key, Fingerprint::default());
    let mut rng = Rng::seed_from_u64(seed);
    for b in 0..benchmarks {
        let center = 1e6 * (1.0 + (b % 97) as f64);
        run.benchmarks.push(Benchmark {
            params: std::collections::BTreeMap::new(),
            name: format!("group{}/bench{b}", b % 50),
            command: None,
            metrics: vec![Metric {
                name: "wall_time".into(),
                unit: Unit::nanoseconds(),
                direction: Direction::LowerIsBetter,
                samples: (0..samples)
                    .map(|_| (center * shift * (1.0 + 0.02 * (rng.unit_f64() - 0.5))).round())
                    .collect(),
                summary: None,
            }],
        });
    }
    run
}

fn median_ms(mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..7)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    let a = encode_run(&synthetic_run(10_000, 30, 1.0, 1));
    let b = encode_run(&synthetic_run(10_000, 30, 1.03, 2));
    let decode = median_ms(|| {
        decode_run(&a, "a").unwrap();
        decode_run(&b, "b").unwrap();
    });
    let (ra, rb) = (decode_run(&a, "a").unwrap(), decode_run(&b, "b").unwrap());
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    for threads in [1, threads] {
        let config = CompareConfig {
            threads,
            ..CompareConfig::default()
        };
        let cmp = median_ms(|| {
            std::hint::black_box(compare(&ra.benchmarks, &rb.benchmarks, &config));
        });
        println!("compare 10,000 x 30, {threads} thread(s): {cmp:.1} ms");
    }
    let result = compare(&ra.benchmarks, &rb.benchmarks, &CompareConfig::default());
    let encode = median_ms(|| {
        serde_json::to_vec(&result).unwrap();
    });
    let sorted = median_ms(|| {
        for bench in &ra.benchmarks {
            std::hint::black_box(stats::sorted(&bench.metrics[0].samples));
        }
    });
    println!(
        "decode two runs ({} + {} bytes): {decode:.1} ms",
        a.len(),
        b.len()
    );
    println!("encode the comparison as JSON: {encode:.1} ms");
    println!("sort 10,000 x 30 samples: {sorted:.2} ms");
}
