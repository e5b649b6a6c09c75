//! `[[policy]]`: per-benchmark comparison settings, matched by exact name or glob.
//!
//! Several policies may match one benchmark; the most specific one applies, whole (settings are
//! not merged across policies, so what applies is always one readable entry): an exact name beats
//! any glob, a glob with more literal characters beats one with fewer, and between equals the
//! later entry in the file wins.

use std::collections::BTreeMap;

use benchkeep_core::compare::{GateMetrics, Limit, Policy, SeverityBands};
use benchkeep_core::model::Direction;
use globset::{Glob, GlobMatcher};

use crate::ConfigError;
use crate::config::{DirectionSetting, GateSetting, PolicyConfig};

/// `Err(ConfigError::Invalid(format!(...)))`.
macro_rules! invalid {
    ($($arg:tt)*) => {
        return Err(ConfigError::Invalid(format!($($arg)*)))
    };
}

const GLOB_CHARS: &[char] = &['*', '?', '[', ']', '{', '}'];

/// Checks one `[[policy]]` entry; errors name it.
pub(crate) fn validate(policy: &PolicyConfig) -> Result<(), ConfigError> {
    let name = &policy.name;
    if name.is_empty() {
        invalid!("a [[policy]] has an empty name");
    }
    matcher(name)?;
    if let Some(t) = policy.threshold
        && !(t.is_finite() && t > 0.0)
    {
        invalid!("[[policy]] {name:?}: threshold must be a positive percentage, not {t}");
    }
    if let Some(a) = policy.alpha
        && !(a > 0.0 && a < 1.0)
    {
        invalid!("[[policy]] {name:?}: alpha must be between 0 and 1, not {a}");
    }
    if let Some(GateSetting::Word(word)) = &policy.metric
        && word.is_empty()
    {
        invalid!("[[policy]] {name:?}: metric is empty");
    }
    if let Some(s) = policy.severity
        && !(s.moderate > 0.0 && s.moderate < s.critical)
    {
        invalid!("[[policy]] {name:?}: severity needs 0 < moderate < critical (percent)");
    }
    let converted = convert(policy)?;
    if let (Some(min), Some(max)) = (&converted.min, &converted.max)
        && min.unit == max.unit
        && min.value > max.value
    {
        invalid!("[[policy]] {name:?}: min {min} is above max {max}: nothing could pass");
    }
    Ok(())
}

/// The policies with an absolute limit (`max`, `min`) that apply to none of `benchmarks`,
/// each with why: the name matches none of them, or a more specific policy wins for every one
/// it matches (a policy applies whole, so its limit is not merged into the winner's). A limit
/// the user set that bounds nothing deserves a warning.
#[must_use]
pub fn limits_not_applied(policies: &[PolicyConfig], benchmarks: &[&str]) -> Vec<String> {
    let Ok(compiled) = Compiled::new(policies) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (index, (policy, _)) in compiled.0.iter().enumerate() {
        if policy.max.is_none() && policy.min.is_none() {
            continue;
        }
        let matched: Vec<&str> = benchmarks
            .iter()
            .copied()
            .filter(|b| compiled.matches(index, b))
            .collect();
        if matched.is_empty() {
            out.push(format!(
                "[[policy]] {:?} sets a limit but matches no benchmark here",
                policy.name
            ));
        } else if !matched.iter().any(|b| compiled.applying(b) == Some(index)) {
            out.push(format!(
                "[[policy]] {:?} sets a limit, but a more specific [[policy]] applies (whole) to every benchmark it matches: repeat the limit there",
                policy.name
            ));
        }
    }
    out
}

/// The policies with their globs compiled once.
struct Compiled<'p>(Vec<(&'p PolicyConfig, Option<GlobMatcher>)>);

impl<'p> Compiled<'p> {
    fn new(policies: &'p [PolicyConfig]) -> Result<Self, ConfigError> {
        policies
            .iter()
            .map(|p| Ok((p, matcher(&p.name)?)))
            .collect::<Result<_, ConfigError>>()
            .map(Compiled)
    }

    /// Whether policy `index` names `bench`, exactly or by its glob.
    fn matches(&self, index: usize, bench: &str) -> bool {
        let (policy, glob) = &self.0[index];
        glob.as_ref()
            .map_or(policy.name == bench, |glob| glob.is_match(bench))
    }

    /// The index of the policy that applies to `bench`: the most specific that matches, the
    /// later one between equals.
    fn applying(&self, bench: &str) -> Option<usize> {
        (0..self.0.len())
            .filter(|&index| self.matches(index, bench))
            .max_by_key(|&index| (specificity(&self.0[index].0.name), index))
    }
}

fn matcher(name: &str) -> Result<Option<GlobMatcher>, ConfigError> {
    if !name.contains(GLOB_CHARS) {
        return Ok(None);
    }
    match Glob::new(name) {
        Ok(glob) => Ok(Some(glob.compile_matcher())),
        Err(e) => invalid!("[[policy]] {name:?} is not a valid glob: {}", e.kind()),
    }
}

/// Specificity: exact names first, then globs by their count of literal characters.
fn specificity(name: &str) -> (bool, usize) {
    let exact = !name.contains(GLOB_CHARS);
    (
        exact,
        name.chars().filter(|c| !GLOB_CHARS.contains(c)).count(),
    )
}

/// The policy that applies to each of `benchmarks`, converted to the core's form.
///
/// # Errors
///
/// [`ConfigError::Invalid`] for a policy that does not validate.
pub fn resolve<'a>(
    policies: &[PolicyConfig],
    benchmarks: impl IntoIterator<Item = &'a str>,
) -> Result<BTreeMap<String, Policy>, ConfigError> {
    let compiled = Compiled::new(policies)?;
    let mut resolved = BTreeMap::new();
    for bench in benchmarks {
        if let Some(index) = compiled.applying(bench) {
            resolved.insert(bench.to_owned(), convert(compiled.0[index].0)?);
        }
    }
    Ok(resolved)
}

fn convert(policy: &PolicyConfig) -> Result<Policy, ConfigError> {
    let limit = |text: &Option<String>, which: &str| {
        text.as_deref().map(Limit::parse).transpose().map_err(|e| {
            ConfigError::Invalid(format!("[[policy]] {:?}: {which}: {e}", policy.name))
        })
    };
    Ok(Policy {
        threshold: policy.threshold.map(|t| t / 100.0),
        alpha: policy.alpha,
        gate: policy.metric.as_ref().map(|m| match m {
            GateSetting::Word(w) if w == "primary" => GateMetrics::Primary,
            GateSetting::Word(w) if w == "all" => GateMetrics::All,
            GateSetting::Word(w) => GateMetrics::Named(vec![w.clone()]),
            GateSetting::Metrics(names) => GateMetrics::Named(names.clone()),
        }),
        direction: policy.direction.map(|d| match d {
            DirectionSetting::LowerIsBetter => Direction::LowerIsBetter,
            DirectionSetting::HigherIsBetter => Direction::HigherIsBetter,
        }),
        severity: policy.severity.map(|s| SeverityBands {
            moderate: s.moderate / 100.0,
            critical: s.critical / 100.0,
        }),
        fail_on: policy.fail_on,
        allow_missing: policy.allow_missing,
        max: limit(&policy.max, "max")?,
        min: limit(&policy.min, "min")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn policies(text: &str) -> Vec<PolicyConfig> {
        Config::parse(text).unwrap().policy
    }

    #[test]
    fn the_most_specific_policy_wins() {
        let p = policies(
            r#"
            [[policy]]
            name = "*"
            threshold = 20
            [[policy]]
            name = "parse/*"
            threshold = 5
            [[policy]]
            name = "parse/big"
            threshold = 2
            metric = "instructions"
            direction = "lower_is_better"
            [[policy]]
            name = "p*"
            threshold = 7
            "#,
        );
        let resolved = resolve(&p, ["parse/big", "parse/small", "render", "plot"]).unwrap();
        let threshold = |name: &str| resolved[name].threshold.unwrap();
        assert!((threshold("parse/big") - 0.02).abs() < 1e-12);
        assert!((threshold("parse/small") - 0.05).abs() < 1e-12);
        assert!((threshold("render") - 0.20).abs() < 1e-12);
        assert!((threshold("plot") - 0.07).abs() < 1e-12);
        assert_eq!(
            resolved["parse/big"].gate,
            Some(GateMetrics::Named(vec!["instructions".into()]))
        );
    }

    #[test]
    fn a_limit_that_bounds_nothing_is_named() {
        let p = policies(
            r#"
            [[policy]]
            name = "prase"
            max = "1ms"
            [[policy]]
            name = "pa*"
            max = "1ms"
            [[policy]]
            name = "parse"
            threshold = 3
            [[policy]]
            name = "render"
            max = "1ms"
            "#,
        );
        let warnings = limits_not_applied(&p, &["parse", "render"]);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("\"prase\" sets a limit but matches no benchmark"));
        assert!(warnings[1].contains("\"pa*\" sets a limit, but a more specific"));
    }

    #[test]
    fn bad_policies_are_named() {
        for (text, needle) in [
            ("[[policy]]\nname = \"a[\"\n", "not a valid glob"),
            ("[[policy]]\nname = \"a\"\nthreshold = -1\n", "threshold"),
            ("[[policy]]\nname = \"a\"\nalpha = 2\n", "alpha"),
            (
                "[[policy]]\nname = \"a\"\ndirection = \"up\"\n",
                "direction",
            ),
            ("[[policy]]\nname = \"a\"\ntreshold = 1\n", "treshold"),
            (
                "[[policy]]\nname = \"a\"\nmax = \"fast\"\n",
                "max: \"fast\" does not start",
            ),
            (
                "[[policy]]\nname = \"a\"\nmin = \"100\"\n",
                "min: \"100\" has no unit",
            ),
            ("[[policy]]\nname = \"a\"\nfail_on = \"major\"\n", "fail_on"),
            (
                "[[policy]]\nname = \"a\"\nmin = \"2s\"\nmax = \"1s\"\n",
                "min 2.000 s is above max 1.000 s",
            ),
        ] {
            let err = Config::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }
}
