//! Measure -> store -> baseline -> compare through the public APIs of every crate.

use benchkeep_core::baseline::Baseline;
use benchkeep_core::compare::{CompareConfig, Verdict, compare};
use benchkeep_core::key::BaselineKey;
use benchkeep_core::model::{Run, RunId};
use benchkeep_core::store::{RunQuery, Store, update_baseline};
use benchkeep_runner::command::{
    CommandSpec, Interrupt, MeasureOptions, NoProgress, RunCount, measure,
};
use benchkeep_runner::environment;
use benchkeep_store_fs::FsStore;
use jiff::Timestamp;

fn measured_run(key: &BaselineKey, seconds: &str, entropy: u64) -> Run {
    let options = MeasureOptions {
        runs: RunCount::Fixed(15),
        warmup: 1,
        ..MeasureOptions::default()
    };
    let m = measure(
        &CommandSpec::new(["sleep", seconds]),
        &options,
        &Interrupt::new(),
        &mut NoProgress,
    )
    .expect("sleep runs");
    let now = Timestamp::now();
    let mut run = Run::new(
        RunId::new(now, entropy),
        now,
        key.clone(),
        environment::fingerprint(),
    );
    run.benchmarks
        .push(m.into_benchmark("sleep", Some(vec!["sleep".into(), seconds.into()])));
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_baseline_from_the_store_judges_new_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open_or_create(dir.path()).unwrap();
    let key = BaselineKey::new("main", environment::fingerprint().platform_key()).unwrap();

    for i in 0..3 {
        store
            .append_run(&measured_run(&key, "0.01", i))
            .await
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let mut history = store
        .list_runs(&RunQuery::latest(key.clone(), 3))
        .await
        .unwrap();
    assert_eq!(history.len(), 3);
    history.reverse();
    let pooled = Baseline::from_runs(key.clone(), &history, Timestamp::now()).unwrap();
    update_baseline(&store, &key, 5, |_| Ok(pooled.clone()))
        .await
        .unwrap();

    let baseline = store.get_baseline(&key).await.unwrap().value;
    assert_eq!(baseline.benchmarks[0].metrics[0].samples.len(), 45);

    // Real `sleep` timings on a busy CI machine: a wake-up can come tens of percent late (a
    // clean-clone CI run saw an unchanged `sleep 0.01` called regressed at 5%). This test is
    // about the crates working together, so the effect is 5x and the threshold 100%; seeded
    // tests own the verdicts' resolution.
    let config = CompareConfig {
        threshold: 1.0,
        ..CompareConfig::default()
    };
    let same = measured_run(&key, "0.01", 10);
    let verdict = compare(&baseline.benchmarks, &same.benchmarks, &config).entries[0].verdict;
    assert!(
        matches!(verdict, Verdict::Unchanged | Verdict::Inconclusive),
        "{verdict}"
    );

    let slower = measured_run(&key, "0.05", 11);
    let result = compare(&baseline.benchmarks, &slower.benchmarks, &config);
    assert_eq!(result.entries[0].verdict, Verdict::Regressed);
    assert!(!result.passes(&config));
    // CPU time and memory are compared too, but do not gate by default.
    assert_eq!(result.entries.len(), 4);
    assert_eq!(result.entries.iter().filter(|e| e.gating).count(), 1);
}
