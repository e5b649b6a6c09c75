//! Paired statistics: rounds that measured base and head back to back on one machine.
//!
//! In paired (A/B) mode each round runs both sides, in a random order, so whatever drifts over
//! time (the machine's clock speed, a noisy neighbour, the cache) affects both sides of a round
//! alike. The per-round log ratio `ln(head / base)` cancels that drift; the analysis works on those
//! ratios only:
//!
//! - from 20 rounds, the effect is `exp(median log ratio) - 1`, tested by the sign test with its
//!   exact order-statistic interval: no assumption about the ratios' distribution, so a bimodal
//!   command (a slow path taken in some rounds) is judged by its typical round, and the p-value
//!   and the interval come from one law and cannot disagree;
//! - below 20 rounds, where the sign test cannot reach small p-values (2 / 2^n at best), the 20%
//!   trimmed mean of the log ratios with the Tukey-McLaughlin t test.

use crate::inference::{self, Law};
use crate::stats;

/// Fewest rounds for the median and the sign test; fewer use the trimmed t.
pub const MEDIAN_MIN_ROUNDS: usize = 20;

/// What a paired analysis found for one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct PairedEstimate {
    /// Rounds analysed.
    pub rounds: usize,
    /// The relative change of head over base: `exp(median log ratio) - 1` from 20 rounds,
    /// `exp(trimmed mean log ratio) - 1` below.
    pub change: f64,
    /// The law of the estimate, for p-values and intervals at any level.
    pub law: Law,
}

/// Why a paired analysis could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PairedError {
    /// The two sides have different numbers of rounds.
    #[error("paired samples differ in count: base has {base} rounds, head {head}")]
    Unaligned {
        /// Rounds of base.
        base: usize,
        /// Rounds of head.
        head: usize,
    },
    /// A sample is zero, negative or not finite, so a ratio means nothing.
    #[error("paired ratios need positive, finite samples")]
    NotPositive,
    /// Fewer than two rounds: no spread to judge a change by.
    #[error("too few rounds: {rounds}, need 2")]
    TooFew {
        /// Rounds given.
        rounds: usize,
    },
}

/// Analyses aligned `base` and `head` samples (round `i` of each ran back to back).
///
/// ```
/// use benchkeep_core::paired::analyze;
/// let base = [100.0, 102.0, 98.0, 101.0, 99.0, 100.5];
/// let head: Vec<f64> = base.iter().map(|b| b * 1.2).collect();
/// let estimate = analyze(&base, &head).unwrap();
/// assert!((estimate.change - 0.2).abs() < 1e-9);
/// assert!(estimate.law.p_value() < 1e-6);
/// ```
pub fn analyze(base: &[f64], head: &[f64]) -> Result<PairedEstimate, PairedError> {
    if base.len() != head.len() {
        return Err(PairedError::Unaligned {
            base: base.len(),
            head: head.len(),
        });
    }
    let usable = |x: &f64| x.is_finite() && *x > 0.0;
    if !base.iter().chain(head).all(usable) {
        return Err(PairedError::NotPositive);
    }
    let log_ratios: Vec<f64> = base.iter().zip(head).map(|(b, h)| (h / b).ln()).collect();
    let sorted = stats::sorted(&log_ratios);
    let rounds = sorted.len();
    if rounds >= MEDIAN_MIN_ROUNDS {
        let change = stats::median_of_sorted(&sorted).exp_m1();
        return Ok(PairedEstimate {
            rounds,
            change,
            law: Law::Signs(sorted),
        });
    }
    let side = inference::trimmed(&sorted).ok_or(PairedError::TooFew { rounds })?;
    Ok(PairedEstimate {
        rounds,
        change: side.centre.exp_m1(),
        law: Law::Location {
            centre: side.centre,
            scale: side.variance.max(0.0).sqrt(),
            df: side.df,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Rng;

    /// Both sides drift by ±20% from round to round; head is always `factor` times base.
    fn drifting(rounds: usize, factor: f64, seed: u64) -> (Vec<f64>, Vec<f64>) {
        let mut rng = Rng::seed_from_u64(seed);
        (0..rounds)
            .map(|_| {
                let drift = 1e6 * (1.0 + 0.4 * (rng.unit_f64() - 0.5));
                let jitter = |rng: &mut Rng| 1.0 + 0.002 * (rng.unit_f64() - 0.5);
                (drift * jitter(&mut rng), factor * drift * jitter(&mut rng))
            })
            .unzip()
    }

    #[test]
    fn paired_analysis_sees_through_shared_drift() {
        for rounds in [6, 30] {
            let (base, head) = drifting(rounds, 1.03, 3);
            let est = analyze(&base, &head).unwrap();
            assert!((est.change - 0.03).abs() < 0.002, "{est:?}");
            let (lo, hi) = est.law.interval(0.05);
            assert!(lo > 0.025 && hi < 0.035, "{rounds}: ({lo}, {hi})");
            assert!(est.law.p_value() < 0.001, "{rounds}: {}", est.law.p_value());
        }
    }

    #[test]
    fn a_bimodal_command_is_judged_by_its_typical_round() {
        // Each side takes a slow path (2x) in 30% of rounds, independently; head is 5% slower.
        // The log ratios are a spike at +5% with heavy tails at about x2 and x0.5 either way.
        let mut rng = Rng::seed_from_u64(17);
        let path = |rng: &mut Rng| if rng.unit_f64() < 0.3 { 2.0 } else { 1.0 };
        let (base, head): (Vec<f64>, Vec<f64>) = (0..60)
            .map(|_| {
                let jitter = |rng: &mut Rng| 1.0 + 0.01 * (rng.unit_f64() - 0.5);
                let b = 1e6 * path(&mut rng) * jitter(&mut rng);
                let h = 1.05e6 * path(&mut rng) * jitter(&mut rng);
                (b, h)
            })
            .unzip();
        let est = analyze(&base, &head).unwrap();
        let (lo, hi) = est.law.interval(0.05);
        assert!(lo > 0.03 && hi < 0.07, "({lo}, {hi})");
        assert!(est.law.p_value() < 0.05, "{}", est.law.p_value());
    }

    #[test]
    fn unaligned_non_positive_and_single_rounds_are_refused() {
        assert_eq!(
            analyze(&[1.0; 3], &[1.0; 4]),
            Err(PairedError::Unaligned { base: 3, head: 4 })
        );
        assert_eq!(
            analyze(&[1.0, 0.0, 1.0], &[1.0; 3]),
            Err(PairedError::NotPositive)
        );
        assert_eq!(
            analyze(&[1.0], &[2.0]),
            Err(PairedError::TooFew { rounds: 1 })
        );
    }
}
