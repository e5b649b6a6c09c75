//! Inference that cannot disagree with itself.
//!
//! Every method of the comparison produces one [`Law`]: the sampling law of its estimate of the
//! log change. The p-value of "no change" and the confidence interval at any level are both read
//! off that law, so they are dual: the interval that misses with probability `γ` excludes no
//! change exactly when the p-value is below `γ`. That is what lets the comparison report
//! intervals adjusted for multiple comparisons (Benjamini and Yekutieli's false coverage rate)
//! whose verdict always agrees with them.
//!
//! The laws, and the methods that use them:
//!
//! - [`Law::Location`]: `estimate + scale × T(df)`, Student's t (normal for infinite `df`): the
//!   trimmed t of small samples ([`trimmed`], Yuen's two-sample test and the Tukey-McLaughlin
//!   one-sample test on log values), Welch's test on a harness's reported summaries, the history
//!   method's prediction bound, and medians of large samples ([`median_location`]);
//! - [`Law::Bootstrap`]: the exact bootstrap law of a ratio of two medians
//!   ([`crate::bootstrap`]);
//! - [`Law::Signs`]: the sign test and its order-statistic interval for the median of paired log
//!   ratios, exact and free of any assumption about their distribution.

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

use crate::bootstrap::RatioLaw;

/// Degrees of freedom above which Student's t is the normal law for every purpose here.
const NORMAL_DF: f64 = 1e7;

/// The `p`-quantile of Student's t with `df` degrees of freedom (the standard normal for
/// infinite or huge `df`).
///
/// ```
/// use benchkeep_core::inference::student_t_quantile;
/// assert!((student_t_quantile(0.975, 10.0) - 2.228_139).abs() < 1e-5);
/// assert!((student_t_quantile(0.975, f64::INFINITY) - 1.959_964).abs() < 1e-5);
/// ```
#[must_use]
pub fn student_t_quantile(p: f64, df: f64) -> f64 {
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    if df >= NORMAL_DF || df.is_nan() {
        return Normal::standard().inverse_cdf(p);
    }
    StudentsT::new(0.0, 1.0, df.max(1e-3)).map_or(f64::NAN, |t| t.inverse_cdf(p))
}

/// The two-sided p-value of a t statistic with `df` degrees of freedom, accurate in the far
/// tails (it never computes `1 - cdf`).
#[must_use]
pub fn student_t_two_sided(t: f64, df: f64) -> f64 {
    if t.is_nan() {
        return 1.0;
    }
    let lower = if df >= NORMAL_DF || df.is_nan() {
        Normal::standard().cdf(-t.abs())
    } else {
        StudentsT::new(0.0, 1.0, df.max(1e-3)).map_or(1.0, |d| d.cdf(-t.abs()))
    };
    (2.0 * lower).clamp(0.0, 1.0)
}

/// The sampling law of one estimate of the log change (`ln(current / baseline)`).
#[derive(Debug, Clone, PartialEq)]
pub enum Law {
    /// `estimate + scale × T(df)`: the estimate is `centre`; `scale = 0` means certain.
    Location {
        /// The estimated log change.
        centre: f64,
        /// Its standard error.
        scale: f64,
        /// Degrees of freedom (`f64::INFINITY` for the normal law).
        df: f64,
    },
    /// A location law whose estimate may be off by a known bias of at most `below` downwards
    /// or `above` upwards (the share of a machine's speed change a benchmark felt): the interval
    /// is the location interval stretched by those amounts, and the p-value is dual to it.
    Biased {
        /// The estimated log change.
        centre: f64,
        /// Its standard error.
        scale: f64,
        /// Degrees of freedom.
        df: f64,
        /// How much of the estimate may be bias upwards (it is at most this much too high).
        below: f64,
        /// How much it may be too low.
        above: f64,
    },
    /// The exact bootstrap law of a ratio of medians.
    Bootstrap(RatioLaw),
    /// Sorted paired log ratios: the sign test and its order-statistic interval for their median.
    Signs(Vec<f64>),
}

impl Law {
    /// The two-sided p-value of "no change".
    #[must_use]
    pub fn p_value(&self) -> f64 {
        match self {
            Law::Location { .. } | Law::Biased { .. } => self.location().p_value(),
            Law::Bootstrap(law) => law.p_value(),
            Law::Signs(sorted) => {
                // Zeros count against both directions, so the test and the interval agree.
                let n = sorted.len();
                let at_or_below = sorted.partition_point(|&x| x <= 0.0);
                let at_or_above = n - sorted.partition_point(|&x| x < 0.0);
                (2.0 * binomial_half_cdf(n, at_or_below.min(at_or_above))).min(1.0)
            }
        }
    }

    /// The interval of the relative change (`current / baseline - 1`) that misses with
    /// probability `miss`, half in each tail. It excludes 0 exactly when [`Law::p_value`] is
    /// below `miss`.
    #[must_use]
    pub fn interval(&self, miss: f64) -> (f64, f64) {
        let miss = miss.clamp(f64::MIN_POSITIVE, 1.0);
        match self {
            Law::Location { .. } | Law::Biased { .. } => self.location().interval(miss),
            Law::Bootstrap(law) => {
                let (lo, hi) = law.interval(miss);
                (lo - 1.0, hi - 1.0)
            }
            Law::Signs(sorted) => {
                // The largest j with P(Binomial(n, 1/2) <= j) <= miss / 2 puts the interval at
                // the (j+1)-th smallest and largest values; with none, the median could be
                // anywhere.
                let n = sorted.len();
                let mut j = None;
                for k in 0..n.div_ceil(2) {
                    if binomial_half_cdf(n, k) <= miss / 2.0 {
                        j = Some(k);
                    } else {
                        break;
                    }
                }
                match j {
                    Some(j) => (sorted[j].exp_m1(), sorted[n - 1 - j].exp_m1()),
                    None => (-1.0, f64::MAX),
                }
            }
        }
    }

    /// A location law's parts, as a biased one (no bias for [`Law::Location`]). The other laws
    /// have none; for them this is a law that excludes nothing.
    fn location(&self) -> Shifted {
        match *self {
            Law::Location { centre, scale, df } => Shifted {
                centre,
                scale,
                df,
                below: 0.0,
                above: 0.0,
            },
            Law::Biased {
                centre,
                scale,
                df,
                below,
                above,
            } => Shifted {
                centre,
                scale,
                df,
                below,
                above,
            },
            Law::Bootstrap(_) | Law::Signs(_) => Shifted {
                centre: 0.0,
                scale: f64::INFINITY,
                df: 1.0,
                below: 0.0,
                above: 0.0,
            },
        }
    }

    /// The relative changes the estimate stands for: one value, except for a biased law, whose
    /// estimate may be off by its bias (`(exp(centre - below) - 1, exp(centre + above) - 1)`).
    /// `None` for the laws whose estimate is not their centre (bootstrap, sign test).
    #[must_use]
    pub fn estimate_range(&self) -> Option<(f64, f64)> {
        match self {
            Law::Location { centre, .. } => Some((centre.exp_m1(), centre.exp_m1())),
            Law::Biased {
                centre,
                below,
                above,
                ..
            } => Some(((centre - below).exp_m1(), (centre + above).exp_m1())),
            Law::Bootstrap(_) | Law::Signs(_) => None,
        }
    }

    /// The standard error of the estimate on a log scale, for the minimum detectable effect.
    #[must_use]
    pub fn log_standard_error(&self) -> f64 {
        match self {
            Law::Location { scale, .. } | Law::Biased { scale, .. } => *scale,
            Law::Bootstrap(_) | Law::Signs(_) => {
                // The width of the 95% interval over that of a normal one.
                let (lo, hi) = self.interval(0.05);
                if lo <= -1.0 || !hi.is_finite() || hi >= f64::MAX {
                    return f64::INFINITY;
                }
                (hi.ln_1p() - lo.ln_1p()) / (2.0 * 1.959_964)
            }
        }
    }
}

/// The parts of a location law, biased or not: the estimate may be off by up to `below`
/// downwards or `above` upwards, beyond its sampling error.
#[derive(Debug, Clone, Copy)]
struct Shifted {
    centre: f64,
    scale: f64,
    df: f64,
    below: f64,
    above: f64,
}

impl Shifted {
    /// The interval excludes 0 above when `centre - below - t * scale > 0`, below when
    /// `centre + above + t * scale < 0`: the p-value is the smallest miss at which either does.
    fn p_value(self) -> f64 {
        let (low, high) = (self.centre - self.below, self.centre + self.above);
        if self.scale <= 0.0 {
            return if low > 0.0 || high < 0.0 { 0.0 } else { 1.0 };
        }
        if low > 0.0 {
            student_t_two_sided(low / self.scale, self.df)
        } else if high < 0.0 {
            student_t_two_sided(high / self.scale, self.df)
        } else {
            1.0
        }
    }

    fn interval(self, miss: f64) -> (f64, f64) {
        let half = if self.scale > 0.0 {
            self.scale * student_t_quantile(1.0 - miss / 2.0, self.df)
        } else {
            0.0
        };
        (
            (self.centre - self.below - half).exp_m1(),
            (self.centre + self.above + half).exp_m1(),
        )
    }
}

/// `P(Binomial(n, 1/2) <= k)`, summed in log space so that `n` in the thousands stays exact.
fn binomial_half_cdf(n: usize, k: usize) -> f64 {
    if k >= n {
        return 1.0;
    }
    let ln_half_n = n as f64 * std::f64::consts::LN_2;
    let mut ln_choose = 0.0; // ln C(n, 0)
    let mut total = 0.0;
    for i in 0..=k {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        total += (ln_choose - ln_half_n).exp();
    }
    total.min(1.0)
}

/// One side of a trimmed comparison: the estimate of its centre on a log scale, the variance of
/// that estimate, and the degrees of freedom of the variance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Side {
    /// The centre, on a log scale.
    pub centre: f64,
    /// The variance of `centre`.
    pub variance: f64,
    /// Degrees of freedom of `variance` (`f64::INFINITY` for a known bound).
    pub df: f64,
}

/// The share of values trimmed from each end: 20%, the usual choice (Wilcox), which keeps the
/// efficiency of a mean on normal data within a few percent while ignoring up to a fifth of
/// outliers in either tail.
const TRIM: f64 = 0.2;

/// The 20% trimmed mean of sorted log values and the variance of that estimate from the
/// winsorized variance (Tukey and McLaughlin; Yuen): `(n - 1) s_w² / (h (h - 1))` with `h` the
/// values kept, on `h - 1` degrees of freedom. Below 5 values nothing is trimmed and this is the
/// mean with its usual variance. `None` for fewer than 2 values.
///
/// ```
/// use benchkeep_core::inference::trimmed;
/// let side = trimmed(&[1.0, 2.0, 3.0, 4.0, 100.0]).unwrap();
/// assert!((side.centre - 3.0).abs() < 1e-12); // 1 and 100 trimmed
/// assert!((side.df - 2.0).abs() < 1e-12);
/// ```
#[must_use]
pub fn trimmed(sorted: &[f64]) -> Option<Side> {
    let n = sorted.len();
    if n < 2 {
        return None;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let g = (TRIM * n as f64).floor() as usize;
    let h = n - 2 * g;
    let kept = &sorted[g..n - g];
    let centre = kept.iter().sum::<f64>() / h as f64;
    let (low, high) = (sorted[g], sorted[n - 1 - g]);
    let winsorized_mean = (g as f64 * (low + high) + kept.iter().sum::<f64>()) / n as f64;
    let squares = g as f64 * ((low - winsorized_mean).powi(2) + (high - winsorized_mean).powi(2))
        + kept
            .iter()
            .map(|x| (x - winsorized_mean).powi(2))
            .sum::<f64>();
    let winsorized_variance = squares / (n - 1) as f64;
    let (nf, hf) = (n as f64, h as f64);
    Some(Side {
        centre,
        variance: (nf - 1.0) * winsorized_variance / (hf * (hf - 1.0)),
        df: hf - 1.0,
    })
}

/// The law of `current.centre - baseline.centre` with Welch and Satterthwaite's degrees of
/// freedom: Yuen's test for two trimmed sides, Welch's for two reported summaries.
#[must_use]
pub fn welch(baseline: Side, current: Side) -> Law {
    let variance = baseline.variance + current.variance;
    let part = |side: Side| {
        if side.df.is_finite() && side.df > 0.0 {
            side.variance.powi(2) / side.df
        } else {
            0.0
        }
    };
    let denominator = part(baseline) + part(current);
    let df = if denominator > 0.0 {
        variance.powi(2) / denominator
    } else {
        f64::INFINITY
    };
    Law::Location {
        centre: current.centre - baseline.centre,
        scale: variance.max(0.0).sqrt(),
        df,
    }
}

/// The median of sorted log values with a normal standard error from the order statistics
/// around it (McKean and Schrader): `(x_(n-c+1) - x_(c)) / (2 z)` with
/// `c = n/2 - z √n / 2`, `z = 1.96`. Distribution-free, for large samples, where a median's law
/// is close to normal and the exact bootstrap is not tabulated.
#[must_use]
pub fn median_location(sorted_logs: &[f64]) -> Option<Side> {
    let n = sorted_logs.len();
    if n < 20 {
        return None;
    }
    let z = 1.959_964;
    let nf = n as f64;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let c = ((nf / 2.0 - z * nf.sqrt() / 2.0).round().max(1.0) as usize).min(n / 2);
    let se = (sorted_logs[n - c] - sorted_logs[c - 1]) / (2.0 * z);
    Some(Side {
        centre: crate::stats::median_of_sorted(sorted_logs),
        variance: se * se,
        df: f64::INFINITY,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Rng, sorted};

    /// Every law's interval excludes 0 exactly when its p-value is below the miss rate.
    #[test]
    fn intervals_and_p_values_are_dual() {
        let mut rng = Rng::seed_from_u64(8);
        for trial in 0..400 {
            let n = 3 + trial % 40;
            let shift = 0.02 * (rng.unit_f64() - 0.3);
            let logs = sorted(
                &(0..n)
                    .map(|_| shift + 0.03 * (rng.unit_f64() - 0.5))
                    .collect::<Vec<_>>(),
            );
            let side = trimmed(&logs).unwrap();
            let laws = [
                Law::Signs(logs.clone()),
                Law::Location {
                    centre: side.centre,
                    scale: side.variance.sqrt(),
                    df: side.df,
                },
                Law::Biased {
                    centre: side.centre,
                    scale: side.variance.sqrt(),
                    df: side.df,
                    below: 0.004 * f64::from(trial % 3),
                    above: 0.002 * f64::from(trial % 2),
                },
            ];
            for law in &laws {
                let p = law.p_value();
                for miss in [0.001, 0.01, 0.05, 0.2] {
                    let (lo, hi) = law.interval(miss);
                    let excludes = lo > 0.0 || hi < 0.0;
                    // The sign test's p-values are discrete: compare away from exact ties.
                    if (p - miss).abs() > 1e-9 {
                        assert_eq!(
                            excludes,
                            p < miss,
                            "{law:?} miss {miss}: p {p}, ({lo}, {hi})"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn t_quantiles_and_tails_match_tables() {
        // R: qt(0.975, c(1, 4, 30)) = 12.7062, 2.7764, 2.0423; 2 * pt(-3, 4) = 0.03994.
        for (df, want) in [(1.0, 12.706_2), (4.0, 2.776_4), (30.0, 2.042_3)] {
            assert!((student_t_quantile(0.975, df) - want).abs() < 1e-3, "{df}");
        }
        assert!((student_t_two_sided(3.0, 4.0) - 0.039_94).abs() < 1e-4);
        assert!(student_t_two_sided(40.0, 8.0) < 1e-9);
        assert!(student_t_two_sided(40.0, 8.0) > 0.0, "no underflow to zero");
    }

    #[test]
    fn trimmed_statistics_match_wilcox() {
        // x = 1..10, 20% trimmed: mean of 3..8 = 5.5; winsorized 3,3,3,4,...,7,8,8,8 has variance
        // 42.5 / 9; h = 6 kept, so the squared standard error is 9 * (42.5 / 9) / 30 (WRS2's
        // trimse(1:10)^2 = 1.416667).
        let x: Vec<f64> = (1..=10).map(f64::from).collect();
        let side = trimmed(&x).unwrap();
        assert!((side.centre - 5.5).abs() < 1e-12);
        assert!((side.variance - 42.5 / 30.0).abs() < 1e-9, "{side:?}");
        assert!((side.df - 5.0).abs() < 1e-12);
        // Below five values nothing is trimmed: the mean and its variance s² / n.
        let side = trimmed(&[1.0, 2.0, 4.0]).unwrap();
        assert!((side.centre - 7.0 / 3.0).abs() < 1e-12);
        assert!((side.variance - (7.0 / 3.0) / 3.0).abs() < 1e-12);
        assert!(trimmed(&[1.0]).is_none());
    }

    #[test]
    fn the_sign_test_is_exact() {
        // Ten positive ratios of ten: p = 2 / 2^10.
        let logs: Vec<f64> = (1..=10).map(|i| f64::from(i) * 0.01).collect();
        assert!((Law::Signs(logs.clone()).p_value() - 2.0 / 1024.0).abs() < 1e-15);
        // At 95%, n = 10: P(Bin <= 1) = 0.0107 <= 0.025 < P(Bin <= 2) = 0.0547, so the
        // interval runs from the 2nd smallest to the 2nd largest value.
        let (lo, hi) = Law::Signs(logs.clone()).interval(0.05);
        assert!((lo - 0.02f64.exp_m1()).abs() < 1e-12 && (hi - 0.09f64.exp_m1()).abs() < 1e-12);
        assert!((binomial_half_cdf(3000, 1500) - 0.507_3).abs() < 1e-3);
    }
}
