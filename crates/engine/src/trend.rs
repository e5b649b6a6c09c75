//! `benchkeep trend`: step changes and drifts in each benchmark's recorded history.

use benchkeep_core::model::{Direction, Run};
use benchkeep_core::stats;
use benchkeep_core::store::RunQuery;
use benchkeep_core::trend::{self, TrendConfig};
use benchkeep_report::trend::{Point, Series, TrendDocument};

use crate::session::{KeyOverrides, Session};
use crate::{Context as _, Error, bail};

/// Jobs analysed unless the request says otherwise.
pub const DEFAULT_WINDOW: usize = 100;

/// What to analyse.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct TrendRequest {
    /// Only benchmarks matching this name or glob.
    pub name: Option<String>,
    /// The key's parts to set.
    pub key: KeyOverrides,
    /// The metric (each benchmark's primary metric by default).
    pub metric: Option<String>,
    /// The newest this many jobs ([`DEFAULT_WINDOW`]).
    pub window: Option<usize>,
    /// The smallest step that counts, in percent.
    pub min_change: Option<f64>,
    /// The significance level of a change point.
    pub p_value: Option<f64>,
}

impl Session {
    /// `benchkeep trend`: the key's newest jobs, each benchmark's series analysed for change
    /// points and drift.
    ///
    /// # Errors
    ///
    /// Settings out of range, an invalid glob, no history, the store failing.
    pub fn trend(&self, args: &TrendRequest) -> Result<TrendDocument, Error> {
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
            // At least 20 permutations per unit of the level: p = 0.001 needs 20,000.
            let wanted = (20.0 / p).ceil().min(99_999.0);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let wanted = wanted as usize; // positive and at most 99,999
            config.permutations = config.permutations.max(wanted);
        }
        let matcher = match &args.name {
            Some(name) => Some(
                globset::Glob::new(name)
                    .map_err(|e| {
                        Error::Invalid(format!(
                            "{name:?} is not a valid benchmark name or glob: {e}"
                        ))
                    })?
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
                Series::new(benchmark, metric, unit, points, report)
            })
            .collect();
        Ok(TrendDocument::new(
            key.to_string(),
            runs.len(),
            analysed,
            config,
        ))
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
            let point = Point::new(
                run.id.to_string(),
                run.git.as_ref().and_then(|g| g.commit.clone()),
                stats::median(&m.samples),
            );
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
