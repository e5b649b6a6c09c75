//! Small samples borrow strength from each other: empirical Bayes moderation of variances
//! (Smyth, 2004, the method of limma).
//!
//! With 3 repetitions a side, a benchmark's variance rests on 2 degrees of freedom and is itself
//! wildly uncertain, so Student's t needs a huge margin (`t(0.975, 2) = 4.3`) and a real 20%
//! slowdown of a 4%-noisy benchmark is missed more often than not. A suite measures many
//! benchmarks on one machine with one harness, and their variances are alike: a prior
//! distribution of variances, estimated from all of them (`s0²` with `d0` degrees of freedom: the
//! scaled inverse chi-square that fits the observed log variances), turns each benchmark's own
//! `s²` on `d` degrees of freedom into the posterior `(d0 s0² + d s²) / (d0 + d)` on `d0 + d`
//! degrees of freedom. When the benchmarks' variances differ more than sampling explains, `d0`
//! comes out small and little is borrowed; when they are alike, much is. The moderated t has an
//! exact t law with `d0 + d` degrees of freedom under that model, so calibration is kept
//! (tested in `tests/verdicts.rs` with heterogeneous noise).
//!
//! ```
//! use benchkeep_core::moderation::Prior;
//! // Ten benchmarks whose variances scatter as 2-degree-of-freedom estimates of one variance.
//! let sides: Vec<(f64, f64)> = [0.3, 1.7, 0.9, 1.2, 0.5, 2.1, 0.8, 1.0, 0.6, 1.4]
//!     .iter()
//!     .map(|&v| (v * 1e-4, 2.0))
//!     .collect();
//! let prior = Prior::estimate(&sides).unwrap();
//! let (variance, df) = prior.moderate(2.1e-4, 2.0);
//! assert!(variance < 2.1e-4 && df > 2.0);
//! ```

use statrs::function::gamma::digamma;

/// Fewest variance estimates a prior is estimated from: with fewer, the spread of their logs says
/// too little about the prior's degrees of freedom.
pub const MIN_ESTIMATES: usize = 8;

/// The prior distribution of variances: a scaled inverse chi-square with `df` degrees of freedom
/// and scale `variance`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prior {
    /// Prior degrees of freedom (`f64::INFINITY`: every variance is the same).
    pub df: f64,
    /// Prior variance.
    pub variance: f64,
}

impl Prior {
    /// Fits the prior to variance estimates `(s², degrees of freedom)` by the method of moments
    /// on their logs (limma's `fitFDist`). `None` with fewer than [`MIN_ESTIMATES`] usable
    /// estimates (positive, finite, with positive degrees of freedom).
    #[must_use]
    pub fn estimate(estimates: &[(f64, f64)]) -> Option<Prior> {
        let usable: Vec<(f64, f64)> = estimates
            .iter()
            .copied()
            .filter(|&(v, d)| v.is_finite() && v > 0.0 && d.is_finite() && d > 0.0)
            .collect();
        if usable.len() < MIN_ESTIMATES {
            return None;
        }
        let g = usable.len() as f64;
        // e = ln s² - digamma(d/2) + ln(d/2) has mean ln s0² + digamma(d0/2) - ln(d0/2) and
        // variance trigamma(d/2) + trigamma(d0/2).
        let e: Vec<f64> = usable
            .iter()
            .map(|&(v, d)| v.ln() - digamma(d / 2.0) + (d / 2.0).ln())
            .collect();
        let mean = e.iter().sum::<f64>() / g;
        let spread = e.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (g - 1.0)
            - usable.iter().map(|&(_, d)| trigamma(d / 2.0)).sum::<f64>() / g;
        if spread > 0.0 {
            let df = 2.0 * trigamma_inverse(spread);
            Some(Prior {
                df,
                variance: (mean + digamma(df / 2.0) - (df / 2.0).ln()).exp(),
            })
        } else {
            Some(Prior {
                df: f64::INFINITY,
                variance: mean.exp(),
            })
        }
    }

    /// The posterior variance and its degrees of freedom for an estimate `variance` on `df`
    /// degrees of freedom.
    #[must_use]
    pub fn moderate(&self, variance: f64, df: f64) -> (f64, f64) {
        if self.df.is_infinite() {
            return (self.variance, f64::INFINITY);
        }
        (
            (self.df * self.variance + df * variance) / (self.df + df),
            self.df + df,
        )
    }
}

/// The trigamma function, by the recurrence up to 6 and the asymptotic series beyond (error
/// below 1e-10 for positive arguments).
#[must_use]
pub fn trigamma(x: f64) -> f64 {
    let (mut x, mut sum) = (x, 0.0);
    while x < 6.0 {
        sum += 1.0 / (x * x);
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    sum + inv
        + inv2 / 2.0
        + inv * inv2 * (1.0 / 6.0 - inv2 * (1.0 / 30.0 - inv2 * (1.0 / 42.0 - inv2 / 30.0)))
}

/// The derivative of [`trigamma`] (tetragamma), likewise.
fn tetragamma(x: f64) -> f64 {
    let (mut x, mut sum) = (x, 0.0);
    while x < 6.0 {
        sum -= 2.0 / (x * x * x);
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    sum - inv2
        - inv * inv2
        - inv2 * inv2 * (0.5 - inv2 * (1.0 / 6.0 - inv2 * (1.0 / 6.0 - inv2 * 0.3)))
}

/// The `y` with `trigamma(y) = x`, by Newton's method on `1 / trigamma` (limma's
/// `trigammaInverse`), which converges from its starting point without overshooting.
fn trigamma_inverse(x: f64) -> f64 {
    if x > 1e7 {
        return 1.0 / x.sqrt();
    }
    if x < 1e-6 {
        return 1.0 / x;
    }
    let mut y = 0.5 + 1.0 / x;
    for _ in 0..50 {
        let tri = trigamma(y);
        let step = tri * (1.0 - tri / x) / tetragamma(y);
        y += step;
        if -step / y < 1e-8 {
            break;
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Rng;

    #[test]
    fn polygamma_values_match_tables() {
        // trigamma(1) = pi^2 / 6, trigamma(0.5) = pi^2 / 2, tetragamma(1) = -2 zeta(3).
        let pi2 = std::f64::consts::PI.powi(2);
        assert!((trigamma(1.0) - pi2 / 6.0).abs() < 1e-9);
        assert!((trigamma(0.5) - pi2 / 2.0).abs() < 1e-9);
        assert!((tetragamma(1.0) + 2.0 * 1.202_056_903_159_594).abs() < 1e-9);
        for y in [0.3, 1.0, 4.0, 25.0] {
            assert!((trigamma_inverse(trigamma(y)) - y).abs() < 1e-6 * y, "{y}");
        }
    }

    /// Variances drawn as `s0² · chi²(d) / d` around a prior of `d0` degrees of freedom are
    /// fitted back to about those values.
    #[test]
    fn the_prior_is_recovered_from_simulated_variances() {
        let mut rng = Rng::seed_from_u64(3);
        let normal = |rng: &mut Rng| {
            let u = rng.unit_f64().max(1e-300);
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * rng.unit_f64()).cos()
        };
        let chi2 = |rng: &mut Rng, k: usize| (0..k).map(|_| normal(rng).powi(2)).sum::<f64>();
        let (d0, s0) = (8.0, 2e-4);
        let estimates: Vec<(f64, f64)> = (0..4000)
            .map(|_| {
                // A benchmark's true variance from the prior, then its 2-df estimate.
                let true_variance = s0 * d0 / chi2(&mut rng, 8);
                (true_variance * chi2(&mut rng, 2) / 2.0, 2.0)
            })
            .collect();
        let prior = Prior::estimate(&estimates).unwrap();
        assert!((prior.df - d0).abs() < 2.5, "{prior:?}");
        assert!((prior.variance / s0 - 1.0).abs() < 0.15, "{prior:?}");
        assert!(Prior::estimate(&estimates[..MIN_ESTIMATES - 1]).is_none());
    }
}
