//! The store conformance suite: public async tests every [`Store`] runs against itself.
//!
//! A backend's test calls [`run_all`] with a fresh, empty store and a [`Tamper`] that can damage
//! stored bytes the way a crash, a bad merge or a hand edit would. Each test uses its own keys, so
//! the tests can share one store. Failures panic with a message naming the broken promise.

use async_trait::async_trait;
use futures::future::join_all;
use jiff::Timestamp;

use crate::baseline::{Baseline, BaselineSource};
use crate::key::BaselineKey;
use crate::model::{Benchmark, Direction, Fingerprint, Metric, Run, RunId, Unit};
use crate::store::{PutMode, RunQuery, Store, StoreError, update_baseline};

/// Lets the suite damage what a store holds, through the backend's own layout.
#[async_trait]
pub trait Tamper: Send + Sync {
    /// Replaces the stored bytes of `run` (already appended) with `bytes`.
    async fn replace_run_bytes(&self, run: &Run, bytes: &[u8]);
    /// Replaces the stored bytes of the baseline of `key` (already written) with `bytes`.
    async fn replace_baseline_bytes(&self, key: &BaselineKey, bytes: &[u8]);
}

/// Runs every test of the suite, in order.
pub async fn run_all(store: &dyn Store, tamper: &dyn Tamper) {
    run_round_trip(store).await;
    list_order_limits_and_time(store).await;
    not_found(store).await;
    run_is_never_overwritten(store).await;
    batch_delete(store).await;
    baseline_preconditions(store).await;
    baseline_race(store, 8, 10).await;
    concurrent_appenders(store, 24).await;
    hostile_names(store).await;
    corrupt_documents(store, tamper).await;
}

/// A key for test `test`.
fn key(branch: &str) -> BaselineKey {
    BaselineKey::new(branch, "conformance-os-arch").expect("valid test key")
}

/// A run of `key` started `millis` after a fixed epoch, with one benchmark of `samples`.
#[must_use]
pub fn sample_run(key: &BaselineKey, millis: i64, entropy: u64, samples: &[f64]) -> Run {
    let at = Timestamp::from_millisecond(1_790_000_000_000 + millis).expect("in range");
    let mut run = Run::new(
        RunId::new(at, entropy),
        at,
        key.clone(),
        Fingerprint {
            os: "conformance-os".into(),
            arch: "arch".into(),
            ..Fingerprint::default()
        },
    );
    run.labels.insert("suite".into(), "conformance".into());
    run.benchmarks.push(Benchmark {
        params: std::collections::BTreeMap::new(),
        name: "bench".into(),
        command: Some(vec!["true".into()]),
        metrics: vec![Metric {
            name: "wall_time".into(),
            unit: Unit::nanoseconds(),
            direction: Direction::LowerIsBetter,
            samples: samples.to_vec(),
            summary: None,
        }],
    });
    run
}

/// A run of `benchmarks` benchmarks, each with 30 wall-time samples around 1 ms (2% spread),
/// started `millis` after 2023-11-14: realistic documents for store benchmarks.
#[must_use]
pub fn synthetic_run(key: &BaselineKey, benchmarks: usize, millis: i64, seed: u64) -> Run {
    let at = Timestamp::from_millisecond(1_700_000_000_000 + millis).expect("in range");
    let mut run = Run::new(
        RunId::new(at, seed),
        at,
        key.clone(),
        Fingerprint::default(),
    );
    let mut rng = crate::stats::Rng::seed_from_u64(seed);
    for b in 0..benchmarks {
        run.benchmarks.push(Benchmark {
            params: std::collections::BTreeMap::new(),
            name: format!("suite/bench{b}"),
            command: None,
            metrics: vec![Metric {
                name: "wall_time".into(),
                unit: Unit::nanoseconds(),
                direction: Direction::LowerIsBetter,
                samples: (0..30)
                    .map(|_| (1e6 * (1.0 + 0.02 * rng.unit_f64())).round())
                    .collect(),
                summary: None,
            }],
        });
    }
    run
}

fn baseline_of(key: &BaselineKey, runs: &[Run]) -> Baseline {
    Baseline::from_runs(key.clone(), runs, Timestamp::UNIX_EPOCH).expect("runs pool")
}

/// Appended runs and written baselines read back equal, including every sample bit for bit.
pub async fn run_round_trip(store: &dyn Store) {
    let k = key("round-trip");
    let run = sample_run(&k, 0, 1, &[1.5, 2.25, 1e-300, 123_456_789_012.0]);
    store.append_run(&run).await.expect("append_run");
    let back = store.get_run(&run.id).await.expect("get_run");
    assert_eq!(back, run, "run read back differs from the one appended");

    let baseline = baseline_of(&k, &[run]);
    store
        .put_baseline(&baseline, PutMode::Create)
        .await
        .expect("put_baseline create");
    let read = store.get_baseline(&k).await.expect("get_baseline");
    assert_eq!(read.value, baseline, "baseline read back differs");
}

/// Listing is newest first, honours limits, keys and time windows.
pub async fn list_order_limits_and_time(store: &dyn Store) {
    let k = key("listing");
    let other = key("listing-other");
    let mut ids = Vec::new();
    // Append out of order on purpose.
    for millis in [3000, 1000, 5000, 2000, 4000] {
        let run = sample_run(&k, millis, 7, &[1.0]);
        store.append_run(&run).await.expect("append_run");
        ids.push((millis, run.id));
    }
    store
        .append_run(&sample_run(&other, 9000, 7, &[1.0]))
        .await
        .expect("append_run other key");
    ids.sort();
    let newest_first: Vec<RunId> = ids.iter().rev().map(|(_, id)| id.clone()).collect();

    let all = store
        .list_runs(&RunQuery {
            key: Some(k.clone()),
            ..RunQuery::default()
        })
        .await
        .expect("list_runs");
    let got: Vec<RunId> = all.iter().map(|r| r.id.clone()).collect();
    assert_eq!(
        got, newest_first,
        "list_runs must return newest first, only this key"
    );

    let two = store
        .list_runs(&RunQuery::latest(k.clone(), 2))
        .await
        .expect("list_runs limit");
    let got: Vec<RunId> = two.iter().map(|r| r.id.clone()).collect();
    assert_eq!(got, newest_first[..2], "limit must keep the newest");

    let window = store
        .list_runs(&RunQuery {
            key: Some(k.clone()),
            since: Some(ids[1].1.timestamp()),
            until: Some(ids[3].1.timestamp()),
            limit: None,
        })
        .await
        .expect("list_runs window");
    let got: Vec<RunId> = window.iter().map(|r| r.id.clone()).collect();
    assert_eq!(
        got,
        vec![ids[2].1.clone(), ids[1].1.clone()],
        "since is inclusive, until exclusive"
    );

    let everything = store
        .list_runs(&RunQuery::default())
        .await
        .expect("list_runs all keys");
    assert!(
        everything.len() >= 6,
        "listing every key must include both keys' runs"
    );
    assert!(
        everything.windows(2).all(|w| w[0].id >= w[1].id),
        "listing every key must be newest first"
    );
}

/// Reading what is not there is `NotFound`, never an empty value.
pub async fn not_found(store: &dyn Store) {
    let missing = sample_run(&key("missing"), 1, 99, &[1.0]);
    assert!(
        matches!(
            store.get_run(&missing.id).await,
            Err(StoreError::NotFound { .. })
        ),
        "get_run of an unknown id must be NotFound"
    );
    assert!(
        matches!(
            store.get_baseline(&key("missing")).await,
            Err(StoreError::NotFound { .. })
        ),
        "get_baseline of an unknown key must be NotFound"
    );
    assert!(
        matches!(
            store.delete_run(&missing.id).await,
            Err(StoreError::NotFound { .. })
        ),
        "delete_run of an unknown id must be NotFound"
    );
    let none = store
        .list_runs(&RunQuery::latest(key("missing"), 10))
        .await
        .expect("list_runs of an unknown key");
    assert!(none.is_empty(), "an unknown key has no runs");
}

/// A run id is written once: a second append with that id fails and keeps the first.
pub async fn run_is_never_overwritten(store: &dyn Store) {
    let k = key("create-twice");
    let first = sample_run(&k, 0, 3, &[1.0]);
    store.append_run(&first).await.expect("append_run");
    let mut second = first.clone();
    second.benchmarks[0].metrics[0].samples = vec![999.0];
    assert!(
        matches!(
            store.append_run(&second).await,
            Err(StoreError::AlreadyExists { .. })
        ),
        "appending an existing id must be AlreadyExists"
    );
    assert_eq!(
        store.get_run(&first.id).await.expect("get_run"),
        first,
        "the first run must survive"
    );
    store.delete_run(&first.id).await.expect("delete_run");
    assert!(matches!(
        store.get_run(&first.id).await,
        Err(StoreError::NotFound { .. })
    ));
}

/// Deleting several runs at once removes exactly those that exist and counts them.
pub async fn batch_delete(store: &dyn Store) {
    let k = key("batch-delete");
    let runs: Vec<Run> = (0..5u64)
        .map(|i| sample_run(&k, i64::try_from(i * 10).expect("small"), 900 + i, &[1.0]))
        .collect();
    for run in &runs {
        store.append_run(run).await.expect("append_run");
    }
    let missing = sample_run(&k, 999, 999, &[1.0]).id;
    let doomed = vec![runs[0].id.clone(), runs[2].id.clone(), missing];
    assert_eq!(
        store.delete_runs(&doomed).await.expect("delete_runs"),
        2,
        "two of the three ids existed"
    );
    let left: Vec<RunId> = store
        .list_runs(&RunQuery::latest(k.clone(), 10))
        .await
        .expect("list_runs")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        left,
        vec![runs[4].id.clone(), runs[3].id.clone(), runs[1].id.clone()]
    );
    assert_eq!(store.delete_runs(&[]).await.expect("empty delete"), 0);
}

/// Create-only and update-if-version-matches writes behave as compare-and-swap.
pub async fn baseline_preconditions(store: &dyn Store) {
    let k = key("preconditions");
    let r1 = sample_run(&k, 0, 1, &[1.0]);
    let r2 = sample_run(&k, 1, 2, &[2.0]);
    let v1 = store
        .put_baseline(&baseline_of(&k, std::slice::from_ref(&r1)), PutMode::Create)
        .await
        .expect("create");
    assert!(
        matches!(
            store
                .put_baseline(&baseline_of(&k, std::slice::from_ref(&r2)), PutMode::Create)
                .await,
            Err(StoreError::AlreadyExists { .. })
        ),
        "a second create must be AlreadyExists"
    );
    let v2 = store
        .put_baseline(
            &baseline_of(&k, &[r1.clone(), r2.clone()]),
            PutMode::Update(v1.clone()),
        )
        .await
        .expect("update with the current version");
    assert_ne!(v1, v2, "an update must produce a new version");
    let stale = store
        .put_baseline(
            &baseline_of(&k, std::slice::from_ref(&r1)),
            PutMode::Update(v1),
        )
        .await;
    assert!(
        matches!(stale, Err(StoreError::Precondition { .. })),
        "an update with a stale version must be Precondition, got {stale:?}"
    );
    let current = store.get_baseline(&k).await.expect("get_baseline");
    assert_eq!(current.version, v2);
    assert_eq!(
        current.value.sources.len(),
        2,
        "the stale write must not have landed"
    );

    let listed = store.list_baselines().await.expect("list_baselines");
    assert!(
        listed.iter().any(|b| b.value.key == k),
        "list_baselines must include the key"
    );

    store.delete_baseline(&k).await.expect("delete_baseline");
    assert!(matches!(
        store.get_baseline(&k).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.delete_baseline(&k).await,
        Err(StoreError::NotFound { .. })
    ));
}

/// `tasks` writers each add `updates` sources to one baseline through the optimistic loop:
/// every single update must be in the final value.
pub async fn baseline_race(store: &dyn Store, tasks: usize, updates: usize) {
    let k = key("race");
    let writers = (0..tasks).map(|task| {
        let k = k.clone();
        async move {
            for update in 0..updates {
                let millis = i64::try_from(task * 1000 + update).expect("small");
                let run = sample_run(&k, millis, task as u64, &[1.0]);
                update_baseline(store, &k, 1000, |current| {
                    let mut next = current.unwrap_or_else(|| {
                        let mut empty = baseline_of(&k, std::slice::from_ref(&run));
                        empty.sources.clear();
                        empty
                    });
                    next.sources.push(BaselineSource {
                        run: run.id.clone(),
                        timestamp: run.timestamp,
                        commit: None,
                    });
                    Ok(next)
                })
                .await
                .expect("update_baseline under contention");
            }
        }
    });
    join_all(writers).await;
    let final_value = store.get_baseline(&k).await.expect("get_baseline").value;
    let mut ids: Vec<_> = final_value.sources.iter().map(|s| s.run.clone()).collect();
    assert_eq!(ids.len(), tasks * updates, "an optimistic update was lost");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), tasks * updates, "an update was applied twice");
}

/// `writers` concurrent appends of distinct runs: all present, none duplicated.
pub async fn concurrent_appenders(store: &dyn Store, writers: usize) {
    let k = key("appenders");
    let runs: Vec<Run> = (0..writers)
        .map(|i| sample_run(&k, 42, 1000 + i as u64, &[i as f64]))
        .collect();
    let results = join_all(runs.iter().map(|r| store.append_run(r))).await;
    for result in results {
        result.expect("concurrent append_run");
    }
    let listed = store
        .list_runs(&RunQuery {
            key: Some(k),
            ..RunQuery::default()
        })
        .await
        .expect("list_runs");
    assert_eq!(
        listed.len(),
        writers,
        "a concurrently appended run was lost or duplicated"
    );
    for run in &runs {
        assert!(listed.contains(run), "run {} missing or altered", run.id);
    }
}

/// Keys and benchmark names with path tricks, unicode and great length round-trip and stay
/// separate from each other.
pub async fn hostile_names(store: &dyn Store) {
    let long = "ñ".repeat(512); // 1 KiB of UTF-8
    let names = [
        "../x",
        "/",
        "..",
        "a/../../b",
        "ünïcødé ✓",
        "con",
        "x\\y",
        long.as_str(),
        "Main",
        "main",
    ];
    for (i, name) in names.iter().enumerate() {
        let k = BaselineKey::new(*name, format!("plat/{name}")).expect("hostile but valid key");
        let mut run = sample_run(
            &k,
            i64::try_from(i).expect("small"),
            500 + i as u64,
            &[i as f64],
        );
        (*name).clone_into(&mut run.benchmarks[0].name);
        store
            .append_run(&run)
            .await
            .expect("append_run with a hostile key");
        store
            .put_baseline(
                &baseline_of(&k, std::slice::from_ref(&run)),
                PutMode::Create,
            )
            .await
            .expect("put_baseline with a hostile key");
    }
    for (i, name) in names.iter().enumerate() {
        let k = BaselineKey::new(*name, format!("plat/{name}")).expect("valid key");
        let runs = store
            .list_runs(&RunQuery::latest(k.clone(), 10))
            .await
            .expect("list_runs");
        assert_eq!(runs.len(), 1, "key {name:?} must hold exactly its own run");
        assert_eq!(runs[0].key, k);
        assert_eq!(runs[0].benchmarks[0].name, *name);
        assert_eq!(runs[0].benchmarks[0].metrics[0].samples, vec![i as f64]);
        let baseline = store.get_baseline(&k).await.expect("get_baseline").value;
        assert_eq!(
            baseline.key, k,
            "baseline of {name:?} read back under another key"
        );
    }
}

/// Corrupt, truncated and future-schema documents are reported as such, naming the object,
/// while everything else stays readable.
pub async fn corrupt_documents(store: &dyn Store, tamper: &dyn Tamper) {
    let k = key("corrupt");
    let healthy_key = key("corrupt-neighbour");
    let damaged = sample_run(&k, 0, 801, &[1.0]);
    let healthy = sample_run(&healthy_key, 0, 802, &[1.0]);
    store.append_run(&damaged).await.expect("append_run");
    store.append_run(&healthy).await.expect("append_run");
    store
        .put_baseline(
            &baseline_of(&k, std::slice::from_ref(&damaged)),
            PutMode::Create,
        )
        .await
        .expect("put_baseline");

    let good_bytes = crate::store::encode_run(&damaged);
    tamper
        .replace_run_bytes(&damaged, &good_bytes[..good_bytes.len() / 2])
        .await;
    match store.get_run(&damaged.id).await {
        Err(StoreError::Corrupt { what, .. }) => assert!(
            what.contains(damaged.id.as_str()),
            "a Corrupt error must name the run, got {what:?}"
        ),
        other => panic!("a truncated run must read as Corrupt, got {other:?}"),
    }
    assert!(
        matches!(
            store.list_runs(&RunQuery::latest(k.clone(), 10)).await,
            Err(StoreError::Corrupt { .. })
        ),
        "listing a key with a corrupt run must fail, not skip it silently"
    );
    // scan_runs shows what it can, and names what it could not read.
    let sibling = sample_run(&k, 5, 803, &[2.0]);
    store.append_run(&sibling).await.expect("append_run");
    let scan = store
        .scan_runs(&RunQuery::latest(k.clone(), 10))
        .await
        .expect("scan_runs sets a corrupt run aside");
    assert_eq!(scan.runs, vec![sibling], "the readable run of the key");
    assert_eq!(scan.unreadable.len(), 1, "the corrupt run is named");
    assert!(
        scan.unreadable[0].to_string().contains(damaged.id.as_str()),
        "{}",
        scan.unreadable[0]
    );
    assert_eq!(
        store
            .get_run(&healthy.id)
            .await
            .expect("a healthy run stays readable"),
        healthy
    );

    tamper
        .replace_baseline_bytes(&k, b"{\"schema\":{\"major\":1,\"minor\":0},\"ki")
        .await;
    match store.get_baseline(&k).await {
        Err(StoreError::Corrupt { what, detail }) => {
            assert!(
                what.contains("corrupt"),
                "a Corrupt error must name the baseline key: {what}"
            );
            assert!(
                detail.contains("truncated"),
                "detail should say truncated: {detail}"
            );
        }
        other => panic!("a truncated baseline must read as Corrupt, got {other:?}"),
    }
    tamper
        .replace_baseline_bytes(
            &k,
            br#"{"schema":{"major":99,"minor":0},"kind":"baseline"}"#,
        )
        .await;
    assert!(
        matches!(
            store.get_baseline(&k).await,
            Err(StoreError::SchemaTooNew { .. })
        ),
        "a future-major baseline must be SchemaTooNew"
    );
    let mut future_run: serde_json::Value =
        serde_json::from_slice(&good_bytes).expect("encoded run is JSON");
    future_run["schema"]["major"] = 2.into();
    tamper
        .replace_run_bytes(&damaged, &serde_json::to_vec(&future_run).expect("json"))
        .await;
    assert!(
        matches!(
            store.get_run(&damaged.id).await,
            Err(StoreError::SchemaTooNew { .. })
        ),
        "a future-major run must be SchemaTooNew"
    );
}
