//! The shared store conformance suite, run against the file store, plus fs-specific checks.

use async_trait::async_trait;
use benchkeep_core::conformance::{self, Tamper};
use benchkeep_core::key::BaselineKey;
use benchkeep_core::model::Run;
use benchkeep_core::store::{RunQuery, Store, StoreError};
use benchkeep_store_fs::FsStore;

struct FsTamper(FsStore);

#[async_trait]
impl Tamper for FsTamper {
    async fn replace_run_bytes(&self, run: &Run, bytes: &[u8]) {
        std::fs::write(self.0.run_path(&run.key, &run.id), bytes).expect("tamper with run");
    }
    async fn replace_baseline_bytes(&self, key: &BaselineKey, bytes: &[u8]) {
        std::fs::write(self.0.baseline_path(key), bytes).expect("tamper with baseline");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fs_store_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open_or_create(dir.path().join("store")).unwrap();
    conformance::run_all(&store, &FsTamper(store.clone())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_keys_never_leave_the_store_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let store = FsStore::open_or_create(&root).unwrap();
    conformance::hostile_names(&store).await;
    // Every file written lives under the root, at most two levels below runs/ or baselines/.
    let outside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside, vec![std::ffi::OsString::from("store")]);
    for entry in walk(&root) {
        let relative = entry.strip_prefix(&root).unwrap();
        assert!(relative.components().count() <= 3, "{}", relative.display());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

#[tokio::test]
async fn a_missing_directory_is_not_found_when_opened_without_create() {
    let dir = tempfile::tempdir().unwrap();
    let err = FsStore::open(dir.path().join("nope")).unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("nope"), "{err}");
}

#[tokio::test]
async fn a_store_written_by_a_newer_major_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("FORMAT"),
        r#"{"store":"benchkeep-fs","schema":{"major":7,"minor":0}}"#,
    )
    .unwrap();
    let err = FsStore::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::SchemaTooNew { .. }), "{err}");
    assert!(err.to_string().contains("FORMAT"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stray_files_are_not_runs_and_temporaries_are_invisible() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open_or_create(dir.path()).unwrap();
    let key = BaselineKey::new("main", "linux").unwrap();
    let run = conformance::sample_run(&key, 0, 1, &[1.0]);
    store.append_run(&run).await.unwrap();
    let run_dir = store.run_path(&key, &run.id).parent().unwrap().to_owned();
    std::fs::write(run_dir.join("notes.txt"), "hello").unwrap();
    std::fs::write(run_dir.join("README.json"), "{}").unwrap();
    std::fs::write(dir.path().join("tmp").join(".tmpXYZ"), "half a run").unwrap();
    let runs = store.list_runs(&RunQuery::latest(key, 10)).await.unwrap();
    assert_eq!(runs, vec![run]);
}

#[test]
fn abandoned_temporaries_are_swept_when_the_store_opens() {
    let dir = tempfile::tempdir().unwrap();
    FsStore::open_or_create(dir.path()).unwrap();
    let tmp = dir.path().join("tmp");
    let old = tmp.join(".tmpOLD");
    let fresh = tmp.join(".tmpNEW");
    std::fs::write(&old, "half a run from a killed writer").unwrap();
    std::fs::write(&fresh, "a write in progress").unwrap();
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(two_hours_ago)
        .unwrap();
    FsStore::open_or_create(dir.path()).unwrap();
    assert!(!old.exists(), "an abandoned temporary survived");
    assert!(
        fresh.exists(),
        "a fresh temporary (a write in progress) was removed"
    );
}
