//! Promotion that cannot lose: a passing run joins its key's baseline by compare-and-swap,
//! and `prune` running meanwhile never costs a promotion (see [`restore_promoted`]).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use benchkeep_core::baseline::{Baseline, ChangeAction};
use benchkeep_core::model::{Run, RunId};
use benchkeep_core::store::{self as core_store, Store, StoreError};
use jiff::Timestamp;

use benchkeep_core::promotion;
use benchkeep_runner::environment;

use crate::Error;
use crate::check::CheckRequest;
use crate::session::Session;

/// What a promotion did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Promoted {
    /// Source runs of the baseline now.
    pub sources: usize,
    /// Source runs left out because they stayed missing from the store (deleted by other
    /// means than `prune`, which never deletes a baseline's sources).
    pub left_out: usize,
}

/// Adds `run` to the baseline of its key, keeping the newest `keep` source runs: read the
/// baseline and its version, rebuild it from its stored source runs plus this one, write it
/// only if the version is unchanged, and start over when another job won the race. Returns the
/// number of source runs and how many stayed missing from the store.
///
/// # Errors
///
/// [`Error::Store`] when the store fails or the race is lost too often; [`Error::Pool`] when
/// the runs disagree on a metric's unit.
pub async fn promote(store: &dyn Store, run: &Run, keep: usize) -> Result<Promoted, Error> {
    let mut loaded: HashMap<RunId, Run> = HashMap::new();
    let mut last_error = None;
    // A `prune` racing this promotion may have deleted a source run that its promoter, or the
    // prune itself, is about to restore (see below): a missing source is waited for, and left
    // out only when it stays missing for MISSING_SOURCE_WAIT (deleted by other means).
    // When each source was first found missing: the wait is per source, so a promotion slowed
    // by contention does not drop a source the moment it finds it gone.
    let mut missing_since: HashMap<RunId, Instant> = HashMap::new();
    let mut attempt = 0;
    'attempts: while attempt < PROMOTE_ATTEMPTS {
        let (current, mode) = match store.get_baseline(&run.key).await {
            Ok(found) => (
                Some(found.value),
                core_store::PutMode::Update(found.version),
            ),
            Err(StoreError::NotFound { .. }) => (None, core_store::PutMode::Create),
            Err(e) => return Err(store_error(e, "cannot read the baseline to promote into")),
        };
        let mut wanted: Vec<RunId> = current
            .iter()
            .flat_map(|b| b.sources.iter().map(|s| s.run.clone()))
            .collect();
        if wanted.contains(&run.id) {
            // Already promoted (a retried job).
            return Ok(Promoted {
                sources: wanted.len(),
                left_out: 0,
            });
        }
        wanted.sort();
        let skip = wanted.len().saturating_sub(keep - 1);
        let mut runs = Vec::with_capacity(keep);
        let mut missing = 0;
        for id in &wanted[skip..] {
            if !loaded.contains_key(id) {
                match store.get_run(id).await {
                    Ok(source) => {
                        loaded.insert(id.clone(), source);
                    }
                    Err(StoreError::NotFound { .. }) => {
                        let since = *missing_since.entry(id.clone()).or_insert_with(Instant::now);
                        if since.elapsed() < MISSING_SOURCE_WAIT {
                            backoff(attempt).await;
                            continue 'attempts;
                        }
                        missing += 1;
                        continue;
                    }
                    Err(e) => {
                        return Err(store_error(e, &format!("cannot load source run {id}")));
                    }
                }
            }
            runs.push(loaded[id].clone());
        }
        runs.push(run.clone());
        let mut next = Baseline::from_runs(run.key.clone(), &runs, Timestamp::now())?;
        next.record_change(
            current.as_ref(),
            ChangeAction::Promoted,
            std::slice::from_ref(run),
            None,
        );
        match store.put_baseline(&next, mode).await {
            Ok(_) => {
                // A `prune` that listed the baselines before this update may have deleted the
                // run as unprotected meanwhile. Once the baseline names it, either this check
                // sees it gone and restores it, or the prune, which re-reads the baselines
                // after deleting, does.
                restore_if_deleted(store, run).await?;
                return Ok(Promoted {
                    sources: runs.len(),
                    left_out: missing,
                });
            }
            Err(
                e @ (StoreError::Precondition { .. }
                | StoreError::AlreadyExists { .. }
                | StoreError::NotFound { .. }),
            ) => {
                last_error = Some(e);
                backoff(attempt).await;
                attempt += 1;
            }
            Err(e) => return Err(store_error(e, "cannot write the promoted baseline")),
        }
    }
    Err(store_error(
        last_error.unwrap_or_else(|| StoreError::Precondition {
            what: format!("baseline {}", run.key),
            expected: "any".into(),
        }),
        &format!("gave up after {PROMOTE_ATTEMPTS} concurrent updates"),
    ))
}

/// Attempts of one promotion before giving up (each lost race means another job promoted).
const PROMOTE_ATTEMPTS: usize = 30;

/// How long a promotion waits for a missing source run to be restored before leaving it out.
/// A racing `prune` restores it after its batch's deletion, a listing of the baselines and a
/// write: on a git store with eight jobs pushing at a load average near 10 (the test suite under
/// load), that took more than 20 s once, and a source was dropped from the baseline for good.
/// A source really deleted (by hand, by a lifecycle rule) costs one promotion this wait, once.
const MISSING_SOURCE_WAIT: Duration = Duration::from_secs(60);

/// Jittered backoff, so racing jobs do not collide again in lockstep.
async fn backoff(attempt: usize) {
    let millis = 20 * (attempt as u64 + 1) + crate::entropy() % 50;
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

/// Records `run` again if it is no longer in the store (a racing `prune` deleted it).
///
/// # Errors
///
/// [`Error::Store`] when the store cannot be read or written.
pub async fn restore_if_deleted(store: &dyn Store, run: &Run) -> Result<bool, Error> {
    match store.get_run(&run.id).await {
        Ok(_) => Ok(false),
        Err(StoreError::NotFound { .. }) => match store.append_run(run).await {
            Ok(()) | Err(StoreError::AlreadyExists { .. }) => Ok(true),
            Err(e) => Err(store_error(e, &format!("cannot restore run {}", run.id))),
        },
        Err(e) => Err(store_error(
            e,
            &format!("cannot check that run {} is kept", run.id),
        )),
    }
}

/// After `prune` deleted `doomed` (of `runs`, which it read before deleting): records again
/// every one that a baseline names now, because a check promoted it after `prune` listed the
/// baselines. Returns how many. With [`promote`]'s own check after its compare-and-swap,
/// whichever of the two sees the run gone puts it back, so none is lost.
///
/// # Errors
///
/// [`Error::Store`] when the baselines cannot be listed or a run cannot be written.
pub async fn restore_promoted(
    store: &dyn Store,
    runs: &[Run],
    doomed: &[RunId],
) -> Result<usize, Error> {
    if doomed.is_empty() {
        return Ok(0);
    }
    let named: HashSet<RunId> = store
        .list_baselines()
        .await
        .map_err(|e| {
            store_error(
                e,
                "cannot list baselines again after pruning (their source runs are kept)",
            )
        })?
        .into_iter()
        .flat_map(|b| b.value.sources.into_iter().map(|s| s.run))
        .collect();
    let doomed: HashSet<&RunId> = doomed.iter().collect();
    let mut restored = 0;
    for run in runs
        .iter()
        .filter(|r| doomed.contains(&r.id) && named.contains(&r.id))
    {
        if restore_if_deleted(store, run).await? {
            restored += 1;
        }
    }
    Ok(restored)
}

fn store_error(source: StoreError, context: &str) -> Error {
    Error::Store {
        context: context.to_owned(),
        source,
    }
}

impl Session {
    /// `--promote-on BRANCH` (or `[compare] promote_on`): on that branch, add a passing run to
    /// its baseline with compare-and-swap, re-reading and retrying when another job updated it
    /// meanwhile, so no promotion is lost.
    pub(crate) fn promote_if_asked(
        &self,
        store: &dyn Store,
        run: &Run,
        request: &CheckRequest,
        passed: bool,
    ) -> Result<(), Error> {
        let Some(branch) = self.promote_branch(request) else {
            return Ok(());
        };
        if let Err(refusal) =
            promotion::check(&promotion_subject(run), passed, branch, request.promote)
        {
            let text = format!("not promoting into the baseline of {}: {refusal}", run.key);
            if refusal.is_routine() {
                self.detail(&text);
            } else {
                self.notice(&text);
            }
            return Ok(());
        }
        if request.record.no_record {
            self.notice("not promoting: --no-record keeps the run out of the store, and a baseline is built from stored runs");
            return Ok(());
        }
        self.join_baseline(store, run)
    }

    /// `--promote-on BRANCH`, else `[compare] promote_on`.
    pub(crate) fn promote_branch<'a>(&'a self, request: &'a CheckRequest) -> Option<&'a String> {
        request
            .promote_on
            .as_ref()
            .or(self.config.compare.promote_on.as_ref())
    }

    /// Adds the recorded `run` to its key's baseline by compare-and-swap ([`promote`]).
    pub(crate) fn join_baseline(&self, store: &dyn Store, run: &Run) -> Result<(), Error> {
        let keep = self.config.compare.promote_keep.unwrap_or(10).max(1);
        let Promoted {
            sources,
            left_out: dropped,
            ..
        } = self
            .block_on(promote(store, run, keep))
            .map_err(|e| match e {
                Error::Store { context, source } => Error::Store {
                    context: format!(
                        "cannot promote run {} into the baseline of {}: {context}",
                        run.id, run.key
                    ),
                    source,
                },
                other => other,
            })?;
        let mut text = format!(
            "promoted run {} into the baseline of {} ({sources} run(s))",
            run.id, run.key
        );
        if dropped > 0 {
            let _ = write!(
                text,
                "; {dropped} source run(s) no longer in the store were left out"
            );
        }
        self.notice(&text);
        Ok(())
    }
}

/// `run` as promotion judges it: with this job's CI information, not what a run file or an
/// import carries. Whether a run may join a baseline depends on the job doing it: a run file
/// made by a push job and checked in a pull request's job must not promote, and one checked on
/// a laptop needs `--promote` like any local run. (The tree's state stays the run's own: it is
/// what was measured.)
pub(crate) fn promotion_subject(run: &Run) -> std::borrow::Cow<'_, Run> {
    let here = environment::ci_info(&|name| std::env::var(name).ok());
    if run.ci == here {
        return std::borrow::Cow::Borrowed(run);
    }
    let mut subject = run.clone();
    subject.ci = here;
    std::borrow::Cow::Owned(subject)
}
