//! What each entry does to the gate: fail it, warn, or nothing. One rule, applied once
//! ([`Comparison::settle`]) and recorded on every entry, so every report format and the exit
//! code agree.
//!
//! | entry | effect |
//! |---|---|
//! | a metric beyond its policy's absolute limit (`max`, `min`), gating or not, new or not | failure |
//! | a gating regression at or above `fail_on` severity (default: every regression) | failure |
//! | a gating regression below `fail_on` | warning |
//! | a gating metric in the baseline but missing from the run | failure, a warning when `allow_missing` |
//! | a gating metric that could not be estimated (too few samples, zeros, a changed unit) | failure |
//! | a gating inconclusive metric | failure with `fail_on_inconclusive`, else a warning |
//! | `failed_runs` (`--ignore-failure`) at a higher rate than the baseline's | failure |
//! | anything else | none |

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{CompareConfig, Comparison, MetricComparison, Severity, Verdict};
use crate::model::{Unit, metric_names};

/// What one entry does to the gate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GateEffect {
    /// Nothing: unchanged, improved, new, or a metric that does not gate.
    #[default]
    None,
    /// Shown as a warning in every format; the gate still passes.
    Warning,
    /// The gate fails.
    Failure,
}

impl GateEffect {
    /// Whether this is [`GateEffect::None`] (for serde's `skip_serializing_if`).
    #[must_use]
    pub fn is_none(&self) -> bool {
        *self == GateEffect::None
    }
}

/// An absolute bound on a metric, whatever the baseline says (`max = "250ms"` in a
/// `[[policy]]`). It applies to the benchmark's gating metrics in its unit; when none gates in
/// that unit, to the one metric of that unit (peak memory, say), if there is exactly one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// The bound, in `unit`'s base (nanoseconds, bytes, operations per second, ...).
    pub value: f64,
    /// The unit of the metrics it bounds.
    pub unit: Unit,
}

/// Why a limit could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// No number at the start.
    #[error("{0:?} does not start with a number (examples: \"250ms\", \"512MiB\", \"1000/s\")")]
    NoNumber(String),
    /// A number that is not finite and positive.
    #[error("{0:?}: a limit must be a finite number above zero")]
    NotPositive(String),
    /// No unit after the number.
    #[error(
        "{0:?} has no unit (examples: \"250ms\", \"1.5s\", \"512MiB\", \"2GB\", \"1000/s\", \"5e6 instructions\")"
    )]
    NoUnit(String),
}

impl Limit {
    /// Reads a limit: a number and a unit. Times (`ns`, `us`/`µs`, `ms`, `s`, `min`) become
    /// nanoseconds, sizes (`B`, `KB`/`KiB`, `MB`/`MiB`, `GB`/`GiB`, decimal and binary) bytes,
    /// `/s` operations per second; any other word is taken as the metric's own unit.
    ///
    /// ```
    /// use benchkeep_core::compare::Limit;
    ///
    /// assert_eq!(Limit::parse("250ms").unwrap().value, 250e6);
    /// assert_eq!(Limit::parse("512 MiB").unwrap().value, 512.0 * 1024.0 * 1024.0);
    /// assert_eq!(Limit::parse("1000/s").unwrap().unit.0, "ops/s");
    /// assert!(Limit::parse("fast").is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`LimitError`] when there is no number, the number is not above zero, or no unit follows.
    pub fn parse(text: &str) -> Result<Self, LimitError> {
        let trimmed = text.trim();
        let split = trimmed
            .char_indices()
            .find(|&(i, c)| {
                !(c.is_ascii_digit()
                    || c == '.'
                    || c == '_'
                    || ((c == 'e' || c == 'E')
                        && trimmed[i + 1..].starts_with(|d: char| d.is_ascii_digit() || d == '-'))
                    || (c == '-' && i > 0 && trimmed[..i].ends_with(['e', 'E'])))
            })
            .map_or(trimmed.len(), |(i, _)| i);
        let (number, unit) = trimmed.split_at(split);
        let number: f64 = number
            .replace('_', "")
            .parse()
            .map_err(|_| LimitError::NoNumber(text.to_owned()))?;
        if !(number.is_finite() && number > 0.0) {
            return Err(LimitError::NotPositive(text.to_owned()));
        }
        let unit = unit.trim();
        let (scale, unit) = match unit {
            "" => return Err(LimitError::NoUnit(text.to_owned())),
            "ns" => (1.0, Unit::nanoseconds()),
            "us" | "µs" => (1e3, Unit::nanoseconds()),
            "ms" => (1e6, Unit::nanoseconds()),
            "s" => (1e9, Unit::nanoseconds()),
            "min" => (60e9, Unit::nanoseconds()),
            "B" | "bytes" => (1.0, Unit::bytes()),
            "KB" | "kB" => (1e3, Unit::bytes()),
            "MB" => (1e6, Unit::bytes()),
            "GB" => (1e9, Unit::bytes()),
            "KiB" => (1024.0, Unit::bytes()),
            "MiB" => (1024.0 * 1024.0, Unit::bytes()),
            "GiB" => (1024.0 * 1024.0 * 1024.0, Unit::bytes()),
            "/s" => (1.0, Unit("ops/s".into())),
            other => (1.0, Unit(other.to_owned())),
        };
        Ok(Limit {
            value: number * scale,
            unit,
        })
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.unit.format(self.value))
    }
}

/// A limit checked against an entry's current median.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LimitCheck {
    /// `max` or `min`.
    pub kind: LimitKind,
    /// The bound, in the metric's unit.
    pub bound: f64,
    /// Whether the current median is beyond it.
    pub exceeded: bool,
}

impl LimitCheck {
    /// Where a current median stands against this limit, in `unit`: `above max 250 ms`,
    /// `within min 1000 ops/s`.
    #[must_use]
    pub fn relation(&self, unit: &Unit) -> String {
        let (relation, word) = match (self.kind, self.exceeded) {
            (LimitKind::Max, true) => ("above", "max"),
            (LimitKind::Max, false) => ("within", "max"),
            (LimitKind::Min, true) => ("below", "min"),
            (LimitKind::Min, false) => ("within", "min"),
        };
        format!("{relation} {word} {}", unit.format(self.bound))
    }

    /// The limit with the current `median`, in `unit`: `median 300 ms is above max 250 ms`.
    #[must_use]
    pub fn text(&self, median: f64, unit: &Unit) -> String {
        format!("median {} is {}", unit.format(median), self.relation(unit))
    }
}

/// Which side a limit bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// The median must be at most the bound.
    Max,
    /// The median must be at least the bound.
    Min,
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitKind::Max => "max",
            LimitKind::Min => "min",
        })
    }
}

impl CompareConfig {
    /// Whether a missing `benchmark` is accepted (a warning, not a failure).
    fn allows_missing(&self, benchmark: &str) -> bool {
        self.policies
            .get(benchmark)
            .and_then(|p| p.allow_missing)
            .unwrap_or(self.allow_missing)
    }

    /// The least severity of regression that fails the gate for `benchmark`.
    fn fails_from(&self, benchmark: &str) -> Severity {
        self.policies
            .get(benchmark)
            .and_then(|p| p.fail_on)
            .unwrap_or(self.fail_on)
    }
}

/// The limits of `benchmark`'s policy, each with the index of the entry it bounds, or `None`
/// where no metric of its unit is there to bound (see [`Limit`] for which metric that is).
fn limit_targets<'c>(
    comparison: &Comparison,
    config: &'c CompareConfig,
    benchmark: &str,
) -> Vec<(LimitKind, &'c Limit, Option<usize>)> {
    let Some(policy) = config.policies.get(benchmark) else {
        return Vec::new();
    };
    let limits = [
        (LimitKind::Max, policy.max.as_ref()),
        (LimitKind::Min, policy.min.as_ref()),
    ];
    let mut targets = Vec::new();
    for (kind, limit) in limits {
        let Some(limit) = limit else { continue };
        let in_unit: Vec<usize> = comparison
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.benchmark == benchmark && e.unit == limit.unit)
            .map(|(i, _)| i)
            .collect();
        let gating: Vec<usize> = in_unit
            .iter()
            .copied()
            .filter(|&i| comparison.entries[i].gating)
            .collect();
        match (gating.as_slice(), in_unit.as_slice()) {
            ([], [only]) => targets.push((kind, limit, Some(*only))),
            ([], _) => targets.push((kind, limit, None)),
            (gating, _) => targets.extend(gating.iter().map(|&i| (kind, limit, Some(i)))),
        }
    }
    targets
}

impl Comparison {
    /// Limits that bound nothing: `(benchmark, "max 512 MiB")` for each policy limit whose
    /// benchmark has no metric it could apply to. A gate must refuse these rather than pass.
    #[must_use]
    pub fn unbounded_limits(&self, config: &CompareConfig) -> Vec<(String, String)> {
        let mut names: Vec<&str> = self.entries.iter().map(|e| e.benchmark.as_str()).collect();
        names.dedup();
        let mut out = Vec::new();
        for name in names {
            for (kind, limit, target) in limit_targets(self, config, name) {
                if target.is_none() {
                    out.push((name.to_owned(), format!("{kind} {limit}")));
                }
            }
        }
        out
    }

    /// Checks every policy limit, then records each entry's [`GateEffect`] under `config`
    /// (see the module docs), so that reports read one decision. Run again after changing
    /// entries (a confirmation re-run, a refused environment).
    pub fn settle(&mut self, config: &CompareConfig) {
        for entry in &mut self.entries {
            entry.limit = None;
        }
        let mut names: Vec<String> = self.entries.iter().map(|e| e.benchmark.clone()).collect();
        names.dedup();
        for name in &names {
            let checks: Vec<(usize, LimitCheck)> = limit_targets(self, config, name)
                .into_iter()
                .filter_map(|(kind, limit, target)| {
                    let i = target?;
                    let median = self.entries[i].current.as_ref()?.median;
                    let exceeded = match kind {
                        LimitKind::Max => median > limit.value,
                        LimitKind::Min => median < limit.value,
                    };
                    Some((
                        i,
                        LimitCheck {
                            kind,
                            bound: limit.value,
                            exceeded,
                        },
                    ))
                })
                .collect();
            for (i, check) in checks {
                let entry = &mut self.entries[i];
                // With both limits on one metric, the one exceeded is the one worth keeping.
                if entry.limit.as_ref().is_none_or(|kept| !kept.exceeded) {
                    entry.limit = Some(check);
                }
            }
        }
        judge_failure_rates(self);
        for entry in &mut self.entries {
            entry.effect = effect(entry, config);
        }
    }
}

/// Failures counted by `--ignore-failure` ([`metric_names::FAILED_RUNS`], one count per job) are
/// too few samples for the statistics, so a plain rule judges them: a failure rate above the
/// baseline's is a critical, gating regression, whatever the times say (a command that now
/// fails fast would otherwise pass as "improved"). The rate is failures per measured run, the
/// runs counted from the benchmark's wall time; a baseline without the metric never failed.
fn judge_failure_rates(comparison: &mut Comparison) {
    let runs = |comparison: &Comparison, benchmark: &str| {
        comparison
            .entries
            .iter()
            .find(|e| e.benchmark == benchmark && e.metric == metric_names::WALL_TIME)
            .map(|e| (e.baseline.map(|s| s.n), e.current.map(|s| s.n)))
    };
    for index in 0..comparison.entries.len() {
        let entry = &comparison.entries[index];
        if entry.metric != metric_names::FAILED_RUNS {
            continue;
        }
        let Some((Some(base_runs), Some(runs))) = runs(comparison, &entry.benchmark) else {
            continue; // a new benchmark, or one gone: nothing to hold it to
        };
        let Some(current) = entry.current else {
            continue;
        };
        let failed = current.median;
        // A pooled baseline holds one count per job: its typical count per job's runs.
        let base_rate = entry
            .baseline
            .map_or(0.0, |b| b.median * b.n as f64 / base_runs.max(1) as f64);
        let rate = failed / runs.max(1) as f64;
        if rate <= base_rate {
            continue;
        }
        let entry = &mut comparison.entries[index];
        entry.gating = true;
        entry.verdict = Verdict::Regressed;
        entry.severity = Some(Severity::Critical);
        entry.reason = format!(
            "{failed:.0} of {runs} runs failed ({:.0}%), the baseline's {:.0}%",
            rate * 100.0,
            base_rate * 100.0
        );
        let note = format!(
            "{} (--ignore-failure): a failing run's time says nothing about speed, so more failures fail the gate",
            entry.reason
        );
        // Settled again after more rounds: said once.
        if !entry.notes.contains(&note) {
            entry.notes.push(note);
        }
    }
}

/// The effect of one entry whose `limit` is already checked.
fn effect(entry: &MetricComparison, config: &CompareConfig) -> GateEffect {
    if entry.limit.as_ref().is_some_and(|l| l.exceeded) {
        return GateEffect::Failure;
    }
    if !entry.gating {
        return GateEffect::None;
    }
    match entry.verdict {
        Verdict::Regressed => {
            let severity = entry.severity.unwrap_or(Severity::Critical);
            if severity >= config.fails_from(&entry.benchmark) {
                GateEffect::Failure
            } else {
                GateEffect::Warning
            }
        }
        Verdict::Missing if config.allows_missing(&entry.benchmark) => GateEffect::Warning,
        Verdict::Missing => GateEffect::Failure,
        // With no estimate at all (too few samples, zeros, a changed unit, unusable values)
        // there is no evidence either way: a pass would be earned by nothing.
        Verdict::Inconclusive if config.fail_on_inconclusive || entry.p_value.is_none() => {
            GateEffect::Failure
        }
        Verdict::Inconclusive => GateEffect::Warning,
        Verdict::Improved | Verdict::Unchanged | Verdict::New => GateEffect::None,
    }
}

impl MetricComparison {
    /// What a reader needs about this entry's limit: `median 312 ms is above max 250 ms`.
    #[must_use]
    pub fn limit_text(&self) -> Option<String> {
        Some(
            self.limit
                .as_ref()?
                .text(self.current.as_ref()?.median, &self.unit),
        )
    }

    /// Where the current median stands against the limit: `above max 250 ms`,
    /// `within min 1000 ops/s`.
    #[must_use]
    pub fn limit_relation(&self) -> Option<String> {
        Some(self.limit.as_ref()?.relation(&self.unit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{Policy, compare};
    use crate::model::Benchmark;

    fn runs(names: &[(&str, f64)]) -> Vec<Benchmark> {
        names
            .iter()
            .map(|&(name, ns)| {
                let samples = (0..10).map(|i| ns * (1.0 + f64::from(i) * 1e-3)).collect();
                Benchmark::wall_time(name, samples)
            })
            .collect()
    }

    fn effects(comparison: &Comparison) -> Vec<(String, Verdict, GateEffect)> {
        comparison
            .entries
            .iter()
            .map(|e| (e.benchmark.clone(), e.verdict, e.effect))
            .collect()
    }

    #[test]
    fn a_missing_benchmark_fails_unless_allowed() {
        let base = runs(&[("a", 1e6), ("b", 2e6)]);
        let cur = runs(&[("a", 1e6)]);
        let mut config = CompareConfig::default();
        let comparison = compare(&base, &cur, &config);
        assert_eq!(
            effects(&comparison)[1],
            ("b".into(), Verdict::Missing, GateEffect::Failure)
        );
        assert!(!comparison.passes(&config));
        config.allow_missing = true;
        assert!(compare(&base, &cur, &config).passes(&config));
        config.allow_missing = false;
        config.policies.insert(
            "b".into(),
            Policy {
                allow_missing: Some(true),
                ..Policy::default()
            },
        );
        let comparison = compare(&base, &cur, &config);
        assert_eq!(comparison.entries[1].effect, GateEffect::Warning);
        assert!(comparison.passes(&config));
    }

    #[test]
    fn fail_on_decides_which_severities_block() {
        let base = runs(&[("a", 1e6)]);
        let cur = runs(&[("a", 1.3e6)]); // +30%: minor under the default bands
        let mut config = CompareConfig::default();
        let comparison = compare(&base, &cur, &config);
        assert_eq!(comparison.entries[0].severity, Some(Severity::Minor));
        assert_eq!(comparison.entries[0].effect, GateEffect::Failure);
        config.fail_on = Severity::Moderate;
        let comparison = compare(&base, &cur, &config);
        assert_eq!(comparison.entries[0].effect, GateEffect::Warning);
        assert!(comparison.passes(&config));
        let doubled = runs(&[("a", 2.5e6)]);
        assert!(!compare(&base, &doubled, &config).passes(&config));
    }

    #[test]
    fn a_limit_fails_whatever_the_baseline_says() {
        let base = runs(&[("a", 300e6)]);
        let cur = runs(&[("a", 300e6), ("new", 300e6)]);
        let mut config = CompareConfig::default();
        for name in ["a", "new"] {
            config.policies.insert(
                name.into(),
                Policy {
                    max: Some(Limit::parse("250ms").unwrap()),
                    ..Policy::default()
                },
            );
        }
        let comparison = compare(&base, &cur, &config);
        assert_eq!(comparison.entries[0].verdict, Verdict::Unchanged);
        assert_eq!(comparison.entries[0].effect, GateEffect::Failure);
        assert_eq!(
            comparison.entries[0].limit_text().unwrap(),
            "median 301 ms is above max 250 ms"
        );
        assert_eq!(comparison.entries[1].verdict, Verdict::New);
        assert_eq!(comparison.entries[1].effect, GateEffect::Failure);
        assert!(!comparison.passes(&config));
        // Within the bound, nothing.
        config.policies.get_mut("a").unwrap().max = Some(Limit::parse("1s").unwrap());
        config.policies.remove("new");
        let comparison = compare(&base, &cur, &config);
        assert!(comparison.passes(&config), "{:?}", effects(&comparison));
    }

    #[test]
    fn a_limit_in_a_unit_nothing_measured_is_reported() {
        let base = runs(&[("a", 1e6)]);
        let mut config = CompareConfig::default();
        config.policies.insert(
            "a".into(),
            Policy {
                max: Some(Limit::parse("512MiB").unwrap()),
                min: Some(Limit::parse("10/s").unwrap()),
                ..Policy::default()
            },
        );
        let comparison = compare(&base, &base, &config);
        assert_eq!(
            comparison.unbounded_limits(&config),
            [
                ("a".to_owned(), "max 512 MiB".to_owned()),
                ("a".to_owned(), "min 10.00 ops/s".to_owned())
            ]
        );
    }

    #[test]
    fn inconclusive_warns_or_fails_as_configured() {
        let base = vec![Benchmark::wall_time("a", vec![1e6, 1.2e6, 0.8e6])];
        let cur = vec![Benchmark::wall_time("a", vec![1.05e6, 1.25e6, 0.85e6])];
        let mut config = CompareConfig::default();
        let comparison = compare(&base, &cur, &config);
        assert_eq!(comparison.entries[0].verdict, Verdict::Inconclusive);
        assert_eq!(comparison.entries[0].effect, GateEffect::Warning);
        config.fail_on_inconclusive = true;
        assert!(!compare(&base, &cur, &config).passes(&config));
    }

    #[test]
    fn limits_parse_in_the_units_people_write() {
        let parsed = |s: &str| Limit::parse(s).map(|l| (l.value, l.unit.0));
        assert_eq!(parsed("1.5s"), Ok((1.5e9, "ns".into())));
        assert_eq!(parsed("20 us"), Ok((20e3, "ns".into())));
        assert_eq!(parsed("2GB"), Ok((2e9, "bytes".into())));
        assert_eq!(parsed("5e6 instructions"), Ok((5e6, "instructions".into())));
        assert_eq!(parsed("1_000/s"), Ok((1000.0, "ops/s".into())));
        assert!(matches!(
            Limit::parse("0ms"),
            Err(LimitError::NotPositive(_))
        ));
        assert!(matches!(Limit::parse("250"), Err(LimitError::NoUnit(_))));
        assert!(matches!(Limit::parse("ms"), Err(LimitError::NoNumber(_))));
    }

    #[test]
    fn a_failure_rate_above_the_baseline_s_fails_the_gate_whatever_the_times_say() {
        use crate::model::{Direction, Metric};
        let with_failures = |ns: f64, failed: Option<f64>| {
            let mut bench = runs(&[("flaky", ns)]).remove(0);
            if let Some(failed) = failed {
                bench.metrics.push(Metric::new(
                    metric_names::FAILED_RUNS,
                    Unit("runs".into()),
                    Direction::LowerIsBetter,
                    vec![failed],
                ));
            }
            vec![bench]
        };
        let config = CompareConfig::default();
        let judged = |base: &[Benchmark], head: &[Benchmark]| {
            let mut c = compare(base, head, &config);
            c.settle(&config);
            c
        };
        // Failing fast looks 50% faster; 4 of 10 runs failing where none did fails the gate.
        let c = judged(
            &with_failures(1e6, Some(0.0)),
            &with_failures(0.5e6, Some(4.0)),
        );
        let failed = c
            .entries
            .iter()
            .find(|e| e.metric == "failed_runs")
            .unwrap();
        assert_eq!(failed.verdict, Verdict::Regressed);
        assert_eq!(failed.effect, GateEffect::Failure);
        assert!(
            failed
                .reason
                .starts_with("4 of 10 runs failed (40%), the baseline's 0%")
        );
        assert!(c.entries.iter().any(MetricComparison::fails_gate));
        // A baseline measured without --ignore-failure never failed.
        let c = judged(&with_failures(1e6, None), &with_failures(1e6, Some(1.0)));
        assert!(c.entries.iter().any(MetricComparison::fails_gate));
        // As many failures as the baseline (a command that exits 1 by design): no failure.
        let c = judged(
            &with_failures(1e6, Some(10.0)),
            &with_failures(1e6, Some(10.0)),
        );
        assert!(
            !c.entries.iter().any(MetricComparison::fails_gate),
            "{:?}",
            c.entries
        );
        let c = judged(
            &with_failures(1e6, Some(3.0)),
            &with_failures(1e6, Some(0.0)),
        );
        assert!(!c.entries.iter().any(MetricComparison::fails_gate));
    }
}
