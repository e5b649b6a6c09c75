//! Adaptive rounds: look at growing data several times without raising the false alarm rate.
//!
//! A comparison that is `inconclusive` usually needs only more data. Measuring more and testing
//! again is optional stopping, which inflates false alarms if every look spends the whole `alpha`.
//! benchkeep uses a group-sequential design with Bonferroni alpha spending: look `k` of at most
//! `K` may spend the share `w_k = (1 / k²) / Σ_{j ≤ K} 1 / j²` of `alpha` (70%, 18%, 8%, 4% for
//! four looks), and the shares add up to 1. By the union bound, the intervals of all looks hold
//! together with probability at least `1 - alpha`, so whichever look a benchmark stops at (as soon
//! as it is decided, or when the budget runs out), the chance of any false alarm stays at most
//! `alpha` and every interval reported keeps its meaning. The spending is front-loaded because
//! most benchmarks are decided at the first look; a design with equal shares would lose power
//! there. (This is the simplest member of the alpha-spending family of Lan and DeMets, 1983,
//! valid for any dependence between looks, which the union bound needs no model of.)
//!
//! ```
//! use benchkeep_core::sequential::Design;
//! let design = Design::new(4);
//! assert!((design.spend(1) - 0.7024).abs() < 1e-3);
//! assert!(((1..=4).map(|k| design.spend(k)).sum::<f64>() - 1.0).abs() < 1e-12);
//! assert_eq!(Design::new(1).spend(1), 1.0);
//! ```

use std::collections::BTreeMap;

use crate::compare::{Comparison, MetricComparison};

/// How many looks a sequential comparison may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Design {
    looks: u32,
}

impl Design {
    /// A design of at most `looks` looks (at least 1; one look spends all of `alpha`).
    #[must_use]
    pub fn new(looks: u32) -> Self {
        Design {
            looks: looks.max(1),
        }
    }

    /// The most looks.
    #[must_use]
    pub fn looks(self) -> u32 {
        self.looks
    }

    /// The share of `alpha` look `look` (1-based) may spend; 0 past the last look.
    #[must_use]
    pub fn spend(self, look: u32) -> f64 {
        if look == 0 || look > self.looks {
            return 0.0;
        }
        let weight = |k: u32| 1.0 / f64::from(k).powi(2);
        weight(look) / (1..=self.looks).map(weight).sum::<f64>()
    }
}

/// Why a sequential comparison stopped measuring a benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stop {
    /// Every gating metric was decided.
    Decided,
    /// The design's last look was reached.
    RoundLimit,
    /// The time budget would be exceeded by another batch.
    TimeBudget,
}

impl Stop {
    fn describe(self) -> &'static str {
        match self {
            Stop::Decided => "decided",
            Stop::RoundLimit => "stopped at the round limit",
            Stop::TimeBudget => "stopped at the time budget",
        }
    }
}

/// The looks of one sequential comparison: each benchmark's entries are kept from the look at
/// which it stopped, so its verdict is the one that stopped it.
#[derive(Debug, Clone)]
pub struct Sequential {
    design: Design,
    /// Benchmarks in the order of the first look.
    order: Vec<String>,
    /// Stopped benchmarks: the look and its entries.
    stopped: BTreeMap<String, (u32, Vec<MetricComparison>)>,
    /// The latest look's comparison, for the benchmarks still open.
    latest: Option<(u32, Comparison)>,
}

impl Sequential {
    /// A sequential comparison under `design`.
    #[must_use]
    pub fn new(design: Design) -> Self {
        Sequential {
            design,
            order: Vec::new(),
            stopped: BTreeMap::new(),
            latest: None,
        }
    }

    /// Records look `look`'s comparison (made with `spend` = [`Design::spend`] of that look)
    /// and returns the benchmarks still worth measuring: those with a gating metric that more
    /// data could decide ([`MetricComparison::wants_more_data`]; a verdict that more rounds
    /// cannot change, such as "no spread", does not count). The others stop here.
    pub fn record(&mut self, look: u32, comparison: Comparison) -> Vec<String> {
        let mut by_benchmark: BTreeMap<&str, Vec<&MetricComparison>> = BTreeMap::new();
        for entry in &comparison.entries {
            if self.order.iter().all(|b| b != &entry.benchmark) {
                self.order.push(entry.benchmark.clone());
            }
            by_benchmark
                .entry(&entry.benchmark)
                .or_default()
                .push(entry);
        }
        let mut open = Vec::new();
        for (name, entries) in by_benchmark {
            if self.stopped.contains_key(name) {
                continue;
            }
            let undecided = entries.iter().any(|e| e.wants_more_data());
            if undecided {
                open.push(name.to_owned());
            } else {
                self.stopped.insert(
                    name.to_owned(),
                    (look, entries.into_iter().cloned().collect()),
                );
            }
        }
        self.latest = Some((look, comparison));
        open
    }

    /// The comparison to report: each benchmark's entries from the look it stopped at, the open
    /// ones from the latest look (stopped for `reason`). A gating entry that needed more than
    /// the first look, or was stopped undecided, says after how many samples and why.
    #[must_use]
    pub fn finish(mut self, reason: Stop) -> Option<Comparison> {
        let (last, mut latest) = self.latest.take()?;
        let looks = self.design.looks;
        let mut entries = Vec::with_capacity(latest.entries.len());
        for name in &self.order {
            let (look, stop, mut chosen) = match self.stopped.remove(name) {
                Some((look, entries)) => (look, Stop::Decided, entries),
                None => (
                    last,
                    reason,
                    latest
                        .entries
                        .iter()
                        .filter(|e| &e.benchmark == name)
                        .cloned()
                        .collect(),
                ),
            };
            if look > 1 || stop != Stop::Decided {
                for entry in chosen.iter_mut().filter(|e| e.gating) {
                    let rounds = entry.current.map_or(0, |s| s.n);
                    entry.notes.push(format!(
                        "{} after {rounds} samples (look {look} of at most {looks})",
                        stop.describe()
                    ));
                }
            }
            entries.extend(chosen);
        }
        latest.entries = entries;
        Some(latest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{CompareConfig, Verdict, compare};
    use crate::model::{Benchmark, Direction, Metric, Unit};
    use crate::stats::Rng;

    fn bench(name: &str, samples: Vec<f64>) -> Benchmark {
        Benchmark {
            name: name.into(),
            command: None,
            metrics: vec![Metric::new(
                "wall_time",
                Unit::nanoseconds(),
                Direction::LowerIsBetter,
                samples,
            )],
            params: std::collections::BTreeMap::new(),
        }
    }

    fn noisy(centre: f64, spread: f64, n: usize, rng: &mut Rng) -> Vec<f64> {
        (0..n)
            .map(|_| centre * (1.0 + spread * (rng.unit_f64() - 0.5)))
            .collect()
    }

    #[test]
    fn spending_is_front_loaded_and_adds_up_to_alpha() {
        let design = Design::new(4);
        let shares: Vec<f64> = (1..=5).map(|k| design.spend(k)).collect();
        assert!(shares.windows(2).all(|w| w[0] >= w[1]), "{shares:?}");
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(shares[4].abs() < f64::EPSILON, "nothing past the last look");
    }

    /// A big change is decided at the first look and keeps that look's entries; a small one
    /// needs more data, and its verdict comes from the look that had it.
    #[test]
    fn benchmarks_stop_at_the_look_that_decides_them() {
        let mut rng = Rng::seed_from_u64(4);
        let design = Design::new(3);
        let mut sequential = Sequential::new(design);
        let mut base = vec![
            bench("big", noisy(1e6, 0.04, 6, &mut rng)),
            bench("small", noisy(1e6, 0.3, 6, &mut rng)),
        ];
        let mut cur = vec![
            bench("big", noisy(2e6, 0.04, 6, &mut rng)),
            bench("small", noisy(1.1e6, 0.3, 6, &mut rng)),
        ];
        let mut stopped_at = None;
        for look in 1..=design.looks() {
            let config = CompareConfig {
                spend: design.spend(look),
                ..CompareConfig::default()
            };
            let open = sequential.record(look, compare(&base, &cur, &config));
            if open.is_empty() {
                stopped_at = Some(look);
                break;
            }
            assert_eq!(open, ["small"], "look {look}");
            base[1].metrics[0]
                .samples
                .extend(noisy(1e6, 0.3, 30, &mut rng));
            cur[1].metrics[0]
                .samples
                .extend(noisy(1.1e6, 0.3, 30, &mut rng));
        }
        assert!(stopped_at.is_some_and(|look| look > 1));
        let result = sequential.finish(Stop::RoundLimit).unwrap();
        let big = &result.entries[0];
        assert_eq!(
            (big.benchmark.as_str(), big.verdict),
            ("big", Verdict::Regressed)
        );
        assert!(big.notes.is_empty(), "decided at the first look: {big:?}");
        let small = &result.entries[1];
        assert_eq!(small.verdict, Verdict::Regressed, "{small:?}");
        assert!(small.current.unwrap().n > 6);
        assert!(small.notes[0].starts_with("decided after"), "{small:?}");
    }
}
