//! benchkeep-store-fs: the local directory store, benchkeep's embedded default (`.benchkeep/`).
//!
//! # Layout
//!
//! ```text
//! .benchkeep/
//!   FORMAT                            {"store":"benchkeep-fs","schema":{"major":1,"minor":0}}
//!   runs/<key storage name>/<run id>.json
//!   baselines/<key storage name>.json
//!   locks/<key storage name>.lock     advisory locks for baseline compare-and-swap
//!   tmp/                              temporary files, renamed into place
//! ```
//!
//! Key storage names come from [`BaselineKey::storage_name`], so hostile branch names cannot
//! leave the directory. Run ids sort by time, so the newest runs of a key are found from file
//! names alone.
//!
//! # Guarantees
//!
//! - Every write is a temporary file, `fsync`, then an atomic rename (and an `fsync` of the
//!   directory): readers see the old document or the new one, never half of one, and a crash
//!   leaves the store as it was.
//! - Runs are create-only (`link`-based no-clobber persist).
//! - Baselines are compare-and-swap: the check and the write happen under an exclusive OS file
//!   lock, which the kernel releases if the process dies, so a killed writer cannot wedge the store.
//!
//! The store runs its blocking I/O on tokio's blocking pool, so it needs a tokio runtime.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use benchkeep_core::{BaselineKey, RunQuery, Store};
//! use benchkeep_store_fs::FsStore;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = FsStore::open_or_create(dir.path().join(".benchkeep")).unwrap();
//! let key = BaselineKey::new("main", "linux-x86_64").unwrap();
//! let runs = store.list_runs(&RunQuery::latest(key, 10)).await.unwrap();
//! assert!(runs.is_empty());
//! # });
//! ```
#![deny(missing_docs)]

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use benchkeep_core::baseline::Baseline;
use benchkeep_core::key::BaselineKey;
use benchkeep_core::model::{Run, RunId};
use benchkeep_core::schema::{self, SchemaVersion};
use benchkeep_core::store::{
    self as core_store, PutMode, RunQuery, RunScan, Store, StoreError, Version, Versioned,
};
use serde::{Deserialize, Serialize};

/// The name of the layout marker file at the store's root.
pub const FORMAT_FILE: &str = "FORMAT";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FormatMarker {
    store: String,
    schema: SchemaVersion,
}

/// A store in a local directory.
#[derive(Debug, Clone)]
pub struct FsStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
}

impl FsStore {
    /// Opens an existing store directory. A missing directory is an error (use
    /// [`FsStore::open_or_create`] for the default store).
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = absolute(root.into());
        match fs::metadata(&root) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(backend_error(
                    &root,
                    "open the store",
                    io::Error::other(format!("{} is not a directory", root.display())),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound {
                    what: format!("store directory {}", root.display()),
                });
            }
            Err(e) => return Err(backend_error(&root, "open the store", e)),
        }
        let store = FsStore {
            inner: Arc::new(Inner { root }),
        };
        store.inner.check_format()?;
        Ok(store)
    }

    /// Opens a store directory, creating it (and its parents) when missing.
    pub fn open_or_create(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = absolute(root.into());
        fs::create_dir_all(&root)
            .map_err(|e| backend_error(&root, "create the store directory", e))?;
        let store = FsStore::open(root)?;
        store.inner.ensure_layout()?;
        store.inner.sweep_abandoned_temporaries();
        Ok(store)
    }

    /// The store's root directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Where the run `id` of `key` is (or would be) stored.
    #[must_use]
    pub fn run_path(&self, key: &BaselineKey, id: &RunId) -> PathBuf {
        self.inner.run_path(key, id)
    }

    /// Where the baseline of `key` is (or would be) stored.
    #[must_use]
    pub fn baseline_path(&self, key: &BaselineKey) -> PathBuf {
        self.inner.baseline_path(key)
    }

    async fn blocking<T, F>(&self, operation: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || operation(&inner))
            .await
            .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
    }
}

fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

fn backend_error(root: &Path, operation: &str, error: io::Error) -> StoreError {
    let transient = matches!(
        error.kind(),
        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    );
    StoreError::Backend {
        store: format!("file://{}", root.display()),
        operation: operation.to_owned(),
        transient,
        source: Box::new(error),
    }
}

fn invalid_key(error: &benchkeep_core::key::InvalidKey) -> StoreError {
    StoreError::InvalidKey {
        detail: error.to_string(),
    }
}

impl Inner {
    fn runs_dir(&self) -> PathBuf {
        self.root.join("runs")
    }

    fn run_path(&self, key: &BaselineKey, id: &RunId) -> PathBuf {
        self.runs_dir()
            .join(key.storage_name())
            .join(format!("{id}.json"))
    }

    fn baseline_path(&self, key: &BaselineKey) -> PathBuf {
        self.root
            .join("baselines")
            .join(format!("{}.json", key.storage_name()))
    }

    fn lock_path(&self, key: &BaselineKey) -> PathBuf {
        self.root
            .join("locks")
            .join(format!("{}.lock", key.storage_name()))
    }

    fn err(&self, operation: &str, error: io::Error) -> StoreError {
        backend_error(&self.root, operation, error)
    }

    fn check_format(&self) -> Result<(), StoreError> {
        let path = self.root.join(FORMAT_FILE);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            // A directory without a marker is a store that has never been written to.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(self.err("read the store format marker", e)),
        };
        let what = format!("store format marker {}", path.display());
        let marker: FormatMarker =
            serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                what: what.clone(),
                detail: e.to_string(),
            })?;
        marker
            .schema
            .check_readable_by(schema::CURRENT)
            .map_err(|reason| match reason {
                schema::Unreadable::TooOld { .. } => StoreError::SchemaTooOld { what, reason },
                _ => StoreError::SchemaTooNew { what, reason },
            })
    }

    /// Removes temporary files left by writers killed before their rename. A write takes
    /// milliseconds, so a temporary older than an hour belongs to nobody. Best effort: a failure
    /// here must not stop the store from opening.
    fn sweep_abandoned_temporaries(&self) {
        let Ok(entries) = fs::read_dir(self.root.join("tmp")) else {
            return;
        };
        for entry in entries.flatten() {
            let abandoned = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(3600));
            if abandoned {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    fn ensure_layout(&self) -> Result<(), StoreError> {
        for dir in ["runs", "baselines", "locks", "tmp"] {
            let path = self.root.join(dir);
            fs::create_dir_all(&path).map_err(|e| self.err("create the store layout", e))?;
        }
        let marker = self.root.join(FORMAT_FILE);
        if !marker.exists() {
            let mut bytes = serde_json::to_vec(&FormatMarker {
                store: "benchkeep-fs".into(),
                schema: schema::CURRENT,
            })
            .expect("the marker serialises");
            bytes.push(b'\n');
            // Two processes may race to create the marker; both write the same bytes, and
            // no-clobber persistence makes the loser's attempt a harmless AlreadyExists.
            match self.write_atomically(&marker, &bytes, false) {
                Ok(()) | Err(StoreError::AlreadyExists { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes `bytes` to `path` via a temporary file, `fsync` and rename. With `replace` false
    /// the write fails with `AlreadyExists` instead of replacing an existing file.
    fn write_atomically(&self, path: &Path, bytes: &[u8], replace: bool) -> Result<(), StoreError> {
        let tmp_dir = self.root.join("tmp");
        fs::create_dir_all(&tmp_dir).map_err(|e| self.err("create the tmp directory", e))?;
        let parent = path.parent().expect("store paths have a parent");
        fs::create_dir_all(parent).map_err(|e| self.err("create a store directory", e))?;
        let mut tmp = tempfile::NamedTempFile::new_in(&tmp_dir)
            .map_err(|e| self.err("create a temporary file", e))?;
        tmp.write_all(bytes)
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| self.err(&format!("write {}", path.display()), e))?;
        let persisted = if replace {
            tmp.persist(path).map(drop)
        } else {
            tmp.persist_noclobber(path).map(drop)
        };
        match persisted {
            Ok(()) => {}
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
                return Err(StoreError::AlreadyExists {
                    what: path.display().to_string(),
                });
            }
            Err(e) => return Err(self.err(&format!("write {}", path.display()), e.error)),
        }
        // Make the rename itself durable.
        File::open(parent)
            .and_then(|dir| dir.sync_all())
            .map_err(|e| self.err(&format!("sync {}", parent.display()), e))
    }

    fn read_optional(&self, path: &Path, operation: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.err(operation, e)),
        }
    }

    fn read_dir_names(&self, dir: &Path) -> Result<Vec<String>, StoreError> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.err(&format!("list {}", dir.display()), e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| self.err(&format!("list {}", dir.display()), e))?;
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn append_run(&self, run: &Run, bytes: &[u8]) -> Result<(), StoreError> {
        self.ensure_layout()?;
        let path = self.run_path(&run.key, &run.id);
        self.write_atomically(&path, bytes, false)
            .map_err(|e| match e {
                StoreError::AlreadyExists { .. } => StoreError::AlreadyExists {
                    what: format!("run {}", run.id),
                },
                other => other,
            })
    }

    fn find_run(&self, id: &RunId) -> Result<Option<PathBuf>, StoreError> {
        let file = format!("{id}.json");
        for key_dir in self.read_dir_names(&self.runs_dir())? {
            let candidate = self.runs_dir().join(key_dir).join(&file);
            if candidate.is_file() {
                return Ok(Some(candidate));
            }
        }
        Ok(None)
    }

    fn read_run(&self, path: &Path, id: &RunId) -> Result<Run, StoreError> {
        let what = format!("run {id} ({})", path.display());
        let bytes = self
            .read_optional(path, &format!("read {}", path.display()))?
            .ok_or_else(|| StoreError::NotFound { what: what.clone() })?;
        core_store::decode_run(&bytes, &what)
    }

    fn get_run(&self, id: &RunId) -> Result<Run, StoreError> {
        let path = self.find_run(id)?.ok_or_else(|| StoreError::NotFound {
            what: format!("run {id}"),
        })?;
        self.read_run(&path, id)
    }

    fn list_runs(&self, query: &RunQuery, lenient: bool) -> Result<RunScan, StoreError> {
        let key_dirs = match &query.key {
            Some(key) => {
                key.validate().map_err(|e| invalid_key(&e))?;
                vec![key.storage_name()]
            }
            None => self.read_dir_names(&self.runs_dir())?,
        };
        let mut found: Vec<(RunId, PathBuf)> = Vec::new();
        for key_dir in key_dirs {
            let dir = self.runs_dir().join(key_dir);
            for name in self.read_dir_names(&dir)? {
                // Anything that is not `<run id>.json` (editor backups, stray files) is not a run.
                let Some(id) = name
                    .strip_suffix(".json")
                    .and_then(|s| s.parse::<RunId>().ok())
                else {
                    continue;
                };
                if query.admits_time_of(&id) {
                    let path = dir.join(&name);
                    found.push((id, path));
                }
            }
        }
        found.sort_by(|a, b| b.0.cmp(&a.0));
        if let Some(limit) = query.limit {
            found.truncate(limit);
        }
        let mut scan = RunScan::default();
        for (id, path) in &found {
            scan.add(id, self.read_run(path, id), lenient)?;
        }
        Ok(scan)
    }

    fn delete_run(&self, id: &RunId) -> Result<(), StoreError> {
        let path = self.find_run(id)?.ok_or_else(|| StoreError::NotFound {
            what: format!("run {id}"),
        })?;
        fs::remove_file(&path).map_err(|e| self.err(&format!("delete {}", path.display()), e))
    }

    fn read_baseline(&self, key: &BaselineKey) -> Result<Option<Versioned<Baseline>>, StoreError> {
        key.validate().map_err(|e| invalid_key(&e))?;
        let path = self.baseline_path(key);
        let Some(bytes) = self.read_optional(&path, &format!("read {}", path.display()))? else {
            return Ok(None);
        };
        let what = format!("baseline {key} ({})", path.display());
        let version = core_store::content_version(&bytes);
        Ok(Some(core_store::decode_baseline_for(
            key, &bytes, &what, version,
        )?))
    }

    /// Runs `f` while holding the exclusive lock of `key`'s baseline.
    fn with_lock<T>(
        &self,
        key: &BaselineKey,
        f: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let path = self.lock_path(key);
        fs::create_dir_all(path.parent().expect("lock paths have a parent"))
            .map_err(|e| self.err("create the locks directory", e))?;
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| self.err(&format!("open {}", path.display()), e))?;
        lock.lock()
            .map_err(|e| self.err(&format!("lock {}", path.display()), e))?;
        let result = f();
        // Dropping the file releases the lock; an explicit unlock reports nothing useful.
        drop(lock);
        result
    }

    fn put_baseline(
        &self,
        baseline: &Baseline,
        mode: &PutMode,
        bytes: &[u8],
    ) -> Result<Version, StoreError> {
        let key = &baseline.key;
        key.validate().map_err(|e| invalid_key(&e))?;
        self.ensure_layout()?;
        self.with_lock(key, || {
            let path = self.baseline_path(key);
            let current = self.read_optional(&path, &format!("read {}", path.display()))?;
            let what = format!("baseline {key}");
            match (mode, current) {
                (PutMode::Create, Some(_)) => return Err(StoreError::AlreadyExists { what }),
                (PutMode::Update(_), None) => return Err(StoreError::NotFound { what }),
                (PutMode::Update(expected), Some(bytes)) => {
                    if &core_store::content_version(&bytes) != expected {
                        return Err(StoreError::Precondition {
                            what,
                            expected: expected.to_string(),
                        });
                    }
                }
                (PutMode::Create, None) => {}
            }
            self.write_atomically(&path, bytes, true)?;
            Ok(core_store::content_version(bytes))
        })
    }

    fn delete_baseline(&self, key: &BaselineKey) -> Result<(), StoreError> {
        key.validate().map_err(|e| invalid_key(&e))?;
        self.with_lock(key, || {
            let path = self.baseline_path(key);
            match fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::NotFound {
                    what: format!("baseline {key}"),
                }),
                Err(e) => Err(self.err(&format!("delete {}", path.display()), e)),
            }
        })
    }

    fn list_baselines(&self) -> Result<Vec<Versioned<Baseline>>, StoreError> {
        let dir = self.root.join("baselines");
        let mut baselines = Vec::new();
        for name in self.read_dir_names(&dir)? {
            let path = dir.join(&name);
            // Lock files and editor backups live elsewhere or end differently; only `.json` counts.
            if path.extension().is_none_or(|ext| ext != "json") {
                continue;
            }
            let Some(bytes) = self.read_optional(&path, &format!("read {}", path.display()))?
            else {
                continue; // deleted while listing
            };
            let what = format!("baseline file {}", path.display());
            let value = core_store::decode_baseline(&bytes, &what)?;
            if format!("{}.json", value.key.storage_name()) != name {
                return Err(StoreError::Corrupt {
                    what,
                    detail: format!("the file holds the baseline of {}", value.key),
                });
            }
            baselines.push(Versioned {
                value,
                version: core_store::content_version(&bytes),
            });
        }
        baselines.sort_by(|a, b| a.value.key.cmp(&b.value.key));
        Ok(baselines)
    }
}

#[async_trait]
impl Store for FsStore {
    fn location(&self) -> String {
        format!("file://{}", self.inner.root.display())
    }

    async fn append_run(&self, run: &Run) -> Result<(), StoreError> {
        run.key.validate().map_err(|e| invalid_key(&e))?;
        let bytes = core_store::encode_run(run);
        let run = run.clone();
        self.blocking(move |inner| inner.append_run(&run, &bytes))
            .await
    }

    async fn get_run(&self, id: &RunId) -> Result<Run, StoreError> {
        let id = id.clone();
        self.blocking(move |inner| inner.get_run(&id)).await
    }

    async fn list_runs(&self, query: &RunQuery) -> Result<Vec<Run>, StoreError> {
        let query = query.clone();
        self.blocking(move |inner| inner.list_runs(&query, false).map(|scan| scan.runs))
            .await
    }

    async fn scan_runs(&self, query: &RunQuery) -> Result<RunScan, StoreError> {
        let query = query.clone();
        self.blocking(move |inner| inner.list_runs(&query, true))
            .await
    }

    async fn delete_run(&self, id: &RunId) -> Result<(), StoreError> {
        let id = id.clone();
        self.blocking(move |inner| inner.delete_run(&id)).await
    }

    async fn delete_runs(&self, ids: &[RunId]) -> Result<usize, StoreError> {
        let ids = ids.to_vec();
        self.blocking(move |inner| {
            let mut deleted = 0;
            for id in &ids {
                match inner.delete_run(id) {
                    Ok(()) => deleted += 1,
                    Err(StoreError::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(deleted)
        })
        .await
    }

    async fn get_baseline(&self, key: &BaselineKey) -> Result<Versioned<Baseline>, StoreError> {
        let key = key.clone();
        self.blocking(move |inner| {
            inner
                .read_baseline(&key)?
                .ok_or_else(|| StoreError::NotFound {
                    what: format!("baseline {key}"),
                })
        })
        .await
    }

    async fn put_baseline(
        &self,
        baseline: &Baseline,
        mode: PutMode,
    ) -> Result<Version, StoreError> {
        let bytes = core_store::encode_baseline(baseline);
        let baseline = baseline.clone();
        self.blocking(move |inner| inner.put_baseline(&baseline, &mode, &bytes))
            .await
    }

    async fn delete_baseline(&self, key: &BaselineKey) -> Result<(), StoreError> {
        let key = key.clone();
        self.blocking(move |inner| inner.delete_baseline(&key))
            .await
    }

    async fn list_baselines(&self) -> Result<Vec<Versioned<Baseline>>, StoreError> {
        self.blocking(Inner::list_baselines).await
    }
}
