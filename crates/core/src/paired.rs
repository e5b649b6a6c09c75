//! Paired statistics: rounds that measured base and head back to back on one machine.
//!
//! In paired (A/B) mode each round runs both sides, in a random order, so whatever drifts over
//! time (the machine's clock speed, a noisy neighbour, the cache) affects both sides of a round
//! alike. The per-round log ratio `ln(head / base)` cancels that drift; the analysis works on those
//! ratios only:
//!
//! - the effect is `exp(median log ratio) - 1`;
//! - its interval is the exact percentile bootstrap of that median over rounds;
//! - significance is the Wilcoxon signed-rank test of the log ratios against zero.

use crate::stats::{self, MedianSampler, Rng};

/// Largest number of non-zero differences for which the signed-rank null law is computed exactly.
const EXACT_SIGNED_RANK_MAX: usize = 60;

/// The result of a two-sided Wilcoxon signed-rank test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignedRankTest {
    /// Sum of the ranks of the positive differences.
    pub w_plus: f64,
    /// Differences that were not zero (zeros are dropped, as in Wilcoxon's original method).
    pub nonzero: usize,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Whether the p-value comes from the exact null law (no ties, at most 60 differences).
    pub exact: bool,
}

/// Two-sided Wilcoxon signed-rank test of `diffs` against a zero centre.
///
/// Exact for at most 60 non-zero differences without tied magnitudes; otherwise the normal
/// approximation with tie and continuity correction (as scipy and R use). With no non-zero
/// difference the p-value is 1.
#[must_use]
pub fn wilcoxon_signed_rank(diffs: &[f64]) -> SignedRankTest {
    let mut magnitudes: Vec<(f64, bool)> = diffs
        .iter()
        .filter(|d| **d != 0.0)
        .map(|&d| (d.abs(), d > 0.0))
        .collect();
    magnitudes.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let n = magnitudes.len();
    if n == 0 {
        return SignedRankTest {
            w_plus: 0.0,
            nonzero: 0,
            p_value: 1.0,
            exact: true,
        };
    }
    let mut w_plus = 0.0;
    let mut tie_term = 0.0;
    let mut start = 0;
    while start < n {
        // Exact equality is the point: these are ties in the ranking.
        #[allow(clippy::float_cmp)]
        let tied = magnitudes[start..]
            .iter()
            .take_while(|m| m.0 == magnitudes[start].0)
            .count();
        let average_rank = start as f64 + f64::midpoint(tied as f64, 1.0);
        w_plus += average_rank
            * magnitudes[start..start + tied]
                .iter()
                .filter(|m| m.1)
                .count() as f64;
        let t = tied as f64;
        tie_term += t * t * t - t;
        start += tied;
    }
    if tie_term == 0.0 && n <= EXACT_SIGNED_RANK_MAX {
        return SignedRankTest {
            w_plus,
            nonzero: n,
            p_value: exact_signed_rank_two_sided(n, w_plus),
            exact: true,
        };
    }
    SignedRankTest {
        w_plus,
        nonzero: n,
        p_value: normal_signed_rank_two_sided(n, w_plus, tie_term),
        exact: false,
    }
}

/// The normal approximation of the two-sided p-value, with tie and continuity correction.
fn normal_signed_rank_two_sided(n: usize, w_plus: f64, tie_term: f64) -> f64 {
    let nf = n as f64;
    let mean = nf * (nf + 1.0) / 4.0;
    let variance = nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0 - tie_term / 48.0;
    if variance <= 0.0 {
        return 1.0;
    }
    let z = ((w_plus - mean).abs() - 0.5).max(0.0) / variance.sqrt();
    statrs::function::erf::erfc(z / std::f64::consts::SQRT_2).min(1.0)
}

/// Exact two-sided p-value of `W+` for `n` untied differences: the null law counts the subsets
/// of ranks `1..=n` by their sum.
fn exact_signed_rank_two_sided(n: usize, w_plus: f64) -> f64 {
    let max = n * (n + 1) / 2;
    let mut counts = vec![0.0f64; max + 1];
    counts[0] = 1.0;
    for rank in 1..=n {
        for sum in (rank..=max).rev() {
            counts[sum] += counts[sum - rank];
        }
    }
    let total: f64 = counts.iter().sum();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let w = (w_plus.round().max(0.0) as usize).min(max);
    let lower: f64 = counts[..=w].iter().sum::<f64>() / total;
    let upper: f64 = counts[w..].iter().sum::<f64>() / total;
    (2.0 * lower.min(upper)).min(1.0)
}

/// What a paired analysis found for one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedEstimate {
    /// Rounds analysed.
    pub rounds: usize,
    /// `exp(median log ratio) - 1`: the relative change of head over base.
    pub change: f64,
    /// Confidence interval of `change`.
    pub interval: (f64, f64),
    /// Two-sided p-value of the signed-rank test.
    pub p_value: f64,
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
}

/// Analyses aligned `base` and `head` samples (round `i` of each ran back to back).
///
/// `sampler` must be for `base.len()` values.
pub fn analyze(
    base: &[f64],
    head: &[f64],
    sampler: &MedianSampler,
    resamples: usize,
    confidence: f64,
    rng: &mut Rng,
) -> Result<PairedEstimate, PairedError> {
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
    let centre = stats::median_of_sorted(&sorted);
    let (lo, hi) = stats::median_interval(&sorted, sampler, resamples, confidence, rng);
    let test = wilcoxon_signed_rank(&log_ratios);
    Ok(PairedEstimate {
        rounds: sorted.len(),
        change: centre.exp_m1(),
        interval: (lo.exp_m1(), hi.exp_m1()),
        p_value: test.p_value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::approx_constant)] // 3.14 is a measurement in R's example, not pi
    fn signed_rank_matches_known_values() {
        // R: wilcox.test(c(1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30) -
        //                c(0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29)) -> V = 40,
        // p-value = 0.03906.
        let x = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30];
        let y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
        let diffs: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a - b).collect();
        let test = wilcoxon_signed_rank(&diffs);
        assert!((test.w_plus - 40.0).abs() < 1e-12);
        assert!(test.exact);
        assert!((test.p_value - 0.039_06).abs() < 1e-4, "{}", test.p_value);
    }

    #[test]
    fn exact_and_normal_agree_for_moderate_samples() {
        for (n, w) in [(40usize, 300.0), (40, 500.0), (60, 700.0)] {
            let exact = exact_signed_rank_two_sided(n, w);
            let normal = normal_signed_rank_two_sided(n, w, 0.0);
            assert!(
                (exact - normal).abs() < 0.005,
                "n={n} w={w}: {exact} {normal}"
            );
        }
        let mut tied: Vec<f64> = (1..=40).map(f64::from).collect();
        tied.push(40.0);
        assert!(!wilcoxon_signed_rank(&tied).exact);
    }

    #[test]
    fn all_zero_differences_are_no_evidence() {
        let test = wilcoxon_signed_rank(&[0.0; 12]);
        assert!((test.p_value - 1.0).abs() < f64::EPSILON);
        assert_eq!(test.nonzero, 0);
    }

    #[test]
    fn paired_analysis_sees_through_shared_drift() {
        // Both sides drift by ±20% from round to round; head is always 3% slower than base.
        let mut rng = Rng::seed_from_u64(3);
        let drift: Vec<f64> = (0..30)
            .map(|_| 1.0 + 0.4 * (rng.unit_f64() - 0.5))
            .collect();
        let base: Vec<f64> = drift
            .iter()
            .map(|d| 1e6 * d * (1.0 + 0.002 * (rng.unit_f64() - 0.5)))
            .collect();
        let head: Vec<f64> = drift
            .iter()
            .map(|d| 1.03e6 * d * (1.0 + 0.002 * (rng.unit_f64() - 0.5)))
            .collect();
        let sampler = MedianSampler::new(30);
        let est = analyze(&base, &head, &sampler, 2000, 0.95, &mut rng).unwrap();
        assert!((est.change - 0.03).abs() < 0.002, "{est:?}");
        assert!(est.interval.0 > 0.025 && est.interval.1 < 0.035, "{est:?}");
        assert!(est.p_value < 1e-6);
    }

    #[test]
    fn unaligned_and_non_positive_samples_are_refused() {
        let sampler = MedianSampler::new(3);
        let mut rng = Rng::seed_from_u64(1);
        assert_eq!(
            analyze(&[1.0; 3], &[1.0; 4], &sampler, 100, 0.95, &mut rng),
            Err(PairedError::Unaligned { base: 3, head: 4 })
        );
        assert_eq!(
            analyze(&[1.0, 0.0, 1.0], &[1.0; 3], &sampler, 100, 0.95, &mut rng),
            Err(PairedError::NotPositive)
        );
    }
}
