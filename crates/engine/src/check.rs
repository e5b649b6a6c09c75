//! `check`: measure (or load, or import) a run, find its baseline (or bootstrap one), compare
//! with the configured policies, measure again where that can decide (adaptive looks,
//! `--confirm`), apply the environment policy, gate, record, and promote: the CLI's exact gate
//! as a library.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use benchkeep_core::baseline::{Baseline, ChangeAction};
use benchkeep_core::compare::{self, CompareConfig, Comparison, Verdict};
use benchkeep_core::key::BaselineKey;
use benchkeep_core::model::{Run, RunId, SpeedProbe};
use benchkeep_core::promotion;
use benchkeep_core::store::{self as core_store, RunQuery, Store, StoreError};
use benchkeep_report::{Context, VerdictDocument};
use benchkeep_runner::environment;
use jiff::Timestamp;

use crate::config::{EnvironmentPolicy, SpeedProbePolicy};
use crate::import::ImportRequest;
use crate::load::note_scaling_regressions;
use crate::measure::{MeasureRequest, RecordOptions};
use crate::promote::promotion_subject;
use crate::session::{KeyOverrides, Session};
use crate::settings::CompareFlags;
use crate::{Context as _, Error, Outcome, bail};

/// Where a check's run comes from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RunSource {
    /// Measure [`CheckRequest::measure`] here.
    Measure,
    /// A run file written earlier (`--run`).
    File(PathBuf),
    /// Another harness's output (`--import FORMAT FILE`).
    Import(ImportRequest),
}

/// Everything `benchkeep check` is asked, as a library user builds it: the defaults are the
/// CLI's, and every setting the flags leave unset comes from the configuration file.
///
/// ```
/// use benchkeep_engine::check::{CheckRequest, RunSource};
/// use benchkeep_engine::measure::MeasureRequest;
///
/// let mut request = CheckRequest::new(RunSource::Measure);
/// request.measure = MeasureRequest::command(["sleep", "0.01"]);
/// request.require_baseline = true;
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
#[allow(clippy::struct_excessive_bools)] // independent switches, as on the command line
pub struct CheckRequest {
    /// Where the run comes from.
    pub source: RunSource,
    /// What to measure (also what `--confirm` and adaptive looks measure again).
    pub measure: MeasureRequest,
    /// The key's parts to set.
    pub key: KeyOverrides,
    /// Where the run goes besides the store.
    pub record: RecordOptions,
    /// Comparison flags over the configuration's `[compare]`.
    pub compare: CompareFlags,
    /// No baseline is an outcome of its own ([`Outcome::NoBaseline`]) instead of a bootstrap.
    pub require_baseline: bool,
    /// Compare with this branch's baseline instead of the run's own.
    pub baseline_branch: Option<String>,
    /// Compare with the runs recorded at the merge-base of HEAD and the baseline's branch.
    pub merge_base: bool,
    /// Measure benchmarks that look regressed again before failing.
    pub confirm: bool,
    /// Promote a passing run locally (CI promotes without it; see [`promotion::check`]).
    pub promote: bool,
    /// The branch whose passing CI runs join its baseline (`[compare] promote_on` if unset).
    pub promote_on: Option<String>,
    /// What a changed environment does (`[compare] environment`, else warn).
    pub environment: Option<EnvironmentPolicy>,
    /// What history verdicts do with the speed probe (`[compare] speed_probe`, else widen).
    pub speed_probe: Option<SpeedProbePolicy>,
    /// Most looks of adaptive runs (`[compare] max_looks`, else 4).
    pub max_looks: Option<u32>,
    /// Most seconds of adaptive runs (`[compare] max_time`, else 4 x the first batch).
    pub max_time: Option<f64>,
}

impl CheckRequest {
    /// A check of a run from `source`, with every other setting from the configuration.
    #[must_use]
    pub fn new(source: RunSource) -> Self {
        CheckRequest {
            source,
            measure: MeasureRequest::default(),
            key: KeyOverrides::default(),
            record: RecordOptions::default(),
            compare: CompareFlags::default(),
            require_baseline: false,
            baseline_branch: None,
            merge_base: false,
            confirm: false,
            promote: false,
            promote_on: None,
            environment: None,
            speed_probe: None,
            max_looks: None,
            max_time: None,
        }
    }
}

/// How a check ended, and what to show.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CheckReport {
    /// Passed, regressed, or no baseline.
    pub outcome: Outcome,
    /// The verdict every report format renders; `None` only for [`Outcome::NoBaseline`].
    pub document: Option<VerdictDocument>,
    /// The run, as recorded (with any samples measured again, and whether it passed).
    pub run: Run,
    /// Why there is no verdict, for [`Outcome::NoBaseline`].
    pub reason: Option<String>,
}

/// How many of a key's newest runs `--merge-base` searches for the merge-base commit.
const MERGE_BASE_SEARCH: usize = 500;

/// When the first batch of measurements started, how long it took, and how many benchmarks
/// it measured: the budget of adaptive looks.
pub(crate) type FirstBatch = (Instant, Duration, usize);

impl Session {
    /// `benchkeep check`: the run (measured, loaded or imported) compared with its baseline
    /// and gated, then recorded and, when it may be, promoted; with no baseline, the run
    /// becomes it (unless `require_baseline`).
    ///
    /// # Errors
    ///
    /// Invalid settings, a failing command, an unreadable run or store, a gate asked to judge
    /// what nothing measured ([`Error::Unjudged`]), [`Error::Interrupted`].
    pub fn check(&self, request: &CheckRequest) -> Result<CheckReport, Error> {
        let config = self.compare_config(&request.compare)?;
        let store = self.store()?;
        self.detail(&format!("store: {}", store.location()));
        // When the run is measured here, its benchmarks can be measured again (adaptive runs).
        let mut measured = None;
        let run = match &request.source {
            RunSource::File(path) => {
                let mut run = self.load_run_file(path)?;
                if request.key.branch.is_some() || request.key.platform.is_some() {
                    run.key =
                        self.resolve_key(&request.key, Some(&run.key.branch), &run.key.platform)?;
                }
                run
            }
            RunSource::Import(import) => {
                self.imported_run(import, &request.key, &request.record)?
            }
            RunSource::Measure => {
                let started = Instant::now();
                let run = self.measure(&request.measure, &request.key, &request.record)?;
                measured = Some((started, started.elapsed(), run.benchmarks.len()));
                run
            }
        };
        self.write_out_file(&run, &request.record)?;
        let own_key = run.key.clone();
        let compare_with = self.baseline_key_for(&run, request)?;
        self.detail(&format!(
            "run {} of {own_key}; baseline key {compare_with}",
            run.id
        ));
        let at_merge_base = if request.merge_base {
            self.merge_base_baseline(store.as_ref(), &compare_with)?
        } else {
            None
        };
        let mut baseline = match at_merge_base {
            Some(baseline) => baseline,
            None => match self.block_on(store.get_baseline(&compare_with)) {
                Ok(found) => found.value,
                Err(StoreError::NotFound { .. }) => {
                    return self.without_baseline(store.as_ref(), run, &compare_with, request);
                }
                Err(e) => {
                    return Err(Error::store(
                        format!("cannot load the baseline of {compare_with}"),
                        e,
                    ));
                }
            },
        };
        let mut run = run;
        if measured.is_some() && !request.measure.benches.is_empty() {
            // `--bench` measured a chosen few: the rest of the baseline was not asked about,
            // so it is not "missing".
            let chosen = |name: &str| request.measure.benches.iter().any(|b| b == name);
            baseline.benchmarks.retain(|b| chosen(&b.name));
            baseline.history.retain(|h| chosen(&h.benchmark));
        }
        let before = run.benchmarks.clone();
        let document = self.gate(&baseline, &mut run, &config, request, measured)?;
        if before != run.benchmarks {
            // Adaptive runs or --confirm measured more: the files and the store get the final
            // samples.
            self.write_out_file(&run, &request.record)?;
            self.write_exports(&run, &request.measure.exports)?;
        }
        let passed = document.passed;
        run.passed = Some(passed);
        self.record(store.as_ref(), &run, &request.record)?;
        self.promote_if_asked(store.as_ref(), &run, request, passed)?;
        Ok(CheckReport {
            outcome: Outcome::of(passed),
            document: Some(document),
            run,
            reason: None,
        })
    }

    /// No baseline for `compare_with`: with `require_baseline`, that is the outcome; for another
    /// branch's key, only limits judge the run; for the run's own key, it becomes the baseline.
    fn without_baseline(
        &self,
        store: &dyn Store,
        run: Run,
        compare_with: &BaselineKey,
        request: &CheckRequest,
    ) -> Result<CheckReport, Error> {
        if request.require_baseline {
            self.record(store, &run, &request.record)?;
            return Ok(CheckReport {
                outcome: Outcome::NoBaseline,
                document: None,
                reason: Some(format!(
                    "no baseline for {compare_with} in {} (--require-baseline); create one with `benchkeep baseline set`",
                    store.location()
                )),
                run,
            });
        }
        if *compare_with == run.key {
            return self.bootstrap(store, run, request);
        }
        // Another branch's baseline is never created from this run.
        let judged = self.gate_without_baseline(&run, &request.compare)?;
        let document = no_baseline_document(
            &run,
            &format!("no baseline for {compare_with} yet: nothing to compare with"),
            false,
            judged,
        );
        let mut run = run;
        run.passed = Some(document.passed);
        self.record(store, &run, &request.record)?;
        if document.passed {
            self.notice(&format!(
                "no baseline for {compare_with} in {} yet, so nothing to compare with; the run is recorded under {} (use --require-baseline to fail instead)",
                store.location(),
                run.key
            ));
        }
        Ok(CheckReport {
            outcome: Outcome::of(document.passed),
            document: Some(document),
            run,
            reason: None,
        })
    }

    /// The key whose baseline a check compares with: the run's own, or `--baseline-branch`'s
    /// (with `--merge-base` and no branch given, the pull request's base branch from CI).
    fn baseline_key_for(&self, run: &Run, request: &CheckRequest) -> Result<BaselineKey, Error> {
        let branch = request
            .baseline_branch
            .clone()
            .or_else(|| self.config.compare.baseline_branch.clone())
            .or_else(|| {
                request
                    .merge_base
                    .then(|| run.ci.as_ref().and_then(|ci| ci.base_branch.clone()))
                    .flatten()
                    .filter(|branch| !branch.is_empty())
            });
        if let Some(branch) = branch {
            return BaselineKey::new(branch, run.key.platform.clone())
                .map_err(|e| Error::Invalid(format!("--baseline-branch: {e}")));
        }
        if request.merge_base {
            bail!(
                "--merge-base needs the branch to merge into: give --baseline-branch (no pull request base branch was found in the CI environment)"
            );
        }
        Ok(run.key.clone())
    }

    /// With `--merge-base`: a baseline pooled from the runs of `key` recorded at the merge-base
    /// of HEAD and the key's branch, if git finds one and the store has such runs.
    fn merge_base_baseline(
        &self,
        store: &dyn Store,
        key: &BaselineKey,
    ) -> Result<Option<Baseline>, Error> {
        let Some(commit) = environment::merge_base(&self.cwd, &key.branch) else {
            self.notice(&format!(
                "--merge-base: git found no merge-base of HEAD and {} (in CI, fetch the branch with its history, e.g. fetch-depth: 0); comparing with the baseline of {key}",
                key.branch
            ));
            return Ok(None);
        };
        let runs = self
            .block_on(store.list_runs(&RunQuery::latest(key.clone(), MERGE_BASE_SEARCH)))
            .with_context(|| format!("cannot list the runs of {key}"))?;
        let promoted: HashSet<RunId> = match self.block_on(store.get_baseline(key)) {
            Ok(found) => found.value.sources.into_iter().map(|s| s.run).collect(),
            Err(StoreError::NotFound { .. }) => HashSet::new(),
            Err(e) => {
                return Err(Error::store(
                    format!("cannot load the baseline of {key}"),
                    e,
                ));
            }
        };
        let at_commit: Vec<Run> = runs
            .into_iter()
            .filter(|r| r.git.as_ref().and_then(|g| g.commit.as_deref()) == Some(commit.as_str()))
            .rev() // oldest first
            .collect();
        let found = at_commit.len();
        // Only evidence main itself accepted: runs that passed their gate (or were promoted),
        // measured from a clean tree. A run that failed main's gate, or measured uncommitted
        // changes, says nothing about the fork point.
        let at_commit: Vec<Run> = at_commit
            .into_iter()
            .filter(|r| r.passed == Some(true) || promoted.contains(&r.id))
            .filter(|r| r.git.as_ref().and_then(|g| g.dirty) == Some(false))
            .collect();
        let short: String = commit.chars().take(12).collect();
        if at_commit.is_empty() {
            let why = if found == 0 {
                format!("no run of {key} was recorded at the merge-base {short}")
            } else {
                format!(
                    "none of the {found} run(s) of {key} at the merge-base {short} both passed its gate and measured a clean tree"
                )
            };
            self.notice(&format!(
                "--merge-base: {why}; comparing with the baseline of {key}"
            ));
            return Ok(None);
        }
        self.notice(&format!(
            "comparing with {} run(s) of {key} recorded at the merge-base {short}",
            at_commit.len()
        ));
        Ok(Some(Baseline::from_runs(
            key.clone(),
            &at_commit,
            Timestamp::now(),
        )?))
    }

    /// Compares `run` with `baseline` (confirming regressions first with `--confirm`) and
    /// judges the gate: the verdict document.
    fn gate(
        &self,
        baseline: &Baseline,
        run: &mut Run,
        config: &CompareConfig,
        request: &CheckRequest,
        measured: Option<FirstBatch>,
    ) -> Result<VerdictDocument, Error> {
        let mut config = config.clone();
        config.policies = self.policies_for(&baseline.benchmarks, &run.benchmarks)?;
        let measured_here = measured.is_some();
        let mut comparison = match measured {
            Some(first_batch) => {
                self.adaptive_check(baseline, run, &mut config, request, first_batch)?
            }
            None => compare::compare_job_with_baseline(
                baseline,
                &run.benchmarks,
                self.probe_of(run, request),
                &config,
            ),
        };
        let config = &config;
        if request.confirm {
            self.confirm_check(baseline, run, config, request, &mut comparison)?;
        }
        if baseline.sources.len() < config.min_history
            && comparison
                .entries
                .iter()
                .any(|e| e.gating && e.method == compare::Method::MedianBootstrap)
        {
            self.notice(&format!(
                "hint: the baseline of {} comes from {} job(s), so job-to-job noise is unknown; pool {} or more with `benchkeep baseline set --last 10` for history-aware verdicts",
                baseline.key,
                baseline.sources.len(),
                config.min_history
            ));
        }
        note_scaling_regressions(&mut comparison);
        let mut warnings = self.baseline_notes(baseline);
        let changed = run.fingerprint.differences_from(&baseline.fingerprint);
        if !changed.is_empty() {
            let what = format!(
                "environment changed since the baseline ({})",
                changed.join("; ")
            );
            match request
                .environment
                .or(self.config.compare.environment)
                .unwrap_or_default()
            {
                EnvironmentPolicy::Ignore => {}
                EnvironmentPolicy::Warn => warnings.push(format!(
                    "{what}: timings may differ for that reason alone (`--environment refuse` makes this inconclusive)"
                )),
                EnvironmentPolicy::Refuse => {
                    warnings.push(format!("{what}: not compared (--environment refuse)"));
                    refuse_comparison(&mut comparison, &what);
                }
            }
        }
        if measured_here {
            // Outliers and a cold first run, as hyperfine warns of them; output that changed.
            warnings.extend(benchkeep_report::measurements::warnings(&run.benchmarks));
            warnings.extend(std::mem::take(
                &mut *self
                    .measurement_warnings
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            ));
        }
        let passed = self.gate_passes(&mut comparison, config)?;
        let context = Context {
            subject: run.key.to_string(),
            baseline_runs: baseline.sources.iter().map(|s| s.run.to_string()).collect(),
            current_run: run.id.to_string(),
            heading: (baseline.key != run.key).then(|| {
                format!(
                    "{} compared with the baseline of {} ({} run{})",
                    run.key,
                    baseline.key,
                    baseline.sources.len(),
                    if baseline.sources.len() == 1 { "" } else { "s" }
                )
            }),
            warnings,
            current_commit: run.git.as_ref().and_then(|g| g.commit.clone()),
            baseline_commits: baseline
                .sources
                .iter()
                .filter_map(|s| s.commit.clone())
                .collect(),
            job_url: run.ci.as_ref().and_then(|c| c.url.clone()),
        };
        Ok(VerdictDocument::new(&comparison, context, passed))
    }

    /// What a reader of a comparison with `baseline` must know about it: an accepted slowdown
    /// it carries, and an age past `[compare] max_age_days` (default 30; 0 turns it off), which
    /// usually means promotions stopped.
    fn baseline_notes(&self, baseline: &Baseline) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(accepted) = &baseline.accepted {
            let commit = accepted.commit.as_deref().map_or_else(String::new, |c| {
                format!(" at commit {}", c.get(..12).unwrap_or(c))
            });
            notes.push(format!(
                "the baseline accepted a slowdown on {}{commit} (`baseline accept`): {}",
                accepted.at.strftime("%Y-%m-%d"),
                accepted.reason.as_deref().unwrap_or("no reason given")
            ));
        }
        let max_age = self.config.compare.max_age_days.unwrap_or(30);
        let age_days = (Timestamp::now().as_second() - baseline.updated.as_second()) / 86_400;
        if max_age > 0 && age_days > i64::from(max_age) {
            notes.push(format!(
                "the baseline of {} was last updated {age_days} days ago (max_age_days = {max_age}): promotions may have stopped, and the code it measured is old",
                baseline.key
            ));
        }
        notes
    }

    /// The job's speed probe, unless the check ignores it.
    pub(crate) fn probe_of<'r>(
        &self,
        run: &'r Run,
        request: &CheckRequest,
    ) -> Option<&'r SpeedProbe> {
        let policy = request
            .speed_probe
            .or(self.config.compare.speed_probe)
            .unwrap_or_default();
        run.probe
            .as_ref()
            .filter(|_| policy == SpeedProbePolicy::Widen)
    }

    /// The gate of a run with no baseline: every benchmark is new, so only the policies'
    /// absolute limits can fail it (`max = "250ms"` holds from the first run on).
    fn gate_without_baseline(
        &self,
        run: &Run,
        flags: &CompareFlags,
    ) -> Result<(Comparison, bool), Error> {
        let mut config = self.compare_config(flags)?;
        config.policies = self.policies_for(&[], &run.benchmarks)?;
        let mut comparison = compare::compare(&[], &run.benchmarks, &config);
        let passed = self.gate_passes(&mut comparison, &config)?;
        Ok((comparison, passed))
    }

    /// No baseline yet: this run becomes it (the seeds' first-run behaviour).
    fn bootstrap(
        &self,
        store: &dyn Store,
        run: Run,
        request: &CheckRequest,
    ) -> Result<CheckReport, Error> {
        let judged = self.gate_without_baseline(&run, &request.compare)?;
        let report =
            |run: Run, note: &str, bootstrapped: bool, judged: (Comparison, bool)| CheckReport {
                outcome: Outcome::of(judged.1),
                document: Some(no_baseline_document(&run, note, bootstrapped, judged)),
                run,
                reason: None,
            };
        let mut run = run;
        run.passed = Some(judged.1);
        if !judged.1 {
            // A run beyond its policies' absolute limits fails, and does not become the
            // baseline that later runs would be judged against.
            self.record(store, &run, &request.record)?;
            return Ok(report(
                run,
                "no baseline yet; none created: the run is beyond its policies' limits",
                false,
                judged,
            ));
        }
        if let Some(branch) = self.promote_branch(request)
            && run.key.branch == *branch
            && let Err(refusal) =
                promotion::check(&promotion_subject(&run), true, branch, request.promote)
        {
            // The promote branch's baseline is what every later check there is judged
            // against: its first run must be one that could have been promoted.
            self.record(store, &run, &request.record)?;
            self.notice(&format!(
                "no baseline for {} in {}; none created from this run: {refusal}",
                run.key,
                store.location()
            ));
            let note = format!("no baseline yet; none created: {refusal}");
            return Ok(report(run, &note, false, judged));
        }
        if request.record.no_record {
            self.notice(&format!(
                "no baseline for {} in {}; none created because of --no-record (use --require-baseline to fail instead)",
                run.key,
                store.location()
            ));
            return Ok(report(
                run,
                "no baseline yet; none created because of --no-record",
                false,
                judged,
            ));
        }
        let mut baseline = Baseline::from_runs(
            run.key.clone(),
            std::slice::from_ref(&run),
            Timestamp::now(),
        )?;
        baseline.record_change(
            None,
            ChangeAction::Created,
            std::slice::from_ref(&run),
            None,
        );
        self.record(store, &run, &request.record)?;
        match self.block_on(store.put_baseline(&baseline, core_store::PutMode::Create)) {
            Ok(_) => {}
            Err(StoreError::AlreadyExists { .. }) => {
                // Another job created it meanwhile: compare with theirs, and when this run
                // passes, join it (compare-and-swap), as it would have been had it won.
                self.notice("another job created the baseline meanwhile; comparing with it");
                return self.check_against_existing(store, run, request);
            }
            Err(e) => return Err(Error::store("cannot create the baseline", e)),
        }
        self.notice(&format!(
            "no baseline for {} yet: this run is now the baseline (in {}); later checks compare with it",
            run.key,
            store.location()
        ));
        Ok(report(
            run,
            "no baseline yet: this run is now the baseline",
            true,
            judged,
        ))
    }

    /// The loser of a bootstrap race: the run (already recorded) judged against the winner's
    /// baseline, joining it when it passes.
    fn check_against_existing(
        &self,
        store: &dyn Store,
        mut run: Run,
        request: &CheckRequest,
    ) -> Result<CheckReport, Error> {
        let config = self.compare_config(&request.compare)?;
        let baseline = self
            .block_on(store.get_baseline(&run.key))
            .with_context(|| format!("cannot load the baseline of {}", run.key))?
            .value;
        let document = self.gate(&baseline, &mut run, &config, request, None)?;
        let passed = document.passed;
        run.passed = Some(passed);
        if passed {
            self.join_baseline(store, &run)?;
        }
        Ok(CheckReport {
            outcome: Outcome::of(passed),
            document: Some(document),
            run,
            reason: None,
        })
    }
}

/// The verdict document of a run with no baseline: every benchmark "new", `note` saying why.
fn no_baseline_document(
    run: &Run,
    note: &str,
    bootstrapped: bool,
    (comparison, passed): (Comparison, bool),
) -> VerdictDocument {
    let context = Context {
        subject: run.key.to_string(),
        current_run: run.id.to_string(),
        heading: Some(format!(
            "{}: no baseline to compare with (only absolute limits apply)",
            run.key
        )),
        warnings: vec![note.to_owned()],
        current_commit: run.git.as_ref().and_then(|g| g.commit.clone()),
        job_url: run.ci.as_ref().and_then(|c| c.url.clone()),
        ..Context::default()
    };
    VerdictDocument::without_baseline(&comparison, context, passed, bootstrapped)
}

/// `--environment refuse`: every gating verdict becomes inconclusive, with the reason.
fn refuse_comparison(comparison: &mut Comparison, what: &str) {
    for entry in comparison.entries.iter_mut().filter(|e| e.gating) {
        if matches!(
            entry.verdict,
            Verdict::Regressed | Verdict::Improved | Verdict::Unchanged
        ) {
            entry.verdict = Verdict::Inconclusive;
            entry.severity = None;
            what.clone_into(&mut entry.reason);
        }
    }
}
