//! pytest-benchmark's `--benchmark-json`: every round's time from `stats.data` (written by
//! pytest-benchmark 4 and later, and by older versions with `--benchmark-save-data`), else the
//! median as the one sample, with the mean, standard deviation and rounds of `stats` kept as the
//! metric's summary.

use benchkeep_core::model::{ReportedSummary, Spread, Statistic};
use serde::Deserialize;

use super::{Collector, ImportError, Imported, Input};

#[derive(Deserialize)]
#[serde(expecting = "an object with `benchmarks`")]
struct Export {
    #[serde(default)]
    machine_info: Option<MachineInfo>,
    benchmarks: Vec<Entry>,
    #[serde(default)]
    version: Option<String>,
}

#[derive(Deserialize)]
struct MachineInfo {
    #[serde(default)]
    python_implementation: Option<String>,
    #[serde(default)]
    python_version: Option<String>,
}

#[derive(Deserialize)]
struct Entry {
    name: String,
    #[serde(default)]
    fullname: Option<String>,
    #[serde(default)]
    params: Option<serde_json::Map<String, serde_json::Value>>,
    stats: Stats,
}

#[derive(Deserialize)]
struct Stats {
    median: f64,
    #[serde(default)]
    data: Option<Vec<f64>>,
    #[serde(default)]
    mean: Option<f64>,
    #[serde(default)]
    stddev: Option<f64>,
    #[serde(default)]
    rounds: Option<u64>,
}

pub(super) fn import(input: &Input<'_>) -> Result<Imported, ImportError> {
    let export: Export = input.json_object()?;
    let mut collector = Collector::default();
    for (index, entry) in export.benchmarks.iter().enumerate() {
        let name = entry.fullname.as_deref().unwrap_or(&entry.name);
        input.entry(name, format!("field benchmarks[{index}].name"))?;
        let seconds = match &entry.stats.data {
            Some(data) if !data.is_empty() => data.clone(),
            _ => vec![entry.stats.median],
        };
        let at = format!("field benchmarks[{index}].stats");
        collector
            .add_time(name, seconds.iter().map(|s| s * 1e9))
            .map_err(|e| input.invalid(&at, e))?;
        if let (1, Some(mean), Some(stddev), Some(rounds)) = (
            seconds.len(),
            entry.stats.mean,
            entry.stats.stddev,
            entry.stats.rounds,
        ) {
            collector
                .summarize(
                    name,
                    "wall_time",
                    ReportedSummary {
                        statistic: Statistic::Mean,
                        value: mean * 1e9,
                        n: Some(rounds),
                        spread: Spread::StdDev {
                            value: stddev * 1e9,
                        },
                    },
                )
                .map_err(|e| input.invalid(&at, e))?;
        }
        if let Some(params) = &entry.params {
            let bench = collector.benchmark(name);
            for (key, value) in params {
                let text = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                bench.params.insert(key.clone(), text);
            }
        }
    }
    let mut imported = Imported::new(collector.finish());
    if let Some(version) = export.version {
        imported
            .labels
            .insert("import.pytest_benchmark".into(), version);
    }
    if let Some(info) = export.machine_info {
        imported.toolchain = match (info.python_implementation, info.python_version) {
            (Some(implementation), Some(version)) => Some(format!("{implementation} {version}")),
            (None, Some(version)) => Some(format!("Python {version}")),
            _ => None,
        };
    }
    Ok(imported)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error, names};
    use super::super::{Format, import_bytes};

    #[test]
    fn real_output_keeps_every_round() {
        let text = include_bytes!("../tests/fixtures/import/pytest-benchmark/real.json");
        let imported = import_bytes(Format::PytestBenchmark, "p.json", text).unwrap();
        let names: Vec<&str> = names(&imported);
        assert_eq!(
            names,
            [
                "test_bench.py::test_sum_squares[100]",
                "test_bench.py::test_sum_squares[1000]",
                "test_bench.py::test_sorted"
            ]
        );
        assert!(
            imported
                .benchmarks
                .iter()
                .all(|b| b.metrics[0].samples.len() == 25)
        );
        assert_eq!(imported.benchmarks[0].params["n"], "100");
        assert!(
            imported
                .toolchain
                .as_deref()
                .unwrap()
                .starts_with("CPython 3.")
        );
    }

    #[test]
    fn output_without_data_falls_back_to_the_median() {
        let text = include_bytes!("../tests/fixtures/import/pytest-benchmark/without-data.json");
        let imported = import_bytes(Format::PytestBenchmark, "p.json", text).unwrap();
        assert!(
            imported
                .benchmarks
                .iter()
                .all(|b| b.metrics[0].samples.len() == 1)
        );
    }

    #[test]
    fn missing_stats_name_the_field() {
        let text = br#"{"benchmarks":[{"name":"t","stats":{"mean":1.0}}]}"#;
        let e = error(Format::PytestBenchmark, "p.json", text);
        assert!(e.contains("field benchmarks[0].stats"), "{e}");
        assert!(e.contains("missing field `median`"), "{e}");
    }
}
