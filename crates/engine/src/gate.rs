//! The gate's decision: whether a comparison passes, refusing (rather than passing) when it was
//! asked to judge something nothing measured. Every gating command of the CLI asks here.

use benchkeep_core::compare::{self, CompareConfig, Comparison, GateMetrics, MetricComparison};
use benchkeep_core::model::{Benchmark, check_complete};

use crate::config::Config;
use crate::settings::{CompareFlags, compare_config};
use crate::{Error, exit_codes};

/// A settled comparison and the gate's answer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Judged {
    /// Every entry, each with its effect on the gate settled.
    pub comparison: Comparison,
    /// Whether the gate passes.
    pub passed: bool,
    /// Things worth a warning that do not stop the gate (a default gate metric only some
    /// benchmarks measured).
    pub warnings: Vec<String>,
}

impl Judged {
    /// [`exit_codes::PASS`] or [`exit_codes::REGRESSION`].
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        if self.passed {
            exit_codes::PASS
        } else {
            exit_codes::REGRESSION
        }
    }
}

/// Settles each entry's effect on the gate under `config` and says whether the gate passes.
///
/// # Errors
///
/// [`Error::Unjudged`] when the gate has no evidence for something it was asked to judge: a
/// benchmark whose gate names only metrics it did not measure, a gate metric no benchmark
/// measured, or a policy limit in a unit none of its benchmark's metrics has.
pub fn judge(comparison: &mut Comparison, config: &CompareConfig) -> Result<Vec<String>, Error> {
    comparison.settle(config);
    let unjudged = comparison.unjudged(config);
    let mut warnings = Vec::new();
    if !unjudged.unused_defaults.is_empty() {
        warnings.push(format!(
            "the gate names {} but no benchmark measured it; gating on the other metrics",
            unjudged.unused_defaults.join(", ")
        ));
    }
    if let Some((benchmark, measured)) = unjudged.benchmarks.first() {
        let also = match unjudged.benchmarks.len() {
            1 => String::new(),
            n => format!(
                " (and {} other benchmark{})",
                n - 1,
                if n == 2 { "" } else { "s" }
            ),
        };
        return Err(Error::Unjudged(format!(
            "benchmark {benchmark:?}{also}: its gate names {}, which it did not measure (it has {}); fix the metric name in --gate-metric, [compare] gate or its [[policy]], or measure it",
            gate_names(config, benchmark),
            measured.join(", ")
        )));
    }
    if !unjudged.metrics.is_empty() {
        return Err(Error::Unjudged(format!(
            "the gate names {}, which no benchmark measured; fix the metric name in --gate-metric, [compare] gate or a [[policy]]",
            unjudged.metrics.join(", ")
        )));
    }
    if let Some((benchmark, limit)) = comparison.unbounded_limits(config).first() {
        return Err(Error::Unjudged(format!(
            "benchmark {benchmark:?}: its [[policy]] sets {limit}, but it measured no metric in that unit; fix the limit's unit or measure the metric"
        )));
    }
    Ok(warnings)
}

/// Whether `comparison`, judged by [`judge`], passes.
#[must_use]
pub fn passes(comparison: &Comparison) -> bool {
    !comparison.entries.iter().any(MetricComparison::fails_gate)
}

/// The gate `benchkeep compare` runs on two sets of benchmarks (it calls this): settings from
/// `config` and `flags`, `[[policy]]` entries resolved for both sides, independent samples
/// compared, then judged. The warnings include policy limits that bound nothing.
///
/// # Errors
///
/// [`Error::Config`] for invalid settings or a run that measured nothing; [`Error::Unjudged`]
/// as [`judge`].
pub fn compare_benchmarks(
    config: &Config,
    flags: &CompareFlags,
    base: &[Benchmark],
    head: &[Benchmark],
) -> Result<Judged, Error> {
    for (side, benchmarks) in [("base", base), ("head", head)] {
        check_complete(benchmarks).map_err(|e| {
            Error::Config(crate::ConfigError::Invalid(format!("the {side} run: {e}")))
        })?;
    }
    let mut settings = compare_config(config, flags)?;
    let names: Vec<&str> = base.iter().chain(head).map(|b| b.name.as_str()).collect();
    settings.policies = crate::policy::resolve(&config.policy, names.iter().copied())?;
    let mut warnings = crate::policy::limits_not_applied(&config.policy, &names);
    let mut comparison = compare::compare(base, head, &settings);
    warnings.extend(judge(&mut comparison, &settings)?);
    Ok(Judged {
        passed: passes(&comparison),
        comparison,
        warnings,
    })
}

/// What `benchmark`'s gate names, for messages.
fn gate_names(config: &CompareConfig, benchmark: &str) -> String {
    let gate = config
        .policies
        .get(benchmark)
        .and_then(|p| p.gate.as_ref())
        .unwrap_or(&config.gate);
    match gate {
        GateMetrics::Named(names) => names.join(", "),
        GateMetrics::Primary => "its primary metric".into(),
        GateMetrics::All => "every metric".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bench(name: &str, ns: f64) -> Benchmark {
        Benchmark::wall_time(
            name,
            (0..10).map(|i| ns * (1.0 + f64::from(i) * 1e-3)).collect(),
        )
    }

    #[test]
    fn a_missing_benchmark_and_a_typo_never_pass() {
        let config = Config::default();
        let judged = compare_benchmarks(
            &config,
            &CompareFlags::default(),
            &[bench("a", 1e6), bench("b", 1e6)],
            &[bench("a", 1e6)],
        )
        .unwrap();
        assert!(!judged.passed);
        let typo = CompareFlags {
            gate_metrics: vec!["walltime".into()],
            ..CompareFlags::default()
        };
        let err =
            compare_benchmarks(&config, &typo, &[bench("a", 1e6)], &[bench("a", 1e6)]).unwrap_err();
        assert_eq!(err.exit_code(), exit_codes::ERROR);
        assert!(err.to_string().contains("walltime"), "{err}");
        let empty = compare_benchmarks(&config, &CompareFlags::default(), &[bench("a", 1e6)], &[])
            .unwrap_err();
        assert!(
            empty
                .to_string()
                .contains("the head run: it has no benchmarks"),
            "{empty}"
        );
    }
}
