//! Commands as hyperfine users give them: several shell commands, each a benchmark, named with
//! `-n`; parameter scans (`-P NAME MIN MAX [-D STEP]`, `-L NAME a,b,c`) that make one benchmark
//! per value with `{NAME}` replaced in the command, its name and its hooks, and the value kept
//! in the benchmark's `params`.
//!
//! ```
//! use benchkeep_engine::scan::Parameter;
//!
//! let threads = Parameter::scan("threads", "1", "8", Some("2")).unwrap();
//! assert_eq!(threads.values, ["1", "3", "5", "7"]);
//! let delay = Parameter::scan("delay", "0.1", "0.3", Some("0.1")).unwrap();
//! assert_eq!(delay.values, ["0.1", "0.2", "0.3"]);
//! let compressor = Parameter::list("tool", "gzip,xz").unwrap();
//! assert_eq!(compressor.values, ["gzip", "xz"]);
//! ```

use std::collections::{BTreeMap, HashSet};

use crate::{Error, bail};

/// Values a scan may make at the most: more is almost surely a typo in MIN, MAX or STEP.
pub const MAX_VALUES: usize = 10_000;

/// A parameter and the values it takes, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Parameter {
    /// Its name, written `{NAME}` where it is used.
    pub name: String,
    /// Its values, as they replace `{NAME}`.
    pub values: Vec<String>,
}

impl Parameter {
    /// `-P NAME MIN MAX [-D STEP]`: from `min` to `max` (inclusive) in steps of `step` (default
    /// 1). Whole numbers stay whole; with decimals, values are written with as many decimal
    /// places as `min` and `step` have, so `0.1 + 0.2` reads `0.3`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`]: a bad name, a bound or step that is not a finite number, a step
    /// that is not positive, `max` below `min`, or more than [`MAX_VALUES`] values.
    pub fn scan(name: &str, min: &str, max: &str, step: Option<&str>) -> Result<Self, Error> {
        check_name(name)?;
        let number = |what: &str, text: &str| -> Result<f64, Error> {
            match text.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(x),
                _ => Err(Error::Invalid(format!(
                    "parameter {name:?}: {what} {text:?} is not a number"
                ))),
            }
        };
        let (low, high) = (number("MIN", min)?, number("MAX", max)?);
        let delta = step.map_or(Ok(1.0), |s| number("step", s))?;
        if delta <= 0.0 {
            bail!("parameter {name:?}: the step must be positive, not {delta}");
        }
        if high < low {
            bail!("parameter {name:?}: MAX {max} is below MIN {min}");
        }
        let decimals = |text: &str| text.trim().split_once('.').map_or(0, |(_, f)| f.len());
        let places = decimals(min).max(step.map_or(0, decimals));
        // Counted, not accumulated, so that no rounding error adds or loses a value.
        let steps = ((high - low) / delta + 1e-9).floor();
        if steps >= MAX_VALUES as f64 {
            bail!(
                "parameter {name:?}: {min} to {max} in steps of {delta} makes more than {MAX_VALUES} values"
            );
        }
        // A whole number below MAX_VALUES.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let count = steps as usize + 1;
        let values = (0..count)
            .map(|i| format!("{:.places$}", low + delta * i as f64))
            .collect();
        Ok(Parameter {
            name: name.to_owned(),
            values,
        })
    }

    /// `-L NAME a,b,c`: the listed values.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`]: a bad name, or a value listed twice (two benchmarks would measure
    /// the same thing under one name). An empty value is allowed: `-L opt ',-n'` measures a
    /// command without the option and with it.
    pub fn list(name: &str, values: &str) -> Result<Self, Error> {
        check_name(name)?;
        let values: Vec<String> = values.split(',').map(str::to_owned).collect();
        let mut seen = HashSet::new();
        // An empty value is hyperfine's idiom for "without the option" (`-L opt ',-n'`).
        for value in &values {
            if !seen.insert(value) {
                bail!("parameter {name:?}: {value:?} is listed twice");
            }
        }
        Ok(Parameter {
            name: name.to_owned(),
            values,
        })
    }

    fn placeholder(&self) -> String {
        format!("{{{}}}", self.name)
    }
}

fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.contains(['{', '}', ',']) || name.chars().any(char::is_whitespace) {
        bail!("parameter name {name:?}: give a word without spaces, braces or commas");
    }
    Ok(())
}

/// A command as given, before parameters are replaced.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    /// Its `-n` name, if given.
    pub(crate) name: Option<String>,
    /// Its argument vector (`sh -c SCRIPT` for a shell command).
    pub(crate) words: Vec<String>,
    /// How it reads as a name when none is given.
    pub(crate) shown: String,
    /// The shell it runs through (`words` is then `SHELL -c SCRIPT`), whose start-up is
    /// subtracted from its times.
    pub(crate) shell: Option<String>,
}

/// One benchmark of the expansion: a template with one value of each parameter put in.
#[derive(Debug, Clone)]
pub(crate) struct Expanded {
    pub(crate) name: String,
    pub(crate) words: Vec<String>,
    pub(crate) params: BTreeMap<String, String>,
    pub(crate) shell: Option<String>,
}

/// Every template with every combination of the parameters' values (the first parameter
/// changing fastest, as in hyperfine), in order.
///
/// # Errors
///
/// A parameter named twice or used by no command (nor by `hooks`), or two benchmarks
/// that would share a name.
pub(crate) fn expand(
    templates: &[Template],
    parameters: &[Parameter],
    hooks: &[&str],
) -> Result<Vec<Expanded>, Error> {
    let mut names = HashSet::new();
    for parameter in parameters {
        if !names.insert(&parameter.name) {
            bail!("parameter {:?} is given twice", parameter.name);
        }
        let placeholder = parameter.placeholder();
        let used = templates
            .iter()
            .flat_map(|t| t.words.iter().map(String::as_str))
            .chain(hooks.iter().copied())
            .any(|text| text.contains(&placeholder));
        if !used {
            bail!(
                "parameter {:?}: no command uses {placeholder}, so every value would measure the same thing",
                parameter.name
            );
        }
    }
    let mut combinations: Vec<BTreeMap<String, String>> = vec![BTreeMap::new()];
    // As hyperfine orders them: the first parameter changes fastest.
    for parameter in parameters.iter().rev() {
        combinations = combinations
            .into_iter()
            .flat_map(|chosen| {
                parameter.values.iter().map(move |value| {
                    let mut chosen = chosen.clone();
                    chosen.insert(parameter.name.clone(), value.clone());
                    chosen
                })
            })
            .collect();
    }
    let mut expanded = Vec::with_capacity(templates.len() * combinations.len());
    let mut seen = HashSet::new();
    for template in templates {
        for params in &combinations {
            let name = substitute(template.name.as_ref().unwrap_or(&template.shown), params);
            if !seen.insert(name.clone()) {
                bail!(
                    "two benchmarks would be called {name:?}: give each command its own name with -n (a name may use {{PARAMETER}})"
                );
            }
            expanded.push(Expanded {
                name,
                words: template
                    .words
                    .iter()
                    .map(|w| substitute(w, params))
                    .collect(),
                params: params.clone(),
                shell: template.shell.clone(),
            });
        }
    }
    Ok(expanded)
}

/// `text` with every `{NAME}` of `params` replaced by its value.
pub(crate) fn substitute(text: &str, params: &BTreeMap<String, String>) -> String {
    params.iter().fold(text.to_owned(), |text, (name, value)| {
        text.replace(&format!("{{{name}}}"), value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str) -> Template {
        Template {
            name: None,
            words: vec!["sh".into(), "-c".into(), script.into()],
            shown: script.into(),
            shell: Some("sh".into()),
        }
    }

    #[test]
    fn scans_count_their_values_without_drift_and_refuse_nonsense() {
        let p = Parameter::scan("n", "0", "1", Some("0.1")).unwrap();
        assert_eq!(p.values.len(), 11);
        assert_eq!(p.values[3], "0.3");
        assert_eq!(p.values[10], "1.0");
        assert_eq!(Parameter::scan("n", "5", "5", None).unwrap().values, ["5"]);
        assert_eq!(
            Parameter::scan("n", "-2", "2", Some("2")).unwrap().values,
            ["-2", "0", "2"]
        );
        for (min, max, step, says) in [
            ("1", "x", None, "MAX \"x\" is not a number"),
            ("3", "1", None, "MAX 1 is below MIN 3"),
            ("1", "3", Some("0"), "the step must be positive"),
            ("1", "3", Some("-1"), "the step must be positive"),
            ("1", "1e9", None, "more than 10000 values"),
            ("nan", "3", None, "MIN \"nan\" is not a number"),
        ] {
            let e = Parameter::scan("n", min, max, step)
                .unwrap_err()
                .to_string();
            assert!(e.contains(says), "{min} {max} {step:?}: {e}");
        }
        assert!(Parameter::scan("a b", "1", "2", None).is_err());
        assert_eq!(Parameter::list("x", ",-n").unwrap().values, ["", "-n"]);
        let e = Parameter::list("x", "a,b,a").unwrap_err().to_string();
        assert!(e.contains("\"a\" is listed twice"), "{e}");
    }

    #[test]
    fn every_template_takes_every_combination_first_parameter_fastest() {
        let parameters = [
            Parameter::list("t", "1,2").unwrap(),
            Parameter::scan("level", "1", "3", Some("2")).unwrap(),
        ];
        let expanded = expand(&[shell("xz -T{t} -{level} f")], &parameters, &[]).unwrap();
        let names: Vec<&str> = expanded.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            ["xz -T1 -1 f", "xz -T2 -1 f", "xz -T1 -3 f", "xz -T2 -3 f"]
        );
        assert_eq!(expanded[1].words[2], "xz -T2 -1 f");
        assert_eq!(expanded[1].params["t"], "2");
        assert_eq!(expanded[1].params["level"], "1");

        // gzip does not use {t}: it would be measured twice under one name.
        let both = [shell("xz -T{t} -{level} f"), shell("gzip -{level} f")];
        let e = expand(&both, &parameters, &[]).unwrap_err().to_string();
        assert!(
            e.contains("two benchmarks would be called \"gzip -1 f\""),
            "{e}"
        );
        // Named with the parameter, they are distinct.
        let mut distinct = both.clone();
        distinct[1].name = Some("gzip t{t} l{level}".into());
        assert_eq!(expand(&distinct, &parameters, &[]).unwrap().len(), 8);
    }

    #[test]
    fn a_parameter_no_command_uses_is_refused_unless_a_hook_uses_it() {
        let size = [Parameter::list("size", "1,2").unwrap()];
        let e = expand(&[shell("wc -c input")], &size, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("no command uses {size}"), "{e}");
        let mut named = shell("wc -c input");
        named.name = Some("wc {size}".into());
        let expanded = expand(&[named], &size, &["head -c {size}M /dev/zero > input"]).unwrap();
        assert_eq!(expanded[1].name, "wc 2");
        let twice = [size[0].clone(), size[0].clone()];
        assert!(expand(&[shell("x {size}")], &twice, &[]).is_err());
    }
}
