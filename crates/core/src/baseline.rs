//! Baselines: the reference data of one [`BaselineKey`], pooled from one or several runs.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::history::{JobStat, ProbeMedian};
use crate::key::BaselineKey;
use crate::model::{Benchmark, Fingerprint, Run, RunId};
use crate::schema::SchemaVersion;

/// The document `kind` of a baseline.
pub const BASELINE_KIND: &str = "baseline";

/// One run that contributed to a baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineSource {
    /// The run's id.
    pub run: RunId,
    /// When the run started.
    pub timestamp: Timestamp,
    /// The commit it measured, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// The reference data for one key: every benchmark's samples, pooled over the source runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    /// The format version this baseline was written with.
    pub schema: SchemaVersion,
    /// Always [`BASELINE_KIND`].
    pub kind: String,
    /// The key this baseline serves.
    pub key: BaselineKey,
    /// When this version of the baseline was made.
    pub updated: Timestamp,
    /// The runs it was built from, oldest first.
    pub sources: Vec<BaselineSource>,
    /// The machine of the newest source run.
    pub fingerprint: Fingerprint,
    /// Pooled benchmarks: for each benchmark and metric, the samples of every source run.
    pub benchmarks: Vec<Benchmark>,
    /// Per-job summaries of every benchmark metric, for the history method (schema 1.1; empty in
    /// older baselines, which then compare by independent samples).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<MetricHistory>,
    /// How this key's baseline came to be, oldest first, the newest [`MAX_CHANGES`] kept
    /// (format 1.5; `baseline history` lists them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<BaselineChange>,
    /// The intentional slowdown this baseline accepted (`baseline accept`), while its run is
    /// still a source (format 1.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<BaselineChange>,
    /// Fields written by a newer minor version of the format, kept so they survive a rewrite.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

crate::document::deserialize_keeping_unknown_fields!(
    Baseline,
    "a benchkeep baseline document",
    required: [schema, kind, key, updated, sources, fingerprint, benchmarks],
    optional: [history, changes, accepted]
);

/// How many changes a baseline remembers.
pub const MAX_CHANGES: usize = 50;

/// One version of a key's baseline: what made it, when, and from which runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineChange {
    /// When this version was written.
    pub at: Timestamp,
    /// What wrote it.
    pub action: ChangeAction,
    /// The runs it added.
    pub runs: Vec<RunId>,
    /// How many source runs this version had.
    pub sources: usize,
    /// The commit the newest added run measured, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Why, when a person said (`baseline accept --reason`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What wrote a version of a baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChangeAction {
    /// A first `check` on a key with no baseline.
    Created,
    /// A passing check added its run.
    Promoted,
    /// `baseline set`.
    Set,
    /// `baseline set --force` over a baseline that could not be read.
    Replaced,
    /// `baseline accept`: an intentional slowdown became the baseline.
    Accepted,
}

impl std::fmt::Display for ChangeAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ChangeAction::Created => "created",
            ChangeAction::Promoted => "promoted",
            ChangeAction::Set => "set",
            ChangeAction::Replaced => "replaced",
            ChangeAction::Accepted => "accepted",
        })
    }
}

/// The per-job summaries of one benchmark metric, one per source run that measured it, oldest
/// first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricHistory {
    /// The benchmark.
    pub benchmark: String,
    /// The metric.
    pub metric: String,
    /// One summary per job.
    pub jobs: Vec<JobStat>,
}

/// Why runs could not be pooled into a baseline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// No runs were given.
    #[error("a baseline needs at least one run")]
    NoRuns,
    /// Two runs disagree on a metric's unit or direction.
    #[error(
        "benchmark {benchmark:?} metric {metric:?}: run {run} records it in {found}, earlier runs in {expected}"
    )]
    Inconsistent {
        /// The benchmark.
        benchmark: String,
        /// The metric.
        metric: String,
        /// The run that disagrees.
        run: RunId,
        /// Unit and direction of the earlier runs.
        expected: String,
        /// Unit and direction of this run.
        found: String,
    },
}

/// One summary per run (job) and benchmark metric, oldest run first. Metrics with samples that
/// a log scale cannot take (zero, negative) get none.
fn job_summaries(runs: &[Run]) -> Vec<MetricHistory> {
    let mut ordered: Vec<&Run> = runs.iter().collect();
    ordered.sort_by(|a, b| a.id.cmp(&b.id));
    let mut history: Vec<MetricHistory> = Vec::new();
    let mut index: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for run in ordered {
        for bench in &run.benchmarks {
            for metric in &bench.metrics {
                let Some(mut job) = JobStat::of_sorted(&crate::stats::sorted(&metric.samples))
                else {
                    continue;
                };
                job.probe = run.probe.as_ref().and_then(ProbeMedian::of);
                let slot = *index
                    .entry((bench.name.as_str(), metric.name.as_str()))
                    .or_insert_with(|| {
                        history.push(MetricHistory {
                            benchmark: bench.name.clone(),
                            metric: metric.name.clone(),
                            jobs: Vec::new(),
                        });
                        history.len() - 1
                    });
                history[slot].jobs.push(job);
            }
        }
    }
    history
}

impl Baseline {
    /// Pools `runs` (in the given order) into a baseline for `key`, made at `now`.
    ///
    /// Samples of a benchmark's metric are concatenated across runs; benchmarks and metrics keep
    /// the order in which they first appear.
    pub fn from_runs(key: BaselineKey, runs: &[Run], now: Timestamp) -> Result<Self, PoolError> {
        let newest = runs
            .iter()
            .max_by_key(|r| r.timestamp)
            .ok_or(PoolError::NoRuns)?;
        // A benchmark's parameters are those of the newest run that has the benchmark: they say
        // how the baseline was last measured.
        let mut newest_with_params: BTreeMap<&str, &Run> = BTreeMap::new();
        for run in runs {
            for bench in &run.benchmarks {
                let newest = newest_with_params.entry(bench.name.as_str()).or_insert(run);
                if run.timestamp > newest.timestamp {
                    *newest = run;
                }
            }
        }
        let mut benchmarks: Vec<Benchmark> = Vec::new();
        let mut index: BTreeMap<&str, usize> = BTreeMap::new();
        for run in runs {
            for bench in &run.benchmarks {
                let slot = *index.entry(bench.name.as_str()).or_insert_with(|| {
                    benchmarks.push(Benchmark {
                        name: bench.name.clone(),
                        command: bench.command.clone(),
                        metrics: Vec::new(),
                        params: BTreeMap::new(),
                    });
                    benchmarks.len() - 1
                });
                let pooled = &mut benchmarks[slot];
                if newest_with_params
                    .get(bench.name.as_str())
                    .is_some_and(|newest| std::ptr::eq(*newest, run))
                {
                    pooled.params.clone_from(&bench.params);
                }
                for metric in &bench.metrics {
                    match pooled.metrics.iter_mut().find(|m| m.name == metric.name) {
                        Some(existing) => {
                            if existing.unit != metric.unit
                                || existing.direction != metric.direction
                            {
                                return Err(PoolError::Inconsistent {
                                    benchmark: bench.name.clone(),
                                    metric: metric.name.clone(),
                                    run: run.id.clone(),
                                    expected: format!(
                                        "{} ({:?})",
                                        existing.unit.0, existing.direction
                                    ),
                                    found: format!("{} ({:?})", metric.unit.0, metric.direction),
                                });
                            }
                            existing.samples.extend_from_slice(&metric.samples);
                            // A harness summary describes one run's value; pooled values from
                            // several runs carry their spread between runs instead.
                            if existing.samples.len() > 1 {
                                existing.summary = None;
                            }
                        }
                        None => pooled.metrics.push(metric.clone()),
                    }
                }
            }
        }
        let history = job_summaries(runs);
        let mut sources: Vec<BaselineSource> = runs
            .iter()
            .map(|r| BaselineSource {
                run: r.id.clone(),
                timestamp: r.timestamp,
                commit: r.git.as_ref().and_then(|g| g.commit.clone()),
            })
            .collect();
        sources.sort_by(|a, b| a.run.cmp(&b.run));
        Ok(Baseline {
            schema: crate::schema::CURRENT,
            kind: BASELINE_KIND.into(),
            key,
            updated: now,
            sources,
            fingerprint: newest.fingerprint.clone(),
            benchmarks,
            history,
            changes: Vec::new(),
            accepted: None,
            extra: BTreeMap::new(),
        })
    }

    /// Records this version in [`Baseline::changes`], after the `previous` version's changes
    /// (and keeps the previous acceptance while its run is still a source). `added` are the
    /// runs this version added, the newest last.
    ///
    /// ```
    /// use benchkeep_core::baseline::{Baseline, ChangeAction};
    /// use benchkeep_core::model::{Benchmark, Fingerprint, Run, RunId};
    /// use benchkeep_core::BaselineKey;
    ///
    /// let at = jiff::Timestamp::UNIX_EPOCH;
    /// let key = BaselineKey::new("main", "linux-x86_64").unwrap();
    /// let mut run = Run::new(RunId::new(at, 1), at, key.clone(), Fingerprint::default());
    /// run.benchmarks.push(Benchmark::wall_time("parse", vec![1e6]));
    /// let runs = [run];
    /// let mut baseline = Baseline::from_runs(key, &runs, at).unwrap();
    /// baseline.record_change(None, ChangeAction::Created, &runs, None);
    /// assert_eq!(baseline.changes[0].action, ChangeAction::Created);
    /// assert_eq!(baseline.changes[0].sources, 1);
    /// ```
    pub fn record_change(
        &mut self,
        previous: Option<&Baseline>,
        action: ChangeAction,
        added: &[Run],
        reason: Option<String>,
    ) {
        let mut changes = previous.map(|p| p.changes.clone()).unwrap_or_default();
        let change = BaselineChange {
            at: self.updated,
            action,
            runs: added.iter().map(|r| r.id.clone()).collect(),
            sources: self.sources.len(),
            commit: added
                .last()
                .and_then(|r| r.git.as_ref())
                .and_then(|g| g.commit.clone()),
            reason,
        };
        changes.push(change.clone());
        let excess = changes.len().saturating_sub(MAX_CHANGES);
        changes.drain(..excess);
        self.changes = changes;
        self.accepted = if action == ChangeAction::Accepted {
            Some(change)
        } else {
            previous.and_then(|p| p.accepted.clone()).filter(|a| {
                a.runs
                    .iter()
                    .any(|id| self.sources.iter().any(|s| &s.run == id))
            })
        };
    }

    /// The per-job summaries of a benchmark metric, oldest first, if the baseline kept them.
    #[must_use]
    pub fn job_history(&self, benchmark: &str, metric: &str) -> Option<&[JobStat]> {
        self.history
            .iter()
            .find(|h| h.benchmark == benchmark && h.metric == metric)
            .map(|h| h.jobs.as_slice())
    }

    /// The benchmark called `name`, if the baseline has it.
    #[must_use]
    pub fn benchmark(&self, name: &str) -> Option<&Benchmark> {
        self.benchmarks.iter().find(|b| b.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Direction, Metric, Unit};

    fn run(at: &str, bench: &str, unit: &str, samples: &[f64]) -> Run {
        let ts: Timestamp = at.parse().unwrap();
        let mut r = Run::new(
            RunId::new(ts, 1),
            ts,
            BaselineKey::new("main", "linux-x86_64").unwrap(),
            Fingerprint::default(),
        );
        r.benchmarks.push(Benchmark {
            params: std::collections::BTreeMap::new(),
            name: bench.into(),
            command: None,
            metrics: vec![Metric {
                name: "wall_time".into(),
                unit: Unit(unit.into()),
                direction: Direction::LowerIsBetter,
                samples: samples.to_vec(),
                summary: None,
            }],
        });
        r
    }

    #[test]
    fn pools_samples_of_several_runs() {
        let key = BaselineKey::new("main", "linux-x86_64").unwrap();
        let runs = [
            run("2026-01-01T00:00:00Z", "a", "ns", &[1.0, 2.0]),
            run("2026-01-02T00:00:00Z", "a", "ns", &[3.0]),
            run("2026-01-03T00:00:00Z", "b", "ns", &[9.0]),
        ];
        let b = Baseline::from_runs(key, &runs, Timestamp::UNIX_EPOCH).unwrap();
        assert_eq!(
            b.benchmark("a").unwrap().metrics[0].samples,
            vec![1.0, 2.0, 3.0]
        );
        assert_eq!(b.benchmark("b").unwrap().metrics[0].samples, vec![9.0]);
        assert_eq!(b.sources.len(), 3);
    }

    #[test]
    fn a_harness_summary_survives_one_run_but_not_pooling() {
        use crate::model::{ReportedSummary, Spread, Statistic};
        let key = BaselineKey::new("main", "linux-x86_64").unwrap();
        let summarised = |at: &str, value: f64| {
            let mut r = run(at, "a", "ns", &[value]);
            r.benchmarks[0].metrics[0].summary = Some(ReportedSummary {
                statistic: Statistic::Mean,
                value,
                n: Some(100),
                spread: Spread::StdDev { value: 1.0 },
            });
            r
        };
        let one = [summarised("2026-01-01T00:00:00Z", 10.0)];
        let b = Baseline::from_runs(key.clone(), &one, Timestamp::UNIX_EPOCH).unwrap();
        assert!(b.benchmarks[0].metrics[0].summary.is_some());
        let two = [one[0].clone(), summarised("2026-01-02T00:00:00Z", 11.0)];
        let b = Baseline::from_runs(key, &two, Timestamp::UNIX_EPOCH).unwrap();
        assert_eq!(b.benchmarks[0].metrics[0].samples, vec![10.0, 11.0]);
        assert!(b.benchmarks[0].metrics[0].summary.is_none());
    }

    #[test]
    fn keeps_the_parameters_of_the_newest_run_with_the_benchmark() {
        let with_plan = |at: &str, bench: &str, workers: &str| {
            let mut r = run(at, bench, "ns", &[1.0]);
            r.benchmarks[0]
                .params
                .insert("workers".into(), workers.into());
            r
        };
        let runs = [
            with_plan("2026-01-03T00:00:00Z", "a", "4"),
            with_plan("2026-01-01T00:00:00Z", "a", "2"),
            with_plan("2026-01-05T00:00:00Z", "b", "8"),
        ];
        let b = Baseline::from_runs(
            BaselineKey::new("main", "linux").unwrap(),
            &runs,
            Timestamp::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(b.benchmark("a").unwrap().params["workers"], "4");
        assert_eq!(b.benchmark("b").unwrap().params["workers"], "8");
    }

    #[test]
    fn refuses_to_pool_different_units() {
        let key = BaselineKey::new("main", "linux").unwrap();
        let runs = [
            run("2026-01-01T00:00:00Z", "a", "ns", &[1.0]),
            run("2026-01-02T00:00:00Z", "a", "bytes", &[3.0]),
        ];
        let err = Baseline::from_runs(key, &runs, Timestamp::UNIX_EPOCH).unwrap_err();
        assert!(matches!(err, PoolError::Inconsistent { .. }), "{err}");
        assert!(matches!(
            Baseline::from_runs(
                BaselineKey::new("m", "l").unwrap(),
                &[],
                Timestamp::UNIX_EPOCH
            ),
            Err(PoolError::NoRuns)
        ));
    }
}
