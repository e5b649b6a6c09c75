//! The comparison engine: per benchmark and metric, a verdict from effect size and significance.
//!
//! Each entry is estimated by the method its data allows ([`Method`]; chosen in
//! `compare/estimate.rs`): paired rounds (the sign test on the median ratio from 20 rounds, the
//! trimmed t below), history (this job against the spread between a baseline's past jobs, see
//! [`crate::history`]), or independent samples (the exact bootstrap of the ratio of medians from
//! 20 samples a side, order-statistic standard errors above 200, Yuen's trimmed t below 20,
//! moderated across a suite; Welch's t or a conservative range rule on a harness's summaries).
//! Every method yields one sampling law of its estimate ([`crate::inference::Law`]), from which
//! both its p-value and its interval at any level come.
//!
//! The p-values are then adjusted by Benjamini-Hochberg, the gating metrics and the others in
//! families of their own (off with `fdr = false`), and each entry's interval is read at the level
//! that adjustment implies (Benjamini and Yekutieli's false coverage rate), so the interval, the
//! q-value and the verdict always agree. The rule:
//!
//! | condition (with "worse" oriented by the metric's direction) | verdict |
//! |---|---|
//! | fewer than `min_samples` on either side, no spread, or unusable values | `inconclusive` (says why) |
//! | the interval excludes no change on the worse side, and the estimate (or the whole interval) is worse by more than the threshold | `regressed` |
//! | the same on the better side | `improved` |
//! | the whole interval inside ±threshold | `unchanged` |
//! | anything else | `inconclusive` ("cannot rule out X% worse") |
//!
//! A change is never called `unchanged` unless the data rules out a change beyond the threshold,
//! and an interval wholly beyond the threshold is never `inconclusive`. Every tested entry also
//! reports its minimum detectable effect: the change this data would detect with 80% power at
//! the level of its interval.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

mod estimate;
mod gate;

pub use gate::{GateEffect, Limit, LimitCheck, LimitError, LimitKind};

use estimate::{Analysed, MEDIAN_MIN, analyse_pair, moderate_small_samples};
use statrs::distribution::{ContinuousCDF, Normal};

use crate::baseline::Baseline;
use crate::bootstrap::SamplerCache;
use crate::history::{self, JobStat};
use crate::inference::Law;
use crate::model::{Benchmark, Direction, Metric, SpeedProbe, Unit};
use crate::stats;

/// How regressions are graded by their size (relative worsening, e.g. `0.5` = 50%).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityBands {
    /// Regressions at least this large are `moderate` (default 0.5: +50%).
    pub moderate: f64,
    /// Regressions at least this large are `critical` (default 1.0: +100%).
    pub critical: f64,
}

impl Default for SeverityBands {
    fn default() -> Self {
        SeverityBands {
            moderate: 0.5,
            critical: 1.0,
        }
    }
}

/// How bad a regression is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Below the moderate band.
    Minor,
    /// Between the moderate and critical bands.
    Moderate,
    /// At or above the critical band.
    Critical,
}

impl SeverityBands {
    /// The severity of a regression that worsened the metric by `worse` (relative).
    #[must_use]
    pub fn grade(&self, worse: f64) -> Severity {
        if worse >= self.critical {
            Severity::Critical
        } else if worse >= self.moderate {
            Severity::Moderate
        } else {
            Severity::Minor
        }
    }
}

/// Which metrics decide whether the gate passes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateMetrics {
    /// Each benchmark's primary (first) metric, e.g. wall time for commands.
    #[default]
    Primary,
    /// Only metrics with these names.
    Named(Vec<String>),
    /// Every metric.
    All,
}

impl GateMetrics {
    fn includes(&self, metric: &str, primary: bool) -> bool {
        match self {
            GateMetrics::Primary => primary,
            GateMetrics::Named(names) => names.iter().any(|n| n == metric),
            GateMetrics::All => true,
        }
    }
}

/// The statistical method behind one comparison entry. Each one gives the estimate's whole
/// sampling law (see [`crate::inference`]), so its p-value and its interval always agree.
///
/// In [`CompareConfig::method`] only two values mean something: [`Method::Paired`] for paired
/// rounds, anything else for independent samples (the engine then picks per entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Method {
    /// Independent samples, at least 20 per side: the ratio of medians with the percentile
    /// bootstrap law of that ratio (interval and p-value); exact up to 200 per side, by seeded
    /// Monte Carlo where a side has zeros.
    #[default]
    MedianBootstrap,
    /// Independent samples, more than 200 on a side (all positive): the ratio of medians, each
    /// median's standard error from the order statistics around it (normal law).
    MedianNormal,
    /// Independent small samples (fewer than 20 on a side): Yuen's trimmed t on log values
    /// (Welch's t below 5 values, where nothing is trimmed).
    TrimmedT,
    /// [`Method::TrimmedT`] with each side's variance moderated by the prior that a suite's
    /// other small-sample benchmarks of the metric imply (empirical Bayes, [`crate::moderation`]).
    TrimmedTModerated,
    /// A harness's reported summaries (mean, standard deviation or margin of error, count):
    /// Welch's t on a log scale.
    SummaryT,
    /// A harness's reported range with no sample count (libtest): a conservative normal rule
    /// with each side's standard deviation bounded by half its range.
    SummaryRange,
    /// Paired rounds, at least 20: the median per-round log ratio with the exact sign test and
    /// its order-statistic interval.
    Paired,
    /// Paired rounds, fewer than 20: the trimmed mean per-round log ratio, Tukey-McLaughlin t.
    PairedTrimmedT,
    /// This job against the job-to-job variation of a baseline's past jobs (Student t bound).
    History,
}

impl Method {
    /// The method's name in reports and documents.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Method::MedianBootstrap => "median-bootstrap",
            Method::MedianNormal => "median-normal",
            Method::TrimmedT => "trimmed-t",
            Method::TrimmedTModerated => "trimmed-t-moderated",
            Method::SummaryT => "summary-t",
            Method::SummaryRange => "summary-range",
            Method::Paired => "paired",
            Method::PairedTrimmedT => "paired-trimmed-t",
            Method::History => "history",
        }
    }

    /// Whether the method analyses paired rounds.
    #[must_use]
    pub fn is_paired(self) -> bool {
        matches!(self, Method::Paired | Method::PairedTrimmedT)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Settings for one benchmark that differ from the comparison's defaults (from `benchkeep.toml`
/// `[[policy]]` entries, which the caller resolves to benchmark names).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Smallest relative change that counts.
    pub threshold: Option<f64>,
    /// Significance level.
    pub alpha: Option<f64>,
    /// Which of this benchmark's metrics gate.
    pub gate: Option<GateMetrics>,
    /// Direction of this benchmark's gating metrics, overriding what the run recorded.
    pub direction: Option<Direction>,
    /// Severity bands.
    pub severity: Option<SeverityBands>,
    /// The least severity of regression that fails the gate (the others warn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_on: Option<Severity>,
    /// Whether the benchmark may be missing from a run (a warning instead of a failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_missing: Option<bool>,
    /// An absolute upper bound, whatever the baseline (see [`Limit`] for which metric).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Limit>,
    /// An absolute lower bound, whatever the baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Limit>,
}

/// Settings of a comparison.
// Independent switches (false discovery control, moderation, two fail-closed choices): each is
// one documented setting a user turns on or off.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareConfig {
    /// The smallest relative change that counts (default 0.05: 5%).
    pub threshold: f64,
    /// Significance level: of each test, or of the false discovery rate with `fdr` (default 0.05).
    /// Intervals are reported at the matching level (adjusted for multiple comparisons with
    /// `fdr`), so a verdict never disagrees with its interval.
    pub alpha: f64,
    /// Adjust p-values across all entries by Benjamini-Hochberg before verdicts (default true).
    pub fdr: bool,
    /// Power at which the minimum detectable effect is reported (default 0.8).
    pub power: f64,
    /// Bootstrap resamples where the bootstrap is not exact (default 2000).
    pub resamples: usize,
    /// Seed of the bootstrap; each benchmark and metric derives its own stream from it, so a
    /// verdict does not depend on which other benchmarks were compared.
    pub seed: u64,
    /// Fewest samples (or rounds) per side for a verdict other than `inconclusive` (default 1:
    /// every method accounts for its own sample size, and a single value is judged by the
    /// harness's summary or the other side's spread, or said to be too little). A single sample
    /// that carries the harness's own summary counts as that summary's count.
    pub min_samples: usize,
    /// Fewest past jobs for the history method (default 5); fewer fall back to independent
    /// samples, with the job-to-job noise stated as unknown.
    pub min_history: usize,
    /// Severity bands for regressions.
    pub severity: SeverityBands,
    /// Which metrics gate.
    pub gate: GateMetrics,
    /// Whether an inconclusive gating metric fails the gate (default false).
    pub fail_on_inconclusive: bool,
    /// The least severity of regression that fails the gate (default [`Severity::Minor`]:
    /// every regression); smaller ones are warnings.
    #[serde(default = "fail_on_default")]
    pub fail_on: Severity,
    /// Whether a benchmark of the baseline may be missing from the run (default false: a
    /// missing benchmark fails the gate, since nothing was measured to pass it).
    #[serde(default)]
    pub allow_missing: bool,
    /// How samples relate: independent (the default) or paired rounds. Baselines with a
    /// history use the history method through [`compare_with_baseline`].
    pub method: Method,
    /// Per-benchmark settings, by exact benchmark name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub policies: BTreeMap<String, Policy>,
    /// Worker threads for large comparisons (the caller picks; the core does no I/O to find out).
    #[serde(skip)]
    pub threads: usize,
    /// Moderate small samples' variances across the suite (empirical Bayes, default true; see
    /// [`crate::moderation`]).
    #[serde(default = "moderation_default")]
    pub moderation: bool,
    /// The share of `alpha` this analysis may spend (default 1). A sequential design that looks
    /// at growing data several times gives each look a share, so that the chance of any false
    /// alarm over all looks stays at most `alpha`.
    #[serde(default = "full_spend")]
    pub spend: f64,
}

fn fail_on_default() -> Severity {
    Severity::Minor
}

fn full_spend() -> f64 {
    1.0
}

fn moderation_default() -> bool {
    true
}

impl Default for CompareConfig {
    fn default() -> Self {
        CompareConfig {
            threshold: 0.05,
            alpha: 0.05,
            fdr: true,
            power: 0.8,
            resamples: 2000,
            seed: 0x5eed_bea7_c0de_0001,
            min_samples: 1,
            min_history: 5,
            severity: SeverityBands::default(),
            gate: GateMetrics::Primary,
            fail_on_inconclusive: false,
            fail_on: Severity::Minor,
            allow_missing: false,
            method: Method::MedianBootstrap,
            policies: BTreeMap::new(),
            threads: 1,
            spend: 1.0,
            moderation: true,
        }
    }
}

/// The settings that apply to one benchmark: the defaults with its policy on top.
#[derive(Debug, Clone, PartialEq)]
struct Effective<'a> {
    threshold: f64,
    alpha: f64,
    gate: &'a GateMetrics,
    direction: Option<Direction>,
    severity: SeverityBands,
}

impl CompareConfig {
    fn effective(&self, benchmark: &str) -> Effective<'_> {
        let policy = self.policies.get(benchmark);
        Effective {
            threshold: policy.and_then(|p| p.threshold).unwrap_or(self.threshold),
            alpha: policy.and_then(|p| p.alpha).unwrap_or(self.alpha),
            gate: policy.and_then(|p| p.gate.as_ref()).unwrap_or(&self.gate),
            direction: policy.and_then(|p| p.direction),
            severity: policy.and_then(|p| p.severity).unwrap_or(self.severity),
        }
    }
}

/// The verdict for one benchmark metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Worse beyond the threshold, significantly.
    Regressed,
    /// Better beyond the threshold, significantly.
    Improved,
    /// The data rules out a change beyond the threshold.
    Unchanged,
    /// The data supports neither answer.
    Inconclusive,
    /// In the current run only.
    New,
    /// In the baseline only.
    Missing,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Regressed => "regressed",
            Verdict::Improved => "improved",
            Verdict::Unchanged => "unchanged",
            Verdict::Inconclusive => "inconclusive",
            Verdict::New => "new",
            Verdict::Missing => "missing",
        })
    }
}

/// Summary statistics of one side.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Median.
    pub median: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// Median absolute deviation (unscaled).
    pub mad: f64,
    /// The value the method compared, when it is not the median: the trimmed geometric mean of
    /// small samples, a harness's reported mean, the history method's typical past job. The
    /// change is `current.centre / baseline.centre - 1` for every method but the paired ones
    /// (whose change is the typical per-round ratio).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub centre: Option<f64>,
}

impl Summary {
    /// Summarises sorted samples.
    #[must_use]
    pub fn of_sorted(sorted: &[f64]) -> Self {
        Summary {
            n: sorted.len(),
            median: stats::median_of_sorted(sorted),
            min: sorted.first().copied().unwrap_or(f64::NAN),
            max: sorted.last().copied().unwrap_or(f64::NAN),
            mad: stats::mad_of_sorted(sorted),
            centre: None,
        }
    }

    /// The value the method compared: [`Summary::centre`], else the median.
    #[must_use]
    pub fn compared(&self) -> f64 {
        self.centre.unwrap_or(self.median)
    }
}

/// The comparison of one metric of one benchmark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricComparison {
    /// Benchmark name.
    pub benchmark: String,
    /// Metric name.
    pub metric: String,
    /// Unit of the metric.
    pub unit: Unit,
    /// Direction of the metric.
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
    /// Relative change, `current / baseline - 1` (by the method's estimator).
    pub change: Option<f64>,
    /// Confidence interval of the relative change, at [`MetricComparison::confidence`].
    pub interval: Option<(f64, f64)>,
    /// The confidence level of `interval`: `1 - alpha` for one test, higher when false
    /// discovery control adjusts it for the other tests of its family (Benjamini and
    /// Yekutieli's false coverage rate), so that it always agrees with the verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// Two-sided p-value of the method's test.
    pub p_value: Option<f64>,
    /// The p-value adjusted for multiple comparisons (Benjamini-Hochberg), when adjusted.
    pub q_value: Option<f64>,
    /// Minimum detectable effect: the relative change this data detects with the configured
    /// power at the significance level.
    pub detectable: Option<f64>,
    /// History method: past jobs used, and the measured job-to-job standard deviation.
    pub history: Option<HistoryInfo>,
    /// The verdict.
    pub verdict: Verdict,
    /// Severity, for regressions.
    pub severity: Option<Severity>,
    /// Why the verdict is what it is, in a few words.
    pub reason: String,
    /// Further facts worth a reader's attention (a fallback, a confirmation re-run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The policy's absolute limit on this metric, checked against the current median.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<LimitCheck>,
    /// What this entry does to the gate ([`Comparison::settle`]).
    #[serde(default, skip_serializing_if = "GateEffect::is_none")]
    pub effect: GateEffect,
}

/// What the history method knew.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HistoryInfo {
    /// Past jobs in the model.
    pub jobs: usize,
    /// Job-to-job standard deviation, relative.
    pub between_jobs: f64,
    /// The share of the interval's variance that comes from this job's own samples (more of
    /// them can narrow only that part; the rest is the spread between jobs).
    #[serde(default)]
    pub this_job_share: f64,
    /// How much slower (positive) or faster this job's machine ran than the past jobs', by the
    /// speed probe, when both have one; the interval is widened by that shift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<f64>,
}

/// What a gate was asked to judge but could not: see [`Comparison::unjudged`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unjudged {
    /// Benchmarks without a gating entry, each with the metrics it did measure.
    pub benchmarks: Vec<(String, Vec<String>)>,
    /// Metrics a gate names that no benchmark measured.
    pub metrics: Vec<String>,
    /// Metrics the default gate names that no benchmark measured, while every benchmark had
    /// another gating metric: worth a warning (a typo, or a metric this kind of run lacks).
    pub unused_defaults: Vec<String>,
}

impl Unjudged {
    /// Whether nothing stops the gate from judging (`unused_defaults` are warnings only).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.benchmarks.is_empty() && self.metrics.is_empty()
    }
}

/// The comparison of a whole run with its baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The method requested (entries say which one each used).
    pub method: Method,
    /// The default threshold used.
    pub threshold: f64,
    /// Whether p-values were adjusted across entries (Benjamini-Hochberg).
    pub fdr: bool,
    /// One entry per benchmark and metric, in the current run's order, then missing ones.
    pub entries: Vec<MetricComparison>,
}

impl MetricComparison {
    /// Whether more samples could decide this entry: a gating metric that is inconclusive with
    /// an estimate (not for want of usable data), and, in history mode, whose interval owes at
    /// least a tenth of its variance to this job's own samples.
    #[must_use]
    pub fn wants_more_data(&self) -> bool {
        self.gating
            && self.verdict == Verdict::Inconclusive
            && self.p_value.is_some()
            && self.history.is_none_or(|h| h.this_job_share >= 0.1)
    }

    /// Whether this entry makes the gate fail, as last settled ([`Comparison::settle`]).
    #[must_use]
    pub fn fails_gate(&self) -> bool {
        self.effect == GateEffect::Failure
    }
}

impl Comparison {
    /// Gating entries that regressed.
    pub fn regressions(&self) -> impl Iterator<Item = &MetricComparison> {
        self.entries
            .iter()
            .filter(|e| e.gating && e.verdict == Verdict::Regressed)
    }

    /// What the gate could not judge, though it was asked to: benchmarks with no gating entry
    /// (their gate names only metrics they did not measure), and named gate metrics that no
    /// benchmark measured (a typo such as `walltime`). A gate with either has no evidence for
    /// those benchmarks, so a caller must not report a pass; the CLI refuses with exit 2.
    ///
    /// ```
    /// use benchkeep_core::compare::{compare, CompareConfig, GateMetrics};
    /// use benchkeep_core::model::Benchmark;
    ///
    /// let run = vec![Benchmark::wall_time("parse", vec![1e6; 10])];
    /// let config = CompareConfig {
    ///     gate: GateMetrics::Named(vec!["walltime".into()]),
    ///     ..CompareConfig::default()
    /// };
    /// let unjudged = compare(&run, &run, &config).unjudged(&config);
    /// assert_eq!(unjudged.benchmarks[0].0, "parse");
    /// assert_eq!(unjudged.metrics, ["walltime"]);
    /// ```
    #[must_use]
    pub fn unjudged(&self, config: &CompareConfig) -> Unjudged {
        let mut benchmarks: Vec<(String, Vec<String>)> = Vec::new();
        let mut gated: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
        let mut measured: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
        for entry in &self.entries {
            measured.insert(&entry.metric);
            if entry.gating {
                gated.insert(&entry.benchmark);
            }
        }
        for entry in &self.entries {
            if gated.contains(entry.benchmark.as_str()) {
                continue;
            }
            match benchmarks.iter_mut().find(|(b, _)| *b == entry.benchmark) {
                Some((_, metrics)) => metrics.push(entry.metric.clone()),
                None => benchmarks.push((entry.benchmark.clone(), vec![entry.metric.clone()])),
            }
        }
        let unmeasured = |gates: &mut dyn Iterator<Item = &GateMetrics>| {
            let mut names: Vec<String> = Vec::new();
            for gate in gates {
                if let GateMetrics::Named(wanted) = gate {
                    for name in wanted {
                        if !measured.contains(name.as_str()) && !names.contains(name) {
                            names.push(name.clone());
                        }
                    }
                }
            }
            names
        };
        let from_default = unmeasured(&mut std::iter::once(&config.gate));
        let mut metrics = unmeasured(&mut config.policies.values().filter_map(|p| p.gate.as_ref()));
        // A default gate may name metrics that only some kinds of run measure (peak memory,
        // say, where an import has times only): while every benchmark has a gating metric, that
        // is worth a warning, not a refusal. A policy names metrics for its benchmarks, so one
        // that none of them measured is refused.
        let mut unused_defaults = Vec::new();
        if benchmarks.is_empty() {
            unused_defaults = from_default;
        } else {
            for name in from_default {
                if !metrics.contains(&name) {
                    metrics.push(name);
                }
            }
        }
        Unjudged {
            benchmarks,
            metrics,
            unused_defaults,
        }
    }

    /// Whether the gate passes under `config`: no entry fails it (see [`Comparison::settle`];
    /// this settles a copy, so entries changed since are judged as they are now).
    #[must_use]
    pub fn passes(&self, config: &CompareConfig) -> bool {
        let mut settled = self.clone();
        settled.settle(config);
        !settled.entries.iter().any(MetricComparison::fails_gate)
    }

    /// The method every tested entry used, when they all used the same one; with none tested,
    /// the method requested.
    #[must_use]
    pub fn method_used(&self) -> Option<Method> {
        let mut used = self
            .entries
            .iter()
            .filter(|e| e.p_value.is_some())
            .map(|e| e.method);
        match used.next() {
            None => Some(self.method),
            Some(first) => used.all(|m| m == first).then_some(first),
        }
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

struct Pair<'a> {
    benchmark: &'a str,
    primary: bool,
    baseline: Option<&'a Metric>,
    current: Option<&'a Metric>,
    /// Per-job summaries of the baseline, for the history method.
    history: Option<&'a [JobStat]>,
    /// How the benchmark's parameters changed from baseline to current, if they did.
    params_change: Option<String>,
    /// The current job's speed probe, for the history method.
    probe: Option<history::ProbeMedian>,
}

/// `parameters changed: workers 2 → 1, chunk_size 64 → 4000`, when the two sides differ.
fn params_change(baseline: &Benchmark, current: &Benchmark) -> Option<String> {
    if baseline.params == current.params {
        return None;
    }
    let names: std::collections::BTreeSet<&String> = baseline
        .params
        .keys()
        .chain(current.params.keys())
        .collect();
    let shown = |value: Option<&String>| value.map_or("(none)", String::as_str).to_owned();
    let changes: Vec<String> = names
        .into_iter()
        .filter_map(|name| {
            let (before, after) = (baseline.params.get(name), current.params.get(name));
            (before != after).then(|| format!("{name} {} → {}", shown(before), shown(after)))
        })
        .collect();
    Some(format!("parameters changed: {}", changes.join(", ")))
}

/// Compares `current` benchmarks with `baseline` benchmarks by `config.method` (independent
/// samples, or paired rounds where sample `i` of each side ran back to back).
#[must_use]
pub fn compare(
    baseline: &[Benchmark],
    current: &[Benchmark],
    config: &CompareConfig,
) -> Comparison {
    run_comparison(&pairs(baseline, current, |_, _| None), config)
}

/// Compares `current` with a stored baseline: by the history method for every metric whose
/// baseline has at least `config.min_history` past jobs, by independent samples otherwise.
#[must_use]
pub fn compare_with_baseline(
    baseline: &Baseline,
    current: &[Benchmark],
    config: &CompareConfig,
) -> Comparison {
    compare_job_with_baseline(baseline, current, None, config)
}

/// [`compare_with_baseline`] for a job that probed its machine's speed
/// ([`crate::model::Run::probe`]): where the baseline's jobs probed theirs too, the history
/// method allows, for time metrics (nanoseconds, lower is better), for a machine faster or
/// slower than any of theirs. Other units (memory, instruction counts) are not times.
#[must_use]
pub fn compare_job_with_baseline(
    baseline: &Baseline,
    current: &[Benchmark],
    probe: Option<&SpeedProbe>,
    config: &CompareConfig,
) -> Comparison {
    let probe = probe.and_then(history::ProbeMedian::of);
    let mut pairs = pairs(&baseline.benchmarks, current, |bench, metric| {
        baseline.job_history(bench, metric)
    });
    // The probe times work: a busy machine makes times longer, and says nothing about memory,
    // instruction counts or any other unit.
    for pair in &mut pairs {
        let timed = pair.current.or(pair.baseline).is_some_and(|m| {
            m.unit == Unit::nanoseconds() && m.direction == Direction::LowerIsBetter
        });
        pair.probe = probe.filter(|_| timed);
    }
    run_comparison(&pairs, config)
}

fn pairs<'a>(
    baseline: &'a [Benchmark],
    current: &'a [Benchmark],
    history: impl Fn(&str, &str) -> Option<&'a [JobStat]>,
) -> Vec<Pair<'a>> {
    use std::collections::{HashMap, HashSet};
    let base_index: HashMap<&str, &Benchmark> =
        baseline.iter().map(|b| (b.name.as_str(), b)).collect();
    let current_names: HashSet<&str> = current.iter().map(|b| b.name.as_str()).collect();
    let mut pairs = Vec::new();
    for bench in current {
        let base = base_index.get(bench.name.as_str());
        let change = base.and_then(|b| params_change(b, bench));
        for (i, metric) in bench.metrics.iter().enumerate() {
            pairs.push(Pair {
                benchmark: &bench.name,
                primary: i == 0,
                baseline: base.and_then(|b| b.metric(&metric.name)),
                current: Some(metric),
                history: history(&bench.name, &metric.name),
                params_change: change.clone(),
                probe: None,
            });
        }
        if let Some(base) = base {
            for (i, metric) in base.metrics.iter().enumerate() {
                if bench.metric(&metric.name).is_none() {
                    pairs.push(Pair {
                        benchmark: &bench.name,
                        // The baseline's primary metric stays primary when the run lacks it:
                        // a gate on it must see it missing, not move to another metric.
                        primary: i == 0,
                        baseline: Some(metric),
                        current: None,
                        history: None,
                        params_change: None,
                        probe: None,
                    });
                }
            }
        }
    }
    for bench in baseline
        .iter()
        .filter(|b| !current_names.contains(b.name.as_str()))
    {
        for (i, metric) in bench.metrics.iter().enumerate() {
            pairs.push(Pair {
                benchmark: &bench.name,
                primary: i == 0,
                baseline: Some(metric),
                current: None,
                history: None,
                params_change: None,
                probe: None,
            });
        }
    }
    pairs
}

fn run_comparison(pairs: &[Pair<'_>], config: &CompareConfig) -> Comparison {
    // Samplers are shared read-only by the workers, so build all of them first.
    let mut cache = SamplerCache::default();
    for pair in pairs {
        let sizes = [pair.baseline, pair.current].map(|m| m.map_or(0, |m| m.samples.len()));
        if config.method != Method::Paired && sizes.iter().all(|&n| (MEDIAN_MIN..=200).contains(&n))
        {
            for n in sizes {
                cache.get(n);
            }
        }
    }
    let threads = config.threads.max(1).min(pairs.len().max(1));
    let mut analysed: Vec<Analysed> = if threads <= 1 {
        pairs
            .iter()
            .map(|p| analyse_pair(p, config, &cache))
            .collect()
    } else {
        let chunk = pairs.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let workers: Vec<_> = pairs
                .chunks(chunk)
                .map(|part| {
                    let cache = &cache;
                    scope.spawn(move || {
                        part.iter()
                            .map(|p| analyse_pair(p, config, cache))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| {
                    w.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
    };
    if config.moderation {
        moderate_small_samples(&mut analysed);
    }
    // False discovery control, separately for the metrics that gate and for the rest: a
    // regression in wall time must not need a larger margin because user time, system time and
    // peak memory were tested beside it.
    for gating in [true, false] {
        decide_family(&mut analysed, gating, config);
    }
    let mut comparison = Comparison {
        method: config.method,
        threshold: config.threshold,
        fdr: config.fdr,
        entries: analysed.into_iter().map(|a| a.entry).collect(),
    };
    comparison.settle(config);
    comparison
}

/// Adjusts the p-values of one family (the gating or the non-gating entries) by
/// Benjamini-Hochberg and decides each entry from its interval at the matching level.
///
/// With `R` of the family's `m` tests selected at `alpha`, a selected entry's interval misses with
/// probability `R alpha / m` (Benjamini and Yekutieli's false-coverage-rate adjusted interval) and
/// every other entry's with `(R + 1) alpha / m`. Because each method's interval is dual to its
/// p-value, a selected entry's interval excludes "no change" and every other entry's includes it:
/// the verdict, the q-value and the interval always agree. With one test this is the plain
/// `1 - alpha` interval.
fn decide_family(analysed: &mut [Analysed], gating: bool, config: &CompareConfig) {
    let members: Vec<usize> = (0..analysed.len())
        .filter(|&i| analysed[i].entry.gating == gating && analysed[i].estimate.is_some())
        .collect();
    let p_values: Vec<f64> = members
        .iter()
        .map(|&i| analysed[i].estimate.as_ref().map_or(1.0, |e| e.p_value))
        .collect();
    let adjusted = if config.fdr {
        stats::benjamini_hochberg(&p_values)
    } else {
        p_values.clone()
    };
    let m = members.len() as f64;
    for (k, &i) in members.iter().enumerate() {
        let Analysed { entry, estimate } = &mut analysed[i];
        let Some(estimate) = estimate.take() else {
            continue;
        };
        let alpha = config.effective(&entry.benchmark).alpha * config.spend;
        let miss = if config.fdr {
            let selected = adjusted.iter().filter(|&&q| q <= alpha).count() as f64;
            entry.q_value = Some(adjusted[k]);
            if adjusted[k] <= alpha {
                selected * alpha / m
            } else {
                (selected + 1.0) * alpha / m
            }
        } else {
            alpha
        };
        let interval = estimate.law.interval(miss);
        entry.interval = Some(interval);
        entry.confidence = Some(1.0 - miss);
        entry.detectable = detectable_effect(&estimate.law, miss, config.power);
        let change = entry.change.unwrap_or(0.0);
        let range = estimate.law.estimate_range().unwrap_or((change, change));
        decide(entry, config, adjusted[k], interval, range);
    }
}

/// The minimum detectable effect: with the estimate's standard error on a log scale `se`, a
/// change of `exp((z(1 - miss / 2) + z(power)) * se) - 1` is detected with the given power by an
/// interval that misses with probability `miss`.
fn detectable_effect(law: &Law, miss: f64, power: f64) -> Option<f64> {
    let normal = Normal::standard();
    let se = law.log_standard_error();
    if !se.is_finite() {
        return None;
    }
    let z = normal.inverse_cdf(1.0 - miss / 2.0) + normal.inverse_cdf(power);
    Some((z * se).exp_m1())
}

/// Applies the verdict rule (see the module docs) to an entry's `interval`, at the level its
/// family's false discovery control set; `significance` is its q-value (or p-value without
/// false discovery control), quoted in the reason. `estimates` is the range of changes the point
/// estimate stands for (one value unless part of it may be the machine's; see
/// [`Law::Biased`]): a regression must be beyond the threshold at its least, an improvement at
/// its most.
fn decide(
    entry: &mut MetricComparison,
    config: &CompareConfig,
    significance: f64,
    (lo, hi): (f64, f64),
    estimates: (f64, f64),
) {
    let settings = config.effective(&entry.benchmark);
    // Orient so that positive means worse; `worse` is the least-worse estimate when judging a
    // regression and `better` the least-better when judging an improvement.
    let (worse, better, worse_lo, worse_hi) = match entry.direction {
        Direction::LowerIsBetter => (estimates.0, estimates.1, lo, hi),
        Direction::HigherIsBetter => (-estimates.1, -estimates.0, -hi, -lo),
    };
    let threshold = settings.threshold;
    let pct = |x: f64| format!("{:.1}%", x * 100.0);
    let p_text = if config.fdr {
        format!("q={}", format_p(significance))
    } else {
        format!("p={}", format_p(significance))
    };
    // An interval wholly beyond the threshold is decisive even where the point estimate of a
    // skewed law sits nearer zero.
    if worse_lo > 0.0 && (worse > threshold || worse_lo > threshold) {
        let size = worse.max(worse_lo);
        entry.verdict = Verdict::Regressed;
        entry.severity = Some(settings.severity.grade(size));
        entry.reason = format!("worse by {} ({p_text})", pct(size));
    } else if worse_hi < 0.0 && (better < -threshold || worse_hi < -threshold) {
        entry.verdict = Verdict::Improved;
        entry.reason = format!("better by {} ({p_text})", pct(-better.min(worse_hi)));
    } else if worse_lo > -threshold && worse_hi < threshold {
        entry.verdict = Verdict::Unchanged;
        entry.reason = format!("interval within ±{}", trim_pct(threshold));
    } else {
        entry.verdict = Verdict::Inconclusive;
        let (bound, word) = if worse_hi >= threshold {
            (worse_hi, "worse")
        } else {
            (-worse_lo, "better")
        };
        entry.reason = format!("cannot rule out {} {word} ({p_text})", pct(bound));
    }
}

/// A threshold as people write it: `10%`, `2.5%`.
fn trim_pct(x: f64) -> String {
    let text = format!("{:.2}", x * 100.0);
    format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
}

/// Formats a p-value with two significant digits, as people quote them.
#[must_use]
pub fn format_p(p: f64) -> String {
    if p < 0.001 {
        format!("{p:.1e}")
    } else if p < 0.1 {
        format!("{p:.3}")
    } else {
        format!("{p:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Rng;

    fn bench(name: &str, samples: Vec<f64>) -> Benchmark {
        Benchmark {
            params: std::collections::BTreeMap::new(),
            name: name.into(),
            command: None,
            metrics: vec![Metric {
                name: "wall_time".into(),
                unit: Unit::nanoseconds(),
                direction: Direction::LowerIsBetter,
                samples,
                summary: None,
            }],
        }
    }

    fn noisy(center: f64, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| center * (1.0 + 0.01 * (rng.unit_f64() - 0.5)))
            .collect()
    }

    fn verdict_of(base: Vec<f64>, cur: Vec<f64>) -> MetricComparison {
        let cmp = compare(
            &[bench("b", base)],
            &[bench("b", cur)],
            &CompareConfig::default(),
        );
        cmp.entries.into_iter().next().unwrap()
    }

    #[test]
    fn a_change_of_parameters_is_noted_on_every_metric_of_the_benchmark() {
        let with = |pairs: &[(&str, &str)]| {
            let mut b = bench("b", noisy(100.0, 20, 1));
            b.params = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            b
        };
        let base = with(&[("workers", "2"), ("chunk_size", "64")]);
        let cur = with(&[("workers", "1"), ("chunk_size", "64"), ("serial", "true")]);
        let cmp = compare(
            std::slice::from_ref(&base),
            &[cur],
            &CompareConfig::default(),
        );
        assert_eq!(
            cmp.entries[0].notes,
            vec!["parameters changed: serial (none) → true, workers 2 → 1".to_owned()]
        );
        let same = compare(
            std::slice::from_ref(&base),
            std::slice::from_ref(&base),
            &CompareConfig::default(),
        );
        assert!(same.entries[0].notes.is_empty());
    }

    #[test]
    fn large_slowdown_is_a_regression_with_severity() {
        let e = verdict_of(noisy(20e6, 20, 1), noisy(30e6, 20, 2));
        assert_eq!(e.verdict, Verdict::Regressed, "{e:?}");
        assert_eq!(e.severity, Some(Severity::Moderate));
        let (lo, hi) = e.interval.unwrap();
        assert!(lo < 0.5 && 0.5 < hi + 0.01, "{lo} {hi}");
    }

    #[test]
    fn same_distribution_is_unchanged() {
        let e = verdict_of(noisy(20e6, 20, 1), noisy(20e6, 20, 2));
        assert_eq!(e.verdict, Verdict::Unchanged, "{e:?}");
    }

    #[test]
    fn large_speedup_is_an_improvement() {
        let e = verdict_of(noisy(20e6, 20, 1), noisy(10e6, 20, 2));
        assert_eq!(e.verdict, Verdict::Improved, "{e:?}");
        assert!(
            e.reason.starts_with("better by 50."),
            "no sign: {}",
            e.reason
        );
    }

    #[test]
    fn wide_noise_is_inconclusive_not_unchanged() {
        let mut rng = Rng::seed_from_u64(9);
        let wild = |rng: &mut Rng| {
            (0..8)
                .map(|_| 1e6 * (0.5 + 2.0 * rng.unit_f64()))
                .collect::<Vec<_>>()
        };
        let e = verdict_of(wild(&mut rng), wild(&mut rng));
        assert_eq!(e.verdict, Verdict::Inconclusive, "{e:?}");
        assert!(e.reason.contains("cannot rule out"), "{}", e.reason);
    }

    #[test]
    fn too_few_samples_is_said_out_loud() {
        let e = verdict_of(vec![2.0], vec![3.0]);
        assert_eq!(e.verdict, Verdict::Inconclusive);
        assert!(
            e.reason.starts_with("one value per side and no spread"),
            "{}",
            e.reason
        );
        let strict = CompareConfig {
            min_samples: 5,
            ..CompareConfig::default()
        };
        let cmp = compare(
            &[bench("b", vec![1.0, 2.0, 3.0])],
            &[bench("b", noisy(3.0, 10, 1))],
            &strict,
        );
        assert_eq!(cmp.entries[0].reason, "too few samples: n=3, need 5");
    }

    #[test]
    fn new_missing_and_non_finite_are_explicit() {
        let cmp = compare(
            &[
                bench("gone", noisy(1.0, 10, 1)),
                bench("nan", noisy(1.0, 10, 1)),
            ],
            &[
                bench("fresh", noisy(1.0, 10, 1)),
                bench("nan", vec![f64::NAN; 10]),
            ],
            &CompareConfig::default(),
        );
        let verdict = |name: &str| {
            cmp.entries
                .iter()
                .find(|e| e.benchmark == name)
                .unwrap()
                .verdict
        };
        assert_eq!(verdict("fresh"), Verdict::New);
        assert_eq!(verdict("gone"), Verdict::Missing);
        assert_eq!(verdict("nan"), Verdict::Inconclusive);
        // Nothing measured "gone" this time, and "nan" measured nothing usable: no evidence
        // passes either, even with a missing benchmark accepted.
        assert!(!cmp.passes(&CompareConfig::default()));
        let allowed = CompareConfig {
            allow_missing: true,
            ..CompareConfig::default()
        };
        assert!(!cmp.passes(&allowed));
        let mut settled = cmp.clone();
        settled.settle(&allowed);
        let effect = |name: &str| {
            settled
                .entries
                .iter()
                .find(|e| e.benchmark == name)
                .unwrap()
                .effect
        };
        assert_eq!(effect("gone"), GateEffect::Warning);
        assert_eq!(effect("nan"), GateEffect::Failure);
    }

    #[test]
    fn zeros_a_changed_unit_and_a_missing_primary_metric_never_pass() {
        let zeros = |name: &str, x: f64| Benchmark::wall_time(name, vec![x; 5]);
        let config = CompareConfig::default();
        // Zero before and after is unchanged; from zero to something is beyond any threshold.
        let cmp = compare(
            &[zeros("same", 0.0), zeros("grew", 0.0), zeros("broke", 1e6)],
            &[zeros("same", 0.0), zeros("grew", 9e3), zeros("broke", 0.0)],
            &config,
        );
        let verdicts: Vec<(Verdict, GateEffect)> =
            cmp.entries.iter().map(|e| (e.verdict, e.effect)).collect();
        assert_eq!(
            verdicts,
            [
                (Verdict::Unchanged, GateEffect::None),
                (Verdict::Regressed, GateEffect::Failure),
                (Verdict::Inconclusive, GateEffect::Failure)
            ]
        );
        // The same numbers in another unit are not comparable.
        let mut ms = Benchmark::wall_time("a", vec![1.0, 1.01, 0.99]);
        ms.metrics[0].unit = Unit("ms".into());
        let ns = Benchmark::wall_time("a", vec![1.0, 1.01, 0.99]);
        let cmp = compare(std::slice::from_ref(&ns), &[ms], &config);
        assert!(
            cmp.entries[0].reason.starts_with("the unit changed"),
            "{cmp:?}"
        );
        assert!(!cmp.passes(&config));
        // A run without the baseline's primary metric: that metric is missing, and gating.
        let mut rss_only = Benchmark::wall_time("a", vec![1.0, 1.01, 0.99]);
        rss_only.metrics[0].name = "peak_rss".into();
        let mut both = ns.clone();
        both.metrics.push(rss_only.metrics[0].clone());
        let cmp = compare(&[both], &[rss_only], &config);
        let wall = cmp
            .entries
            .iter()
            .find(|e| e.metric == "wall_time")
            .unwrap();
        assert_eq!((wall.verdict, wall.gating), (Verdict::Missing, true));
        assert!(!cmp.passes(&config));
    }

    #[test]
    fn higher_is_better_metrics_regress_downwards() {
        let mut base = bench("tput", noisy(1000.0, 20, 1));
        let mut cur = bench("tput", noisy(700.0, 20, 2));
        base.metrics[0].direction = Direction::HigherIsBetter;
        cur.metrics[0].direction = Direction::HigherIsBetter;
        let cmp = compare(&[base], &[cur], &CompareConfig::default());
        assert_eq!(cmp.entries[0].verdict, Verdict::Regressed);
        assert!(!cmp.passes(&CompareConfig::default()));
    }

    #[test]
    fn only_gating_metrics_fail_the_gate() {
        let mut base = bench("b", noisy(1.0, 20, 1));
        let mut cur = bench("b", noisy(1.0, 20, 2));
        base.metrics.push(Metric {
            name: "peak_rss".into(),
            unit: Unit::bytes(),
            direction: Direction::LowerIsBetter,
            samples: noisy(100.0, 20, 3),
            summary: None,
        });
        cur.metrics.push(Metric {
            name: "peak_rss".into(),
            unit: Unit::bytes(),
            direction: Direction::LowerIsBetter,
            samples: noisy(300.0, 20, 4),
            summary: None,
        });
        let default = CompareConfig::default();
        let cmp = compare(
            std::slice::from_ref(&base),
            std::slice::from_ref(&cur),
            &default,
        );
        assert!(cmp.passes(&default), "memory is not gated by default");
        let strict = CompareConfig {
            gate: GateMetrics::All,
            ..CompareConfig::default()
        };
        assert!(!compare(&[base], &[cur], &strict).passes(&strict));
    }

    fn paired_config() -> CompareConfig {
        CompareConfig {
            method: Method::Paired,
            threshold: 0.02,
            ..CompareConfig::default()
        }
    }

    /// Rounds drifting by ±15% together; head is `factor` times base in every round.
    fn drifting_rounds(factor: f64, seed: u64) -> (Vec<f64>, Vec<f64>) {
        let mut rng = Rng::seed_from_u64(seed);
        (0..30)
            .map(|_| {
                let drift = 1e6 * (1.0 + 0.3 * (rng.unit_f64() - 0.5));
                let jitter = |rng: &mut Rng| 1.0 + 0.004 * (rng.unit_f64() - 0.5);
                (drift * jitter(&mut rng), factor * drift * jitter(&mut rng))
            })
            .unzip()
    }

    #[test]
    fn paired_rounds_detect_a_small_change_under_drift() {
        let (base, head) = drifting_rounds(1.05, 1);
        let cmp = compare(
            &[bench("b", base.clone())],
            &[bench("b", head.clone())],
            &paired_config(),
        );
        let e = &cmp.entries[0];
        assert_eq!(e.method, Method::Paired);
        assert_eq!(e.verdict, Verdict::Regressed, "{e:?}");
        let (lo, hi) = e.interval.unwrap();
        assert!(lo < 0.05 && 0.05 < hi, "{lo} {hi}");
        // The same samples as independent ones see only the drift.
        let independent = compare(
            &[bench("b", base)],
            &[bench("b", head)],
            &CompareConfig {
                threshold: 0.02,
                ..CompareConfig::default()
            },
        );
        assert_eq!(independent.entries[0].verdict, Verdict::Inconclusive);
        assert!(
            independent.entries[0].detectable.unwrap() > 5.0 * e.detectable.unwrap(),
            "{:?} vs {:?}",
            independent.entries[0].detectable,
            e.detectable
        );
    }

    #[test]
    fn paired_identical_rounds_are_unchanged_and_unaligned_ones_inconclusive() {
        let (base, head) = drifting_rounds(1.0, 2);
        let cmp = compare(
            &[bench("b", base.clone())],
            &[bench("b", head)],
            &paired_config(),
        );
        assert_eq!(
            cmp.entries[0].verdict,
            Verdict::Unchanged,
            "{:?}",
            cmp.entries[0]
        );
        let short = base[..20].to_vec();
        let cmp = compare(&[bench("b", base)], &[bench("b", short)], &paired_config());
        assert_eq!(cmp.entries[0].verdict, Verdict::Inconclusive);
        assert!(cmp.entries[0].reason.contains("differ in count"));
    }

    #[test]
    fn false_discovery_control_adjusts_across_benchmarks() {
        // 40 benchmarks with no change and one with a modest one: the adjusted value of the
        // modest one is larger than its raw p-value.
        let mut base: Vec<_> = (0..40)
            .map(|i| bench(&format!("b{i}"), noisy(1e6, 10, i)))
            .collect();
        let mut cur: Vec<_> = (0..40)
            .map(|i| bench(&format!("b{i}"), noisy(1e6, 10, 100 + i)))
            .collect();
        base.push(bench("x", noisy(1e6, 10, 500)));
        cur.push(bench("x", noisy(1.004e6, 10, 501)));
        let cmp = compare(&base, &cur, &CompareConfig::default());
        let x = cmp.entries.iter().find(|e| e.benchmark == "x").unwrap();
        assert!(x.q_value.unwrap() >= x.p_value.unwrap());
        let raw = compare(
            &base,
            &cur,
            &CompareConfig {
                fdr: false,
                ..CompareConfig::default()
            },
        );
        assert!(raw.entries.iter().all(|e| e.q_value.is_none()));
    }

    #[test]
    fn a_gate_without_evidence_is_named_and_a_default_extra_only_warned() {
        let run = vec![
            Benchmark::wall_time("a", vec![1e6; 10]),
            Benchmark::wall_time("b", vec![1e6; 10]),
        ];
        // The default gate names a metric no benchmark has, beside one they all have: a warning.
        let mut config = CompareConfig {
            gate: GateMetrics::Named(vec!["wall_time".into(), "peak_rss".into()]),
            ..CompareConfig::default()
        };
        let unjudged = compare(&run, &run, &config).unjudged(&config);
        assert!(unjudged.is_empty(), "{unjudged:?}");
        assert_eq!(unjudged.unused_defaults, ["peak_rss"]);
        // A policy's metric nothing measured is refused even though `a` still gates on time.
        config.policies.insert(
            "a".into(),
            Policy {
                gate: Some(GateMetrics::Named(vec![
                    "wall_time".into(),
                    "instructions".into(),
                ])),
                ..Policy::default()
            },
        );
        let unjudged = compare(&run, &run, &config).unjudged(&config);
        assert!(unjudged.benchmarks.is_empty());
        assert_eq!(unjudged.metrics, ["instructions"]);
        // A policy that leaves `b` nothing to gate on names `b`, with what it measured.
        config.policies.insert(
            "b".into(),
            Policy {
                gate: Some(GateMetrics::Named(vec!["instructions".into()])),
                ..Policy::default()
            },
        );
        let unjudged = compare(&run, &run, &config).unjudged(&config);
        assert_eq!(
            unjudged.benchmarks,
            [("b".to_owned(), vec!["wall_time".to_owned()])]
        );
    }

    #[test]
    fn policies_override_threshold_direction_and_gate() {
        let base = bench("tput", noisy(1000.0, 20, 1));
        let cur = bench("tput", noisy(1060.0, 20, 2));
        let mut config = CompareConfig {
            threshold: 0.10,
            ..CompareConfig::default()
        };
        // A 6% rise in a lower-is-better metric is inside a 10% threshold.
        assert_eq!(
            compare(
                std::slice::from_ref(&base),
                std::slice::from_ref(&cur),
                &config
            )
            .entries[0]
                .verdict,
            Verdict::Unchanged
        );
        config.policies.insert(
            "tput".into(),
            Policy {
                threshold: Some(0.03),
                direction: Some(Direction::HigherIsBetter),
                ..Policy::default()
            },
        );
        let e = &compare(
            std::slice::from_ref(&base),
            std::slice::from_ref(&cur),
            &config,
        )
        .entries[0];
        assert_eq!(e.verdict, Verdict::Improved, "{e:?}");
        assert!((e.threshold - 0.03).abs() < 1e-12);
        config.policies.get_mut("tput").unwrap().gate =
            Some(GateMetrics::Named(vec!["other".into()]));
        let e = &compare(&[base], &[cur], &config).entries[0];
        assert!(!e.gating);
    }

    #[test]
    fn detectable_effect_shrinks_with_more_samples() {
        let few = verdict_of(noisy(1e6, 8, 1), noisy(1e6, 8, 2));
        let many = verdict_of(noisy(1e6, 100, 1), noisy(1e6, 100, 2));
        assert!(few.detectable.unwrap() > many.detectable.unwrap());
        assert!(many.detectable.unwrap() > 0.0);
    }

    #[test]
    fn history_method_needs_enough_jobs_and_says_when_it_falls_back() {
        use crate::key::BaselineKey;
        use crate::model::{Fingerprint, Run, RunId};
        let key = BaselineKey::new("main", "linux-x86_64").unwrap();
        let job = |i: u64, center: f64| {
            let at =
                jiff::Timestamp::from_second(1_800_000_000 + i64::try_from(i).unwrap()).unwrap();
            let mut run = Run::new(RunId::new(at, i), at, key.clone(), Fingerprint::default());
            run.benchmarks.push(bench("b", noisy(center, 20, i)));
            run
        };
        // Jobs differ by ±6% (the machine), each one quiet inside (±0.5%).
        let mut rng = Rng::seed_from_u64(77);
        let runs: Vec<Run> = (0..10)
            .map(|i| job(i, 1e6 * (1.0 + 0.12 * (rng.unit_f64() - 0.5))))
            .collect();
        let current = job(99, 1.05e6);
        let config = CompareConfig {
            threshold: 0.03,
            ..CompareConfig::default()
        };
        let baseline = Baseline::from_runs(key.clone(), &runs, jiff::Timestamp::now()).unwrap();
        let with_history = compare_with_baseline(&baseline, &current.benchmarks, &config);
        let e = &with_history.entries[0];
        assert_eq!(e.method, Method::History);
        assert_eq!(e.history.unwrap().jobs, 10);
        assert_ne!(
            e.verdict,
            Verdict::Regressed,
            "machine noise is not a change: {e:?}"
        );
        // Pooled samples without history call the same data a regression.
        let naive = compare(&baseline.benchmarks, &current.benchmarks, &config);
        assert_eq!(naive.entries[0].method, Method::MedianBootstrap);

        let one_job = Baseline::from_runs(key, &runs[..1], jiff::Timestamp::now()).unwrap();
        let fallback = compare_with_baseline(&one_job, &current.benchmarks, &config);
        let e = &fallback.entries[0];
        assert_eq!(e.method, Method::MedianBootstrap);
        assert!(e.notes[0].contains("job-to-job noise unknown"), "{e:?}");
    }

    #[test]
    fn threads_do_not_change_results() {
        let base: Vec<_> = (0..50)
            .map(|i| bench(&format!("b{i}"), noisy(1e6, 12, i)))
            .collect();
        let cur: Vec<_> = (0..50)
            .map(|i| bench(&format!("b{i}"), noisy(1.05e6, 12, 100 + i)))
            .collect();
        let one = compare(&base, &cur, &CompareConfig::default());
        let four = compare(
            &base,
            &cur,
            &CompareConfig {
                threads: 4,
                ..CompareConfig::default()
            },
        );
        assert_eq!(one, four);
    }
}
