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
use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};

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
    let mut sink = Sink {
        input,
        collector: Collector::default(),
        entries: 0,
    };
    let mut failure = None;
    // The two shapes are told apart by their first character, so each is read with its own
    // type and errors name the field that did not fit. Entries are collected as they are read,
    // never held as a list.
    let read = match input.bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => {
            super::json_seed_at(input, input.bytes, None, entries(&mut sink, &mut failure))
        }
        Some(b'{') => super::json_seed_at(
            input,
            input.bytes,
            None,
            Wrapped {
                sink: &mut sink,
                failure: &mut failure,
            },
        ),
        _ => {
            return Err(input.invalid(
                "line 1",
                "not a JSON object with `benchmarks` or an array of entries",
            ));
        }
    };
    // An entry the collector refused stopped the reading; its error is the one to report.
    if let Some(failure) = failure {
        return Err(failure);
    }
    read?;
    Ok(Imported::new(sink.collector.finish()))
}

/// Where entries go as they are read.
struct Sink<'a, 'b> {
    input: &'a Input<'b>,
    collector: Collector,
    entries: usize,
}

impl Sink<'_, '_> {
    fn take(&mut self, entry: Entry) -> Result<(), ImportError> {
        let (input, index) = (self.input, self.entries);
        self.entries += 1;
        let at = || format!("field benchmarks[{index}]");
        // One entry per benchmark and metric: a benchmark's metrics are separate entries.
        let metric = entry.metric.as_deref().unwrap_or("value");
        if !input.options.merge_duplicates && self.collector.has_metric(&entry.name, metric) {
            return Err(input.duplicate(&format!("{} {metric}", entry.name), at()));
        }
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
        self.collector
            .add(&entry.name, metric, &Unit(entry.unit), direction, samples)
            .map_err(|e| input.invalid(at(), e))?;
        let bench = self.collector.benchmark(&entry.name);
        for (key, value) in [("range", entry.range), ("extra", entry.extra)] {
            if let Some(value) = value {
                bench.params.insert(key.into(), value);
            }
        }
        Ok(())
    }
}

/// The array of entries, each collected as soon as it is read.
fn entries<'s, 'f>(
    sink: &'s mut Sink<'_, '_>,
    failure: &'f mut Option<ImportError>,
) -> super::EachElement<'f, Entry, impl FnMut(Entry) -> Result<(), ImportError> + 's> {
    super::EachElement::new("an array of entries", failure, |entry| sink.take(entry))
}

/// `{"benchmarks": [...]}`, and nothing else.
struct Wrapped<'s, 'a, 'b> {
    sink: &'s mut Sink<'a, 'b>,
    failure: &'s mut Option<ImportError>,
}

impl<'de> DeserializeSeed<'de> for Wrapped<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_struct("Wrapped", &["benchmarks"], self)
    }
}

impl<'de> Visitor<'de> for Wrapped<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object with `benchmarks`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key != "benchmarks" {
                return Err(serde::de::Error::unknown_field(&key, &["benchmarks"]));
            }
            if seen {
                return Err(serde::de::Error::duplicate_field("benchmarks"));
            }
            seen = true;
            map.next_value_seed(entries(&mut *self.sink, &mut *self.failure))?;
        }
        if seen {
            Ok(())
        } else {
            Err(serde::de::Error::missing_field("benchmarks"))
        }
    }
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
    fn a_direction_that_changes_is_named_and_many_metrics_read_in_linear_time() {
        let text = br#"[{"name":"a","unit":"ns","value":1},{"name":"a","unit":"ns","value":2,"direction":"bigger_is_better"}]"#;
        let options = crate::ImportOptions {
            merge_duplicates: true,
            ..crate::ImportOptions::default()
        };
        let e = crate::import_bytes_with(Format::Custom, "c.json", text, options)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("a value: higher is better here, lower earlier"),
            "{e}"
        );
        // 20,000 metrics of one benchmark: a search of its metric list per entry took 0.95 s
        // (quadratic); found through the index, every one is kept, in order.
        let entries: Vec<String> = (0..20_000)
            .map(|i| format!(r#"{{"name":"one","metric":"m{i}","unit":"ns","value":{i}}}"#))
            .collect();
        let text = format!("[{}]", entries.join(","));
        let imported = import_bytes(Format::Custom, "c.json", text.as_bytes()).unwrap();
        let metrics = &imported.benchmarks[0].metrics;
        assert_eq!(metrics.len(), 20_000);
        assert_eq!(metrics[19_999].name, "m19999");
        assert!(metrics.iter().all(|m| m.samples.len() == 1));
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
