//! `benchkeep trend`'s document: each benchmark's series, its change points and drift, as
//! JSON or text.

use std::fmt::Write as _;

use benchkeep_core::trend::{Drift, TrendConfig, TrendReport};
use serde::Serialize;

/// Version of the JSON trend document.
pub const TREND_SCHEMA: benchkeep_core::schema::SchemaVersion =
    benchkeep_core::schema::SchemaVersion { major: 1, minor: 0 };

/// One benchmark's series and what was found in it.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Series {
    /// The benchmark.
    pub benchmark: String,
    /// The metric analysed.
    pub metric: String,
    /// Its unit.
    pub unit: String,
    /// One point per job, oldest first.
    pub points: Vec<Point>,
    /// Change points, correlation and drift.
    #[serde(flatten)]
    pub report: TrendReport,
    /// Per change point, the jobs either side of it.
    pub steps: Vec<Step>,
}

/// One job's value of a series.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Point {
    /// The run.
    pub run: String,
    /// The commit it measured.
    pub commit: Option<String>,
    /// The median of its samples.
    pub median: f64,
}

impl Point {
    /// A job's point.
    #[must_use]
    pub fn new(run: String, commit: Option<String>, median: f64) -> Self {
        Point {
            run,
            commit,
            median,
        }
    }
}

/// The jobs either side of a change point.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Step {
    /// The last job before the step.
    pub last_before: Point,
    /// The first job after it.
    pub first_after: Point,
}

impl Series {
    /// A series analysed by `report`: each change point's step taken from `points`.
    #[must_use]
    pub fn new(
        benchmark: String,
        metric: String,
        unit: String,
        points: Vec<Point>,
        report: TrendReport,
    ) -> Self {
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
    }

    /// Whether something changed: a change point, or a degrading drift.
    #[must_use]
    pub fn changed(&self) -> bool {
        !self.report.change_points.is_empty() || self.report.drift == Drift::Degrading
    }
}

/// The trend of a key's history.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TrendDocument {
    /// The key.
    pub key: String,
    /// Jobs read.
    pub jobs: usize,
    /// Each benchmark's series.
    pub series: Vec<Series>,
    /// The settings of the analysis.
    pub config: TrendConfig,
}

impl TrendDocument {
    /// A document of `series` from `jobs` jobs of `key`, analysed with `config`.
    #[must_use]
    pub fn new(key: String, jobs: usize, series: Vec<Series>, config: TrendConfig) -> Self {
        TrendDocument {
            key,
            jobs,
            series,
            config,
        }
    }

    /// The versioned JSON document.
    #[must_use]
    pub fn json(&self) -> String {
        let doc = serde_json::json!({
            "schema": TREND_SCHEMA,
            "kind": "trend",
            "key": self.key,
            "jobs": self.jobs,
            "series": self.series,
        });
        let mut text = serde_json::to_string_pretty(&doc)
            .unwrap_or_else(|e| unreachable!("a trend document serialises: {e}"));
        text.push('\n');
        text
    }

    /// The text report.
    #[must_use]
    pub fn text(&self) -> String {
        render_text(&self.series, &self.key, self.jobs, &self.config)
    }
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
