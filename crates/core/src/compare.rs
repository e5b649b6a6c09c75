//! The comparison engine: per benchmark and metric, a verdict from effect size and significance.
//!
//! Version 1 compares two independent sets of samples (the current run against the pooled
//! baseline): the relative change of the median, a seeded percentile-bootstrap confidence interval
//! of the ratio of medians, and a two-sided Mann-Whitney U test. The verdict rule:
//!
//! | condition (with "worse" oriented by the metric's direction) | verdict |
//! |---|---|
//! | fewer than `min_samples` on either side, or unusable values | `inconclusive` (says why) |
//! | significant (p < alpha and the interval excludes 0) and worse by more than the threshold | `regressed` |
//! | significant and better by more than the threshold | `improved` |
//! | the whole interval inside ±threshold | `unchanged` |
//! | anything else | `inconclusive` ("cannot rule out +X%") |
//!
//! A change is never called `unchanged` unless the data rules out a change beyond the threshold.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::key::Fnv64;
use crate::model::{Benchmark, Direction, Metric, Unit};
use crate::stats::{self, Rng, SamplerCache};

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

/// The statistical method used for a comparison. More methods arrive with later versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Independent samples: bootstrap CI of the ratio of medians plus a Mann-Whitney U test.
    #[default]
    MedianBootstrap,
}

/// Settings of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareConfig {
    /// The smallest relative change that counts (default 0.10: 10%).
    pub threshold: f64,
    /// Significance level of the rank test (default 0.05).
    pub alpha: f64,
    /// Confidence level of intervals (default 0.95).
    pub confidence: f64,
    /// Bootstrap resamples (default 2000).
    pub resamples: usize,
    /// Seed of the bootstrap; each benchmark and metric derives its own stream from it, so a
    /// verdict does not depend on which other benchmarks were compared.
    pub seed: u64,
    /// Fewest samples per side for a verdict other than `inconclusive` (default 5).
    pub min_samples: usize,
    /// Severity bands for regressions.
    pub severity: SeverityBands,
    /// Which metrics gate.
    pub gate: GateMetrics,
    /// Whether an inconclusive gating metric fails the gate (default false).
    pub fail_on_inconclusive: bool,
    /// The statistical method.
    pub method: Method,
    /// Worker threads for large comparisons (the caller picks; the core does no I/O to find out).
    #[serde(skip)]
    pub threads: usize,
}

impl Default for CompareConfig {
    fn default() -> Self {
        CompareConfig {
            threshold: 0.10,
            alpha: 0.05,
            confidence: 0.95,
            resamples: 2000,
            seed: 0x5eed_bea7_c0de_0001,
            min_samples: 5,
            severity: SeverityBands::default(),
            gate: GateMetrics::Primary,
            fail_on_inconclusive: false,
            method: Method::MedianBootstrap,
            threads: 1,
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
        }
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
    /// Baseline summary (absent for `new`).
    pub baseline: Option<Summary>,
    /// Current summary (absent for `missing`).
    pub current: Option<Summary>,
    /// Relative change of the median, `current / baseline - 1`.
    pub change: Option<f64>,
    /// Confidence interval of the relative change.
    pub interval: Option<(f64, f64)>,
    /// Two-sided p-value of the rank test.
    pub p_value: Option<f64>,
    /// The verdict.
    pub verdict: Verdict,
    /// Severity, for regressions.
    pub severity: Option<Severity>,
    /// Why the verdict is what it is, in a few words.
    pub reason: String,
}

/// The comparison of a whole run with its baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The method used.
    pub method: Method,
    /// The threshold used.
    pub threshold: f64,
    /// One entry per benchmark and metric, in the current run's order, then missing ones.
    pub entries: Vec<MetricComparison>,
}

impl Comparison {
    /// Gating entries that regressed.
    pub fn regressions(&self) -> impl Iterator<Item = &MetricComparison> {
        self.entries
            .iter()
            .filter(|e| e.gating && e.verdict == Verdict::Regressed)
    }

    /// Whether the gate passes under `config`.
    #[must_use]
    pub fn passes(&self, config: &CompareConfig) -> bool {
        !self.entries.iter().any(|e| {
            e.gating
                && (e.verdict == Verdict::Regressed
                    || (config.fail_on_inconclusive && e.verdict == Verdict::Inconclusive))
        })
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
}

/// Compares `current` benchmarks with `baseline` benchmarks.
#[must_use]
pub fn compare(
    baseline: &[Benchmark],
    current: &[Benchmark],
    config: &CompareConfig,
) -> Comparison {
    use std::collections::HashMap;
    let base_index: HashMap<&str, &Benchmark> =
        baseline.iter().map(|b| (b.name.as_str(), b)).collect();
    let current_names: std::collections::HashSet<&str> =
        current.iter().map(|b| b.name.as_str()).collect();
    let mut pairs = Vec::new();
    for bench in current {
        let base = base_index.get(bench.name.as_str());
        for (i, metric) in bench.metrics.iter().enumerate() {
            pairs.push(Pair {
                benchmark: &bench.name,
                primary: i == 0,
                baseline: base.and_then(|b| b.metric(&metric.name)),
                current: Some(metric),
            });
        }
        if let Some(base) = base {
            for metric in &base.metrics {
                if bench.metric(&metric.name).is_none() {
                    pairs.push(Pair {
                        benchmark: &bench.name,
                        primary: false,
                        baseline: Some(metric),
                        current: None,
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
            });
        }
    }

    // Samplers are shared read-only by the workers, so build all of them first.
    let mut cache = SamplerCache::default();
    for pair in &pairs {
        for m in [pair.baseline, pair.current].into_iter().flatten() {
            if !m.samples.is_empty() {
                cache.get(m.samples.len());
            }
        }
    }
    let threads = config.threads.max(1).min(pairs.len().max(1));
    let entries = if threads <= 1 {
        pairs
            .iter()
            .map(|p| compare_pair(p, config, &cache))
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
                            .map(|p| compare_pair(p, config, cache))
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
    Comparison {
        method: config.method,
        threshold: config.threshold,
        entries,
    }
}

fn is_gating(config: &CompareConfig, metric: &str, primary: bool) -> bool {
    match &config.gate {
        GateMetrics::Primary => primary,
        GateMetrics::Named(names) => names.iter().any(|n| n == metric),
        GateMetrics::All => true,
    }
}

fn compare_pair(pair: &Pair<'_>, config: &CompareConfig, cache: &SamplerCache) -> MetricComparison {
    let any = pair
        .current
        .or(pair.baseline)
        .expect("a pair has at least one side");
    let mut entry = MetricComparison {
        benchmark: pair.benchmark.to_owned(),
        metric: any.name.clone(),
        unit: any.unit.clone(),
        direction: any.direction,
        gating: is_gating(config, &any.name, pair.primary),
        baseline: None,
        current: None,
        change: None,
        interval: None,
        p_value: None,
        verdict: Verdict::Inconclusive,
        severity: None,
        reason: String::new(),
    };
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
    let (base, cur) = match (base_sorted, cur_sorted) {
        (None, _) => {
            entry.verdict = Verdict::New;
            entry.reason = "not in the baseline".into();
            return entry;
        }
        (_, None) => {
            entry.verdict = Verdict::Missing;
            entry.reason = "not in the current run".into();
            return entry;
        }
        (Some(b), Some(c)) => (b, c),
    };
    if base.len() < config.min_samples || cur.len() < config.min_samples {
        entry.reason = format!(
            "too few samples: n={}, need {}",
            base.len().min(cur.len()),
            config.min_samples
        );
        return entry;
    }
    if base.iter().chain(&cur).any(|x| !x.is_finite()) {
        entry.reason = "a sample is not a finite number".into();
        return entry;
    }
    if base[0] < 0.0 || cur[0] < 0.0 {
        entry.reason = "relative change needs non-negative samples".into();
        return entry;
    }
    let (base_median, cur_median) = (
        stats::median_of_sorted(&base),
        stats::median_of_sorted(&cur),
    );
    if base_median == 0.0 {
        if cur_median == 0.0 && base.last() == Some(&0.0) && cur.last() == Some(&0.0) {
            entry.verdict = Verdict::Unchanged;
            entry.change = Some(0.0);
            entry.interval = Some((0.0, 0.0));
            entry.reason = "all samples are zero".into();
        } else {
            entry.reason = "baseline median is zero: no relative change".into();
        }
        return entry;
    }

    let test = stats::mann_whitney_sorted(&base, &cur);
    let mut seed = Fnv64::default();
    seed.write(pair.benchmark.as_bytes());
    seed.write(&[0]);
    seed.write(any.name.as_bytes());
    let mut rng = Rng::seed_from_u64(config.seed ^ seed.0);
    let base_sampler = cache.lookup(base.len());
    let cur_sampler = cache.lookup(cur.len());
    let (lo, hi) = stats::ratio_of_medians_ci(
        (&base, &base_sampler),
        (&cur, &cur_sampler),
        config.resamples,
        config.confidence,
        &mut rng,
    );
    let change = cur_median / base_median - 1.0;
    entry.change = Some(change);
    entry.interval = Some((lo - 1.0, hi - 1.0));
    entry.p_value = Some(test.p_value);

    decide(
        &mut entry,
        config,
        test.p_value,
        (change, lo - 1.0, hi - 1.0),
    );
    entry
}

/// Applies the verdict rule (see the module docs) to a relative change and its interval.
fn decide(
    entry: &mut MetricComparison,
    config: &CompareConfig,
    p_value: f64,
    (change, lo, hi): (f64, f64, f64),
) {
    // Orient so that positive means worse.
    let (worse, worse_lo, worse_hi) = match entry.direction {
        Direction::LowerIsBetter => (change, lo, hi),
        Direction::HigherIsBetter => (-change, -hi, -lo),
    };
    let threshold = config.threshold;
    let significant = p_value < config.alpha && (worse_lo > 0.0 || worse_hi < 0.0);
    let pct = |x: f64| format!("{:+.1}%", x * 100.0);
    if significant && worse > threshold {
        entry.verdict = Verdict::Regressed;
        entry.severity = Some(config.severity.grade(worse));
        entry.reason = format!("worse by {} (p={})", pct(worse), format_p(p_value));
    } else if significant && worse < -threshold {
        entry.verdict = Verdict::Improved;
        entry.reason = format!("better by {} (p={})", pct(-worse), format_p(p_value));
    } else if worse_lo > -threshold && worse_hi < threshold {
        entry.verdict = Verdict::Unchanged;
        entry.reason = format!("interval within ±{:.0}%", threshold * 100.0);
    } else {
        entry.verdict = Verdict::Inconclusive;
        let bound = if worse_hi >= threshold {
            worse_hi
        } else {
            worse_lo
        };
        let worse_word = if bound > 0.0 { "worse" } else { "better" };
        entry.reason = format!(
            "cannot rule out {} {worse_word} (p={})",
            pct(bound.abs()).trim_start_matches('+'),
            format_p(p_value)
        );
    }
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

    fn bench(name: &str, samples: Vec<f64>) -> Benchmark {
        Benchmark {
            name: name.into(),
            command: None,
            metrics: vec![Metric {
                name: "wall_time".into(),
                unit: Unit::nanoseconds(),
                direction: Direction::LowerIsBetter,
                samples,
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
        let e = verdict_of(vec![1.0, 2.0, 3.0], noisy(3.0, 10, 1));
        assert_eq!(e.verdict, Verdict::Inconclusive);
        assert_eq!(e.reason, "too few samples: n=3, need 5");
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
        assert!(cmp.passes(&CompareConfig::default()));
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
        });
        cur.metrics.push(Metric {
            name: "peak_rss".into(),
            unit: Unit::bytes(),
            direction: Direction::LowerIsBetter,
            samples: noisy(300.0, 20, 4),
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
