//! `prune`: delete old runs, never one a baseline is built from, and put back any that a
//! racing promotion named meanwhile.

use std::collections::{HashMap, HashSet};

use benchkeep_core::key::BaselineKey;
use benchkeep_core::model::RunId;
use benchkeep_core::store::RunQuery;
use jiff::Timestamp;

use crate::session::{KeyOverrides, Session};
use crate::{Context as _, Error, bail, promote};

/// Runs deleted between two checks that no baseline has come to name them.
const PRUNE_BATCH: usize = 8;

/// Which runs to delete.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PruneRequest {
    /// Keep each key's newest this many runs.
    pub keep_last: Option<usize>,
    /// Delete runs older than this many days.
    pub older_than: Option<u32>,
    /// Only this checkout's key (the overrides' parts set).
    pub only_key: Option<KeyOverrides>,
    /// Say what would be deleted; delete nothing.
    pub dry_run: bool,
    /// Also rewrite a git store's data branch as one commit.
    pub squash_history: bool,
}

/// What a prune did (or, dry, would do).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PruneReport {
    /// The runs listed.
    pub listed: usize,
    /// The runs chosen for deletion (dry run: that would be deleted).
    pub doomed: Vec<RunId>,
    /// The runs deleted and not put back.
    pub deleted: usize,
    /// Runs kept because a baseline was built from them.
    pub kept_for_baselines: usize,
    /// Runs put back because a check promoted them while the prune ran.
    pub restored: usize,
    /// The new commit of a squashed git data branch.
    pub squashed: Option<String>,
    /// Where.
    pub location: String,
}

impl Session {
    /// `benchkeep prune`.
    ///
    /// # Errors
    ///
    /// Nothing asked (no `keep_last`, `older_than` or `squash_history`), `squash_history` on a
    /// store that is not git, the store failing.
    pub fn prune(&self, request: &PruneRequest) -> Result<PruneReport, Error> {
        if request.keep_last.is_none() && request.older_than.is_none() && !request.squash_history {
            bail!("prune needs --keep-last N, --older-than DAYS or --squash-history");
        }
        if request.squash_history {
            // Refuse before deleting anything, not after.
            #[cfg(feature = "git")]
            self.git_options()?;
            #[cfg(not(feature = "git"))]
            return Err(crate::stores::not_built_in("git"));
        }
        let store = self.store()?;
        let key = request
            .only_key
            .as_ref()
            .map(|key| self.current_key(key))
            .transpose()?;
        let runs = self
            .block_on(store.list_runs(&RunQuery {
                key,
                ..RunQuery::default()
            }))
            .context("cannot list runs to prune")?;
        let protected: HashSet<RunId> = self
            .block_on(store.list_baselines())
            .context("cannot list baselines (their source runs are never pruned)")?
            .into_iter()
            .flat_map(|b| b.value.sources.into_iter().map(|s| s.run))
            .collect();
        let cutoff = request
            .older_than
            .map(|days| Timestamp::now() - jiff::SignedDuration::from_hours(24 * i64::from(days)));
        let mut seen_per_key: HashMap<&BaselineKey, usize> = HashMap::new();
        let mut report = PruneReport {
            listed: runs.len(),
            location: store.location(),
            ..PruneReport::default()
        };
        // Newest first, so the first `keep_last` of each key are the ones kept.
        for run in &runs {
            let rank = seen_per_key.entry(&run.key).or_insert(0);
            *rank += 1;
            let too_many = request.keep_last.is_some_and(|keep| *rank > keep);
            let too_old = cutoff.is_some_and(|c| run.timestamp < c);
            if too_many || too_old {
                if protected.contains(&run.id) {
                    report.kept_for_baselines += 1;
                } else {
                    report.doomed.push(run.id.clone());
                }
            }
        }
        if request.dry_run {
            return Ok(report);
        }
        // A check may have promoted one of these runs after the baselines were listed above.
        // After each batch of deletions, read them again and put back any run a baseline now
        // names (the promoting check also restores its run if it finds it gone, so between the
        // two none is lost). Small batches keep the time a promoted run stays deleted short:
        // a later promotion waits only so long for a missing source before leaving it out,
        // and deleting hundreds of runs at once on a slow store outlasted that wait.
        let mut deleted = 0;
        for batch in report.doomed.chunks(PRUNE_BATCH) {
            deleted += self
                .block_on(store.delete_runs(batch))
                .context("cannot delete runs")?;
            report.restored +=
                self.block_on(promote::restore_promoted(store.as_ref(), &runs, batch))?;
        }
        report.deleted = deleted.saturating_sub(report.restored);
        #[cfg(feature = "git")]
        if request.squash_history {
            let store = benchkeep_store_git::GitStore::open(self.git_options()?)
                .context("cannot open the git store")?;
            report.squashed = Some(
                store
                    .squash_history()
                    .context("cannot squash the data branch")?,
            );
        }
        Ok(report)
    }
}
