//! JMH's JSON result file (`-rf json`): every measurement iteration of every fork from
//! `primaryMetric.rawData` (sample mode: each iteration's histogram mean), converted to
//! nanoseconds for time modes and to operations per second for throughput.

use std::collections::BTreeMap;

use benchkeep_core::model::{Direction, Unit};
use serde::Deserialize;

use super::{Collector, ImportError, Imported, Input};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    benchmark: String,
    mode: String,
    #[serde(default)]
    params: Option<BTreeMap<String, String>>,
    primary_metric: MetricData,
    #[serde(default)]
    secondary_metrics: Option<BTreeMap<String, MetricData>>,
    #[serde(default)]
    jdk_version: Option<String>,
    #[serde(default)]
    vm_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetricData {
    score: f64,
    score_unit: String,
    #[serde(default)]
    raw_data: Option<Vec<Vec<f64>>>,
    /// Sample mode: per fork, per iteration, `[value, count]` pairs.
    #[serde(default)]
    raw_data_histogram: Option<Vec<Vec<Histogram>>>,
}

/// One iteration's latency histogram: `[value, count]` pairs.
type Histogram = Vec<(f64, f64)>;

impl MetricData {
    fn samples(&self) -> Vec<f64> {
        if let Some(raw) = self
            .raw_data
            .as_ref()
            .filter(|r| r.iter().any(|f| !f.is_empty()))
        {
            return raw.iter().flatten().copied().collect();
        }
        if let Some(histogram) = &self.raw_data_histogram {
            let means: Vec<f64> = histogram
                .iter()
                .flatten()
                .filter_map(|iteration| {
                    let count: f64 = iteration.iter().map(|(_, c)| c).sum();
                    (count > 0.0).then(|| iteration.iter().map(|(v, c)| v * c).sum::<f64>() / count)
                })
                .collect();
            if !means.is_empty() {
                return means;
            }
        }
        vec![self.score]
    }
}

/// How a JMH unit converts: (scale to the benchkeep unit, the unit, which way is better).
fn convert(unit: &str) -> Option<(f64, Unit, Direction)> {
    let (number, per) = unit.split_once('/')?;
    let scale = |u: &str| super::nanoseconds_per(u);
    if number == "ops" {
        // ops per time unit -> ops per second
        let per_ns = scale(per)?;
        return Some((
            1e9 / per_ns,
            Unit("ops/s".into()),
            Direction::HigherIsBetter,
        ));
    }
    if per == "op" {
        return Some((
            scale(number)?,
            Unit::nanoseconds(),
            Direction::LowerIsBetter,
        ));
    }
    None
}

pub(super) fn import(input: &Input<'_>) -> Result<Imported, ImportError> {
    let entries: Vec<Entry> = input.json()?;
    let mut collector = Collector::default();
    let mut toolchain = None;
    for (index, entry) in entries.iter().enumerate() {
        let at = |field: &str| format!("field [{index}].{field}");
        let name = match &entry.params {
            Some(params) if !params.is_empty() => {
                let list: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{}[{}]", entry.benchmark, list.join(","))
            }
            _ => entry.benchmark.clone(),
        };
        input.entry(&name, at("benchmark"))?;
        let primary = &entry.primary_metric;
        let (scale, unit, direction) = convert(&primary.score_unit).ok_or_else(|| {
            input.invalid(
                at("primaryMetric.scoreUnit"),
                format!("unknown unit {:?}", primary.score_unit),
            )
        })?;
        let metric = if direction == Direction::HigherIsBetter {
            "throughput"
        } else {
            "wall_time"
        };
        if (entry.mode == "thrpt") != (direction == Direction::HigherIsBetter) {
            return Err(input.invalid(
                at("mode"),
                format!(
                    "mode {:?} does not fit unit {:?}",
                    entry.mode, primary.score_unit
                ),
            ));
        }
        collector
            .add(
                &name,
                metric,
                &unit,
                direction,
                primary.samples().into_iter().map(|v| v * scale),
            )
            .map_err(|e| input.invalid(at("primaryMetric"), e))?;
        for (secondary, data) in entry.secondary_metrics.iter().flatten() {
            // Profilers' metrics (·gc.alloc.rate.norm, ...): lower is better, in their own unit.
            let metric = secondary.trim_start_matches('·');
            collector
                .add(
                    &name,
                    metric,
                    &Unit(data.score_unit.clone()),
                    Direction::LowerIsBetter,
                    data.samples(),
                )
                .map_err(|e| input.invalid(at(&format!("secondaryMetrics.{metric}")), e))?;
        }
        if let Some(params) = &entry.params {
            collector.benchmark(&name).params.extend(params.clone());
        }
        if toolchain.is_none() {
            toolchain = match (&entry.vm_name, &entry.jdk_version) {
                (Some(vm), Some(jdk)) => Some(format!("{vm} {jdk}")),
                (None, Some(jdk)) => Some(format!("JDK {jdk}")),
                _ => None,
            };
        }
    }
    let mut imported = Imported::new(collector.finish());
    imported.toolchain = toolchain;
    Ok(imported)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error, names};
    use super::super::{Format, import_bytes};
    use benchkeep_core::model::Direction;

    #[test]
    fn throughput_average_time_and_sample_modes() {
        let text = include_bytes!("../tests/fixtures/import/jmh/result.json");
        let imported = import_bytes(Format::Jmh, "jmh.json", text).unwrap();
        let names: Vec<&str> = names(&imported);
        assert_eq!(
            names,
            [
                "org.example.ParseBench.parse[size=100]",
                "org.example.ParseBench.parse[size=1000]",
                "org.example.ParseBench.latency"
            ]
        );
        let thrpt = &imported.benchmarks[0].metrics[0];
        assert_eq!(thrpt.name, "throughput");
        assert_eq!(thrpt.direction, Direction::HigherIsBetter);
        // 2 forks x 3 iterations, ops/ms -> ops/s
        assert_eq!(
            thrpt.samples,
            vec![1.5e6, 1.51e6, 1.49e6, 1.52e6, 1.5e6, 1.48e6]
        );
        let gc = &imported.benchmarks[0].metrics[1];
        assert_eq!(gc.name, "gc.alloc.rate.norm");
        let avgt = &imported.benchmarks[1].metrics[0];
        assert_eq!(
            (avgt.name.as_str(), avgt.samples[0]),
            ("wall_time", 12_000.0)
        );
        let sample = &imported.benchmarks[2].metrics[0];
        assert_eq!(sample.samples, vec![150.0, 200.0]);
        assert_eq!(
            imported.toolchain.as_deref(),
            Some("OpenJDK 64-Bit Server VM 17.0.15")
        );
    }

    #[test]
    fn unknown_units_and_wrong_shapes_fail() {
        let text = br#"[{"benchmark":"a","mode":"avgt","primaryMetric":{"score":1,"scoreUnit":"furlongs"}}]"#;
        let e = error(Format::Jmh, "j.json", text);
        assert!(
            e.contains("field [0].primaryMetric.scoreUnit: unknown unit \"furlongs\""),
            "{e}"
        );
        let e = error(Format::Jmh, "j.json", br#"{"benchmark":"a"}"#);
        assert!(e.contains("expected a sequence"), "{e}");
    }
}
