//! `hyperfine --export-json`: every run's wall time, and the mean user and system times.

use std::collections::BTreeMap;

use benchkeep_core::model::{Direction, Unit, metric_names};
use serde::Deserialize;

use super::{Collector, ImportError, Imported, Input};

#[derive(Deserialize)]
#[serde(expecting = "an object with `results`")]
struct Export {
    results: Vec<Result>,
}

#[derive(Deserialize)]
struct Result {
    command: String,
    mean: f64,
    #[serde(default)]
    times: Option<Vec<f64>>,
    #[serde(default)]
    user: Option<f64>,
    #[serde(default)]
    system: Option<f64>,
    /// Peak memory per run, in newer hyperfine versions.
    #[serde(default)]
    memory_usage_byte: Option<Vec<f64>>,
    #[serde(default)]
    parameters: Option<BTreeMap<String, serde_json::Value>>,
    /// Each run's exit code (hyperfine 1.10 and later).
    #[serde(default)]
    exit_codes: Option<Vec<Option<i64>>>,
}

const SECOND: f64 = 1e9;

pub(super) fn import(input: &Input<'_>) -> std::result::Result<Imported, ImportError> {
    let export: Export = input.json_object()?;
    let mut collector = Collector::default();
    for (index, result) in export.results.iter().enumerate() {
        // One command string listed twice (a parameter scan whose parameter the command does
        // not use) is the same command measured twice: its runs are pooled.
        let at = |field: &str| format!("field results[{index}].{field}");
        // A command that failed (hyperfine --ignore-failure records it) was timed doing
        // something else: its times say nothing about its speed, and a fast failure would
        // pass as an improvement.
        if let Some(codes) = &result.exit_codes {
            let failed: Vec<String> = codes
                .iter()
                .filter(|c| **c != Some(0))
                .map(|c| c.map_or_else(|| "killed".to_owned(), |c| c.to_string()))
                .collect();
            if !failed.is_empty() {
                let mut shown = failed.clone();
                shown.dedup();
                return Err(input.invalid(
                    at("exit_codes"),
                    format!(
                        "{:?} failed in {} of {} runs (exit codes {}): a failing command's times say nothing about its speed",
                        result.command,
                        failed.len(),
                        codes.len(),
                        shown.join(", ")
                    ),
                ));
            }
        }
        let wall: Vec<f64> = match &result.times {
            Some(times) if !times.is_empty() => times.iter().map(|t| t * SECOND).collect(),
            _ => vec![result.mean * SECOND],
        };
        let name = &result.command;
        collector
            .add_time(name, wall)
            .map_err(|e| input.invalid(at("times"), e))?;
        // hyperfine exports only the mean CPU times: one sample each, shown but not gated.
        for (metric, value) in [
            (metric_names::USER_TIME, result.user),
            (metric_names::SYSTEM_TIME, result.system),
        ] {
            if let Some(value) = value {
                collector
                    .add_time_metric(name, metric, [value * SECOND])
                    .map_err(|e| input.invalid(at(metric.trim_end_matches("_time")), e))?;
            }
        }
        if let Some(memory) = &result.memory_usage_byte {
            collector
                .add(
                    name,
                    metric_names::PEAK_RSS,
                    &Unit::bytes(),
                    Direction::LowerIsBetter,
                    memory.iter().copied(),
                )
                .map_err(|e| input.invalid(at("memory_usage_byte"), e))?;
        }
        if let Some(parameters) = &result.parameters {
            let bench = collector.benchmark(name);
            for (key, value) in parameters {
                let text = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                bench.params.insert(key.clone(), text);
            }
        }
    }
    let mut imported = Imported::new(collector.finish());
    imported
        .labels
        .insert("import.tool".into(), "hyperfine".into());
    Ok(imported)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error, names};
    use super::super::{Format, import_bytes};

    #[test]
    fn real_hyperfine_export_keeps_every_run_and_the_parameters() {
        let text = include_bytes!("../tests/fixtures/import/hyperfine/real.json");
        let imported = import_bytes(Format::Hyperfine, "h.json", text).unwrap();
        let names: Vec<&str> = names(&imported);
        assert_eq!(names, ["sleep 0.01", "sleep 0.001", "sleep 0.002"]);
        let bench = &imported.benchmarks[1];
        assert_eq!(bench.metrics[0].name, "wall_time");
        assert_eq!(bench.metrics[0].samples.len(), 8);
        assert!((bench.metrics[0].samples[0] - 3_831_708.0).abs() < 1.0);
        assert_eq!(bench.metrics[1].name, "user_time");
        assert_eq!(bench.params["n"], "1");
    }

    #[test]
    fn a_command_that_failed_is_refused_not_an_improvement() {
        let text = br#"{"results": [
            {"command": "ok", "mean": 0.5, "times": [0.5, 0.5], "exit_codes": [0, 0]},
            {"command": "./broken", "mean": 0.001, "times": [0.001, 0.001, 0.001], "exit_codes": [1, 1, 0]}
        ]}"#;
        let e = error(Format::Hyperfine, "h.json", text);
        assert!(
            e.starts_with("h.json: field results[1].exit_codes: \"./broken\" failed in 2 of 3 runs (exit codes 1)"),
            "{e}"
        );
        // A run hyperfine could not give an exit code (killed by a signal) is a failure too.
        let killed = br#"{"results": [{"command": "x", "mean": 1.0, "times": [1.0], "exit_codes": [null]}]}"#;
        assert!(error(Format::Hyperfine, "h.json", killed).contains("exit codes killed"));
    }

    #[test]
    fn wrong_shapes_name_the_field() {
        let e = error(
            Format::Hyperfine,
            "h.json",
            br#"{"results":[{"command":"x","mean":"fast"}]}"#,
        );
        assert!(
            e.starts_with("h.json: field results[0].mean (line 1, column"),
            "{e}"
        );
        assert!(
            e.contains("invalid type: string \"fast\", expected f64"),
            "{e}"
        );
        let e = error(Format::Hyperfine, "h.json", br#"{"results":[]}"#);
        assert!(e.contains("no benchmark results"), "{e}");
        let e = error(
            Format::Hyperfine,
            "h.json",
            br#"{"results":[{"command":"x","mean":1,"times":[1,-2]}]}"#,
        );
        assert!(
            e.contains("field results[0].times: x: negative time"),
            "{e}"
        );
        let e = error(Format::Hyperfine, "h.json", br#"[{"command":"x"}]"#);
        assert!(e.contains("h.json: line 1: not a JSON object"), "{e}");
    }
}
