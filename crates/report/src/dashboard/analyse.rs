//! A key's runs and baseline analysed into the series the dashboard charts: a point per run,
//! the newest run's verdict against the baseline, change points and drift.

use std::collections::BTreeMap;

use benchkeep_core::baseline::Baseline;
use benchkeep_core::compare::{self, MetricComparison};
use benchkeep_core::key::BaselineKey;
use benchkeep_core::model::Run;
use benchkeep_core::stats;
use benchkeep_core::trend::{self, TrendConfig};
use rayon::prelude::*;

use super::{KeyView, Point, Series};
use crate::document::Entry;

/// Change points are searched in the newest this many runs of a series: the permutation test
/// costs grow with the square of the window, and a dashboard is about recent history.
pub const TREND_WINDOW: usize = 200;

/// One key's series: every benchmark of its runs (oldest first), charted on its primary
/// metric, the newest run compared with `baseline` by `config`. What cannot be charted is
/// named in `skipped`.
#[must_use]
pub fn key_view(
    key: &BaselineKey,
    runs: &[Run],
    baseline: Option<&Baseline>,
    config: &compare::CompareConfig,
    skipped: &mut Vec<String>,
) -> KeyView {
    // Benchmarks in the order of the newest run, then those only older runs have.
    let mut names: Vec<(&str, &str)> = Vec::new();
    for run in runs.iter().rev() {
        for bench in &run.benchmarks {
            if !names.iter().any(|(n, _)| *n == bench.name) {
                match bench.metrics.first() {
                    Some(metric) => names.push((&bench.name, &metric.name)),
                    None => skipped.push(format!(
                        "run {}: benchmark {:?} has no metrics",
                        run.id, bench.name
                    )),
                }
            }
        }
    }
    let comparison = match (baseline, runs.last()) {
        (Some(baseline), Some(run)) => Some(compare::compare_job_with_baseline(
            baseline,
            &run.benchmarks,
            run.probe.as_ref(),
            config,
        )),
        _ => None,
    };
    // The newest run's verdict per benchmark metric, by name.
    let latest: BTreeMap<(&str, &str), &MetricComparison> = comparison
        .iter()
        .flat_map(|c| &c.entries)
        .map(|e| ((e.benchmark.as_str(), e.metric.as_str()), e))
        .collect();
    let trend_config = TrendConfig {
        permutations: 199,
        ..TrendConfig::default()
    };
    // Each run's benchmarks, sorted into their series in one pass (not a search per run).
    let position: std::collections::HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (*name, i))
        .collect();
    let mut members: Vec<Vec<(&Run, &benchkeep_core::model::Benchmark)>> =
        vec![Vec::new(); names.len()];
    for run in runs {
        for bench in &run.benchmarks {
            if let Some(&i) = position.get(bench.name.as_str()) {
                members[i].push((run, bench));
            }
        }
    }
    // Change-point tests dominate the time: one series per task, on every core.
    let built: Vec<(Series, Vec<String>)> = names
        .par_iter()
        .zip(members.par_iter())
        .map(|(&(name, metric), members)| {
            let baseline = baseline
                .and_then(|b| b.benchmark(name))
                .and_then(|b| b.metric(metric))
                .map(|m| stats::median(&m.samples));
            let latest = latest.get(&(name, metric)).map(|e| Entry::from(*e));
            build_series(name, metric, members, baseline, latest, &trend_config)
        })
        .collect();
    let mut series = Vec::with_capacity(built.len());
    for (one, problems) in built {
        skipped.extend(problems);
        if !one.points.is_empty() {
            series.push(one);
        }
    }
    KeyView {
        key: key.to_string(),
        slug: key.storage_name(),
        series,
        runs: runs.len(),
    }
}

/// One benchmark's series from the runs that have it (oldest first): a point per run with
/// usable samples, and the change points of the newest [`TREND_WINDOW`] points. Also returns a
/// line per run whose samples were unusable.
fn build_series(
    name: &str,
    metric: &str,
    members: &[(&Run, &benchkeep_core::model::Benchmark)],
    baseline: Option<f64>,
    latest: Option<Entry>,
    trend_config: &TrendConfig,
) -> (Series, Vec<String>) {
    let mut problems = Vec::new();
    let mut points = Vec::with_capacity(members.len());
    let mut unit_direction = None;
    for (run, bench) in members {
        let Some(m) = bench
            .metric(metric)
            .filter(|m| !m.samples.is_empty() && m.samples.iter().all(|v| v.is_finite()))
        else {
            problems.push(format!(
                "run {}: benchmark {name:?} has no usable {metric} samples",
                run.id
            ));
            continue;
        };
        unit_direction.get_or_insert((m.unit.clone(), m.direction));
        let sorted = stats::sorted(&m.samples);
        points.push(Point {
            run: run.id.to_string(),
            timestamp: run.timestamp,
            commit: run.git.as_ref().and_then(|g| g.commit.clone()),
            median: stats::median_of_sorted(&sorted),
            low: stats::quantile_of_sorted(&sorted, 0.25),
            high: stats::quantile_of_sorted(&sorted, 0.75),
        });
    }
    let (unit, direction) = unit_direction.unwrap_or_else(|| {
        (
            benchkeep_core::model::Unit::nanoseconds(),
            benchkeep_core::model::Direction::LowerIsBetter,
        )
    });
    let medians: Vec<f64> = points.iter().map(|p| p.median).collect();
    let offset = medians.len().saturating_sub(TREND_WINDOW);
    let mut trend = trend::analyze(&medians[offset..], direction, trend_config);
    for cp in &mut trend.change_points {
        cp.index += offset;
    }
    let series = Series {
        benchmark: name.to_owned(),
        metric: metric.to_owned(),
        unit,
        direction,
        points,
        baseline,
        latest,
        trend,
    };
    (series, problems)
}
