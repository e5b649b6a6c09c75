//! The S3 store's targets against a real S3-compatible server on loopback. Run with
//! `bash scripts/bench-s3.sh` (it starts the server and sets `BENCHKEEP_S3_TEST_ENDPOINT`).

use std::sync::Arc;
use std::time::Instant;

use benchkeep_core::baseline::Baseline;
use benchkeep_core::compare::{CompareConfig, compare};
use benchkeep_core::conformance::synthetic_run;
use benchkeep_core::key::BaselineKey;
use benchkeep_core::stats;
use benchkeep_core::store::{PutMode, RunQuery, Store, encode_run};
use benchkeep_store_s3::{S3Options, S3Store};
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    stats::median_of_sorted(samples)
}

/// `runs` runs of 5 benchmarks spread over `keys` keys and 100 days, written 32 at a time.
async fn seed(raw: &Arc<dyn ObjectStore>, layout: &S3Store, keys: usize, runs: usize) {
    let mut pending = Vec::new();
    for i in 0..runs {
        let key = BaselineKey::new(format!("branch{}", i % keys), "linux-x86_64").unwrap();
        let run = synthetic_run(&key, 5, i64::try_from(i).unwrap() * 864_000, i as u64);
        let object = layout.run_object(&key, &run.id);
        let raw = Arc::clone(raw);
        pending.push(async move {
            raw.put(&object, PutPayload::from(encode_run(&run)))
                .await
                .unwrap()
        });
        if pending.len() == 32 {
            futures::future::join_all(pending.drain(..)).await;
        }
    }
    futures::future::join_all(pending).await;
}

async fn latest_50(store: &S3Store, key: &BaselineKey) -> f64 {
    let mut times = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        let runs = store
            .list_runs(&RunQuery::latest(key.clone(), 50))
            .await
            .unwrap();
        times.push(start.elapsed().as_secs_f64() * 1e3);
        assert_eq!(runs.len(), 50);
    }
    median(&mut times)
}

#[tokio::main]
async fn main() {
    let Ok(endpoint) = std::env::var("BENCHKEEP_S3_TEST_ENDPOINT") else {
        eprintln!("no S3 server: run `bash scripts/bench-s3.sh`");
        std::process::exit(2);
    };
    let bucket =
        std::env::var("BENCHKEEP_S3_TEST_BUCKET").unwrap_or_else(|_| "benchkeep-test".into());
    let raw: Arc<dyn ObjectStore> = Arc::new(
        object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(&bucket)
            .with_endpoint(&endpoint)
            .with_allow_http(true)
            .build()
            .unwrap(),
    );
    let open = |prefix: &str| {
        S3Store::open(
            &S3Options::from_url(&format!(
                "{bucket}/{prefix}?endpoint={endpoint}&allow_http=true"
            ))
            .unwrap(),
        )
        .unwrap()
    };
    let key = BaselineKey::new("branch0", "linux-x86_64").unwrap();

    let mut listing = Vec::new();
    for (prefix, total) in [("small", 1_000usize), ("large", 10_000)] {
        let store = open(prefix);
        let started = Instant::now();
        seed(&raw, &store, 20, total).await;
        eprintln!(
            "seeded {total} runs of 20 keys in {:.0} s",
            started.elapsed().as_secs_f64()
        );
        listing.push((total, latest_50(&store, &key).await));
    }

    let store = open("large");
    let mut record = Vec::new();
    for i in 0..10i64 {
        let run = synthetic_run(
            &key,
            100,
            9_000_000_000 + i * 1000,
            5_000_000 + i.unsigned_abs(),
        );
        let start = Instant::now();
        store.append_run(&run).await.unwrap();
        record.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let base_runs = store
        .list_runs(&RunQuery::latest(key.clone(), 3))
        .await
        .unwrap();
    let baseline = Baseline::from_runs(key.clone(), &base_runs, jiff::Timestamp::now()).unwrap();
    store
        .put_baseline(&baseline, PutMode::Create)
        .await
        .unwrap();
    let current = synthetic_run(&key, 100, 9_500_000_000, 77);
    let config = CompareConfig {
        threads: 2,
        ..CompareConfig::default()
    };
    let mut check = Vec::new();
    for _ in 0..10 {
        let start = Instant::now();
        let stored = store.get_baseline(&key).await.unwrap();
        std::hint::black_box(compare(
            &stored.value.benchmarks,
            &current.benchmarks,
            &config,
        ));
        check.push(start.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "record a run of 100 benchmarks x 30 samples: median {:.1} ms (target < 200 ms)",
        median(&mut record)
    );
    println!(
        "check (read the baseline of one key and compare), bucket of 10,000 runs of 20 keys: median {:.1} ms (target < 300 ms)",
        median(&mut check)
    );
    for (total, ms) in listing {
        println!(
            "last 50 runs of one key, prefix holding {total} runs of 20 keys: median {ms:.1} ms"
        );
    }
}
