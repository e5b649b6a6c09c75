//! `benchkeep baseline`: the lifecycle of a key's baseline: set (or replace), accept an
//! intentional slowdown, show, list, history, delete.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result, anyhow, bail};
use benchkeep_core::baseline::{Baseline, ChangeAction};
use benchkeep_core::key::BaselineKey;
use benchkeep_core::model::Run;
use benchkeep_core::store::{
    self as core_store, PutMode, RunQuery, Store, StoreError, Version, Versioned,
};
use jiff::Timestamp;

use super::{App, Outcome, emit};
use crate::args::{
    BaselineAcceptArgs, BaselineDeleteArgs, BaselineHistoryArgs, BaselineSetArgs, BaselineShowArgs,
    RecordArgs,
};
use benchkeep_report as report;

impl App {
    pub(super) fn baseline_set(&self, args: &BaselineSetArgs) -> Result<Outcome> {
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
                if Path::new(source).is_file() {
                    // A run from a file becomes part of the store, so the baseline's sources exist.
                    self.record(store.as_ref(), &run, &RecordArgs::default())?;
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
        let ids: Vec<String> = runs.iter().map(|r| r.id.to_string()).collect();
        emit(&format!(
            "baseline {key} set from {} run(s): {} (version {version})\n",
            runs.len(),
            ids.join(", ")
        ))?;
        Ok(Outcome::Passed)
    }

    pub(super) fn baseline_show(&self, args: &BaselineShowArgs) -> Result<Outcome> {
        let store = self.store()?;
        let key = self.current_key(&args.key)?;
        let baseline = self.load_baseline(store.as_ref(), &key)?;
        if args.json {
            let mut text = serde_json::to_string_pretty(&baseline.value)?;
            text.push('\n');
            emit(&text)?;
            return Ok(Outcome::Passed);
        }
        let b = &baseline.value;
        let mut text = format!(
            "baseline {}\nupdated {}  version {}\nmachine {} {} {}\nfrom {} run(s):\n",
            b.key,
            b.updated,
            baseline.version,
            b.fingerprint.os,
            b.fingerprint.arch,
            b.fingerprint.cpu_model.as_deref().unwrap_or(""),
            b.sources.len()
        );
        for source in &b.sources {
            let _ = writeln!(
                text,
                "  {}  {}",
                source.run,
                source.commit.as_deref().unwrap_or("(no commit)")
            );
        }
        if let Some(accepted) = &b.accepted {
            let _ = writeln!(
                text,
                "accepted {}: {}",
                accepted.at,
                accepted.reason.as_deref().unwrap_or("no reason given")
            );
        }
        text.push('\n');
        text.push_str(&report::run_summary(&b.benchmarks));
        emit(&text)?;
        Ok(Outcome::Passed)
    }

    pub(super) fn baseline_list(&self) -> Result<Outcome> {
        let store = self.store()?;
        let baselines = self
            .block_on(store.list_baselines())
            .context("cannot list baselines")?;
        if baselines.is_empty() {
            emit(&format!("no baselines in {}\n", store.location()))?;
            return Ok(Outcome::Passed);
        }
        let mut text = String::new();
        for b in &baselines {
            let _ = writeln!(
                text,
                "{}  updated {}  {} run(s)  {} benchmark(s)",
                b.value.key,
                b.value.updated,
                b.value.sources.len(),
                b.value.benchmarks.len()
            );
        }
        emit(&text)?;
        Ok(Outcome::Passed)
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
    ) -> Result<Version> {
        let key = &baseline.key;
        match self.block_on(store.get_baseline(key)) {
            Err(e @ StoreError::Corrupt { .. }) => {
                if !force {
                    return Err(anyhow!(e).context(format!(
                        "the baseline of {key} cannot be read; `benchkeep baseline set --force` replaces it"
                    )));
                }
                self.notice(&format!(
                    "replacing the baseline of {key}, which cannot be read ({e})"
                ));
                match self.block_on(store.delete_baseline(key)) {
                    Ok(()) | Err(StoreError::NotFound { .. }) => {}
                    Err(e) => {
                        return Err(anyhow!(e)
                            .context(format!("cannot delete the unreadable baseline of {key}")));
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
    pub(super) fn baseline_accept(&self, args: &BaselineAcceptArgs) -> Result<Outcome> {
        if args.reason.trim().is_empty() {
            bail!("--reason must say why the slowdown is accepted");
        }
        let store = self.store()?;
        let run = if let Some(source) = &args.from {
            let run = self.load_run(store.as_ref(), source)?;
            if Path::new(source).is_file() {
                // A run from a file becomes part of the store, so the baseline's source exists.
                self.record(store.as_ref(), &run, &RecordArgs::default())?;
            }
            run
        } else {
            let key = self.current_key(&args.key)?;
            self.block_on(store.list_runs(&RunQuery::latest(key.clone(), 1)))
                .with_context(|| format!("cannot list the runs of {key}"))?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    anyhow!(
                        "no runs of {key} in {}: pass --from RUN_ID|FILE",
                        store.location()
                    )
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
        let commit = run
            .git
            .as_ref()
            .and_then(|g| g.commit.as_deref())
            .map_or_else(String::new, |c| format!(" (commit {})", short(c)));
        emit(&format!(
            "baseline {key} now accepts run {}{commit}: {} (version {version})\n",
            run.id,
            args.reason.trim()
        ))?;
        Ok(Outcome::Passed)
    }

    /// `baseline history`: how the key's baseline came to be, newest first.
    pub(super) fn baseline_history(&self, args: &BaselineHistoryArgs) -> Result<Outcome> {
        let store = self.store()?;
        let key = self.current_key(&args.key)?;
        let baseline = self.load_baseline(store.as_ref(), &key)?.value;
        if args.json {
            let mut text = serde_json::to_string_pretty(&baseline.changes)?;
            text.push('\n');
            return emit(&text).map(|()| Outcome::Passed);
        }
        if baseline.changes.is_empty() {
            emit(&format!(
                "baseline {key}: no recorded changes (written before benchkeep kept them); updated {}, {} run(s)\n",
                baseline.updated,
                baseline.sources.len()
            ))?;
            return Ok(Outcome::Passed);
        }
        let mut text = format!("baseline {key}, newest first:\n");
        for change in baseline.changes.iter().rev() {
            let runs: Vec<String> = change.runs.iter().map(ToString::to_string).collect();
            let _ = write!(
                text,
                "{}  {:<9} {} run(s)  added {}",
                change.at,
                change.action.to_string(),
                change.sources,
                if runs.is_empty() {
                    "-".into()
                } else {
                    runs.join(", ")
                }
            );
            if let Some(commit) = &change.commit {
                let _ = write!(text, "  commit {}", short(commit));
            }
            if let Some(reason) = &change.reason {
                let _ = write!(text, "  reason: {reason}");
            }
            text.push('\n');
        }
        emit(&text)?;
        Ok(Outcome::Passed)
    }

    /// `baseline delete`: removes a key's baseline (its runs stay, for `baseline set`).
    pub(super) fn baseline_delete(&self, args: &BaselineDeleteArgs) -> Result<Outcome> {
        let store = self.store()?;
        let key = match &args.name {
            Some(name) => parse_key(name)?,
            None if args.key.branch.is_some() || args.key.platform.is_some() => {
                self.current_key(&args.key)?
            }
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
                return Err(anyhow!(e).context(format!("cannot delete the baseline of {key}")));
            }
        }
        emit(&format!(
            "deleted the baseline of {key} in {}; its runs are kept (`benchkeep baseline set` makes a new one)\n",
            store.location()
        ))?;
        Ok(Outcome::Passed)
    }

    /// The baseline of `key` and its version; a missing one is an error naming the store.
    fn load_baseline(&self, store: &dyn Store, key: &BaselineKey) -> Result<Versioned<Baseline>> {
        match self.block_on(store.get_baseline(key)) {
            Ok(found) => Ok(found),
            Err(StoreError::NotFound { .. }) => {
                bail!("no baseline for {key} in {}", store.location())
            }
            Err(e) => Err(anyhow!(e).context(format!("cannot load the baseline of {key}"))),
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
fn parse_key(text: &str) -> Result<BaselineKey> {
    let Some((branch, platform)) = text.rsplit_once('@') else {
        bail!(
            "{text:?} is not a baseline key: BRANCH@PLATFORM, as `benchkeep baseline list` prints them"
        );
    };
    BaselineKey::new(branch, platform).map_err(|e| anyhow!("{text:?}: {e}"))
}

/// The first 12 characters of a commit hash.
fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}
