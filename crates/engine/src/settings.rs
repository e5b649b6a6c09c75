//! Comparison settings from one place: the file's `[compare]` section and the command line's
//! flags, over the core's defaults, validated once.

use benchkeep_core::compare::{CompareConfig, GateMetrics, Severity, SeverityBands};

use crate::ConfigError;
use crate::config::{Config, GateSetting};

/// The comparison flags of `check`, `compare` and `ab`; each wins over the file's setting.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CompareFlags {
    /// Smallest change that counts, in percent.
    pub threshold: Option<f64>,
    /// Significance level.
    pub alpha: Option<f64>,
    /// Gate on these metrics ("all" for every metric).
    pub gate_metrics: Vec<String>,
    /// Fail on an inconclusive gating metric.
    pub fail_on_inconclusive: bool,
    /// The least severity that fails.
    pub fail_on: Option<Severity>,
    /// Accept benchmarks missing from the run.
    pub allow_missing: bool,
    /// Judge each p-value alone.
    pub no_fdr: bool,
}

/// The comparison settings of `config` with `flags` on top, over [`CompareConfig::default`].
///
/// # Errors
///
/// [`ConfigError::Invalid`] naming the setting that is out of range.
pub fn compare_config(config: &Config, flags: &CompareFlags) -> Result<CompareConfig, ConfigError> {
    let invalid = |text: String| Err(ConfigError::Invalid(text));
    let file = &config.compare;
    let defaults = CompareConfig::default();
    let threshold = flags
        .threshold
        .or(file.threshold)
        .unwrap_or(defaults.threshold * 100.0);
    if !(threshold.is_finite() && threshold > 0.0) {
        return invalid(format!(
            "threshold must be a positive percentage, not {threshold}"
        ));
    }
    let alpha = flags.alpha.or(file.alpha).unwrap_or(defaults.alpha);
    if !(alpha > 0.0 && alpha < 1.0) {
        return invalid(format!("alpha must be between 0 and 1, not {alpha}"));
    }
    if file.confidence.is_some() {
        return invalid(
            "compare.confidence is no longer a setting: intervals are reported at the level of the test (1 - alpha, adjusted when many benchmarks are compared), so they always agree with the verdict; set compare.alpha instead".into(),
        );
    }
    let resamples = file.resamples.unwrap_or(defaults.resamples);
    if resamples < 100 {
        return invalid(format!(
            "compare.resamples must be at least 100, not {resamples}"
        ));
    }
    let min_samples = file.min_samples.unwrap_or(defaults.min_samples);
    if min_samples < 1 {
        return invalid(format!(
            "compare.min_samples must be at least 1, not {min_samples}"
        ));
    }
    let gate = if flags.gate_metrics.is_empty() {
        match &file.gate {
            None => GateMetrics::Primary,
            Some(GateSetting::Word(w)) if w == "all" => GateMetrics::All,
            Some(GateSetting::Word(w)) if w == "primary" => GateMetrics::Primary,
            // Any other word is a metric's name, read as a [[policy]]'s `metric` is: a typo
            // then names a metric nothing measured, which the gate refuses.
            Some(GateSetting::Word(w)) => GateMetrics::Named(vec![w.clone()]),
            Some(GateSetting::Metrics(names)) => GateMetrics::Named(names.clone()),
        }
    } else if flags.gate_metrics.iter().any(|m| m == "all") {
        GateMetrics::All
    } else {
        GateMetrics::Named(flags.gate_metrics.clone())
    };
    let severity = match file.severity {
        Some(s) => {
            if !(s.moderate > 0.0 && s.moderate < s.critical) {
                return invalid("compare.severity needs 0 < moderate < critical (percent)".into());
            }
            SeverityBands {
                moderate: s.moderate / 100.0,
                critical: s.critical / 100.0,
            }
        }
        None => SeverityBands::default(),
    };
    Ok(CompareConfig {
        threshold: threshold / 100.0,
        alpha,
        resamples,
        seed: file.seed.unwrap_or(defaults.seed),
        min_samples,
        severity,
        gate,
        fail_on_inconclusive: flags.fail_on_inconclusive
            || file.fail_on_inconclusive.unwrap_or(false),
        fail_on: flags.fail_on.or(file.fail_on).unwrap_or(defaults.fail_on),
        allow_missing: flags.allow_missing || file.allow_missing.unwrap_or(defaults.allow_missing),
        fdr: !flags.no_fdr && file.fdr.unwrap_or(defaults.fdr),
        moderation: file.moderation.unwrap_or(defaults.moderation),
        min_history: file.min_history.unwrap_or(defaults.min_history).max(2),
        method: defaults.method,
        threads: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        ..defaults
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_the_file_over_the_defaults() {
        let config = Config::parse("[compare]\nthreshold = 3\nfail_on = \"moderate\"\n").unwrap();
        let from_file = compare_config(&config, &CompareFlags::default()).unwrap();
        assert!((from_file.threshold - 0.03).abs() < 1e-12);
        assert_eq!(from_file.fail_on, Severity::Moderate);
        let flags = CompareFlags {
            threshold: Some(7.0),
            fail_on: Some(Severity::Critical),
            ..CompareFlags::default()
        };
        let from_flags = compare_config(&config, &flags).unwrap();
        assert!((from_flags.threshold - 0.07).abs() < 1e-12);
        assert_eq!(from_flags.fail_on, Severity::Critical);
        let defaults = compare_config(&Config::default(), &CompareFlags::default()).unwrap();
        assert!((defaults.threshold - CompareConfig::default().threshold).abs() < 1e-12);
    }

    #[test]
    fn out_of_range_settings_are_named() {
        for (flags, needle) in [
            (
                CompareFlags {
                    threshold: Some(0.0),
                    ..CompareFlags::default()
                },
                "threshold",
            ),
            (
                CompareFlags {
                    alpha: Some(1.5),
                    ..CompareFlags::default()
                },
                "alpha",
            ),
        ] {
            let err = compare_config(&Config::default(), &flags).unwrap_err();
            assert!(err.to_string().contains(needle), "{err}");
        }
    }
}
