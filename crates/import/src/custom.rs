//! benchkeep's custom JSON, for any harness benchkeep does not know (docs/import.md):
//!
//! ```json
//! {"benchmarks": [
//!   {"name": "parse", "unit": "ns", "samples": [1200, 1180, 1230]},
//!   {"name": "parse", "metric": "rss", "unit": "bytes", "value": 1048576},
//!   {"name": "requests", "unit": "req/s", "value": 5400, "direction": "bigger_is_better"}
//! ]}
//! ```
//!
//! A bare array of entries is accepted too (github-action-benchmark's custom format), where
//! `range` and `extra` are kept as parameters. Unknown fields are errors, so a typo in
//! `direction` cannot silently flip a gate.

use benchkeep_core::model::{Direction, Unit};
use serde::Deserialize;

use super::{Collector, ImportError, Imported, Input};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    #[serde(default)]
    metric: Option<String>,
    unit: String,
    #[serde(default)]
    value: Option<f64>,
    #[serde(default)]
    samples: Option<Vec<f64>>,
    #[serde(default)]
    direction: Option<CustomDirection>,
    #[serde(default)]
    range: Option<String>,
    #[serde(default)]
    extra: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum CustomDirection {
    #[serde(alias = "lower_is_better")]
    SmallerIsBetter,
    #[serde(alias = "higher_is_better")]
    BiggerIsBetter,
}

pub(super) fn import(input: &Input<'_>) -> Result<Imported, ImportError> {
    // The two shapes are told apart by their first character, so each is read once with
    // its own type and errors name the field that did not fit.
    let entries = match input.bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => input.json::<Vec<Entry>>()?,
        Some(b'{') => input.json::<Wrapped>()?.benchmarks,
        _ => {
            return Err(input.invalid(
                "line 1",
                "not a JSON object with `benchmarks` or an array of entries",
            ));
        }
    };
    let mut collector = Collector::default();
    // Entries are consumed as they are collected, so their samples are moved, not copied
    // (a million entries would otherwise be held twice).
    for (index, entry) in entries.into_iter().enumerate() {
        let at = || format!("field benchmarks[{index}]");
        // One entry per benchmark and metric: a benchmark's metrics are separate entries.
        let metric_name = entry.metric.as_deref().unwrap_or("value");
        input.entry(&format!("{} {metric_name}", entry.name), at())?;
        let samples = match (entry.value, entry.samples) {
            (Some(value), None) => vec![value],
            (None, Some(samples)) if !samples.is_empty() => samples,
            (None, Some(_)) => {
                return Err(input.invalid(at(), format!("{}: `samples` is empty", entry.name)));
            }
            _ => {
                return Err(input.invalid(
                    at(),
                    format!("{}: give exactly one of `value` and `samples`", entry.name),
                ));
            }
        };
        if entry.name.trim().is_empty() {
            return Err(input.invalid(at(), "an empty `name`"));
        }
        let direction = match entry.direction.unwrap_or(CustomDirection::SmallerIsBetter) {
            CustomDirection::SmallerIsBetter => Direction::LowerIsBetter,
            CustomDirection::BiggerIsBetter => Direction::HigherIsBetter,
        };
        let metric = entry.metric.as_deref().unwrap_or("value");
        collector
            .add(&entry.name, metric, &Unit(entry.unit), direction, samples)
            .map_err(|e| input.invalid(at(), e))?;
        let bench = collector.benchmark(&entry.name);
        for (key, value) in [("range", entry.range), ("extra", entry.extra)] {
            if let Some(value) = value {
                bench.params.insert(key.into(), value);
            }
        }
    }
    Ok(Imported::new(collector.finish()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object with `benchmarks`")]
struct Wrapped {
    benchmarks: Vec<Entry>,
}

#[cfg(test)]
mod tests {
    use super::super::testing::error;
    use super::super::{Format, import_bytes};
    use benchkeep_core::model::Direction;

    #[test]
    fn a_benchmark_metric_twice_is_refused_unless_merged() {
        let text = br#"{"benchmarks": [
            {"name": "parse", "unit": "ns", "samples": [1200, 1180]},
            {"name": "parse", "unit": "ns", "samples": [9000, 9100]}
        ]}"#;
        let e = error(Format::Custom, "c.json", text);
        assert!(
            e.starts_with("c.json: field benchmarks[1]: benchmark \"parse value\" appears twice"),
            "{e}"
        );
        let options = super::super::ImportOptions {
            merge_duplicates: true,
            ..Default::default()
        };
        let merged =
            super::super::import_bytes_with(Format::Custom, "c.json", text, options).unwrap();
        assert_eq!(merged.benchmarks[0].metrics[0].samples.len(), 4);
    }

    #[test]
    fn samples_values_metrics_and_directions() {
        let text = br#"{"benchmarks": [
            {"name": "parse", "unit": "ns", "samples": [1200, 1180, 1230]},
            {"name": "parse", "metric": "rss", "unit": "bytes", "value": 1048576},
            {"name": "requests", "unit": "req/s", "value": 5400, "direction": "bigger_is_better"}
        ]}"#;
        let imported = import_bytes(Format::Custom, "c.json", text).unwrap();
        let parse = &imported.benchmarks[0];
        assert_eq!(parse.metrics[0].samples, vec![1200.0, 1180.0, 1230.0]);
        assert_eq!(parse.metrics[1].name, "rss");
        assert_eq!(
            imported.benchmarks[1].metrics[0].direction,
            Direction::HigherIsBetter
        );
    }

    #[test]
    fn github_action_benchmark_custom_arrays_are_accepted() {
        let text =
            br#"[{"name": "My Bench", "unit": "ms", "value": 12.5, "range": "3", "extra": "x"}]"#;
        let imported = import_bytes(Format::Custom, "c.json", text).unwrap();
        assert_eq!(imported.benchmarks[0].params["range"], "3");
    }

    #[test]
    fn typos_and_ambiguity_are_errors() {
        let e = error(
            Format::Custom,
            "c.json",
            br#"{"benchmarks":[{"name":"a","unit":"ns","value":1,"direction":"up"}]}"#,
        );
        assert!(e.contains("field benchmarks[0].direction"), "{e}");
        let e = error(
            Format::Custom,
            "c.json",
            br#"{"benchmarks":[{"name":"a","unit":"ns","value":1,"valeu":2}]}"#,
        );
        assert!(e.contains("unknown field `valeu`"), "{e}");
        let e = error(
            Format::Custom,
            "c.json",
            br#"[{"name":"a","unit":"ns","value":1,"samples":[1]}]"#,
        );
        assert!(
            e.contains("field benchmarks[0]: a: give exactly one of `value` and `samples`"),
            "{e}"
        );
        let e = error(
            Format::Custom,
            "c.json",
            br#"{"benchmarks":[{"name":"a","unit":"ns","value":1"#,
        );
        assert!(e.contains("EOF while parsing"), "{e}");
    }
}
