//! `benchkeep baseline`: the lifecycle of a key's baseline: set (or replace), accept an
//! intentional slowdown, show, list, history, delete.

use std::path::Path;

use crate::{Context as _, Error, bail};
use benchkeep_core::baseline::{Baseline, ChangeAction};
use benchkeep_core::key::BaselineKey;
use benchkeep_core::model::Run;
use benchkeep_core::store::{
    self as core_store, PutMode, RunQuery, Store, StoreError, Version, Versioned,
};
use jiff::Timestamp;

use crate::measure::RecordOptions;
use crate::session::{KeyOverrides, Session};

/// `baseline set`: the runs a key's baseline is built from.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SetRequest {
    /// Run ids or run files (files are recorded first); none: the key's newest runs.
    pub from: Vec<String>,
    /// How many of the key's newest runs that may become a baseline (default 1).
    pub last: Option<usize>,
    /// Replace a baseline that cannot be read.
    pub force: bool,
    /// The key's parts to set.
    pub key: KeyOverrides,
}

/// `baseline accept`: an intentional slowdown, with the reason.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AcceptRequest {
    /// Why the slowdown is accepted (required).
    pub reason: String,
    /// The run to accept (an id or a file); the key's newest run when `None`.
    pub from: Option<String>,
    /// Replace a baseline that cannot be read.
    pub force: bool,
    /// The key's parts to set.
    pub key: KeyOverrides,
}

/// A baseline written: its key, the runs it was built from, its new version.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Written {
    /// The key.
    pub key: BaselineKey,
    /// The runs added, oldest first.
    pub runs: Vec<Run>,
    /// The store's version of the new baseline.
    pub version: Version,
}

impl Session {
    /// `baseline set`: the key's baseline built from chosen runs (or its newest ones that may
    /// become a baseline: passed, clean, not for a pull request).
    ///
    /// # Errors
    ///
    /// No usable runs, runs of different keys, an unreadable baseline without `force`, the
    /// store failing.
    pub fn baseline_set(&self, args: &SetRequest) -> Result<Written, Error> {
        let store = self.store()?;
        let explicit_key = args.key.branch.is_some() || args.key.platform.is_some();
        let mut runs = Vec::new();
        let key = if args.from.is_empty() {
            let key = self.current_key(&args.key)?;
            let wanted = args.last.unwrap_or(1);
            if wanted == 0 {
                bail!("--last must be at least 1");
            }
            // The newest runs a baseline may be built from: not one that failed its gate,
            // measured uncommitted changes, or was made for a pull request (each says nothing
            // about the branch's own speed). `--from` takes runs as given.
            let listed = self
                .block_on(store.list_runs(&RunQuery::latest(
                    key.clone(),
                    wanted.saturating_mul(4).saturating_add(20),
                )))
                .with_context(|| format!("cannot list the runs of {key}"))?;
            let found = listed.len();
            let mut skipped = 0;
            for run in listed {
                if runs.len() == wanted {
                    break;
                }
                if baseline_worthy(&run) {
                    runs.push(run);
                } else {
                    skipped += 1;
                }
            }
            if found == 0 {
                bail!(
                    "no runs of {key} in {}: record one with `benchkeep run` first, or pass --from",
                    store.location()
                );
            }
            if runs.is_empty() {
                bail!(
                    "none of the {found} newest runs of {key} in {} may become a baseline (each failed its gate, measured uncommitted changes or was made for a pull request): pass --from to choose runs",
                    store.location()
                );
            }
            if runs.len() < wanted {
                self.notice(&format!(
                    "only {} run(s) of {key} may become a baseline; using them all",
                    runs.len()
                ));
            }
            if skipped > 0 {
                self.notice(&format!(
                    "left out {skipped} newer run(s) of {key} that failed their gate, measured uncommitted changes or were made for a pull request"
                ));
            }
            runs.reverse(); // oldest first
            key
        } else {
            for source in &args.from {
                let run = self.load_run(store.as_ref(), source)?;
                if self.path(Path::new(source)).is_file() {
                    // A run from a file becomes part of the store, so the baseline's sources exist.
                    self.record(store.as_ref(), &run, &RecordOptions::default())?;
                }
                runs.push(run);
            }
            runs.sort_by(|a, b| a.id.cmp(&b.id));
            if explicit_key {
                let first = &runs[0].key;
                self.resolve_key(&args.key, Some(&first.branch), &first.platform)?
            } else {
                let first = runs[0].key.clone();
                if let Some(other) = runs.iter().find(|r| r.key != first) {
                    bail!(
                        "the runs belong to different keys ({first} and {}): pass --branch/--platform to choose the baseline's key",
                        other.key
                    );
                }
                first
            }
        };
        let baseline = Baseline::from_runs(key.clone(), &runs, Timestamp::now())?;
        let version = self.write_baseline(
            store.as_ref(),
            &baseline,
            &runs,
            ChangeAction::Set,
            None,
            args.force,
        )?;
        Ok(Written { key, runs, version })
    }

    /// The baseline of this checkout's key (or the overrides'), and its version.
    ///
    /// # Errors
    ///
    /// No baseline (naming the store), an unreadable one, the store failing.
    pub fn baseline(&self, key: &KeyOverrides) -> Result<Versioned<Baseline>, Error> {
        let store = self.store()?;
        let key = self.current_key(key)?;
        self.load_baseline(store.as_ref(), &key)
    }

    /// Every baseline in the store, and the store's location.
    ///
    /// # Errors
    ///
    /// The store failing.
    pub fn baselines(&self) -> Result<(Vec<Versioned<Baseline>>, String), Error> {
        let store = self.store()?;
        let baselines = self
            .block_on(store.list_baselines())
            .context("cannot list baselines")?;
        Ok((baselines, store.location()))
    }

    /// Writes `baseline`, a new version of its key made by `action` from `added`, keeping the
    /// key's change history. A baseline that cannot be read is refused, naming the problem,
    /// unless `force`: then it is deleted first and this one replaces it, saying what it
    /// replaced. A readable one is replaced by compare-and-swap.
    fn write_baseline(
        &self,
        store: &dyn Store,
        baseline: &Baseline,
        added: &[Run],
        action: ChangeAction,
        reason: Option<String>,
        force: bool,
    ) -> Result<Version, Error> {
        let key = &baseline.key;
        match self.block_on(store.get_baseline(key)) {
            Err(e @ StoreError::Corrupt { .. }) => {
                if !force {
                    return Err(Error::store(
                        format!(
                            "the baseline of {key} cannot be read; `benchkeep baseline set --force` replaces it"
                        ),
                        e,
                    ));
                }
                self.notice(&format!(
                    "replacing the baseline of {key}, which cannot be read ({e})"
                ));
                match self.block_on(store.delete_baseline(key)) {
                    Ok(()) | Err(StoreError::NotFound { .. }) => {}
                    Err(e) => {
                        return Err(Error::store(
                            format!("cannot delete the unreadable baseline of {key}"),
                            e,
                        ));
                    }
                }
                let mut next = baseline.clone();
                next.record_change(None, ChangeAction::Replaced, added, reason);
                return self
                    .block_on(store.put_baseline(&next, PutMode::Create))
                    .with_context(|| format!("cannot write the baseline of {key}"));
            }
            Ok(found) => self.notice(&format!(
                "replacing the baseline of {key} ({} run(s), updated {})",
                found.value.sources.len(),
                found.value.updated
            )),
            Err(_) => {}
        }
        let (_, version) = self
            .block_on(core_store::update_baseline(store, key, 10, |current| {
                let mut next = baseline.clone();
                next.record_change(current.as_ref(), action, added, reason.clone());
                Ok(next)
            }))
            .with_context(|| format!("cannot write the baseline of {key}"))?;
        Ok(version)
    }

    /// `baseline accept`: an intentional slowdown becomes the baseline, with the reason and the
    /// commit, shown in reports and `baseline history`.
    ///
    /// # Errors
    ///
    /// An empty reason, no run to accept, an unreadable baseline without `force`, the store
    /// failing.
    pub fn baseline_accept(&self, args: &AcceptRequest) -> Result<Written, Error> {
        if args.reason.trim().is_empty() {
            bail!("--reason must say why the slowdown is accepted");
        }
        let store = self.store()?;
        let run = if let Some(source) = &args.from {
            let run = self.load_run(store.as_ref(), source)?;
            if self.path(Path::new(source)).is_file() {
                // A run from a file becomes part of the store, so the baseline's source exists.
                self.record(store.as_ref(), &run, &RecordOptions::default())?;
            }
            run
        } else {
            let key = self.current_key(&args.key)?;
            self.block_on(store.list_runs(&RunQuery::latest(key.clone(), 1)))
                .with_context(|| format!("cannot list the runs of {key}"))?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "no runs of {key} in {}: pass --from RUN_ID|FILE",
                        store.location()
                    ))
                })?
        };
        let key = if args.key.branch.is_some() || args.key.platform.is_some() {
            self.resolve_key(&args.key, Some(&run.key.branch), &run.key.platform)?
        } else {
            run.key.clone()
        };
        let baseline =
            Baseline::from_runs(key.clone(), std::slice::from_ref(&run), Timestamp::now())?;
        let version = self.write_baseline(
            store.as_ref(),
            &baseline,
            std::slice::from_ref(&run),
            ChangeAction::Accepted,
            Some(args.reason.trim().to_owned()),
            args.force,
        )?;
        Ok(Written {
            key,
            runs: vec![run],
            version,
        })
    }

    /// `baseline delete`: removes a key's baseline (its runs stay, for `baseline set`).
    /// Returns the key deleted and the store's location.
    ///
    /// # Errors
    ///
    /// No key named (deleting is not undone, so it is never guessed), no such baseline, the
    /// store failing.
    pub fn baseline_delete(
        &self,
        name: Option<&str>,
        key: &KeyOverrides,
    ) -> Result<(BaselineKey, String), Error> {
        let store = self.store()?;
        let key = match name {
            Some(name) => parse_key(name)?,
            None if key.branch.is_some() || key.platform.is_some() => self.current_key(key)?,
            // Deleting is not undone: the key is said, not guessed from the checkout.
            None => bail!(
                "name the baseline to delete: `benchkeep baseline delete BRANCH@PLATFORM` (as `baseline list` prints it), or --branch/--platform"
            ),
        };
        match self.block_on(store.delete_baseline(&key)) {
            Ok(()) => {}
            Err(StoreError::NotFound { .. }) => {
                bail!("no baseline for {key} in {}", store.location())
            }
            Err(e) => {
                return Err(Error::store(
                    format!("cannot delete the baseline of {key}"),
                    e,
                ));
            }
        }
        Ok((key, store.location()))
    }

    /// The baseline of `key` and its version; a missing one is an error naming the store.
    fn load_baseline(
        &self,
        store: &dyn Store,
        key: &BaselineKey,
    ) -> Result<Versioned<Baseline>, Error> {
        match self.block_on(store.get_baseline(key)) {
            Ok(found) => Ok(found),
            Err(StoreError::NotFound { .. }) => {
                bail!("no baseline for {key} in {}", store.location())
            }
            Err(e) => Err(Error::store(
                format!("cannot load the baseline of {key}"),
                e,
            )),
        }
    }
}

/// Whether `run` may be pooled into a baseline by `baseline set --last`: it did not fail a
/// gate, did not measure uncommitted changes, and was not made for a pull request.
fn baseline_worthy(run: &Run) -> bool {
    run.passed != Some(false)
        && run.git.as_ref().and_then(|g| g.dirty) != Some(true)
        && run.ci.as_ref().is_none_or(|ci| !ci.is_pull_request())
}

/// `BRANCH@PLATFORM`, as `baseline list` prints keys.
///
/// # Errors
///
/// Not of that form, or an invalid branch or platform.
pub fn parse_key(text: &str) -> Result<BaselineKey, Error> {
    let Some((branch, platform)) = text.rsplit_once('@') else {
        bail!(
            "{text:?} is not a baseline key: BRANCH@PLATFORM, as `benchkeep baseline list` prints them"
        );
    };
    BaselineKey::new(branch, platform).map_err(|e| Error::Invalid(format!("{text:?}: {e}")))
}
