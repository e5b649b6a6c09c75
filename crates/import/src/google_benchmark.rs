//! Google Benchmark's JSON (`--benchmark_format=json` or `--benchmark_out=FILE`).
//!
//! Each repetition (`run_type: iteration`) is one sample of real time (`wall_time`), CPU time
//! (`cpu_time`) and the rate counters (`items_per_second`, `bytes_per_second`). Aggregates
//! (mean, median, stddev, cv) are summaries of those repetitions and are skipped, unless the
//! output has only aggregates (`--benchmark_report_aggregates_only`): then the median (or the
//! mean) is the one sample.

use benchkeep_core::model::{Direction, ReportedSummary, Spread, Statistic, Unit};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::{Collector, ImportError, Imported, Input, nanoseconds_per};

#[derive(Deserialize)]
struct Context {
    #[serde(default)]
    library_version: Option<String>,
    #[serde(default)]
    library_build_type: Option<String>,
}

// Strings are borrowed from the input where they have no escapes.
#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(default, borrow)]
    run_name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    run_type: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    aggregate_name: Option<Cow<'a, str>>,
    #[serde(default)]
    real_time: Option<f64>,
    #[serde(default)]
    cpu_time: Option<f64>,
    #[serde(default, borrow)]
    time_unit: Option<Cow<'a, str>>,
    #[serde(default)]
    items_per_second: Option<f64>,
    #[serde(default)]
    bytes_per_second: Option<f64>,
    #[serde(default)]
    repetitions: Option<u64>,
    #[serde(default)]
    error_occurred: Option<bool>,
    #[serde(default)]
    error_message: Option<String>,
}

impl Entry<'_> {
    fn family(&self) -> &str {
        self.run_name.as_deref().unwrap_or(&self.name)
    }

    fn is_iteration(&self) -> bool {
        self.run_type.as_deref().is_none_or(|t| t == "iteration")
    }
}

/// A family's aggregates, gathered in one pass so that deciding each is a lookup (searching all
/// entries per aggregate made aggregates-only outputs quadratic).
#[derive(Default)]
struct Family {
    /// Positions of the family's first `mean`, `median` and `stddev` aggregates.
    mean: Option<usize>,
    median: Option<usize>,
    stddev: Option<usize>,
}

fn families<'e>(aggregates: &'e [(usize, Entry<'_>)]) -> HashMap<&'e str, Family> {
    let mut families: HashMap<&str, Family> = HashMap::new();
    for (position, (_, entry)) in aggregates.iter().enumerate() {
        let family = families.entry(entry.family()).or_default();
        let slot = match entry.aggregate_name.as_deref() {
            Some("mean") => &mut family.mean,
            Some("median") => &mut family.median,
            Some("stddev") => &mut family.stddev,
            _ => continue,
        };
        slot.get_or_insert(position);
    }
    families
}

pub(super) fn import(input: &Input<'_>) -> Result<Imported, ImportError> {
    if input.bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(input.invalid("line 1", "not a JSON object"));
    }
    let mut reader = Reader {
        input,
        collector: Collector::default(),
        aggregates: Vec::new(),
        entries: 0,
        context: None,
    };
    let mut failure = None;
    // Repetitions are collected as they are read (a million entries held whole took 300 MB);
    // aggregates wait for the end, where it is known whether their family had repetitions.
    let document = Document {
        reader: &mut reader,
        failure: &mut failure,
    };
    let read = super::json_seed_at(input, input.bytes, None, document);
    if let Some(failure) = failure {
        return Err(failure);
    }
    read?;
    let Reader {
        mut collector,
        aggregates,
        context,
        ..
    } = reader;
    let families = families(&aggregates);
    // Every repetition has been collected, so a family with repetitions has a wall time now.
    let repeated: HashSet<&str> = families
        .keys()
        .copied()
        .filter(|family| collector.has_metric(family, "wall_time"))
        .collect();
    for (index, entry) in &aggregates {
        let family = entry.family();
        let facts = &families[family];
        // Only aggregates for this family: take its median, else its mean.
        let name = entry.aggregate_name.as_deref();
        let wanted = !repeated.contains(family)
            && (name == Some("median") || (facts.median.is_none() && name == Some("mean")));
        if wanted {
            let summary = aggregate_summary(&aggregates, facts, entry)
                .map_err(|(at, e)| input.invalid(format!("field benchmarks[{at}].time_unit"), e))?;
            collect(input, &mut collector, *index, entry, summary)?;
        } else if !repeated.contains(family) && facts.median.is_none() && facts.mean.is_none() {
            // Only a spread (stddev, cv): no value to compare, and dropping the family would
            // let it go missing unnoticed.
            return Err(input.invalid(
                format!("field benchmarks[{index}]"),
                format!("{family}: aggregates without a mean or median, and no repetitions"),
            ));
        }
    }
    let mut imported = Imported::new(collector.finish());
    if let Some(context) = context {
        if let Some(version) = context.library_version {
            imported
                .labels
                .insert("import.google_benchmark".into(), version);
        }
        if let Some(build) = context.library_build_type {
            imported.labels.insert("import.build_type".into(), build);
        }
    }
    Ok(imported)
}

/// Adds entry `index`'s times and rates, with the harness's summary when it is an aggregate.
fn collect(
    input: &Input<'_>,
    collector: &mut Collector,
    index: usize,
    entry: &Entry<'_>,
    summary: Option<ReportedSummary>,
) -> Result<(), ImportError> {
    let at = |field: &str| format!("field benchmarks[{index}]{field}");
    let family = entry.family();
    let unit = entry.time_unit.as_deref().unwrap_or("ns");
    let scale = nanoseconds_per(unit)
        .ok_or_else(|| input.invalid(at(".time_unit"), format!("unknown time unit {unit:?}")))?;
    let Some(real) = entry.real_time else {
        return Err(input.invalid(at(".real_time"), format!("{family}: missing")));
    };
    collector
        .add_time(family, [real * scale])
        .map_err(|e| input.invalid(at(".real_time"), e))?;
    if let Some(summary) = summary {
        collector
            .summarize(family, "wall_time", summary)
            .map_err(|e| input.invalid(at(".real_time"), e))?;
    }
    if let Some(cpu) = entry.cpu_time {
        collector
            .add_time_metric(family, "cpu_time", [cpu * scale])
            .map_err(|e| input.invalid(at(".cpu_time"), e))?;
    }
    for (metric, unit, value) in [
        ("items_per_second", "items/s", entry.items_per_second),
        ("bytes_per_second", "bytes/s", entry.bytes_per_second),
    ] {
        if let Some(value) = value {
            collector
                .add(
                    family,
                    metric,
                    &Unit(unit.into()),
                    Direction::HigherIsBetter,
                    [value],
                )
                .map_err(|e| input.invalid(at(&format!(".{metric}")), e))?;
        }
    }
    Ok(())
}

/// The state of one streamed read.
struct Reader<'a, 'b, 'de> {
    input: &'a Input<'b>,
    collector: Collector,
    /// Aggregate entries with their positions, decided at the end.
    aggregates: Vec<(usize, Entry<'de>)>,
    entries: usize,
    context: Option<Context>,
}

impl<'de> Reader<'_, '_, 'de> {
    fn take(&mut self, entry: Entry<'de>) -> Result<(), ImportError> {
        let index = self.entries;
        self.entries += 1;
        if entry.error_occurred == Some(true) {
            return Err(self.input.invalid(
                format!("field benchmarks[{index}]"),
                format!(
                    "benchmark {:?} failed: {}",
                    entry.name,
                    entry.error_message.as_deref().unwrap_or("no message")
                ),
            ));
        }
        // Benchmarks keep the order in which the input first names their family.
        self.collector.benchmark(entry.family());
        if entry.is_iteration() {
            collect(self.input, &mut self.collector, index, &entry, None)
        } else {
            self.aggregates.push((index, entry));
            Ok(())
        }
    }
}

/// The document: `context` and `benchmarks`; other fields are ignored.
struct Document<'s, 'a, 'b, 'de> {
    reader: &'s mut Reader<'a, 'b, 'de>,
    failure: &'s mut Option<ImportError>,
}

impl<'de> DeserializeSeed<'de> for Document<'_, '_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Document<'_, '_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object with `benchmarks`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match &*key {
                "benchmarks" if seen => {
                    return Err(serde::de::Error::duplicate_field("benchmarks"));
                }
                "benchmarks" => {
                    seen = true;
                    let reader = &mut *self.reader;
                    map.next_value_seed(super::EachElement::new(
                        "an array of benchmark entries",
                        &mut *self.failure,
                        |entry| reader.take(entry),
                    ))?;
                }
                "context" => self.reader.context = map.next_value::<Option<Context>>()?,
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        if seen {
            Ok(())
        } else {
            Err(serde::de::Error::missing_field("benchmarks"))
        }
    }
}

/// With only aggregates for `family`: the `mean` and `stddev` aggregates of its real time with
/// the repetition count, as the harness's summary.
///
/// # Errors
///
/// The position of an aggregate whose unit is unknown, and the message.
fn aggregate_summary(
    aggregates: &[(usize, Entry<'_>)],
    family: &Family,
    entry: &Entry<'_>,
) -> Result<Option<ReportedSummary>, (usize, String)> {
    let (Some(mean), Some(stddev)) = (family.mean, family.stddev) else {
        return Ok(None);
    };
    let ((mean_at, mean), (stddev_at, stddev)) = (&aggregates[mean], &aggregates[stddev]);
    let (Some(mean_time), Some(sd_time), Some(repetitions)) = (
        mean.real_time,
        stddev.real_time,
        entry.repetitions.or(mean.repetitions),
    ) else {
        return Ok(None);
    };
    let scale = |at: usize, e: &Entry<'_>| {
        let unit = e.time_unit.as_deref().unwrap_or("ns");
        nanoseconds_per(unit).ok_or_else(|| (at, format!("unknown time unit {unit:?}")))
    };
    Ok(Some(ReportedSummary {
        statistic: Statistic::Mean,
        value: mean_time * scale(*mean_at, mean)?,
        n: Some(repetitions),
        spread: Spread::StdDev {
            value: sd_time * scale(*stddev_at, stddev)?,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error, names};
    use super::super::{Format, import_bytes};

    #[test]
    fn real_output_takes_repetitions_as_samples_and_skips_aggregates() {
        let text = include_bytes!("../tests/fixtures/import/google-benchmark/real.json");
        let imported = import_bytes(Format::GoogleBenchmark, "g.json", text).unwrap();
        let names: Vec<&str> = names(&imported);
        assert_eq!(names, ["sum_squares", "sort_list/8", "sort_list/64"]);
        let sort = &imported.benchmarks[1];
        let metrics: Vec<&str> = sort.metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(metrics, ["wall_time", "cpu_time", "items_per_second"]);
        assert!(sort.metrics.iter().all(|m| m.samples.len() == 3));
        assert!((sort.metrics[0].samples[0] - 648.331_988).abs() < 1e-3);
        assert_eq!(imported.labels["import.build_type"], "release");
    }

    #[test]
    fn aggregates_only_output_uses_the_median_and_units_convert() {
        let text = br#"{"benchmarks":[
            {"name":"a_mean","run_name":"a","run_type":"aggregate","aggregate_name":"mean","real_time":2.0,"cpu_time":2.0,"time_unit":"us"},
            {"name":"a_median","run_name":"a","run_type":"aggregate","aggregate_name":"median","real_time":1.5,"cpu_time":1.5,"time_unit":"us"},
            {"name":"b","real_time":3,"time_unit":"ms"}]}"#;
        let imported = import_bytes(Format::GoogleBenchmark, "g.json", text).unwrap();
        assert_eq!(imported.benchmarks[0].metrics[0].samples, vec![1500.0]);
        assert_eq!(imported.benchmarks[1].metrics[0].samples, vec![3e6]);
    }

    #[test]
    fn a_family_with_only_a_spread_is_refused_and_bad_units_name_their_entry() {
        let spread_only = br#"{"benchmarks":[
            {"name":"z","real_time":1,"time_unit":"ns"},
            {"name":"a_stddev","run_name":"a","run_type":"aggregate","aggregate_name":"stddev","real_time":0.1,"time_unit":"ns"}]}"#;
        let e = error(Format::GoogleBenchmark, "g.json", spread_only);
        assert!(
            e.contains("field benchmarks[1]: a: aggregates without a mean or median"),
            "{e}"
        );
        let bad_mean_unit = br#"{"benchmarks":[
            {"name":"a_mean","run_name":"a","run_type":"aggregate","aggregate_name":"mean","real_time":2.0,"time_unit":"fortnights","repetitions":3},
            {"name":"a_median","run_name":"a","run_type":"aggregate","aggregate_name":"median","real_time":1.5,"time_unit":"us","repetitions":3},
            {"name":"a_stddev","run_name":"a","run_type":"aggregate","aggregate_name":"stddev","real_time":0.1,"time_unit":"us","repetitions":3}]}"#;
        let e = error(Format::GoogleBenchmark, "g.json", bad_mean_unit);
        assert!(
            e.contains("field benchmarks[0].time_unit: unknown time unit"),
            "{e}"
        );
    }

    #[test]
    fn errors_and_bad_units_fail_naming_the_entry() {
        let failed = br#"{"benchmarks":[{"name":"a","error_occurred":true,"error_message":"out of memory"}]}"#;
        let e = error(Format::GoogleBenchmark, "g.json", failed);
        assert!(
            e.contains("field benchmarks[0]: benchmark \"a\" failed: out of memory"),
            "{e}"
        );
        let unit = br#"{"benchmarks":[{"name":"a","real_time":1,"time_unit":"fortnights"}]}"#;
        let e = error(Format::GoogleBenchmark, "g.json", unit);
        assert!(
            e.contains("field benchmarks[0].time_unit: unknown time unit"),
            "{e}"
        );
        let e = error(Format::GoogleBenchmark, "g.json", br#"{"context":{}}"#);
        assert!(e.contains("missing field `benchmarks`"), "{e}");
    }
}
