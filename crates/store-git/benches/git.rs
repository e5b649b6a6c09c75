//! The git store's targets: recording into a branch of 10,000 runs, reading the last 50 runs of a
//! key, and the packed size of a run. Run with `cargo bench -p benchkeep-store-git --bench git`.

use std::process::Command;
use std::time::Instant;

use benchkeep_core::conformance::synthetic_run;
use benchkeep_core::key::BaselineKey;
use benchkeep_core::stats;
use benchkeep_core::store::{RunQuery, Store, encode_run};
use benchkeep_store_git::{GitOptions, GitStore};

/// A branch holding `count` runs of 5 benchmarks (100 a day), built in one commit with git2 so
/// that setting up 10,000 runs takes seconds, not 10,000 commits.
fn seed_branch(repo_dir: &std::path::Path, key: &BaselineKey, count: usize) {
    let repo = git2::Repository::open(repo_dir).unwrap();
    let mut days: std::collections::BTreeMap<String, git2::TreeBuilder<'_>> =
        std::collections::BTreeMap::new();
    for i in 0..count {
        let run = synthetic_run(key, 5, i64::try_from(i).unwrap() * 864_000, i as u64);
        let path = GitStore::run_path(key, &run.id);
        let day = path.split('/').nth(2).unwrap().to_owned();
        let blob = repo.blob(&encode_run(&run)).unwrap();
        let builder = days
            .entry(day)
            .or_insert_with(|| repo.treebuilder(None).unwrap());
        builder
            .insert(format!("{}.json", run.id), blob, 0o100_644)
            .unwrap();
    }
    let mut key_dir = repo.treebuilder(None).unwrap();
    for (day, builder) in days {
        key_dir
            .insert(day, builder.write().unwrap(), 0o040_000)
            .unwrap();
    }
    let mut runs = repo.treebuilder(None).unwrap();
    runs.insert(key.storage_name(), key_dir.write().unwrap(), 0o040_000)
        .unwrap();
    let mut root = repo.treebuilder(None).unwrap();
    root.insert("runs", runs.write().unwrap(), 0o040_000)
        .unwrap();
    let tree = repo.find_tree(root.write().unwrap()).unwrap();
    let sig = git2::Signature::now("bench", "bench@example.invalid").unwrap();
    let commit = repo.commit(None, &sig, &sig, "seed", &tree, &[]).unwrap();
    repo.reference("refs/heads/benchkeep-data", commit, true, "seed")
        .unwrap();
}

fn median_ms(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    stats::median_of_sorted(samples)
}

fn record_and_read(runtime: &tokio::runtime::Runtime, existing: usize) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    git2::Repository::init(dir.path()).unwrap();
    let key = BaselineKey::new("main", "linux-x86_64").unwrap();
    seed_branch(dir.path(), &key, existing);
    let store = GitStore::open(GitOptions::offline(dir.path())).unwrap();
    let mut record = Vec::new();
    for i in 0..15 {
        let run = synthetic_run(
            &key,
            100,
            10_000_000_000 + i * 1000,
            1_000_000 + i.unsigned_abs(),
        );
        let start = Instant::now();
        runtime.block_on(store.append_run(&run)).unwrap();
        record.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let mut read = Vec::new();
    for _ in 0..15 {
        let start = Instant::now();
        let runs = runtime
            .block_on(store.list_runs(&RunQuery::latest(key.clone(), 50)))
            .unwrap();
        read.push(start.elapsed().as_secs_f64() * 1e3);
        assert_eq!(runs.len(), 50);
    }
    (median_ms(&mut record), median_ms(&mut read))
}

fn packed_size_per_run(runtime: &tokio::runtime::Runtime) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    git2::Repository::init(dir.path()).unwrap();
    let key = BaselineKey::new("main", "linux-x86_64").unwrap();
    let store = GitStore::open(GitOptions::offline(dir.path())).unwrap();
    let count = 200;
    for i in 0..count {
        let run = synthetic_run(&key, 100, i * 3_600_000, 7 + i.unsigned_abs());
        runtime.block_on(store.append_run(&run)).unwrap();
    }
    let gc = Command::new("git")
        .args(["gc", "-q", "--aggressive", "--prune=now"])
        .current_dir(dir.path())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .unwrap();
    assert!(gc.success());
    let pack_bytes: u64 = std::fs::read_dir(dir.path().join(".git/objects/pack"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "pack"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    let raw = encode_run(&synthetic_run(&key, 100, 0, 1)).len();
    (
        pack_bytes as f64 / count as f64 / 1024.0,
        raw as f64 / 1024.0,
    )
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for existing in [1_000, 10_000] {
        let (record, read) = record_and_read(&runtime, existing);
        println!(
            "branch with {existing} runs: record a run of 100 benchmarks x 30 samples median {record:.1} ms (target < 300 ms); read the last 50 runs of a key median {read:.1} ms (target < 300 ms)"
        );
    }
    let (packed, raw) = packed_size_per_run(&runtime);
    println!(
        "size per run of 100 benchmarks x 30 samples: {packed:.1} KiB packed (git gc, 200 runs with history), {raw:.1} KiB as JSON (goal < 20 KB packed); per 10,000 runs: {:.0} MiB packed",
        packed * 10_000.0 / 1024.0
    );
}
