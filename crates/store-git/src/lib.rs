//! benchkeep-store-git: runs and baselines on an orphan branch of the team's own git repository.
//!
//! Selected with `--store git:` (branch `benchkeep-data`, remote `origin` if the repository has
//! one) or `git:BRANCH?remote=NAME&repo=PATH` (`remote=none` for offline use).
//!
//! # Layout of the branch
//!
//! ```text
//! README.md                                   what this branch is, for people browsing it
//! FORMAT                                      {"store":"benchkeep-git","schema":{"major":1,"minor":0}}
//! runs/<key storage name>/<YYYY-MM-DD>/<run id>.json
//! baselines/<key storage name>.json
//! ```
//!
//! One small file per run, in daily directories, so a write rewrites only a handful of small trees
//! however many runs the branch holds.
//!
//! # Guarantees
//!
//! - The user's HEAD, index, work tree and current branch are never touched: blobs, trees and
//!   commits are built in memory with git2, with an explicit signature (no git identity needed).
//! - Every write is a commit on the branch's tip, and the branch ref moves by compare-and-swap:
//!   only if it still points where the write started; otherwise the write is rebuilt on the new
//!   tip. Two processes on one clone never lose a run.
//! - With a remote, writes are pushed (never forced). When the push is rejected because another
//!   job pushed first, the new files are replayed on the remote tip and pushed again, with bounded,
//!   jittered backoff; history stays linear. Runs never conflict; a baseline changed on both sides
//!   is a [`StoreError::Precondition`] for the writer that lost, as with every store.
//! - If the remote cannot be reached, the write stays committed on the local branch and is pushed
//!   with the next write; the error says so.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use benchkeep_core::{BaselineKey, RunQuery, Store};
//! use benchkeep_store_git::{GitOptions, GitStore};
//!
//! let dir = tempfile::tempdir().unwrap();
//! git2::Repository::init(dir.path()).unwrap();
//! let store = GitStore::open(GitOptions::offline(dir.path())).unwrap();
//! let key = BaselineKey::new("main", "linux-x86_64").unwrap();
//! assert!(store.list_runs(&RunQuery::latest(key, 10)).await.unwrap().is_empty());
//! # });
//! ```
#![deny(missing_docs)]

mod sync;
mod tree;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use benchkeep_core::baseline::Baseline;
use benchkeep_core::key::BaselineKey;
use benchkeep_core::model::{Run, RunId};
use benchkeep_core::schema::{self, SchemaVersion};
use benchkeep_core::store::{
    self as core_store, PutMode, RunQuery, RunScan, Store, StoreError, Version, Versioned,
};
use git2::{Commit, ErrorCode, ObjectType, Oid, Repository, Signature, Time, Tree};
use serde::{Deserialize, Serialize};

use crate::sync::PushOutcome;
use crate::tree::Edit;

/// The default branch name.
pub const DEFAULT_BRANCH: &str = "benchkeep-data";

/// How to reach the data branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitOptions {
    /// The repository (a work tree, anywhere inside one, or a bare repository).
    pub repo: PathBuf,
    /// The data branch.
    pub branch: String,
    /// The remote to fetch from and push to; `None` keeps everything local.
    pub remote: Option<String>,
    /// Fetch before reading (default: whenever there is a remote).
    pub fetch_before_read: bool,
    /// Push attempts before giving up on a write (default 30: eight jobs writing at once each
    /// need a few rounds).
    pub push_attempts: u32,
}

impl GitOptions {
    /// The default branch in `repo`, with no remote.
    #[must_use]
    pub fn offline(repo: impl Into<PathBuf>) -> Self {
        GitOptions {
            repo: repo.into(),
            branch: DEFAULT_BRANCH.to_owned(),
            remote: None,
            fetch_before_read: false,
            push_attempts: 30,
        }
    }

    /// Parses the part of a store URL after `git:`: `[BRANCH][?remote=NAME&repo=PATH&fetch=BOOL]`.
    /// A relative `repo` is taken from `cwd`; without `remote`, `origin` is used if the
    /// repository has it; `remote=none` means offline.
    pub fn from_url(spec: &str, cwd: &Path) -> Result<Self, StoreError> {
        let invalid = |detail: String| StoreError::InvalidLocation { detail };
        let (branch, query) = spec.split_once('?').unwrap_or((spec, ""));
        let branch = if branch.is_empty() {
            DEFAULT_BRANCH
        } else {
            branch
        };
        if !git2::Reference::is_valid_name(&format!("refs/heads/{branch}")) {
            return Err(invalid(format!(
                "git:{spec}: {branch:?} is not a valid branch name"
            )));
        }
        let mut options = GitOptions::offline(cwd);
        branch.clone_into(&mut options.branch);
        let mut remote: Option<Option<String>> = None;
        let mut fetch = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "remote" => {
                    remote = Some((value != "none" && !value.is_empty()).then(|| value.to_owned()));
                }
                "repo" => options.repo = cwd.join(value),
                "fetch" => {
                    fetch = Some(match value {
                        "true" | "1" | "yes" => true,
                        "false" | "0" | "no" => false,
                        other => {
                            return Err(invalid(format!(
                                "git:{spec}: fetch={other:?} is not true or false"
                            )));
                        }
                    });
                }
                other => {
                    return Err(invalid(format!(
                        "git:{spec}: unknown option {other:?} (expected remote, repo or fetch)"
                    )));
                }
            }
        }
        let repo = discover(&options.repo)?;
        options.remote = match remote {
            Some(explicit) => explicit,
            None => repo.find_remote("origin").ok().map(|_| "origin".to_owned()),
        };
        if let Some(name) = &options.remote
            && repo.find_remote(name).is_err()
        {
            return Err(StoreError::NotFound {
                what: format!("remote {name:?} in {}", options.repo.display()),
            });
        }
        options.fetch_before_read = fetch.unwrap_or(options.remote.is_some());
        Ok(options)
    }
}

/// Opens the git store named by the part of a `git:` URL after the scheme.
pub fn open(spec: &str, cwd: &Path) -> Result<Box<dyn Store>, StoreError> {
    Ok(Box::new(GitStore::open(GitOptions::from_url(spec, cwd)?)?))
}

/// A store on an orphan branch of a git repository.
#[derive(Debug, Clone)]
pub struct GitStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    git_dir: PathBuf,
    options: GitOptions,
    local_ref: String,
    tracking_ref: Option<String>,
    /// Concurrent `git fetch`es into one remote-tracking ref fail with "cannot lock ref", so
    /// this process runs one at a time (other processes are handled by retrying).
    fetch_lock: std::sync::Mutex<()>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FormatMarker {
    store: String,
    schema: SchemaVersion,
}

const README: &str = "# benchkeep data\n\n\
This branch is written by benchkeep (https://example.invalid/benchkeep) and shares no history with the code.\n\n\
- `runs/<key>/<YYYY-MM-DD>/<run id>.json`: one file per recorded run.\n\
- `baselines/<key>.json`: the baseline each key is compared with.\n\
- `FORMAT`: the layout and document schema version.\n\n\
`<key>` is `branch@platform`, percent-encoded. Documents are described in docs/FORMAT.md of benchkeep.\n\
Prune old runs with `benchkeep prune`; do not rewrite this branch by hand while CI jobs write to it.\n";

/// A write: file edits plus what must hold on the tip they are applied to.
struct Change {
    edits: Vec<(Vec<String>, Option<Vec<u8>>)>,
    checks: Vec<Check>,
    message: String,
    /// Baseline paths this change owns: a conflict on them is the caller's `Precondition`.
    guarded: Vec<Vec<String>>,
}

enum Check {
    /// The path must not exist (create-only).
    Absent { path: Vec<String>, what: String },
    /// The path must hold exactly this blob (compare-and-swap).
    Is {
        path: Vec<String>,
        blob: Oid,
        what: String,
    },
    /// The path must exist (delete).
    Present { path: Vec<String>, what: String },
}

fn path(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_owned()).collect()
}

/// The day directory (`YYYY-MM-DD`, from the id's UTC start time) and file name of a run.
fn run_day_and_file(id: &RunId) -> (String, String) {
    let d = &id.as_str()[..8];
    (
        format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..8]),
        format!("{id}.json"),
    )
}

fn run_path(key: &BaselineKey, id: &RunId) -> Vec<String> {
    let (day, file) = run_day_and_file(id);
    vec!["runs".to_owned(), key.storage_name(), day, file]
}

fn baseline_path(key: &BaselineKey) -> Vec<String> {
    path(&["baselines", &format!("{}.json", key.storage_name())])
}

fn signature() -> Result<Signature<'static>, git2::Error> {
    let now = jiff::Timestamp::now().as_second();
    Signature::new(
        "benchkeep",
        "benchkeep@users.noreply.invalid",
        &Time::new(now, 0),
    )
}

/// Opens the repository containing `path`, or says that there is none.
fn discover(path: &Path) -> Result<Repository, StoreError> {
    Repository::discover(path).map_err(|e| StoreError::NotFound {
        what: format!("git repository at {} ({})", path.display(), e.message()),
    })
}

/// Whether a libgit2 error means "someone else moved or holds the ref: try again".
fn is_conflict(error: &git2::Error) -> bool {
    matches!(
        error.code(),
        ErrorCode::Modified | ErrorCode::Locked | ErrorCode::Exists
    )
}

impl GitStore {
    /// Opens the store (the branch need not exist yet: the first write creates it).
    pub fn open(options: GitOptions) -> Result<Self, StoreError> {
        let repo = discover(&options.repo)?;
        let local_ref = format!("refs/heads/{}", options.branch);
        let tracking_ref = options
            .remote
            .as_ref()
            .map(|r| format!("refs/remotes/{r}/{}", options.branch));
        let inner = Inner {
            git_dir: repo.path().to_path_buf(),
            options,
            local_ref,
            tracking_ref,
            fetch_lock: std::sync::Mutex::new(()),
        };
        Ok(GitStore {
            inner: Arc::new(inner),
        })
    }

    /// The repository's git directory.
    #[must_use]
    pub fn git_dir(&self) -> &Path {
        &self.inner.git_dir
    }

    /// Where the run `id` of `key` lives on the branch.
    #[must_use]
    pub fn run_path(key: &BaselineKey, id: &RunId) -> String {
        run_path(key, id).join("/")
    }

    /// Where the baseline of `key` lives on the branch.
    #[must_use]
    pub fn baseline_path(key: &BaselineKey) -> String {
        baseline_path(key).join("/")
    }

    /// Rewrites the data branch as one commit holding its current files, locally and (with a
    /// lease on the remote tip it read) on the remote. Returns the new commit's id.
    ///
    /// This is a force-push: clones that later fetch adopt the new history, and a write a job
    /// had not pushed yet when the history was rewritten is dropped, so run it when no job is
    /// writing.
    pub fn squash_history(&self) -> Result<String, StoreError> {
        let inner = &self.inner;
        let repo = inner.repo()?;
        inner.sync_from_remote(&repo, &[])?;
        let remote_tip = match &inner.tracking_ref {
            Some(tracking) => inner.tip(&repo, tracking)?.map(|c| c.id().to_string()),
            None => None,
        };
        let tip = inner
            .tip(&repo, &inner.local_ref)?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("branch {}", inner.options.branch),
            })?;
        let err = |e: git2::Error| inner.git_error("squash the history", &e);
        let tree = tip.tree().map_err(err)?;
        let sig = signature().map_err(err)?;
        let root = repo
            .commit(None, &sig, &sig, "benchkeep: squash history", &tree, &[])
            .map_err(err)?;
        if !inner.swap_ref(
            &repo,
            &inner.local_ref,
            Some(tip.id()),
            root,
            "benchkeep: squash history",
        )? {
            return Err(StoreError::Precondition {
                what: format!("branch {}", inner.options.branch),
                expected: tip.id().to_string(),
            });
        }
        if let Some(remote) = &inner.options.remote {
            sync::force_push_with_lease(
                &inner.git_dir,
                remote,
                &inner.options.branch,
                &root.to_string(),
                remote_tip.as_deref(),
            )
            .map_err(|detail| {
                inner.backend(
                    &format!(
                        "force-push the squashed {} to {remote}",
                        inner.options.branch
                    ),
                    false,
                    detail,
                )
            })?;
            if let Some(tracking) = &inner.tracking_ref {
                let _ = repo.reference(tracking, root, true, "benchkeep: squashed");
            }
        }
        Ok(root.to_string())
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

impl Inner {
    fn location(&self) -> String {
        format!(
            "git:{} in {}{}",
            self.options.branch,
            self.git_dir.display(),
            self.options
                .remote
                .as_ref()
                .map_or_else(String::new, |r| format!(" (remote {r})"))
        )
    }

    fn backend(
        &self,
        operation: &str,
        transient: bool,
        detail: impl std::fmt::Display,
    ) -> StoreError {
        StoreError::Backend {
            store: self.location(),
            operation: operation.to_owned(),
            transient,
            source: detail.to_string().into(),
        }
    }

    fn git_error(&self, operation: &str, error: &git2::Error) -> StoreError {
        self.backend(operation, is_conflict(error), error.message())
    }

    fn repo(&self) -> Result<Repository, StoreError> {
        Repository::open(&self.git_dir).map_err(|e| self.git_error("open the repository", &e))
    }

    fn tip<'r>(
        &self,
        repo: &'r Repository,
        reference: &str,
    ) -> Result<Option<Commit<'r>>, StoreError> {
        match repo.find_reference(reference) {
            Ok(r) => r
                .peel_to_commit()
                .map(Some)
                .map_err(|e| self.git_error(&format!("read {reference}"), &e)),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(self.git_error(&format!("read {reference}"), &e)),
        }
    }

    /// Moves `reference` from `old` to `new` only if it still points at `old`.
    fn swap_ref(
        &self,
        repo: &Repository,
        reference: &str,
        old: Option<Oid>,
        new: Oid,
        message: &str,
    ) -> Result<bool, StoreError> {
        let result = match old {
            Some(old) => repo
                .reference_matching(reference, new, true, old, message)
                .map(drop),
            None => repo.reference(reference, new, false, message).map(drop),
        };
        match result {
            Ok(()) => Ok(true),
            Err(e) if is_conflict(&e) => {
                self.clear_stale_lock(reference);
                Ok(false)
            }
            Err(e) => Err(self.git_error(&format!("update {reference}"), &e)),
        }
    }

    /// A ref lock left by a writer killed between taking and releasing it (microseconds apart)
    /// would block every later write; one older than 10 seconds is such a leftover.
    fn clear_stale_lock(&self, reference: &str) {
        let lock = self.git_dir.join(format!("{reference}.lock"));
        let stale = std::fs::metadata(&lock)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(10));
        if stale {
            let _ = std::fs::remove_file(lock);
        }
    }

    /// Brings the local branch up to date with the remote (fetch, fast-forward, or replay local
    /// commits the remote has not seen on top of it). Returns the local tip afterwards.
    fn sync_from_remote(
        &self,
        repo: &Repository,
        guarded: &[Vec<String>],
    ) -> Result<(), StoreError> {
        let (Some(remote), Some(tracking)) = (&self.options.remote, &self.tracking_ref) else {
            return Ok(());
        };
        // The remote tip this clone knew before fetching: what "not pushed yet" is relative to.
        let previously_known = self.tip(repo, tracking)?.map(|c| c.id());
        let mut last_error = String::new();
        let mut fetched = None;
        let mut network_failures = 0;
        for attempt in 1..=20 {
            let result = {
                let _one_at_a_time = self
                    .fetch_lock
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                sync::fetch(&self.git_dir, remote, &self.options.branch, tracking)
            };
            match result {
                Ok(found) => {
                    fetched = Some(found);
                    break;
                }
                Err(e) => {
                    // Another process fetching into the same ref: contention, not a network
                    // problem, so it does not count against the network tries.
                    if !e.contains("cannot lock ref") {
                        network_failures += 1;
                    }
                    last_error = e;
                    if network_failures >= NETWORK_TRIES {
                        break;
                    }
                    backoff(attempt.min(3));
                }
            }
        }
        let Some(found) = fetched else {
            return Err(self.backend(
                &format!("fetch {} from {remote}", self.options.branch),
                true,
                last_error,
            ));
        };
        if !found {
            return Ok(()); // nothing on the remote yet
        }
        loop {
            let remote_tip = self.tip(repo, tracking)?.map(|c| c.id());
            let local_tip = self.tip(repo, &self.local_ref)?.map(|c| c.id());
            let (Some(remote_tip), local) = (remote_tip, local_tip) else {
                return Ok(());
            };
            let target = match local {
                None => remote_tip,
                Some(local) if local == remote_tip => return Ok(()),
                Some(local) => {
                    let local_has_remote = repo
                        .graph_descendant_of(local, remote_tip)
                        .map_err(|e| self.git_error("compare histories", &e))?;
                    if local_has_remote {
                        return Ok(()); // ahead: the next push publishes it
                    }
                    let remote_has_local = repo
                        .graph_descendant_of(remote_tip, local)
                        .map_err(|e| self.git_error("compare histories", &e))?;
                    if remote_has_local {
                        remote_tip
                    } else {
                        // Replay what this clone changed since the histories met. Without a
                        // common commit (two first commits raced, or the remote was squashed),
                        // that is everything since the remote tip this clone last knew: adopting
                        // the remote would drop unpushed runs, and replaying all local files after
                        // a squash would bring pruned runs back.
                        //
                        // That old tip only qualifies if this clone's history contains it: after
                        // a lost race to create the branch, the clone holds its own unrelated
                        // first commit while having fetched the winner's, and using the winner's
                        // tip as the base would make this clone's baseline look like a clean edit
                        // of the winner's and replace it. Without a base every file conflicts
                        // and the remote's version wins.
                        let known_ancestor = previously_known.filter(|&known| {
                            known == local
                                || repo.graph_descendant_of(local, known).unwrap_or(false)
                        });
                        let base = repo.merge_base(local, remote_tip).ok().or(known_ancestor);
                        self.replay(repo, local, base, remote_tip, guarded)?
                    }
                }
            };
            if self.swap_ref(
                repo,
                &self.local_ref,
                local_tip,
                target,
                "benchkeep: sync with remote",
            )? {
                return Ok(());
            }
        }
    }

    /// Applies the files local commits changed since `base` on top of `onto`, as one new
    /// commit. Runs never conflict. A baseline changed on both sides keeps the remote's
    /// version; if this write owns that baseline, the caller gets `Precondition`.
    fn replay(
        &self,
        repo: &Repository,
        local: Oid,
        base: Option<Oid>,
        onto: Oid,
        guarded: &[Vec<String>],
    ) -> Result<Oid, StoreError> {
        let err = |e: git2::Error| self.git_error("replay local commits on the remote tip", &e);
        let base_tree = match base {
            Some(b) => Some(repo.find_commit(b).and_then(|c| c.tree()).map_err(err)?),
            None => None,
        };
        let local_tree = repo
            .find_commit(local)
            .and_then(|c| c.tree())
            .map_err(err)?;
        let onto_commit = repo.find_commit(onto).map_err(err)?;
        let onto_tree = onto_commit.tree().map_err(err)?;
        let mut edits = Vec::new();
        for (file, blob) in
            tree::changed_files(repo, base_tree.as_ref(), &local_tree).map_err(err)?
        {
            let parts: Vec<&str> = file.iter().map(String::as_str).collect();
            let theirs = tree::blob_at(&onto_tree, &parts);
            let ours_base = base_tree.as_ref().and_then(|t| tree::blob_at(t, &parts));
            let is_run = file.first().is_some_and(|f| f == "runs");
            if is_run || theirs == ours_base || theirs == blob {
                edits.push((file, blob));
            } else if guarded.contains(&file) {
                let what = format!("baseline file {}", file.join("/"));
                // Created here and, meanwhile, there: a create-only write lost the race.
                return Err(match ours_base {
                    None => StoreError::AlreadyExists { what },
                    Some(base) => StoreError::Precondition {
                        what,
                        expected: base.to_string(),
                    },
                });
            }
            // Otherwise another job changed the same baseline: its version wins.
        }
        let new_tree = tree::edit_tree(repo, Some(&onto_tree), &edits).map_err(err)?;
        if new_tree == onto_tree.id() {
            return Ok(onto);
        }
        let tree = repo.find_tree(new_tree).map_err(err)?;
        let sig = signature().map_err(err)?;
        repo.commit(
            None,
            &sig,
            &sig,
            "benchkeep: replay local writes on the remote tip",
            &tree,
            &[&onto_commit],
        )
        .map_err(err)
    }

    /// Checks `change` against `tree` and builds the commit that applies it on `parent`.
    fn commit_change(
        &self,
        repo: &Repository,
        parent: Option<&Commit<'_>>,
        change: &Change,
    ) -> Result<Option<Oid>, StoreError> {
        let err = |e: git2::Error| self.git_error("build a commit", &e);
        let base_tree = match parent {
            Some(c) => Some(c.tree().map_err(err)?),
            None => None,
        };
        if let Some(tree) = &base_tree {
            self.check_format(repo, tree)?;
        }
        for check in &change.checks {
            let at = |p: &[String]| {
                let parts: Vec<&str> = p.iter().map(String::as_str).collect();
                base_tree.as_ref().and_then(|t| tree::blob_at(t, &parts))
            };
            match check {
                Check::Absent { path, what } => {
                    if at(path).is_some() {
                        return Err(StoreError::AlreadyExists { what: what.clone() });
                    }
                }
                Check::Present { path, what } => {
                    if at(path).is_none() {
                        return Err(StoreError::NotFound { what: what.clone() });
                    }
                }
                Check::Is { path, blob, what } => match at(path) {
                    None => return Err(StoreError::NotFound { what: what.clone() }),
                    Some(found) if found != *blob => {
                        return Err(StoreError::Precondition {
                            what: what.clone(),
                            expected: blob.to_string(),
                        });
                    }
                    Some(_) => {}
                },
            }
        }
        let mut edits: Vec<Edit> = Vec::with_capacity(change.edits.len() + 2);
        for (file, content) in &change.edits {
            let blob = match content {
                Some(bytes) => Some(repo.blob(bytes).map_err(err)?),
                None => None,
            };
            edits.push((file.clone(), blob));
        }
        if base_tree.is_none() {
            // A new branch: say what it is to whoever browses it.
            let marker = serde_json::to_vec(&FormatMarker {
                store: "benchkeep-git".into(),
                schema: schema::CURRENT,
            })
            .expect("the marker serialises");
            edits.push((
                path(&["README.md"]),
                Some(repo.blob(README.as_bytes()).map_err(err)?),
            ));
            edits.push((path(&["FORMAT"]), Some(repo.blob(&marker).map_err(err)?)));
        }
        let new_tree = tree::edit_tree(repo, base_tree.as_ref(), &edits).map_err(err)?;
        if base_tree.as_ref().is_some_and(|t| t.id() == new_tree) {
            return Ok(None); // nothing changed
        }
        let tree = repo.find_tree(new_tree).map_err(err)?;
        let sig = signature().map_err(err)?;
        let parents: Vec<&Commit<'_>> = parent.into_iter().collect();
        repo.commit(None, &sig, &sig, &change.message, &tree, &parents)
            .map(Some)
            .map_err(err)
    }

    /// Commits `change` on the branch (compare-and-swap on the ref, rebuilt on a moved tip) and,
    /// with a remote, publishes it.
    fn write(&self, change: &Change) -> Result<(), StoreError> {
        let repo = self.repo()?;
        // Start from the remote's tip when it can be reached. When it cannot, commit locally
        // anyway: the push below reports the failure, and the write goes out with a later one.
        match self.sync_from_remote(&repo, &change.guarded) {
            Ok(()) | Err(StoreError::Backend { .. }) => {}
            Err(e) => return Err(e),
        }
        let mut attempt = 0u32;
        loop {
            let tip = self.tip(&repo, &self.local_ref)?;
            let Some(new) = self.commit_change(&repo, tip.as_ref(), change)? else {
                break;
            };
            if self.swap_ref(
                &repo,
                &self.local_ref,
                tip.map(|c| c.id()),
                new,
                &change.message,
            )? {
                break;
            }
            attempt += 1;
            if attempt > 1000 {
                return Err(self.backend("update the branch", true, "the ref kept moving"));
            }
            backoff(attempt.min(3));
        }
        if let Some(pushed) = self.publish(&repo, &change.guarded)? {
            self.confirm_published(&repo, pushed, change)?;
        }
        Ok(())
    }

    /// Checks that the history pushed contains this write's guarded files as written. Another
    /// process on the same clone may have synced the branch before this write was pushed,
    /// keeping the remote's version of a baseline both changed ("its version wins"); the push
    /// then succeeds without this write, which must be reported as the lost race it is, or a
    /// compare-and-swap would pass without having written anything. Walking back from the
    /// pushed tip, the file must show this write's content before it shows the content the
    /// write replaced (a later write on top of this one is fine: it built on it).
    fn confirm_published(
        &self,
        repo: &Repository,
        pushed: Oid,
        change: &Change,
    ) -> Result<(), StoreError> {
        let err = |e: git2::Error| self.git_error("read the pushed history", &e);
        for (file, content) in &change.edits {
            if !change.guarded.contains(file) {
                continue;
            }
            // What the write replaced, as its precondition says; without one there is
            // nothing to tell this write's effect from an older state.
            let Some((replaced, created)) = change.checks.iter().find_map(|c| match c {
                Check::Is { path, blob, .. } if path == file => Some((Some(*blob), false)),
                Check::Absent { path, .. } if path == file => Some((None, true)),
                _ => None,
            }) else {
                continue;
            };
            let wanted = match content {
                Some(bytes) => Some(Oid::hash_object(ObjectType::Blob, bytes).map_err(err)?),
                None => None,
            };
            let parts: Vec<&str> = file.iter().map(String::as_str).collect();
            let mut commit = repo.find_commit(pushed).map_err(err)?;
            let landed = loop {
                let found = tree::blob_at(&commit.tree().map_err(err)?, &parts);
                if found == wanted {
                    break true;
                }
                if found == replaced {
                    break false;
                }
                match commit.parent(0) {
                    Ok(parent) => commit = parent,
                    Err(_) => break false,
                }
            };
            if !landed {
                let what = format!("baseline file {}", file.join("/"));
                return Err(if created {
                    StoreError::AlreadyExists { what }
                } else {
                    StoreError::Precondition {
                        what,
                        expected: replaced.map_or_else(String::new, |o| o.to_string()),
                    }
                });
            }
        }
        Ok(())
    }

    /// Pushes the local branch; on rejection fetches, replays and pushes again. Returns the
    /// commit pushed (`None` without a remote).
    fn publish(
        &self,
        repo: &Repository,
        guarded: &[Vec<String>],
    ) -> Result<Option<Oid>, StoreError> {
        let Some(remote) = &self.options.remote else {
            return Ok(None);
        };
        let mut last = String::new();
        let mut network_failures = 0u32;
        for attempt in 0..self.options.push_attempts.max(1) {
            if network_failures >= NETWORK_TRIES {
                break;
            }
            if attempt > 0 {
                backoff(attempt.min(if network_failures > 0 { 2 } else { attempt }));
                match self.sync_from_remote(repo, guarded) {
                    Ok(()) => {}
                    Err(StoreError::Backend { source, .. }) => {
                        last = source.to_string();
                        network_failures += 1;
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            let Some(tip) = self.tip(repo, &self.local_ref)? else {
                return Ok(None);
            };
            match sync::push(
                &self.git_dir,
                remote,
                &self.options.branch,
                &tip.id().to_string(),
            ) {
                PushOutcome::Pushed => {
                    if let Some(tracking) = &self.tracking_ref {
                        let _ = repo.reference(tracking, tip.id(), true, "benchkeep: pushed");
                    }
                    return Ok(Some(tip.id()));
                }
                PushOutcome::Rejected => {
                    "the remote branch moved".clone_into(&mut last);
                    network_failures = 0;
                }
                PushOutcome::Failed(message) => {
                    last = message;
                    network_failures += 1;
                }
            }
        }
        Err(self.backend(
            &format!(
                "push {} to {remote} (the write is kept on the local branch and goes out with the next write)",
                self.options.branch
            ),
            true,
            last,
        ))
    }

    /// The branch's tree for reading, after an optional fetch.
    fn read_tree<'r>(&self, repo: &'r Repository) -> Result<Option<Tree<'r>>, StoreError> {
        if self.options.fetch_before_read {
            self.sync_from_remote(repo, &[])?;
        }
        let Some(tip) = self.tip(repo, &self.local_ref)? else {
            return Ok(None);
        };
        let tree = tip
            .tree()
            .map_err(|e| self.git_error("read the branch", &e))?;
        self.check_format(repo, &tree)?;
        Ok(Some(tree))
    }

    fn check_format(&self, repo: &Repository, tree: &Tree<'_>) -> Result<(), StoreError> {
        let Some(blob) = tree::blob_at(tree, &["FORMAT"]) else {
            return Ok(());
        };
        let what = format!("FORMAT on {}", self.options.branch);
        let bytes = self.blob(repo, blob)?;
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

    fn blob(&self, repo: &Repository, oid: Oid) -> Result<Vec<u8>, StoreError> {
        repo.find_blob(oid)
            .map(|b| b.content().to_vec())
            .map_err(|e| self.git_error("read a file", &e))
    }

    fn read_run_at(
        &self,
        repo: &Repository,
        tree: &Tree<'_>,
        file: &[String],
        id: &RunId,
    ) -> Result<Option<Run>, StoreError> {
        let parts: Vec<&str> = file.iter().map(String::as_str).collect();
        let Some(blob) = tree::blob_at(tree, &parts) else {
            return Ok(None);
        };
        let what = format!("run {id} ({}:{})", self.options.branch, file.join("/"));
        core_store::decode_run(&self.blob(repo, blob)?, &what).map(Some)
    }

    /// The path of run `id` on the branch, under whichever key holds it.
    fn find_run(repo: &Repository, tree: &Tree<'_>, id: &RunId) -> Option<Vec<String>> {
        let runs = tree::tree_at(repo, tree, &["runs"])?;
        let (day, name) = run_day_and_file(id);
        for key_dir in tree::names(&runs, ObjectType::Tree) {
            let file = vec!["runs".to_owned(), key_dir, day.clone(), name.clone()];
            let parts: Vec<&str> = file.iter().map(String::as_str).collect();
            if tree::blob_at(tree, &parts).is_some() {
                return Some(file);
            }
        }
        None
    }

    fn get_run(&self, id: &RunId) -> Result<Run, StoreError> {
        let repo = self.repo()?;
        let not_found = || StoreError::NotFound {
            what: format!("run {id}"),
        };
        let tree = self.read_tree(&repo)?.ok_or_else(not_found)?;
        let file = Self::find_run(&repo, &tree, id).ok_or_else(not_found)?;
        self.read_run_at(&repo, &tree, &file, id)?
            .ok_or_else(not_found)
    }

    fn list_runs(&self, query: &RunQuery, lenient: bool) -> Result<RunScan, StoreError> {
        let repo = self.repo()?;
        let Some(tree) = self.read_tree(&repo)? else {
            return Ok(RunScan::default());
        };
        let Some(runs) = tree::tree_at(&repo, &tree, &["runs"]) else {
            return Ok(RunScan::default());
        };
        let key_dirs = match &query.key {
            Some(key) => {
                key.validate().map_err(|e| StoreError::InvalidKey {
                    detail: e.to_string(),
                })?;
                vec![key.storage_name()]
            }
            None => tree::names(&runs, ObjectType::Tree),
        };
        let day_of = |t: jiff::Timestamp| run_day_and_file(&RunId::new(t, 0)).0;
        let (first_day, last_day) = (query.since.map(day_of), query.until.map(day_of));
        let mut found: Vec<(RunId, Vec<String>)> = Vec::new();
        for key_dir in key_dirs {
            let Some(key_tree) = tree::tree_at(&repo, &runs, &[&key_dir]) else {
                continue;
            };
            let mut days = tree::names(&key_tree, ObjectType::Tree);
            days.sort_unstable_by(|a, b| b.cmp(a));
            for day in days {
                if first_day.as_ref().is_some_and(|f| &day < f)
                    || last_day.as_ref().is_some_and(|l| &day > l)
                {
                    continue;
                }
                // With one key and a limit, stop once enough newer runs are known.
                if query.key.is_some() && query.limit.is_some_and(|limit| found.len() >= limit) {
                    break;
                }
                let Some(day_tree) = tree::tree_at(&repo, &key_tree, &[&day]) else {
                    continue;
                };
                for name in tree::names(&day_tree, ObjectType::Blob) {
                    // Anything that is not `<run id>.json` (a README, a stray file) is not a run.
                    let Some(id) = name
                        .strip_suffix(".json")
                        .and_then(|s| s.parse::<RunId>().ok())
                    else {
                        continue;
                    };
                    if query.admits_time_of(&id) {
                        found.push((
                            id,
                            vec!["runs".to_owned(), key_dir.clone(), day.clone(), name],
                        ));
                    }
                }
            }
        }
        found.sort_by(|a, b| b.0.cmp(&a.0));
        if let Some(limit) = query.limit {
            found.truncate(limit);
        }
        let mut scan = RunScan::default();
        for (id, file) in &found {
            let read = self.read_run_at(&repo, &tree, file, id).and_then(|run| {
                run.ok_or_else(|| StoreError::NotFound {
                    what: format!("run {id}"),
                })
            });
            scan.add(id, read, lenient)?;
        }
        Ok(scan)
    }

    fn get_baseline(&self, key: &BaselineKey) -> Result<Versioned<Baseline>, StoreError> {
        key.validate().map_err(|e| StoreError::InvalidKey {
            detail: e.to_string(),
        })?;
        let repo = self.repo()?;
        let not_found = || StoreError::NotFound {
            what: format!("baseline {key}"),
        };
        let tree = self.read_tree(&repo)?.ok_or_else(not_found)?;
        let file = baseline_path(key);
        let parts: Vec<&str> = file.iter().map(String::as_str).collect();
        let blob = tree::blob_at(&tree, &parts).ok_or_else(not_found)?;
        let what = format!(
            "baseline {key} ({}:{})",
            self.options.branch,
            file.join("/")
        );
        core_store::decode_baseline_for(
            key,
            &self.blob(&repo, blob)?,
            &what,
            Version(blob.to_string()),
        )
    }

    fn list_baselines(&self) -> Result<Vec<Versioned<Baseline>>, StoreError> {
        let repo = self.repo()?;
        let Some(tree) = self.read_tree(&repo)? else {
            return Ok(Vec::new());
        };
        let Some(dir) = tree::tree_at(&repo, &tree, &["baselines"]) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in &dir {
            let Some(name) = entry
                .name()
                .ok()
                .filter(|n| Path::new(n).extension().is_some_and(|e| e == "json"))
            else {
                continue;
            };
            if entry.kind() != Some(ObjectType::Blob) {
                continue;
            }
            let what = format!("baseline file {}:baselines/{name}", self.options.branch);
            let value = core_store::decode_baseline(&self.blob(&repo, entry.id())?, &what)?;
            out.push(Versioned {
                value,
                version: Version(entry.id().to_string()),
            });
        }
        out.sort_by(|a, b| a.value.key.cmp(&b.value.key));
        Ok(out)
    }
}

/// Consecutive network failures (fetch or push) before a write gives up. Rejections mean other
/// jobs are writing and are worth many rounds (`push_attempts`); an unreachable remote is unlikely
/// to heal within seconds, so a few tries and then a clear error.
const NETWORK_TRIES: u32 = 3;

/// Sleeps before retry `attempt` (1-based): exponential from 20 ms, capped at 1.3 s, with jitter
/// so that writers that collided do not collide again in lockstep.
fn backoff(attempt: u32) {
    let base = 20u64 << attempt.min(6);
    // Process id and clock mixed: different for every writer, no RNG dependency needed.
    let mixed = u64::from(std::process::id()).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ u64::from(jiff::Timestamp::now().subsec_nanosecond().unsigned_abs());
    std::thread::sleep(Duration::from_millis(base + mixed % base));
}

#[async_trait]
impl Store for GitStore {
    fn location(&self) -> String {
        self.inner.location()
    }

    async fn append_run(&self, run: &Run) -> Result<(), StoreError> {
        run.key.validate().map_err(|e| StoreError::InvalidKey {
            detail: e.to_string(),
        })?;
        let file = run_path(&run.key, &run.id);
        let change = Change {
            edits: vec![(file.clone(), Some(core_store::encode_run(run)))],
            checks: vec![Check::Absent {
                path: file,
                what: format!("run {}", run.id),
            }],
            message: format!("benchkeep: record run {} ({})", run.id, run.key),
            guarded: Vec::new(),
        };
        self.blocking(move |inner| inner.write(&change)).await
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
        self.blocking(move |inner| {
            let repo = inner.repo()?;
            let tree = inner
                .read_tree(&repo)?
                .ok_or_else(|| StoreError::NotFound {
                    what: format!("run {id}"),
                })?;
            let file = Inner::find_run(&repo, &tree, &id).ok_or_else(|| StoreError::NotFound {
                what: format!("run {id}"),
            })?;
            inner.write(&Change {
                edits: vec![(file.clone(), None)],
                checks: vec![Check::Present {
                    path: file,
                    what: format!("run {id}"),
                }],
                message: format!("benchkeep: delete run {id}"),
                guarded: Vec::new(),
            })
        })
        .await
    }

    async fn delete_runs(&self, ids: &[RunId]) -> Result<usize, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let ids = ids.to_vec();
        self.blocking(move |inner| {
            let repo = inner.repo()?;
            let Some(tree) = inner.read_tree(&repo)? else {
                return Ok(0);
            };
            let files: Vec<Vec<String>> = ids
                .iter()
                .filter_map(|id| Inner::find_run(&repo, &tree, id))
                .collect();
            let deleted = files.len();
            if deleted > 0 {
                // One commit; no preconditions, so a concurrent prune of the same runs is harmless.
                inner.write(&Change {
                    edits: files.into_iter().map(|f| (f, None)).collect(),
                    checks: Vec::new(),
                    message: format!("benchkeep: prune {deleted} run(s)"),
                    guarded: Vec::new(),
                })?;
            }
            Ok(deleted)
        })
        .await
    }

    async fn get_baseline(&self, key: &BaselineKey) -> Result<Versioned<Baseline>, StoreError> {
        let key = key.clone();
        self.blocking(move |inner| inner.get_baseline(&key)).await
    }

    async fn put_baseline(
        &self,
        baseline: &Baseline,
        mode: PutMode,
    ) -> Result<Version, StoreError> {
        let key = baseline.key.clone();
        key.validate().map_err(|e| StoreError::InvalidKey {
            detail: e.to_string(),
        })?;
        let bytes = core_store::encode_baseline(baseline);
        let file = baseline_path(&key);
        let what = format!("baseline {key}");
        let check = match &mode {
            PutMode::Create => Check::Absent {
                path: file.clone(),
                what,
            },
            PutMode::Update(version) => Check::Is {
                path: file.clone(),
                blob: Oid::from_str(&version.0).map_err(|_| StoreError::Precondition {
                    what: what.clone(),
                    expected: version.0.clone(),
                })?,
                what,
            },
        };
        let version = Version(
            Oid::hash_object(ObjectType::Blob, &bytes)
                .map_or_else(|_| String::new(), |o| o.to_string()),
        );
        let change = Change {
            edits: vec![(file.clone(), Some(bytes))],
            checks: vec![check],
            message: format!("benchkeep: set baseline {key}"),
            guarded: vec![file],
        };
        self.blocking(move |inner| inner.write(&change)).await?;
        Ok(version)
    }

    async fn delete_baseline(&self, key: &BaselineKey) -> Result<(), StoreError> {
        key.validate().map_err(|e| StoreError::InvalidKey {
            detail: e.to_string(),
        })?;
        let file = baseline_path(key);
        let change = Change {
            edits: vec![(file.clone(), None)],
            checks: vec![Check::Present {
                path: file.clone(),
                what: format!("baseline {key}"),
            }],
            message: format!("benchkeep: delete baseline {key}"),
            guarded: vec![file],
        };
        self.blocking(move |inner| inner.write(&change)).await
    }

    async fn list_baselines(&self) -> Result<Vec<Versioned<Baseline>>, StoreError> {
        self.blocking(Inner::list_baselines).await
    }
}
