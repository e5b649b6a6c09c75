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

/// The looks of one sequential comparison: each gating entry is kept from the look that decided
/// it (its alpha was spent there, and later looks with smaller shares must not take the decision
/// back), and a benchmark is measured again while any of its gating entries is undecided.
#[derive(Debug, Clone)]
pub struct Sequential {
    design: Design,
    /// Decided gating entries by benchmark and metric: the look and the entry.
    decided: BTreeMap<(String, String), (u32, MetricComparison)>,
    /// The latest look's comparison.
    latest: Option<(u32, Comparison)>,
}

impl Sequential {
    /// A sequential comparison under `design`.
    #[must_use]
    pub fn new(design: Design) -> Self {
        Sequential {
            design,
            decided: BTreeMap::new(),
            latest: None,
        }
    }

    /// Records look `look`'s comparison (made with `spend` = [`Design::spend`] of that look)
    /// and returns the benchmarks still worth measuring: those with a gating entry, not decided
    /// at an earlier look, that more data could decide ([`MetricComparison::wants_more_data`];
    /// a verdict that more rounds cannot change, such as "no spread", does not count). Gating
    /// entries decided now are kept from this look.
    pub fn record(&mut self, look: u32, comparison: Comparison) -> Vec<String> {
        let mut open: Vec<String> = Vec::new();
        for entry in comparison.entries.iter().filter(|e| e.gating) {
            let key = (entry.benchmark.clone(), entry.metric.clone());
            if self.decided.contains_key(&key) {
                continue;
            }
            if entry.wants_more_data() {
                if !open.contains(&entry.benchmark) {
                    open.push(entry.benchmark.clone());
                }
            } else {
                self.decided.insert(key, (look, entry.clone()));
            }
        }
        self.latest = Some((look, comparison));
        open
    }

    /// The comparison to report: the latest look's, with each gating entry decided at an
    /// earlier look taken from that look. A gating entry that needed more than the first look,
    /// or was stopped undecided (for `reason`), says after how many samples and why.
    #[must_use]
    pub fn finish(mut self, reason: Stop) -> Option<Comparison> {
        let (last, mut latest) = self.latest.take()?;
        let looks = self.design.looks;
        for entry in &mut latest.entries {
            if !entry.gating {
                continue;
            }
            let key = (entry.benchmark.clone(), entry.metric.clone());
            let (look, stop) = match self.decided.remove(&key) {
                Some((look, decided)) => {
                    *entry = decided;
                    (look, Stop::Decided)
                }
                None => (last, reason),
            };
            if look > 1 || stop != Stop::Decided {
                let rounds = entry.current.map_or(0, |s| s.n);
                entry.notes.push(format!(
                    "{} after {rounds} samples (look {look} of at most {looks})",
                    stop.describe()
                ));
            }
        }
        Some(latest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{CompareConfig, Verdict, compare};
    use crate::model::{Benchmark, Direction, Unit};
    use crate::stats::Rng;

    fn bench(name: &str, samples: Vec<f64>) -> Benchmark {
        Benchmark::wall_time(name, samples)
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

    /// A gating entry decided at an earlier look keeps that look's verdict while another gating
    /// metric of the same benchmark is still measured: later looks spend less alpha and must not
    /// take a decision back.
    #[test]
    fn a_decided_metric_keeps_its_look_while_another_one_is_measured() {
        use crate::compare::{Comparison, Method, MetricComparison};
        let entry = |metric: &str, verdict: Verdict, n: usize| MetricComparison {
            benchmark: "b".into(),
            metric: metric.into(),
            unit: Unit::nanoseconds(),
            direction: Direction::LowerIsBetter,
            gating: true,
            method: Method::TrimmedT,
            threshold: 0.05,
            baseline: None,
            current: Some(crate::compare::Summary::of_sorted(&vec![1.0; n])),
            change: Some(0.1),
            interval: Some((0.01, 0.2)),
            confidence: Some(0.95),
            p_value: Some(0.01),
            q_value: Some(0.01),
            detectable: None,
            history: None,
            verdict,
            severity: None,
            reason: String::new(),
            notes: Vec::new(),
            limit: None,
            effect: crate::compare::GateEffect::None,
        };
        let look = |entries: Vec<MetricComparison>| Comparison {
            method: Method::MedianBootstrap,
            threshold: 0.05,
            fdr: true,
            entries,
        };
        let mut sequential = Sequential::new(Design::new(3));
        let open = sequential.record(
            1,
            look(vec![
                entry("wall_time", Verdict::Regressed, 5),
                entry("peak_rss", Verdict::Inconclusive, 5),
            ]),
        );
        assert_eq!(open, ["b"], "peak_rss still wants data");
        // At look 2, with less alpha, wall time would no longer be significant.
        let open = sequential.record(
            2,
            look(vec![
                entry("wall_time", Verdict::Inconclusive, 10),
                entry("peak_rss", Verdict::Unchanged, 10),
            ]),
        );
        assert!(open.is_empty());
        let result = sequential.finish(Stop::Decided).unwrap();
        assert_eq!(result.entries[0].verdict, Verdict::Regressed);
        assert_eq!(result.entries[0].current.unwrap().n, 5, "from look 1");
        assert_eq!(result.entries[1].verdict, Verdict::Unchanged);
        assert!(result.entries[1].notes[0].starts_with("decided after 10 samples (look 2"));
    }
}
