//! `benchkeep trend`: step changes and drifts in each benchmark's recorded history.

use std::fmt::Write as _;

use anyhow::{Context as _, Result, bail};
use benchkeep_core::model::{Direction, Run};
use benchkeep_core::stats;
use benchkeep_core::store::RunQuery;
use benchkeep_core::trend::{self, Drift, TrendConfig, TrendReport};
use serde::Serialize;

use super::{App, Outcome, emit};
use crate::args::{TrendArgs, TrendFormat};

/// Jobs analysed unless `--window` says otherwise.
const DEFAULT_WINDOW: usize = 100;

/// Version of the JSON trend document.
const TREND_SCHEMA: benchkeep_core::schema::SchemaVersion =
    benchkeep_core::schema::SchemaVersion { major: 1, minor: 0 };

/// One benchmark's series and what was found in it.
#[derive(Debug, Serialize)]
struct Series {
    benchmark: String,
    metric: String,
    unit: String,
    /// One point per job, oldest first.
    points: Vec<Point>,
    #[serde(flatten)]
    report: TrendReport,
    /// Per change point, the jobs either side of it.
    steps: Vec<Step>,
}

#[derive(Debug, Clone, Serialize)]
struct Point {
    run: String,
    commit: Option<String>,
    median: f64,
}

#[derive(Debug, Serialize)]
struct Step {
    last_before: Point,
    first_after: Point,
}

impl App {
    pub(super) fn trend(&self, args: &TrendArgs) -> Result<Outcome> {
        let window = args.window.unwrap_or(DEFAULT_WINDOW);
        if window < 2 {
            bail!("--window must be at least 2, not {window}");
        }
        let mut config = TrendConfig::default();
        if let Some(pct) = args.min_change {
            if !(pct.is_finite() && pct >= 0.0) {
                bail!("--min-change must be a non-negative percentage, not {pct}");
            }
            config.min_change = pct / 100.0;
        }
        if let Some(p) = args.p_value {
            if !(p > 0.0 && p < 1.0) {
                bail!("--p-value must be between 0 and 1, not {p}");
            }
            config.max_p_value = p;
            // Enough permutations to resolve the requested level.
            // At least 20 permutations per unit of the level: p = 0.001 needs 20,000.
            let wanted = (20.0 / p).ceil().min(99_999.0);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let wanted = wanted as usize; // positive and at most 99,999
            config.permutations = config.permutations.max(wanted);
        }
        let matcher = match &args.name {
            Some(name) => Some(
                globset::Glob::new(name)
                    .with_context(|| format!("{name:?} is not a valid benchmark name or glob"))?
                    .compile_matcher(),
            ),
            None => None,
        };
        let store = self.store()?;
        let key = self.current_key(&args.key)?;
        let mut runs = self
            .block_on(store.list_runs(&RunQuery::latest(key.clone(), window)))
            .with_context(|| format!("cannot list the runs of {key}"))?;
        runs.reverse(); // oldest first
        let series = collect_series(&runs, args.metric.as_deref(), |name| {
            matcher.as_ref().is_none_or(|m| m.is_match(name))
        });
        if series.is_empty() {
            bail!(
                "no history for {key} in {}{}: record runs with `benchkeep run` or `benchkeep check`",
                store.location(),
                args.name
                    .as_ref()
                    .map(|n| format!(" matching {n:?}"))
                    .unwrap_or_default()
            );
        }
        let analysed: Vec<Series> = series
            .into_iter()
            .map(|(benchmark, metric, unit, direction, points)| {
                let values: Vec<f64> = points.iter().map(|p| p.median).collect();
                let report = trend::analyze(&values, direction, &config);
                let steps = report
                    .change_points
                    .iter()
                    .map(|c| Step {
                        last_before: points[c.index - 1].clone(),
                        first_after: points[c.index].clone(),
                    })
                    .collect();
                Series {
                    benchmark,
                    metric,
                    unit,
                    points,
                    report,
                    steps,
                }
            })
            .collect();
        let changed = analysed
            .iter()
            .any(|s| !s.report.change_points.is_empty() || s.report.drift == Drift::Degrading);
        let text = match args.format {
            TrendFormat::Json => {
                let doc = serde_json::json!({
                    "schema": TREND_SCHEMA,
                    "kind": "trend",
                    "key": key.to_string(),
                    "jobs": runs.len(),
                    "series": analysed,
                });
                let mut text = serde_json::to_string_pretty(&doc)?;
                text.push('\n');
                text
            }
            TrendFormat::Text => render_text(&analysed, &key.to_string(), runs.len(), &config),
        };
        emit(&text)?;
        Ok(if changed && args.fail_on_change {
            Outcome::Regressed
        } else {
            Outcome::Passed
        })
    }
}

type RawSeries = (String, String, String, Direction, Vec<Point>);

/// Per benchmark (in first-seen order), the median of the chosen metric in each run.
fn collect_series(
    runs: &[Run],
    metric: Option<&str>,
    wanted: impl Fn(&str) -> bool,
) -> Vec<RawSeries> {
    let mut series: Vec<RawSeries> = Vec::new();
    for run in runs {
        for bench in run.benchmarks.iter().filter(|b| wanted(&b.name)) {
            let chosen = match metric {
                Some(name) => bench.metric(name),
                None => bench.metrics.first(),
            };
            let Some(m) = chosen.filter(|m| !m.samples.is_empty()) else {
                continue;
            };
            let point = Point {
                run: run.id.to_string(),
                commit: run.git.as_ref().and_then(|g| g.commit.clone()),
                median: stats::median(&m.samples),
            };
            match series
                .iter_mut()
                .find(|s| s.0 == bench.name && s.1 == m.name)
            {
                Some(existing) => existing.4.push(point),
                None => series.push((
                    bench.name.clone(),
                    m.name.clone(),
                    m.unit.0.clone(),
                    m.direction,
                    vec![point],
                )),
            }
        }
    }
    series
}

fn short(commit: Option<&String>) -> String {
    commit.map_or_else(
        || "(no commit)".to_owned(),
        |c| c.chars().take(10).collect(),
    )
}

fn render_text(series: &[Series], key: &str, jobs: usize, config: &TrendConfig) -> String {
    let mut out = format!(
        "trend of {key}: {jobs} job(s); change points by E-divisive means (p <= {}, step >= {:.1}%)\n\n",
        config.max_p_value,
        config.min_change * 100.0
    );
    let mut quiet = 0usize;
    for s in series {
        let unit = benchkeep_core::model::Unit(s.unit.clone());
        let drift = match (s.report.drift, s.report.correlation) {
            (Drift::Degrading, Some(r)) => format!("degrading (r = {r:+.2})"),
            (Drift::Improving, Some(r)) => format!("improving (r = {r:+.2})"),
            (_, Some(r)) => format!("stable (r = {r:+.2})"),
            (_, None) => "stable".to_owned(),
        };
        if s.report.change_points.is_empty() && s.report.drift == Drift::Stable {
            quiet += 1;
        }
        let _ = writeln!(
            out,
            "{} {}: {} job(s), {} change point(s), {drift}",
            s.benchmark,
            s.metric,
            s.points.len(),
            s.report.change_points.len()
        );
        for (c, step) in s.report.change_points.iter().zip(&s.steps) {
            let _ = writeln!(
                out,
                "  step {:+.1}% at job {} ({} -> {}, p = {}): between {} ({}) and {} ({})",
                c.change * 100.0,
                c.index + 1,
                unit.format(c.before),
                unit.format(c.after),
                benchkeep_core::compare::format_p(c.p_value),
                short(step.last_before.commit.as_ref()),
                step.last_before.run,
                short(step.first_after.commit.as_ref()),
                step.first_after.run,
            );
        }
    }
    let _ = writeln!(
        out,
        "\n{} of {} series without change points or drift",
        quiet,
        series.len()
    );
    out
}
