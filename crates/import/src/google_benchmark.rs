//! Google Benchmark's JSON (`--benchmark_format=json` or `--benchmark_out=FILE`).
//!
//! Each repetition (`run_type: iteration`) is one sample of real time (`wall_time`), CPU time
//! (`cpu_time`) and the rate counters (`items_per_second`, `bytes_per_second`). Aggregates
//! (mean, median, stddev, cv) are summaries of those repetitions and are skipped, unless the
//! output has only aggregates (`--benchmark_report_aggregates_only`): then the median (or the
//! mean) is the one sample.

use benchkeep_core::model::{Direction, ReportedSummary, Spread, Statistic, Unit};
use serde::Deserialize;

use super::{Collector, ImportError, Imported, Input, nanoseconds_per};

#[derive(Deserialize)]
#[serde(expecting = "an object with `benchmarks`")]
struct Export {
    #[serde(default)]
    context: Option<Context>,
    benchmarks: Vec<Entry>,
}

#[derive(Deserialize)]
struct Context {
    #[serde(default)]
    library_version: Option<String>,
    #[serde(default)]
    library_build_type: Option<String>,
}

#[derive(Deserialize)]
struct Entry {
    name: String,
    #[serde(default)]
    run_name: Option<String>,
    #[serde(default)]
    run_type: Option<String>,
    #[serde(default)]
    aggregate_name: Option<String>,
    #[serde(default)]
    real_time: Option<f64>,
    #[serde(default)]
    cpu_time: Option<f64>,
    #[serde(default)]
    time_unit: Option<String>,
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

impl Entry {
    fn family(&self) -> &str {
        self.run_name.as_deref().unwrap_or(&self.name)
    }
}

pub(super) fn import(input: &Input<'_>) -> Result<Imported, ImportError> {
    let export: Export = input.json_object()?;
    let is_iteration = |e: &Entry| e.run_type.as_deref().is_none_or(|t| t == "iteration");
    let mut collector = Collector::default();
    for (index, entry) in export.benchmarks.iter().enumerate() {
        let at = |field: &str| format!("field benchmarks[{index}]{field}");
        if entry.error_occurred == Some(true) {
            return Err(input.invalid(
                at(""),
                format!(
                    "benchmark {:?} failed: {}",
                    entry.name,
                    entry.error_message.as_deref().unwrap_or("no message")
                ),
            ));
        }
        let family = entry.family();
        let wanted = if is_iteration(entry) {
            true
        } else {
            // Only aggregates for this family: take its median, else its mean.
            let has_iterations = export
                .benchmarks
                .iter()
                .any(|e| e.family() == family && is_iteration(e));
            let has_median = export
                .benchmarks
                .iter()
                .any(|e| e.family() == family && e.aggregate_name.as_deref() == Some("median"));
            let name = entry.aggregate_name.as_deref();
            !has_iterations && (name == Some("median") || (!has_median && name == Some("mean")))
        };
        if !wanted {
            continue;
        }
        let unit = entry.time_unit.as_deref().unwrap_or("ns");
        let scale = nanoseconds_per(unit).ok_or_else(|| {
            input.invalid(at(".time_unit"), format!("unknown time unit {unit:?}"))
        })?;
        let Some(real) = entry.real_time else {
            return Err(input.invalid(at(".real_time"), format!("{family}: missing")));
        };
        collector
            .add_time(family, [real * scale])
            .map_err(|e| input.invalid(at(".real_time"), e))?;
        if !is_iteration(entry)
            && let Some(summary) = aggregate_summary(&export.benchmarks, family, entry)
                .map_err(|e| input.invalid(at(".time_unit"), e))?
        {
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
    }
    let mut imported = Imported::new(collector.finish());
    if let Some(context) = export.context {
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

/// With only aggregates for `family`: the `mean` and `stddev` aggregates of its real time with
/// the repetition count, as the harness's summary.
fn aggregate_summary(
    entries: &[Entry],
    family: &str,
    entry: &Entry,
) -> Result<Option<ReportedSummary>, String> {
    let aggregate = |name: &str| {
        entries
            .iter()
            .find(|e| e.family() == family && e.aggregate_name.as_deref() == Some(name))
    };
    let (Some(mean), Some(stddev)) = (aggregate("mean"), aggregate("stddev")) else {
        return Ok(None);
    };
    let (Some(mean_time), Some(sd_time), Some(repetitions)) = (
        mean.real_time,
        stddev.real_time,
        entry.repetitions.or(mean.repetitions),
    ) else {
        return Ok(None);
    };
    let scale = |e: &Entry| {
        let unit = e.time_unit.as_deref().unwrap_or("ns");
        nanoseconds_per(unit).ok_or_else(|| format!("unknown time unit {unit:?}"))
    };
    Ok(Some(ReportedSummary {
        statistic: Statistic::Mean,
        value: mean_time * scale(mean)?,
        n: Some(repetitions),
        spread: Spread::StdDev {
            value: sd_time * scale(stddev)?,
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
