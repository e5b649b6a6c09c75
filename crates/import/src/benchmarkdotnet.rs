//! `BenchmarkDotNet`'s full JSON export (`[JsonExporterAttribute.Full]`, `*-report-full.json`):
//! every measured workload iteration (`Workload`/`Result`, `BenchmarkDotNet`'s overhead-corrected
//! iterations, else `Workload`/`Actual`) as nanoseconds per operation; allocated bytes per
//! operation from the memory diagnoser.

use benchkeep_core::model::{Direction, Unit};
use serde::Deserialize;

use super::{Collector, ImportError, Imported, Input};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", expecting = "an object with `Benchmarks`")]
struct Export {
    #[serde(default)]
    host_environment_info: Option<Host>,
    benchmarks: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Host {
    #[serde(default)]
    runtime_version: Option<String>,
    #[serde(default)]
    benchmark_dot_net_version: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    #[serde(default)]
    full_name: Option<String>,
    #[serde(default)]
    display_info: Option<String>,
    #[serde(default)]
    statistics: Option<Statistics>,
    #[serde(default)]
    memory: Option<Memory>,
    #[serde(default)]
    measurements: Vec<Measurement>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Statistics {
    median: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Memory {
    #[serde(default)]
    bytes_allocated_per_operation: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Measurement {
    iteration_mode: String,
    iteration_stage: String,
    operations: f64,
    nanoseconds: f64,
}

pub(super) fn import(input: &Input<'_>) -> Result<Imported, ImportError> {
    let export: Export = input.json_object()?;
    let mut collector = Collector::default();
    for (index, entry) in export.benchmarks.iter().enumerate() {
        let at = |field: &str| format!("field Benchmarks[{index}]{field}");
        let name = entry
            .full_name
            .as_deref()
            .or(entry.display_info.as_deref())
            .ok_or_else(|| input.invalid(at(""), "a benchmark without FullName or DisplayInfo"))?;
        input.entry(name, at(".FullName"))?;
        let per_op = |stage: &str| -> Vec<f64> {
            entry
                .measurements
                .iter()
                .filter(|m| {
                    m.iteration_mode == "Workload"
                        && m.iteration_stage == stage
                        && m.operations > 0.0
                })
                .map(|m| m.nanoseconds / m.operations)
                .collect()
        };
        let mut samples = per_op("Result");
        if samples.is_empty() {
            samples = per_op("Actual");
        }
        if samples.is_empty() {
            match &entry.statistics {
                Some(s) => samples.push(s.median),
                None => {
                    return Err(input.invalid(
                        at(".Statistics"),
                        format!("{name} has no measurements and no statistics (did it fail?)"),
                    ));
                }
            }
        }
        collector
            .add_time(name, samples)
            .map_err(|e| input.invalid(at(".Measurements"), e))?;
        if let Some(bytes) = entry
            .memory
            .as_ref()
            .and_then(|m| m.bytes_allocated_per_operation)
        {
            collector
                .add(
                    name,
                    "allocated_per_op",
                    &Unit::bytes(),
                    Direction::LowerIsBetter,
                    [bytes],
                )
                .map_err(|e| input.invalid(at(".Memory"), e))?;
        }
    }
    let mut imported = Imported::new(collector.finish());
    if let Some(host) = export.host_environment_info {
        imported.toolchain = host.runtime_version;
        if let Some(version) = host.benchmark_dot_net_version {
            imported
                .labels
                .insert("import.benchmarkdotnet".into(), version);
        }
    }
    Ok(imported)
}

#[cfg(test)]
mod tests {
    use super::super::testing::error;
    use super::super::{Format, import_bytes};

    #[test]
    fn result_iterations_become_samples_per_operation() {
        let text = include_bytes!("../tests/fixtures/import/benchmarkdotnet/report-full.json");
        let imported = import_bytes(Format::BenchmarkDotNet, "r.json", text).unwrap();
        assert_eq!(imported.benchmarks.len(), 2);
        let parse = &imported.benchmarks[0];
        assert_eq!(parse.name, "Example.ParseBench.Parse(Size: 100)");
        assert_eq!(parse.metrics[0].samples, vec![1000.0, 1100.0, 1050.0]);
        assert_eq!(parse.metrics[1].name, "allocated_per_op");
        assert_eq!(
            imported.benchmarks[1].metrics[0].samples,
            vec![2000.0, 2100.0]
        );
        assert_eq!(
            imported.toolchain.as_deref(),
            Some(".NET 8.0.11 (8.0.1124.51707), X64 RyuJIT AVX2")
        );
    }

    #[test]
    fn a_failed_benchmark_is_an_error() {
        let text = br#"{"Benchmarks":[{"FullName":"X.Y","Statistics":null,"Measurements":[]}]}"#;
        let e = error(Format::BenchmarkDotNet, "r.json", text);
        assert!(
            e.contains("field Benchmarks[0].Statistics: X.Y has no measurements"),
            "{e}"
        );
        let e = error(Format::BenchmarkDotNet, "r.json", br#"{"Title":"x"}"#);
        assert!(e.contains("missing field `Benchmarks`"), "{e}");
    }
}
