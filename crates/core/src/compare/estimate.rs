//! Each entry's estimate: which method the data allows, and its law (see the parent module's
//! table), then small samples' variances moderated across the suite.

use std::collections::BTreeMap;

use super::{CompareConfig, HistoryInfo, Method, MetricComparison, Pair, Summary, Verdict};
use crate::bootstrap::{self, SamplerCache};
use crate::history::{self, JobStat};
use crate::inference::{self, Law};
use crate::key::Fnv64;
use crate::model::{Metric, ReportedSummary, Statistic};
use crate::moderation;
use crate::paired;
use crate::stats::{self, Rng};

/// Fewest samples per side for the median methods: below 20 the bootstrap of a median is too
/// coarse (and too optimistic), so small samples use the trimmed t.
pub(super) const MEDIAN_MIN: usize = 20;

/// A method's estimate, before false discovery control.
#[derive(Debug, Clone)]
pub(super) struct Estimate {
    pub(super) p_value: f64,
    pub(super) law: Law,
    /// For the trimmed t on two sides of samples: each side's trimmed log centre and the
    /// per-value variance behind it, whose variances a suite's other benchmarks can moderate.
    pub(super) trimmed: Option<[TrimmedSide; 2]>,
}

/// One side of a trimmed t: its estimate, and how many values it comes from.
#[derive(Debug, Clone, Copy)]
pub(super) struct TrimmedSide {
    side: inference::Side,
    values: f64,
}

impl TrimmedSide {
    fn of(sorted: &[f64]) -> Option<Self> {
        let logs: Vec<f64> = sorted.iter().map(|x| x.ln()).collect();
        let side = inference::trimmed(&logs)?;
        Some(TrimmedSide {
            side,
            values: sorted.len() as f64,
        })
    }

    /// The variance of one value behind the trimmed mean, with its degrees of freedom: what a
    /// prior of variances is fitted to. A 20% trimmed mean of `n` values has about the
    /// variance of a mean of `n` (on normal data 1.06 times it), so the side's variance times
    /// `n` estimates one value's variance on the same scale whatever was trimmed.
    fn per_value(&self) -> (f64, f64) {
        (self.side.variance * self.values, self.side.df)
    }

    /// This side with its per-value variance replaced by the moderated one.
    fn moderated(&self, prior: &moderation::Prior) -> inference::Side {
        let (variance, df) = self.per_value();
        let (posterior, posterior_df) = prior.moderate(variance, df);
        inference::Side {
            centre: self.side.centre,
            variance: posterior / self.values,
            df: posterior_df,
        }
    }
}

pub(super) struct Analysed {
    pub(super) entry: MetricComparison,
    /// `None` when the verdict is already final (new, missing, unusable data).
    pub(super) estimate: Option<Estimate>,
}

pub(super) fn analyse_pair(
    pair: &Pair<'_>,
    config: &CompareConfig,
    cache: &SamplerCache,
) -> Analysed {
    let any = pair
        .current
        .or(pair.baseline)
        .expect("a pair has at least one side");
    let settings = config.effective(pair.benchmark);
    let gating = settings.gate.includes(&any.name, pair.primary);
    let direction = match settings.direction {
        Some(direction) if gating => direction,
        _ => any.direction,
    };
    let mut entry = MetricComparison {
        benchmark: pair.benchmark.to_owned(),
        metric: any.name.clone(),
        unit: any.unit.clone(),
        direction,
        gating,
        method: config.method,
        threshold: settings.threshold,
        baseline: None,
        current: None,
        change: None,
        interval: None,
        confidence: None,
        p_value: None,
        q_value: None,
        detectable: None,
        history: None,
        verdict: Verdict::Inconclusive,
        severity: None,
        reason: String::new(),
        notes: pair.params_change.iter().cloned().collect(),
        limit: None,
        effect: super::GateEffect::None,
    };
    let estimate = estimate(pair, config, cache, &mut entry).map(|(change, law)| {
        let p_value = law.p_value();
        entry.change = Some(change);
        entry.p_value = Some(p_value);
        let trimmed = (entry.method == Method::TrimmedT)
            .then(|| {
                let sorted = |m: Option<&Metric>| m.map(|m| stats::sorted(&m.samples));
                let (base, cur) = (sorted(pair.baseline)?, sorted(pair.current)?);
                Some([TrimmedSide::of(&base)?, TrimmedSide::of(&cur)?])
            })
            .flatten();
        Estimate {
            p_value,
            law,
            trimmed,
        }
    });
    Analysed { entry, estimate }
}

/// Why two metrics' values cannot be compared at all: a changed unit or direction.
fn incomparable(base: &Metric, current: &Metric) -> Option<String> {
    if base.unit != current.unit {
        return Some(format!(
            "the unit changed: {} in the baseline, {} now; these values cannot be compared",
            base.unit.0, current.unit.0
        ));
    }
    (base.direction != current.direction).then(|| {
        format!(
            "which way is better changed: {:?} in the baseline, {:?} now",
            base.direction, current.direction
        )
    })
}

/// Judges sides whose samples are all zero, where no ratio exists; says whether it did.
fn judged_zeros(base: &[f64], cur: &[f64], entry: &mut MetricComparison) -> bool {
    let all_zero = |sorted: &[f64]| sorted.last() == Some(&0.0);
    match (all_zero(base), all_zero(cur)) {
        (true, true) => {
            // Zero allocations before and after: nothing changed.
            entry.verdict = Verdict::Unchanged;
            entry.reason = "every sample is zero on both sides".into();
        }
        (true, false) => {
            // From nothing to something: worse (or better, for a higher-is-better metric) by
            // more than any threshold, with no ratio to state.
            let worse = entry.direction == crate::model::Direction::LowerIsBetter;
            entry.verdict = if worse {
                Verdict::Regressed
            } else {
                Verdict::Improved
            };
            entry.severity = worse.then_some(super::Severity::Critical);
            entry.reason = "every baseline sample is zero and the current ones are not: no ratio, a change beyond any threshold (if the baseline's zeros were a broken measurement, replace it with `benchkeep baseline set --force` or `baseline accept`)".into();
        }
        (false, true) => {
            entry.reason =
                "every current sample is zero: a broken measurement, not a speed-up".into();
        }
        (false, false) => return false,
    }
    true
}

/// How many measurements a metric stands for: its samples, or for a single sample with the
/// harness's own summary, the count that summary gives (a range with no count counts as enough:
/// the rule that judges it is conservative by construction).
fn measurements(metric: &Metric) -> usize {
    match (&metric.samples[..], metric.summary) {
        ([_], Some(summary)) => summary
            .n
            .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX)),
        (samples, _) => samples.len(),
    }
}

/// Fills the summaries and either returns the method's estimate (the change and its law), or
/// sets a final verdict.
fn estimate(
    pair: &Pair<'_>,
    config: &CompareConfig,
    cache: &SamplerCache,
    entry: &mut MetricComparison,
) -> Option<(f64, Law)> {
    let base_sorted = pair.baseline.map(|m| stats::sorted(&m.samples));
    let cur_sorted = pair.current.map(|m| stats::sorted(&m.samples));
    entry.baseline = base_sorted
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(Summary::of_sorted);
    entry.current = cur_sorted
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(Summary::of_sorted);
    let (base, cur, base_metric, cur_metric) = match (base_sorted, cur_sorted) {
        (None, _) => {
            entry.verdict = Verdict::New;
            entry.reason = "not in the baseline".into();
            return None;
        }
        (_, None) => {
            entry.verdict = Verdict::Missing;
            entry.reason = "not in the current run".into();
            return None;
        }
        (Some(b), Some(c)) => (b, c, pair.baseline?, pair.current?),
    };
    if base.is_empty() || cur.is_empty() {
        entry.reason = "no samples".into();
        return None;
    }
    if let Some(reason) = incomparable(base_metric, cur_metric) {
        entry.reason = reason;
        return None;
    }
    let fewest = measurements(base_metric).min(measurements(cur_metric));
    if fewest < config.min_samples {
        entry.reason = format!("too few samples: n={fewest}, need {}", config.min_samples);
        return None;
    }
    if base.iter().chain(&cur).any(|x| !x.is_finite()) {
        entry.reason = "a sample is not a finite number".into();
        return None;
    }
    if base[0] < 0.0 || cur[0] < 0.0 {
        entry.reason = "relative change needs non-negative samples".into();
        return None;
    }
    let (base_median, cur_median) = (
        stats::median_of_sorted(&base),
        stats::median_of_sorted(&cur),
    );
    if judged_zeros(&base, &cur, entry) {
        return None;
    }
    if base_median == 0.0 || cur_median == 0.0 {
        entry.reason = "a median is zero: no relative change to measure".into();
        return None;
    }
    if config.method == Method::Paired {
        let (base, head) = (&base_metric.samples, &cur_metric.samples);
        return match paired::analyze(base, head) {
            Ok(e) => {
                entry.method = if matches!(e.law, Law::Signs(_)) {
                    Method::Paired
                } else {
                    Method::PairedTrimmedT
                };
                Some((e.change, e.law))
            }
            Err(e) => {
                entry.reason = e.to_string();
                None
            }
        };
    }
    if let Some(jobs) = pair.history {
        if let Some(estimate) = history_estimate(jobs, &cur, pair.probe, config, entry) {
            return Some(estimate);
        }
        let needed = config.min_history.max(2);
        entry.notes.push(if jobs.len() < needed {
            format!(
                "job-to-job noise unknown: the baseline has {} job(s), the history method needs {needed}",
                jobs.len()
            )
        } else {
            "job-to-job noise unknown: this job's samples are not all positive, which the history method's log scale needs".to_owned()
        });
    }
    let sides = Sides {
        base: (&base, base_metric.summary),
        current: (&cur, cur_metric.summary),
    };
    if base.len() >= MEDIAN_MIN && cur.len() >= MEDIAN_MIN {
        return Some(sides.medians(pair, config, cache, entry));
    }
    sides.small(entry)
}

/// The two sides of an independent comparison: sorted samples and any harness summary.
struct Sides<'a> {
    base: (&'a [f64], Option<ReportedSummary>),
    current: (&'a [f64], Option<ReportedSummary>),
}

impl Sides<'_> {
    /// Large samples: the ratio of medians, by the exact bootstrap up to 200 per side (or Monte
    /// Carlo with zeros), by order-statistic standard errors above.
    fn medians(
        &self,
        pair: &Pair<'_>,
        config: &CompareConfig,
        cache: &SamplerCache,
        entry: &mut MetricComparison,
    ) -> (f64, Law) {
        let (base, cur) = (self.base.0, self.current.0);
        let change = stats::median_of_sorted(cur) / stats::median_of_sorted(base) - 1.0;
        let positive = base[0] > 0.0 && cur[0] > 0.0;
        if positive && (base.len() > 200 || cur.len() > 200) {
            let logs = |sorted: &[f64]| sorted.iter().map(|x| x.ln()).collect::<Vec<_>>();
            if let (Some(b), Some(c)) = (
                inference::median_location(&logs(base)),
                inference::median_location(&logs(cur)),
            ) {
                entry.method = Method::MedianNormal;
                return (change, inference::welch(b, c));
            }
        }
        let mut seed = Fnv64::default();
        seed.write(pair.benchmark.as_bytes());
        seed.write(&[0]);
        seed.write(entry.metric.as_bytes());
        let mut rng = Rng::seed_from_u64(config.seed ^ seed.0);
        let law = bootstrap::ratio_of_medians_law(
            (base, &cache.lookup(base.len())),
            (cur, &cache.lookup(cur.len())),
            config.resamples,
            &mut rng,
        );
        entry.method = Method::MedianBootstrap;
        (change, Law::Bootstrap(law))
    }

    /// Small samples and harness summaries, on a log scale: each side's centre and the variance
    /// of that centre, from its samples (20% trimmed) or from its harness summary, combined by
    /// Welch's rule; a lone value with no spread borrows the other side's (a prediction
    /// interval).
    fn small(&self, entry: &mut MetricComparison) -> Option<(f64, Law)> {
        if self.base.0[0] <= 0.0 || self.current.0[0] <= 0.0 {
            entry.reason =
                "a sample is zero: small samples are compared on a log scale, which needs positive values"
                    .into();
            return None;
        }
        let lone = |sorted: &[f64]| sorted.len() == 1;
        // The values compared, in log: the change is exactly the ratio of what is shown.
        let shown: (f64, f64);
        let (law, kinds) = match (small_side(self.base), small_side(self.current)) {
            (Some(b), Some(c)) => {
                // A harness's mean against samples: compare means with means (a trimmed
                // geometric mean sits below an arithmetic mean by about half the variance).
                let as_mean = |side: SmallSide, sorted: &[f64]| match side.kind {
                    SideKind::Samples => mean_side(sorted).unwrap_or(side),
                    _ => side,
                };
                let (b, c) = match (b.kind, c.kind) {
                    (SideKind::Samples, SideKind::Summary(Statistic::Mean)) => {
                        (as_mean(b, self.base.0), c)
                    }
                    (SideKind::Summary(Statistic::Mean), SideKind::Samples) => {
                        (b, as_mean(c, self.current.0))
                    }
                    _ => (b, c),
                };
                shown = (b.side.centre, c.side.centre);
                (inference::welch(b.side, c.side), [b.kind, c.kind])
            }
            (Some(other), None) | (None, Some(other))
                if other.kind == SideKind::Samples
                    && (lone(self.base.0) || lone(self.current.0)) =>
            {
                let value = if lone(self.base.0) {
                    self.base.0[0]
                } else {
                    self.current.0[0]
                };
                // One value with the other side's per-value variance: a prediction interval.
                let per_value = other.side.variance * other.values;
                let difference = value.ln() - other.side.centre;
                let centre = if lone(self.base.0) {
                    shown = (value.ln(), other.side.centre);
                    -difference
                } else {
                    shown = (other.side.centre, value.ln());
                    difference
                };
                entry.notes.push(
                    "one value with no spread on one side: judged by the spread of the other (a prediction interval)"
                        .into(),
                );
                (
                    Law::Location {
                        centre,
                        scale: (other.side.variance + per_value).sqrt(),
                        df: other.side.df,
                    },
                    [SideKind::Samples; 2],
                )
            }
            _ => {
                entry.reason = "one value per side and no spread: repeat the benchmark (e.g. `go test -count 5`, or 5 runs of the harness) or use a harness that reports its spread".into();
                return None;
            }
        };
        entry.method = if kinds.contains(&SideKind::Range) {
            Method::SummaryRange
        } else if kinds.iter().any(|k| matches!(k, SideKind::Summary(_))) {
            Method::SummaryT
        } else {
            Method::TrimmedT
        };
        let Law::Location { centre, .. } = law else {
            return None;
        };
        if let (Some(b), Some(c)) = (entry.baseline.as_mut(), entry.current.as_mut()) {
            let (base, current) = shown;
            b.centre = Some(base.exp());
            c.centre = Some(current.exp());
        }
        Some((centre.exp_m1(), law))
    }
}

/// One side of a small comparison on a log scale: its samples (20% trimmed) or, for a lone value,
/// the harness summary's spread.
fn small_side((sorted, summary): (&[f64], Option<ReportedSummary>)) -> Option<SmallSide> {
    if sorted.len() >= 2 {
        let logs: Vec<f64> = sorted.iter().map(|x| x.ln()).collect();
        return inference::trimmed(&logs).map(|side| SmallSide {
            side,
            kind: SideKind::Samples,
            values: sorted.len() as f64,
        });
    }
    let summary = summary?;
    let (variance, df) = summary.log_variance_of_centre()?;
    Some(SmallSide {
        side: inference::Side {
            centre: summary.value.ln(),
            variance,
            df,
        },
        kind: if df.is_finite() {
            SideKind::Summary(summary.statistic)
        } else {
            SideKind::Range
        },
        values: 1.0,
    })
}

/// Where one side of a small comparison got its spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SideKind {
    /// Two or more samples.
    Samples,
    /// A harness summary of this statistic with a standard deviation or margin of error and a
    /// count.
    Summary(Statistic),
    /// A harness range with no count (a bound).
    Range,
}

/// One side of a small comparison.
#[derive(Debug, Clone, Copy)]
struct SmallSide {
    side: inference::Side,
    kind: SideKind,
    /// Values behind it (1 for a summary): the variance of one value is about the side's
    /// variance times this, for a trimmed mean as for a mean.
    values: f64,
}

/// The log of the arithmetic mean of sorted samples, with its variance by the delta method
/// (`s² / (n m²)`) on `n - 1` degrees of freedom: the statistic a harness's reported mean is.
fn mean_side(sorted: &[f64]) -> Option<SmallSide> {
    let n = sorted.len() as f64;
    if sorted.len() < 2 {
        return None;
    }
    let mean = sorted.iter().sum::<f64>() / n;
    let variance = sorted.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean > 0.0).then(|| SmallSide {
        side: inference::Side {
            centre: mean.ln(),
            variance: variance / (n * mean * mean),
            df: n - 1.0,
        },
        kind: SideKind::Samples,
        values: n,
    })
}

/// The history method's estimate, if the baseline has enough jobs and the samples allow it.
fn history_estimate(
    jobs: &[JobStat],
    current_sorted: &[f64],
    probe: Option<history::ProbeMedian>,
    config: &CompareConfig,
    entry: &mut MetricComparison,
) -> Option<(f64, Law)> {
    if jobs.len() < config.min_history.max(2) {
        return None;
    }
    let mut current = JobStat::of_sorted(current_sorted)?;
    current.probe = probe;
    let e = history::analyze(jobs, &current, 0.95)?;
    entry.method = Method::History;
    entry.history = Some(HistoryInfo {
        jobs: e.jobs,
        between_jobs: e.between_jobs,
        this_job_share: e.this_job_share,
        machine: e.machine_shift,
    });
    if let (Some(shift), Some(beyond)) = (e.machine_shift, e.machine_beyond_range)
        && beyond.abs() >= 0.01
    {
        entry.notes.push(format!(
            "the machine ran {:.1}% {} than during the baseline's jobs (speed probe), {:.1}% beyond the range they saw: up to that much of the change may be the machine's, and the interval allows for it",
            shift.abs() * 100.0,
            if shift > 0.0 { "slower" } else { "faster" },
            beyond.abs() * 100.0
        ));
    }
    // The change is measured from the typical past job, so that is the baseline value shown.
    if let (Some(b), Some(c)) = (entry.baseline.as_mut(), entry.current.as_mut()) {
        b.centre = Some(e.baseline_centre);
        c.centre = Some(current.median);
    }
    Some((e.change, e.law))
}

/// Small samples of one metric across a suite borrow strength from each other
/// ([`crate::moderation`]): where at least 8 sides of trimmed-t comparisons of a metric exist,
/// each side's variance is moderated towards the prior they imply, and the entry's law and
/// p-value are recomputed. Each metric has its own prior: wall time and memory vary differently.
pub(super) fn moderate_small_samples(analysed: &mut [Analysed]) {
    let mut by_metric: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, a) in analysed.iter().enumerate() {
        if a.estimate.as_ref().is_some_and(|e| e.trimmed.is_some()) {
            by_metric.entry(a.entry.metric.clone()).or_default().push(i);
        }
    }
    for members in by_metric.values() {
        let estimates: Vec<(f64, f64)> = members
            .iter()
            .filter_map(|&i| analysed[i].estimate.as_ref()?.trimmed)
            .flat_map(|sides| sides.map(|s| s.per_value()))
            .collect();
        let Some(prior) = moderation::Prior::estimate(&estimates) else {
            continue;
        };
        for &i in members {
            let Analysed { entry, estimate } = &mut analysed[i];
            let Some(estimate) = estimate.as_mut() else {
                continue;
            };
            let Some([base, cur]) = estimate.trimmed else {
                continue;
            };
            estimate.law = inference::welch(base.moderated(&prior), cur.moderated(&prior));
            estimate.p_value = estimate.law.p_value();
            entry.p_value = Some(estimate.p_value);
            entry.method = Method::TrimmedTModerated;
        }
    }
}
