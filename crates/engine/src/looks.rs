//! Measuring again where it can decide: adaptive rounds, the loop that measures inconclusive
//! benchmarks again, look after look, for `ab`, `check --pr` and `check` alike (the statistics
//! of the design are `core::sequential`), and `--confirm`, which measures what looks regressed
//! again before the verdict is final.

use std::time::{Duration, Instant};

use benchkeep_core::baseline::Baseline;
use benchkeep_core::compare::{self, CompareConfig, Comparison, Verdict};
use benchkeep_core::model::Run;
use benchkeep_core::sequential::{Design, Sequential, Stop};

use crate::check::{CheckRequest, FirstBatch};
use crate::measure::{append_samples, seconds};
use crate::session::Session;
use crate::{Error, bail};

/// How much longer than the first batch adaptive rounds may take, by default: in looks and in
/// time, so a comparison that stays inconclusive costs at most about four times the plain one.
pub(crate) const ADAPTIVE_FACTOR: u32 = 4;

/// The budget of adaptive rounds: the looks of the sequential design and the time allowed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Adaptive {
    pub(crate) design: Design,
    /// Measuring may not go on past this; `None`: four times the first batch's time.
    pub(crate) max_time: Option<Duration>,
}

/// Compares the measured `data`, and while some benchmarks stay inconclusive for want of data,
/// measures those again (`more(data, names, look)`) and compares again, spending `alpha` across
/// the looks. `started` is when the first batch began, `first_batch` how long measuring all
/// `benchmarks` took.
pub(crate) fn decide<D>(
    adaptive: &Adaptive,
    config: &mut CompareConfig,
    (started, first_batch, benchmarks): (Instant, Duration, usize),
    data: &mut D,
    compare: impl Fn(&D, &CompareConfig) -> Comparison,
    mut more: impl FnMut(&mut D, &[String], u32) -> Result<(), Error>,
) -> Result<Comparison, Error> {
    let design = adaptive.design;
    let budget = adaptive.max_time.unwrap_or(first_batch * ADAPTIVE_FACTOR);
    let mut sequential = Sequential::new(design);
    let mut stop = Stop::Decided;
    for look in 1..=design.looks() {
        config.spend = design.spend(look);
        let open = sequential.record(look, compare(data, config));
        if open.is_empty() {
            break;
        }
        if look == design.looks() {
            stop = Stop::RoundLimit;
            break;
        }
        // The next batch measures only the open benchmarks: estimate it from the first.
        let share = open.len() as f64 / benchmarks.max(1) as f64;
        if started.elapsed() + first_batch.mul_f64(share) > budget {
            stop = Stop::TimeBudget;
            break;
        }
        more(data, &open, look + 1)?;
    }
    Ok(sequential
        .finish(stop)
        .unwrap_or_else(|| compare(data, config)))
}

impl Session {
    /// `--confirm`: measures the benchmarks that look regressed again, replacing their samples,
    /// and compares again, noting on each whether the regression was confirmed.
    pub(crate) fn confirm_check(
        &self,
        baseline: &Baseline,
        run: &mut Run,
        config: &CompareConfig,
        request: &CheckRequest,
        comparison: &mut Comparison,
    ) -> Result<(), Error> {
        let suspects = regressed_benchmarks(comparison);
        if !suspects.is_empty() {
            let planned = self.planned_benchmarks(&request.measure)?;
            let first = comparison.clone();
            for name in &suspects {
                let Some(plan) = planned.iter().find(|p| &p.name == name) else {
                    continue;
                };
                self.notice(&format!(
                    "{name}: looks regressed; measuring it again to confirm"
                ));
                let again = self.measure_one(plan)?;
                if let Some(slot) = run.benchmarks.iter_mut().find(|b| &b.name == name) {
                    *slot = again;
                }
            }
            let full = CompareConfig {
                spend: 1.0,
                ..config.clone()
            };
            let again = compare::compare_job_with_baseline(
                baseline,
                &run.benchmarks,
                self.probe_of(run, request),
                &full,
            );
            *comparison = merge_confirmations(first, &again, &suspects, "measured again");
        }
        Ok(())
    }

    /// Compares a run measured here with its baseline; benchmarks whose gating metric is
    /// inconclusive for want of data are measured again, look after look, and their new samples
    /// join the run ([`decide`]). In history mode only where this job's own spread is a real
    /// part of the interval: more runs of this job cannot narrow the spread between jobs.
    pub(crate) fn adaptive_check(
        &self,
        baseline: &Baseline,
        run: &mut Run,
        config: &mut CompareConfig,
        request: &CheckRequest,
        first_batch: FirstBatch,
    ) -> Result<Comparison, Error> {
        let looks = request
            .max_looks
            .or(self.config.compare.max_looks)
            .unwrap_or(ADAPTIVE_FACTOR);
        if looks == 0 {
            bail!("max-looks must be at least 1, not 0");
        }
        let adaptive = Adaptive {
            design: benchkeep_core::sequential::Design::new(looks),
            max_time: request
                .max_time
                .or(self.config.compare.max_time)
                .map(|t| seconds(t, "max-time"))
                .transpose()?,
        };
        let planned = if looks > 1 {
            self.planned_benchmarks(&request.measure)?
        } else {
            Vec::new()
        };
        let probe = self.probe_of(run, request).cloned();
        decide(
            &adaptive,
            config,
            first_batch,
            &mut run.benchmarks,
            |benchmarks, config| {
                compare::compare_job_with_baseline(baseline, benchmarks, probe.as_ref(), config)
            },
            |benchmarks, open, look| {
                for name in open {
                    let (Some(plan), Some(bench)) = (
                        planned.iter().find(|p| &p.name == name),
                        benchmarks.iter_mut().find(|b| &b.name == name),
                    ) else {
                        continue;
                    };
                    self.notice(&format!(
                        "{name}: inconclusive after {} runs; measuring it again (look {look} of at most {looks})",
                        bench.metrics.first().map_or(0, |m| m.samples.len()),
                    ));
                    append_samples(bench, self.measure_one(plan)?);
                }
                Ok(())
            },
        )
    }
}

/// Benchmarks with a gating metric that regressed, in report order, each once.
pub(crate) fn regressed_benchmarks(comparison: &Comparison) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for e in comparison.regressions() {
        if !names.contains(&e.benchmark) {
            names.push(e.benchmark.clone());
        }
    }
    names
}

/// The comparison after a confirmation: `first`'s entries, but for the benchmarks re-measured
/// (`suspects`), their entries from `confirmed`, each noting whether the regression held.
/// Confirmation only ever withdraws a regression found at some look, whose alpha was spent
/// there, so `confirmed` may be judged at the whole alpha; the benchmarks not re-measured keep
/// the verdicts of the looks that decided them.
pub(crate) fn merge_confirmations(
    first: Comparison,
    confirmed: &Comparison,
    suspects: &[String],
    how: &str,
) -> Comparison {
    let mut merged = first;
    for entry in &mut merged.entries {
        if !suspects.contains(&entry.benchmark) {
            continue;
        }
        let Some(again) = confirmed
            .entries
            .iter()
            .find(|e| e.benchmark == entry.benchmark && e.metric == entry.metric)
        else {
            continue;
        };
        let was = entry.verdict;
        *entry = again.clone();
        if entry.gating && was == Verdict::Regressed {
            entry.notes.push(if entry.verdict == Verdict::Regressed {
                format!("confirmed: {how}, still regressed")
            } else {
                format!("not confirmed: looked regressed, {how}: {}", entry.verdict)
            });
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use benchkeep_core::compare::{self, CompareConfig, Comparison, Verdict};
    use benchkeep_core::model::Benchmark;

    use super::merge_confirmations;

    fn comparison(verdicts: &[(&str, f64)]) -> Comparison {
        let bench = |name: &str, centre: f64| {
            let samples = (0..30).map(|i| centre * (1.0 + 0.001 * f64::from(i % 5)));
            Benchmark::wall_time(name, samples.collect())
        };
        let base: Vec<Benchmark> = verdicts.iter().map(|(n, _)| bench(n, 1e6)).collect();
        let cur: Vec<Benchmark> = verdicts.iter().map(|(n, c)| bench(n, 1e6 * c)).collect();
        compare::compare(&base, &cur, &CompareConfig::default())
    }

    /// Only the re-measured benchmarks take the confirmation's verdicts; the others keep the
    /// looks that decided them (a confirmation judged at the whole alpha must not create new
    /// regressions elsewhere).
    #[test]
    fn a_confirmation_replaces_the_suspects_only() {
        let first = comparison(&[("a", 1.3), ("b", 1.0)]);
        assert_eq!(first.entries[0].verdict, Verdict::Regressed);
        let confirmed = comparison(&[("a", 1.0), ("b", 1.3)]);
        let merged = merge_confirmations(first, &confirmed, &["a".to_owned()], "measured again");
        assert_eq!(merged.entries[0].verdict, Verdict::Unchanged);
        assert!(merged.entries[0].notes[0].starts_with("not confirmed"));
        assert_eq!(
            merged.entries[1].verdict,
            Verdict::Unchanged,
            "b keeps its first verdict"
        );
    }
}
