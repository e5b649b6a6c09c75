//! The verdict document: what every format renders, and what the `json` format writes. It is
//! this crate's own type, versioned ([`VERDICT_SCHEMA`]), so that a change inside
//! `benchkeep-core`'s comparison structs cannot change the wire format unnoticed (the schema
//! snapshot test in `tests/schema.rs` pins its shape). One shape for every case: a comparison
//! with a baseline, and a run with no baseline to compare with (bootstrapped or not).

use benchkeep_core::compare::{
    Comparison, GateEffect, HistoryInfo, LimitCheck, Method, MetricComparison, Severity, Summary,
    Verdict,
};
use benchkeep_core::model::{Direction, Unit};
use benchkeep_core::schema::SchemaVersion;
use serde::{Deserialize, Serialize};

/// Version of the verdict document.
///
/// - `1.0`: first version: `passed`, `key`, `baseline_runs`, `current_run`, `counts`, `entries`.
/// - `1.1`: `fdr`; entries gain `method`, `threshold`, `q_value`, `detectable`, `history` and
///   `notes`; `heading` for paired comparisons.
/// - `1.2`: `warnings` (e.g. the environment changed), `current_commit`, `baseline_commits`,
///   `job_url`, and `alert` (whether a moderate or critical regression asks for an issue).
/// - `1.3`: the top-level `method` is the method every tested entry used, or `mixed` (it was the
///   method requested); entries gain `confidence` (the level of `interval`, adjusted for multiple
///   comparisons) and their `baseline` and `current` summaries a `centre` (the value compared,
///   when it is not the median); new method names `median-normal`, `trimmed-t`, `summary-t`,
///   `summary-range`, `paired-trimmed-t`.
/// - `1.4`: one shape for every case: `outcome` (`compared` or `no_baseline`) and
///   `bootstrapped` in every document; a run with no baseline carries its entries (each `new`,
///   with any absolute limit), counts, method and threshold like any other; entries gain
///   `effect` (`warning` or `failure`: what the entry does to the gate) and `limit`.
pub const VERDICT_SCHEMA: SchemaVersion = SchemaVersion { major: 1, minor: 4 };

/// What is being compared with what, for headings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// The key, or a description such as `a.json -> b.json`.
    pub subject: String,
    /// The baseline's source run ids.
    #[serde(default)]
    pub baseline_runs: Vec<String>,
    /// The current run's id.
    #[serde(default)]
    pub current_run: String,
    /// A first line that replaces "X compared with the baseline of N runs" (paired mode, no
    /// baseline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
    /// Things the reader must know besides the table (the environment changed, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The commit the current run measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_commit: Option<String>,
    /// The commits the baseline's runs measured, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baseline_commits: Vec<String>,
    /// A link to the CI job that made the current run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_url: Option<String>,
}

impl Context {
    /// The first line of a report: the `heading`, or "X compared with the baseline of N runs".
    #[must_use]
    pub fn heading(&self) -> String {
        self.heading.clone().unwrap_or_else(|| {
            format!(
                "{} compared with the baseline of {} run{}",
                self.subject,
                self.baseline_runs.len(),
                if self.baseline_runs.len() == 1 {
                    ""
                } else {
                    "s"
                }
            )
        })
    }
}

/// What the current run was judged against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Basis {
    /// A baseline (or the paired base revision): entries carry verdicts.
    #[default]
    Compared,
    /// No baseline existed: every benchmark is `new`, and only absolute limits could fail it.
    NoBaseline,
}

/// How many gating entries have each verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)] // each is the count of the verdict it names
pub struct Counts {
    pub regressed: usize,
    pub improved: usize,
    pub unchanged: usize,
    pub inconclusive: usize,
    pub new: usize,
    pub missing: usize,
}

/// One benchmark metric's comparison, as the document carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Entry {
    /// Benchmark name (untrusted: it may come from a pull request; every renderer escapes it).
    pub benchmark: String,
    /// Metric name.
    pub metric: String,
    /// Unit of the metric.
    pub unit: Unit,
    /// Which way is better.
    pub direction: Direction,
    /// Whether this metric decides the gate.
    pub gating: bool,
    /// The method that produced the estimate.
    pub method: Method,
    /// The threshold that applied (a policy may set its own).
    pub threshold: f64,
    /// Baseline summary (absent for `new`).
    pub baseline: Option<Summary>,
    /// Current summary (absent for `missing`).
    pub current: Option<Summary>,
    /// Relative change, `current / baseline - 1`.
    pub change: Option<f64>,
    /// Confidence interval of the relative change, at `confidence`.
    pub interval: Option<(f64, f64)>,
    /// The level of `interval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// Two-sided p-value of the method's test.
    pub p_value: Option<f64>,
    /// The p-value adjusted for multiple comparisons, when adjusted.
    pub q_value: Option<f64>,
    /// The relative change this data detects with 80% power.
    pub detectable: Option<f64>,
    /// The history method's past jobs and job-to-job spread.
    pub history: Option<HistoryInfo>,
    /// The verdict.
    pub verdict: Verdict,
    /// Severity, for regressions.
    pub severity: Option<Severity>,
    /// Why the verdict is what it is, in a few words.
    pub reason: String,
    /// Further facts worth a reader's attention.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The policy's absolute limit, checked against the current median.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<LimitCheck>,
    /// What this entry does to the gate.
    #[serde(default, skip_serializing_if = "GateEffect::is_none")]
    pub effect: GateEffect,
}

impl From<&MetricComparison> for Entry {
    fn from(e: &MetricComparison) -> Self {
        Entry {
            benchmark: e.benchmark.clone(),
            metric: e.metric.clone(),
            unit: e.unit.clone(),
            direction: e.direction,
            gating: e.gating,
            method: e.method,
            threshold: e.threshold,
            baseline: e.baseline,
            current: e.current,
            change: e.change,
            interval: e.interval,
            confidence: e.confidence,
            p_value: e.p_value,
            q_value: e.q_value,
            detectable: e.detectable,
            history: e.history,
            verdict: e.verdict,
            severity: e.severity,
            reason: e.reason.clone(),
            notes: with_estimator_note(e),
            limit: e.limit.clone(),
            effect: e.effect,
        }
    }
}

/// `e`'s notes, and one more when its change is not what the two values shown beside it give
/// (a paired comparison's typical per-round ratio is not the ratio of the two sides' medians):
/// which estimate the change is, so that `-27%` beside `58.7 ms -> 60.0 ms` cannot be misread.
fn with_estimator_note(e: &MetricComparison) -> Vec<String> {
    let mut notes = e.notes.clone();
    if let (Some(change), Some(baseline), Some(current)) = (e.change, e.baseline, e.current) {
        let shown = current.compared() / baseline.compared() - 1.0;
        if shown.is_finite() && (shown - change).abs() > 0.005 + 0.05 * change.abs() {
            let estimate = match e.method {
                Method::Paired => "the typical per-round ratio of the paired rounds",
                Method::PairedTrimmedT => "the trimmed mean per-round ratio of the paired rounds",
                Method::History => "the change against the past jobs' typical median",
                Method::SummaryT | Method::SummaryRange => "the change of the harness's summaries",
                _ => "the method's estimate",
            };
            notes.push(format!(
                "change {} is {estimate}; the values shown differ by {}",
                crate::cells::pct(change),
                crate::cells::pct(shown)
            ));
        }
    }
    notes
}

impl Entry {
    /// Whether this entry makes the gate fail.
    #[must_use]
    pub fn fails_gate(&self) -> bool {
        self.effect == GateEffect::Failure
    }

    /// Where the current median stands against the limit: `above max 250 ms`.
    #[must_use]
    pub fn limit_relation(&self) -> Option<String> {
        Some(self.limit.as_ref()?.relation(&self.unit))
    }

    /// The limit in words with the current median: `median 300 ms is above max 250 ms`.
    #[must_use]
    pub fn limit_text(&self) -> Option<String> {
        Some(
            self.limit
                .as_ref()?
                .text(self.current.as_ref()?.median, &self.unit),
        )
    }

    /// A moderate or critical regression: one that asks for an issue.
    #[must_use]
    pub fn is_serious_regression(&self) -> bool {
        self.gating
            && self.verdict == Verdict::Regressed
            && matches!(self.severity, Some(Severity::Moderate | Severity::Critical))
    }
}

/// The verdict of a check, compare or `ab`: the document every format renders. Build it with
/// [`VerdictDocument::new`] or [`VerdictDocument::without_baseline`]; read one back with serde.
///
/// ```
/// use benchkeep_core::compare::{compare, CompareConfig};
/// use benchkeep_core::model::Benchmark;
/// use benchkeep_report::{Context, Renderer as _, VerdictDocument, formats::Json};
///
/// let base = [Benchmark::wall_time("parse", vec![1.0e6; 20])];
/// let head = [Benchmark::wall_time("parse", vec![1.0e6; 20])];
/// let config = CompareConfig::default();
/// let comparison = compare(&base, &head, &config);
/// let passed = comparison.passes(&config);
/// let context = Context { subject: "main@linux-x86_64".into(), ..Context::default() };
/// let document = VerdictDocument::new(&comparison, context, passed);
/// let json = Json.render(&document);
/// let back: VerdictDocument = serde_json::from_str(&json).unwrap();
/// assert_eq!(back, document);
/// ```
// Four independent facts of the wire format (passed, alert, bootstrapped, fdr), not a state.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VerdictDocument {
    /// [`VERDICT_SCHEMA`] when written by this build.
    pub schema: SchemaVersion,
    /// Always `verdict`.
    pub kind: String,
    /// What the run was judged against.
    #[serde(default)]
    pub outcome: Basis,
    /// No baseline existed and this run became it.
    #[serde(default)]
    pub bootstrapped: bool,
    /// Whether the gate passed.
    pub passed: bool,
    /// Whether a moderate or critical regression asks for an issue (the `alert` format).
    #[serde(default)]
    pub alert: bool,
    /// What was compared with what.
    #[serde(flatten)]
    pub context: Context,
    /// The one-line verdict: `PASS: 3 unchanged`.
    pub summary: String,
    /// Gating entries per verdict.
    pub counts: Counts,
    /// The method every tested entry used, or `mixed`.
    pub method: String,
    /// The default threshold (relative).
    pub threshold: f64,
    /// Whether p-values were adjusted across entries.
    pub fdr: bool,
    /// One entry per benchmark and metric.
    pub entries: Vec<Entry>,
}

impl VerdictDocument {
    /// The document of a comparison the gate judged (`passed`).
    #[must_use]
    pub fn new(comparison: &Comparison, context: Context, passed: bool) -> Self {
        let entries: Vec<Entry> = comparison.entries.iter().map(Entry::from).collect();
        let count = |verdict: Verdict| comparison.count(verdict);
        let mut document = VerdictDocument {
            schema: VERDICT_SCHEMA,
            kind: "verdict".to_owned(),
            outcome: Basis::Compared,
            bootstrapped: false,
            passed,
            alert: entries.iter().any(Entry::is_serious_regression),
            context,
            summary: String::new(),
            counts: Counts {
                regressed: count(Verdict::Regressed),
                improved: count(Verdict::Improved),
                unchanged: count(Verdict::Unchanged),
                inconclusive: count(Verdict::Inconclusive),
                new: count(Verdict::New),
                missing: count(Verdict::Missing),
            },
            method: comparison
                .method_used()
                .map_or("mixed", Method::name)
                .to_owned(),
            threshold: comparison.threshold,
            fdr: comparison.fdr,
            entries,
        };
        document.summary = crate::cells::summary_line(&document);
        document
    }

    /// The document of a run that had no baseline to compare with: `comparison` has every
    /// benchmark `new` (and any absolute limits checked); `bootstrapped` says whether the run
    /// became the baseline.
    #[must_use]
    pub fn without_baseline(
        comparison: &Comparison,
        context: Context,
        passed: bool,
        bootstrapped: bool,
    ) -> Self {
        let mut document = VerdictDocument::new(comparison, context, passed);
        document.outcome = Basis::NoBaseline;
        document.bootstrapped = bootstrapped;
        if bootstrapped && passed {
            "PASS: no baseline yet; this run is now the baseline".clone_into(&mut document.summary);
        }
        document
    }

    /// How many gating entries have `verdict`.
    #[must_use]
    pub fn count(&self, verdict: Verdict) -> usize {
        self.entries
            .iter()
            .filter(|e| e.gating && e.verdict == verdict)
            .count()
    }
}
