//! The percentile bootstrap of medians, computed exactly.
//!
//! The median of a bootstrap resample of sorted data is the average of two sorted positions whose
//! joint law depends only on the sample size ([`MedianSampler`]), so the bootstrap law of a median
//! is known without drawing a single resample, and the law of the ratio of two independent medians
//! follows by convolution on a log lattice ([`RatioLaw`]). Both the confidence interval at any level
//! and the matching p-value are read off that one law, so they cannot disagree.

use std::collections::HashMap;
use std::sync::Arc;

use crate::stats::{Rng, float_index, median_ranks};

/// Largest sample size for which the median's bootstrap distribution is tabulated exactly.
/// Above it, resamples are drawn directly (their cost is then proportional to the data anyway).
const EXACT_MEDIAN_MAX: usize = 200;

/// The bootstrap law of the median of a sorted sample of size `n`.
///
/// The median of a resample (with replacement) of sorted data is the average of two sorted
/// positions `(i, j)` whose joint law depends only on `n`. For `n <= 200` that law is tabulated
/// exactly once per size, which lets [`ratio_of_medians_ci`] compute the bootstrap interval
/// exactly (as with infinitely many resamples) instead of by Monte Carlo. Tests check the law
/// against full enumeration of every resample.
#[derive(Debug, Clone)]
pub struct MedianSampler {
    n: usize,
    /// `((i, j), probability)`, atoms below 1e-9 dropped (see [`MedianSampler::dropped`]).
    law: Option<Vec<((u32, u32), f64)>>,
    /// The probability the dropped atoms had together: what the law cannot resolve.
    dropped: f64,
}

impl MedianSampler {
    /// A sampler for sorted samples of size `n` (`n > 0`).
    #[must_use]
    pub fn new(n: usize) -> Self {
        let (law, dropped) = if n <= EXACT_MEDIAN_MAX {
            let (law, dropped) = resample_median_law(n);
            (Some(law), dropped)
        } else {
            (None, 0.0)
        };
        MedianSampler { n, law, dropped }
    }

    /// The total probability of the atoms dropped from the tabulated law (each below 1e-9; at
    /// most about 2e-5 for 200 values): tail probabilities smaller than this are not resolved.
    #[must_use]
    pub fn dropped(&self) -> f64 {
        self.dropped
    }

    /// The law bound to positive `sorted` data on a log scale: `(ln median value, probability)`,
    /// in no particular order. Logs of the data are taken once; a midpoint atom's log is
    /// `ln x_i + ln(1 + t)` with `t = (x_j - x_i) / (2 x_i)`, by series when `t` is small.
    fn bind_log_law(&self, sorted: &[f64]) -> Option<Vec<(f64, f64)>> {
        debug_assert_eq!(sorted.len(), self.n);
        let law = self.law.as_ref()?;
        let logs: Vec<f64> = sorted.iter().map(|x| x.ln()).collect();
        Some(
            law.iter()
                .map(|&((i, j), p)| {
                    let (i, j) = (i as usize, j as usize);
                    if i == j {
                        return (logs[i], p);
                    }
                    let t = (sorted[j] - sorted[i]) / (2.0 * sorted[i]);
                    // Five terms leave an error below t^6 / 6 < 2e-13 for t < 0.01.
                    let log1p = if t < 0.01 {
                        t * (1.0 - t * (0.5 - t * (1.0 / 3.0 - t * (0.25 - t * 0.2))))
                    } else {
                        t.ln_1p()
                    };
                    (logs[i] + log1p, p)
                })
                .collect(),
        )
    }

    /// The law bound to `sorted`: `(median value, probability)`, in no particular order.
    #[cfg(test)]
    fn bind_law(&self, sorted: &[f64]) -> Option<Vec<(f64, f64)>> {
        debug_assert_eq!(sorted.len(), self.n);
        let law = self.law.as_ref()?;
        Some(
            law.iter()
                .map(|&((i, j), p)| (f64::midpoint(sorted[i as usize], sorted[j as usize]), p))
                .collect(),
        )
    }
}

/// The median of one ordinary bootstrap resample of sorted data: counts how often each sorted
/// position is drawn and reads the median ranks off the counts.
fn draw_directly(sorted: &[f64], counts: &mut [u32], rng: &mut Rng) -> f64 {
    let n = sorted.len();
    counts.fill(0);
    for _ in 0..n {
        counts[rng.below(n)] += 1;
    }
    let (lo_rank, hi_rank) = median_ranks(n);
    let (mut lo, mut hi, mut seen) = (None, None, 0usize);
    for (index, &count) in counts.iter().enumerate() {
        seen += count as usize;
        if lo.is_none() && seen >= lo_rank {
            lo = Some(index);
        }
        if seen >= hi_rank {
            hi = Some(index);
            break;
        }
    }
    let (lo, hi) = (lo.unwrap_or(n - 1), hi.unwrap_or(n - 1));
    f64::midpoint(sorted[lo], sorted[hi])
}

fn ln_factorials(n: usize) -> Vec<f64> {
    let mut table = Vec::with_capacity(n + 1);
    let mut acc = 0.0;
    table.push(0.0);
    for i in 1..=n {
        acc += (i as f64).ln();
        table.push(acc);
    }
    table
}

/// P(Binomial(n, p) >= k).
fn binomial_upper_tail(n: usize, p: f64, k: usize, ln_fact: &[f64]) -> f64 {
    if k == 0 || p >= 1.0 {
        return 1.0;
    }
    if p <= 0.0 {
        return 0.0;
    }
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    (k..=n)
        .map(|x| {
            (ln_fact[n] - ln_fact[x] - ln_fact[n - x] + x as f64 * lp + (n - x) as f64 * lq).exp()
        })
        .sum::<f64>()
        .min(1.0)
}

/// The (0-based) sorted positions whose average is a resample's median, with their probability.
type MedianAtoms = Vec<((u32, u32), f64)>;

/// The exact joint law of the (0-based) sorted positions whose average is the median of a
/// resample with replacement of `n` sorted values: a list of `((i, j), probability)`.
fn resample_median_law(n: usize) -> (MedianAtoms, f64) {
    let ln_fact = ln_factorials(n);
    let nf = n as f64;
    // P(order statistic of rank k <= position i) = P(Binomial(n, (i+1)/n) >= k).
    let cdf = |k: usize, i: usize| binomial_upper_tail(n, (i + 1) as f64 / nf, k, &ln_fact);
    let marginal = |k: usize, i: usize| {
        let below = if i == 0 { 0.0 } else { cdf(k, i - 1) };
        (cdf(k, i) - below).max(0.0)
    };
    let to_u32 = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
    let mut atoms = Vec::new();
    let (k, k_next) = median_ranks(n);
    if k == k_next {
        for i in 0..n {
            atoms.push(((to_u32(i), to_u32(i)), marginal(k, i)));
        }
    } else {
        // Rank k at position i and rank k+1 at position j > i happens exactly when l < k draws fall
        // below i, k - l fall on i, none strictly between i and j, and at least one on j. The
        // probability factorises as f(i) * g(j); the j == i case takes the rest of the marginal.
        let rest = i32::try_from(n - k).expect("n is at most EXACT_MEDIAN_MAX");
        let g = |j: usize| ((n - j) as f64 / nf).powi(rest) - ((n - j - 1) as f64 / nf).powi(rest);
        for i in 0..n {
            let f: f64 = (0..k)
                .map(|l| {
                    let below = if l == 0 {
                        0.0
                    } else {
                        l as f64 * (i as f64 / nf).ln()
                    };
                    if i == 0 && l > 0 {
                        return 0.0;
                    }
                    (ln_fact[n] - ln_fact[l] - ln_fact[k - l] - ln_fact[n - k] + below
                        - (k - l) as f64 * nf.ln())
                    .exp()
                })
                .sum();
            let beyond = ((n - i - 1) as f64 / nf).powi(rest);
            atoms.push((
                (to_u32(i), to_u32(i)),
                (marginal(k, i) - f * beyond).max(0.0),
            ));
            for j in i + 1..n {
                atoms.push(((to_u32(i), to_u32(j)), f * g(j)));
            }
        }
    }
    // Atoms below 1e-9 weigh at most about 2e-5 together (at most ~20,000 atoms): they cannot
    // move an interval that misses with more than that, and dropping them halves the work per
    // comparison. Their mass is returned, so p-values are never claimed below it.
    let before: f64 = atoms.iter().map(|&(_, p)| p).sum();
    atoms.retain(|&(_, p)| p > 1e-9);
    let total: f64 = atoms.iter().map(|&(_, p)| p).sum();
    for atom in &mut atoms {
        atom.1 /= total;
    }
    (atoms, (before - total).max(0.0))
}

/// Reusable [`MedianSampler`]s, one per sample size.
#[derive(Debug, Default, Clone)]
pub struct SamplerCache {
    samplers: HashMap<usize, Arc<MedianSampler>>,
}

impl SamplerCache {
    /// The sampler for size `n`, built on first use.
    pub fn get(&mut self, n: usize) -> Arc<MedianSampler> {
        Arc::clone(
            self.samplers
                .entry(n)
                .or_insert_with(|| Arc::new(MedianSampler::new(n))),
        )
    }

    /// The sampler for size `n` without inserting: shared caches are filled before workers start,
    /// so a miss only builds a private one.
    #[must_use]
    pub fn lookup(&self, n: usize) -> Arc<MedianSampler> {
        self.samplers
            .get(&n)
            .map_or_else(|| Arc::new(MedianSampler::new(n)), Arc::clone)
    }
}

/// Steps of the log lattice on which [`ratio_of_medians_ci`] combines the two medians' laws.
const LATTICE_STEPS: usize = 128;

/// The percentile-bootstrap law of `median(current) / median(baseline)`, resampling each
/// (sorted, non-negative) side independently, from which intervals at any level and the matching
/// p-value are read ([`RatioLaw::interval`], [`RatioLaw::p_value`]).
///
/// For samples of at most 200 with positive values, nothing is resampled at random: each
/// median's bootstrap law is known exactly (see [`MedianSampler`]), the two laws are placed on a
/// common logarithmic lattice of 128 steps spanning the wider of them, and the law of
/// `log(C / B)` is their exact convolution there. The only approximation is the lattice:
/// quantiles are within one step (1/127 of the wider median law's range; usually finer than the
/// scatter of a 2,000-resample Monte Carlo interval, though an outlier widens the range), and the
/// result is deterministic. `resamples` and `rng` serve larger samples, or samples containing
/// zeros, where resamples are drawn directly.
#[must_use]
pub fn ratio_of_medians_law(
    baseline: (&[f64], &MedianSampler),
    current: (&[f64], &MedianSampler),
    resamples: usize,
    rng: &mut Rng,
) -> RatioLaw {
    let positive = |sorted: &[f64]| sorted.first().is_some_and(|&x| x > 0.0);
    if positive(baseline.0)
        && positive(current.0)
        && let (Some(base), Some(cur)) = (
            baseline.1.bind_log_law(baseline.0),
            current.1.bind_log_law(current.0),
        )
    {
        let mut lattice = Lattice::new(&base, &cur);
        lattice.unresolved = baseline.1.dropped() + current.1.dropped();
        return RatioLaw::Lattice(lattice);
    }
    RatioLaw::Resampled(monte_carlo_ratios(baseline.0, current.0, resamples, rng))
}

/// A percentile-bootstrap confidence interval for `median(current) / median(baseline)` at
/// `confidence`: [`ratio_of_medians_law`]'s interval.
#[must_use]
pub fn ratio_of_medians_ci(
    baseline: (&[f64], &MedianSampler),
    current: (&[f64], &MedianSampler),
    resamples: usize,
    confidence: f64,
    rng: &mut Rng,
) -> (f64, f64) {
    ratio_of_medians_law(baseline, current, resamples, rng).interval(1.0 - confidence)
}

/// The bootstrap law of a ratio of two medians.
#[derive(Debug, Clone, PartialEq)]
pub enum RatioLaw {
    /// Exact, on a log lattice.
    Lattice(Lattice),
    /// Monte Carlo: every resampled ratio, ascending (infinite where a resampled baseline
    /// median is zero).
    Resampled(Vec<f64>),
}

impl RatioLaw {
    /// The percentile interval of the ratio that misses with probability `miss` (0.05 for a 95%
    /// interval), half in each tail.
    #[must_use]
    pub fn interval(&self, miss: f64) -> (f64, f64) {
        let tail = miss / 2.0;
        match self {
            RatioLaw::Lattice(lattice) => (
                lattice.ratio_at(lattice.quantile_point(tail)),
                lattice.ratio_at(lattice.quantile_point(1.0 - tail)),
            ),
            RatioLaw::Resampled(ratios) => (
                empirical_quantile(ratios, tail),
                empirical_quantile(ratios, 1.0 - tail),
            ),
        }
    }

    /// The two-sided bootstrap p-value of "no change": twice the smaller of the probabilities
    /// the law puts at or below a ratio of 1 and at or above it. Dual to [`RatioLaw::interval`]:
    /// the interval that misses with probability `miss` excludes 1 exactly when the p-value is
    /// below `miss` (up to ties at the boundary, which the comparison resolves by the interval).
    #[must_use]
    pub fn p_value(&self) -> f64 {
        // The resolution of each law: the lattice's tabulated laws dropped atoms (their mass is
        // known), and B resamples cannot tell a probability below 1 / (B + 1) from zero. A
        // p-value of exactly 0 would claim more than either knows.
        let (below, above, floor) = match self {
            RatioLaw::Lattice(lattice) => {
                let (below, above) = lattice.tails_at_one();
                (below, above, lattice.unresolved.max(1e-12))
            }
            RatioLaw::Resampled(ratios) => {
                let total = ratios.len().max(1) as f64;
                let at_or_below = ratios.partition_point(|&r| r <= 1.0) as f64;
                let below = ratios.partition_point(|&r| r < 1.0) as f64;
                (
                    at_or_below / total,
                    (total - below) / total,
                    1.0 / (total + 1.0),
                )
            }
        };
        (2.0 * below.min(above)).clamp(floor, 1.0)
    }
}

/// The smallest value whose empirical cumulative probability reaches `q` (type 1 quantile).
fn empirical_quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = float_index((q * sorted.len() as f64 - 1e-9).ceil()).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// The exact law of `ln(C / B)` for independent `ln B` and `ln C`, binned on a common lattice.
#[derive(Debug, Clone, PartialEq)]
pub struct Lattice {
    /// The lattice step, in log units.
    step: f64,
    /// `ln(C / B)` at point `offset`: the difference of the two laws' lowest values.
    origin: f64,
    /// Histogram of `ln B`.
    base: Vec<f64>,
    /// Cumulative histogram of `ln C`.
    cumulative_current: Vec<f64>,
    /// `suffix_base[k]`: the mass of `B` at bins `k` and above.
    suffix_base: Vec<f64>,
    /// `base.len() - 1`: point `d` stands for `origin + (d - offset) * step`.
    offset: usize,
    /// Number of lattice points of the difference.
    points: usize,
    /// Probability the two tabulated median laws dropped: tails below it are not resolved.
    unresolved: f64,
}

impl Lattice {
    /// Bins the two log laws (`(ln value, probability)`) on a common lattice of 128 steps spanning
    /// the wider of them.
    fn new(base_log: &[(f64, f64)], cur_log: &[(f64, f64)]) -> Self {
        let bounds = |law: &[(f64, f64)]| {
            law.iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(v, _)| {
                    (lo.min(v), hi.max(v))
                })
        };
        let (base_lo, base_hi) = bounds(base_log);
        let (cur_lo, cur_hi) = bounds(cur_log);
        let width = (base_hi - base_lo).max(cur_hi - cur_lo);
        // Zero width means both medians are certain (NaN cannot occur: positive, finite inputs):
        // one point, with any positive step.
        let step = if width > 0.0 {
            width / (LATTICE_STEPS - 1) as f64
        } else {
            1.0
        };
        // Positions are non-negative, so adding one half and truncating rounds to nearest (and is
        // much cheaper than `f64::round`, a library call here).
        let nearest = |position: f64| float_index(position + 0.5);
        let histogram = |logged: &[(f64, f64)], lo: f64, hi: f64| {
            let mut bins = vec![0.0; nearest((hi - lo) / step) + 1];
            let last = bins.len() - 1;
            for &(value, p) in logged {
                bins[nearest((value - lo) / step).min(last)] += p;
            }
            bins
        };
        let base = histogram(base_log, base_lo, base_hi);
        let current = histogram(cur_log, cur_lo, cur_hi);
        let cumulative_current: Vec<f64> = current
            .iter()
            .scan(0.0, |sum, &p| {
                *sum += p;
                Some(*sum)
            })
            .collect();
        let mut suffix_base = vec![0.0; base.len() + 1];
        for k in (0..base.len()).rev() {
            suffix_base[k] = suffix_base[k + 1] + base[k];
        }
        Lattice {
            step,
            origin: cur_lo - base_lo,
            offset: base.len() - 1,
            points: base.len() + current.len() - 1,
            base,
            cumulative_current,
            suffix_base,
            unresolved: 0.0,
        }
    }

    /// `P(D <= d)` at lattice point `d`, where `ln(C / B) = origin + (kc - kb) * step` and
    /// `d = kc - kb + offset`: the sum over `kb` of `P(B at kb) * P(C at or below d + kb - offset)`,
    /// one dot product.
    fn cdf_at(&self, d: usize) -> f64 {
        let (hb, offset) = (&self.base, self.offset);
        // kc = d + kb - offset: below 0 contributes nothing, at or past |hc| contributes hb[kb].
        let kb_from = offset.saturating_sub(d);
        let kb_full = (offset + self.cumulative_current.len())
            .saturating_sub(d)
            .min(hb.len());
        let partial = if kb_from < kb_full {
            dot(
                &hb[kb_from..kb_full],
                &self.cumulative_current[d + kb_from - offset..],
            )
        } else {
            0.0
        };
        partial + self.suffix_base[kb_full.max(kb_from)]
    }

    /// The smallest point `d` with `P(D <= d) >= q`, by binary search; the last point always
    /// qualifies.
    fn quantile_point(&self, q: f64) -> usize {
        let (mut lo, mut hi) = (0usize, self.points - 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.cdf_at(mid) >= q - 1e-12 {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    }

    fn log_ratio_at(&self, d: usize) -> f64 {
        self.origin + (d as f64 - self.offset as f64) * self.step
    }

    fn ratio_at(&self, d: usize) -> f64 {
        self.log_ratio_at(d).exp()
    }

    /// `(P(ratio <= 1), P(ratio >= 1))` on the lattice.
    fn tails_at_one(&self) -> (f64, f64) {
        // Points whose log ratio is at most 0 are those up to `zero`; strictly below 0 those
        // below `zero` when it is a lattice point itself.
        let zero = self.offset as f64 - self.origin / self.step;
        let last = self.points - 1;
        let at_or_below = if zero < 0.0 {
            0.0
        } else {
            self.cdf_at(float_index(zero.floor()).min(last))
        };
        let strictly_below = if zero <= 0.0 {
            0.0
        } else {
            let point = zero.ceil() - 1.0;
            self.cdf_at(float_index(point).min(last))
        };
        (at_or_below.min(1.0), (1.0 - strictly_below).max(0.0))
    }
}

/// The dot product of `a` with the first `a.len()` values of `b`, with four accumulators so the
/// additions need not wait on each other (a fixed order, so results stay deterministic).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let b = &b[..a.len()];
    let mut sums = [0.0; 4];
    let (a_chunks, b_chunks) = (a.chunks_exact(4), b.chunks_exact(4));
    let (a_rest, b_rest) = (a_chunks.remainder(), b_chunks.remainder());
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..4 {
            sums[lane] += x[lane] * y[lane];
        }
    }
    let rest: f64 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    (sums[0] + sums[1]) + (sums[2] + sums[3]) + rest
}

/// `P(C / B <= r)` for independent discrete `B` and `C` given as ascending `(value, probability)`.
/// The exact reference the lattice is tested against.
#[cfg(test)]
fn ratio_cdf(base: &[(f64, f64)], cur: &[(f64, f64)], r: f64) -> f64 {
    // As `b` ascends so does `r * b`, so the position in `cur` only moves forward.
    let (mut j, mut below, mut total) = (0usize, 0.0, 0.0);
    for &(b, pb) in base {
        let limit = r * b;
        while let Some(&(c, pc)) = cur.get(j)
            && c <= limit
        {
            below += pc;
            j += 1;
        }
        total += pb * below;
    }
    total
}

/// The `q`-quantile of `C / B`: the smallest ratio `r` with `P(C / B <= r) >= q`, to a relative
/// precision of 1e-6 (reports show 0.1%); base values must be positive.
///
/// The exact reference the lattice is tested against. Illinois false position on the cumulative distribution, which is a fine staircase, usually
/// needs under ten evaluations where bisection needs thirty; every step still shrinks the bracket
/// by at least 5% of its width, so it never stalls on a flat stretch.
#[cfg(test)]
fn ratio_quantile(base: &[(f64, f64)], cur: &[(f64, f64)], q: f64) -> f64 {
    let (Some(&(b_min, _)), Some(&(b_max, _))) = (base.first(), base.last()) else {
        return f64::NAN;
    };
    let (Some(&(c_min, _)), Some(&(c_max, _))) = (cur.first(), cur.last()) else {
        return f64::NAN;
    };
    // Invariant: cdf(hi) >= q > cdf(lo); the answer lies in (lo, hi]. Start from a bracket built
    // from each side's own quantiles (tight, because the medians' laws are concentrated) and fall
    // back to the range of all ratios where it does not hold.
    let (mut lo, mut hi) = (c_min / b_max, c_max / b_min);
    let mut f_lo = ratio_cdf(base, cur, lo) - q;
    if f_lo >= 0.0 {
        return lo;
    }
    let mut f_hi = 1.0 - q;
    for (c_level, b_level) in [(q * 0.5, 1.0 - q * 0.5), ((1.0 + q) * 0.5, (1.0 - q) * 0.5)] {
        let guess = law_quantile(cur, c_level.clamp(0.0, 1.0))
            / law_quantile(base, b_level.clamp(0.0, 1.0));
        if guess.is_finite() && guess > lo && guess < hi {
            let f = ratio_cdf(base, cur, guess) - q;
            if f >= 0.0 {
                (hi, f_hi) = (guess, f);
            } else {
                (lo, f_lo) = (guess, f);
            }
        }
    }

    let mut last_moved = 0i8; // -1: lo moved last, +1: hi moved last
    for _ in 0..200 {
        let width = hi - lo;
        if width <= 1e-6 * hi {
            break;
        }
        let secant = lo - f_lo * width / (f_hi - f_lo);
        let mid = secant.clamp(lo + 0.05 * width, hi - 0.05 * width);
        let f_mid = ratio_cdf(base, cur, mid) - q;
        if f_mid >= 0.0 {
            hi = mid;
            f_hi = f_mid;
            if last_moved == 1 {
                f_lo *= 0.5; // Illinois: stop the stale endpoint from pinning the secant
            }
            last_moved = 1;
        } else {
            lo = mid;
            f_lo = f_mid;
            if last_moved == -1 {
                f_hi *= 0.5;
            }
            last_moved = -1;
        }
    }
    hi
}

/// The smallest value of an ascending `(value, probability)` law whose cumulative probability
/// reaches `level`.
#[cfg(test)]
fn law_quantile(law: &[(f64, f64)], level: f64) -> f64 {
    let mut cumulative = 0.0;
    for &(value, p) in law {
        cumulative += p;
        if cumulative >= level {
            return value;
        }
    }
    law.last().map_or(f64::NAN, |&(value, _)| value)
}

/// Every Monte Carlo resampled ratio of medians, ascending, drawing each resample's median
/// directly. Samples are non-negative (callers check), so a ratio is non-negative or infinite (a
/// zero baseline median); both medians zero count as a ratio of 1.
fn monte_carlo_ratios(
    baseline: &[f64],
    current: &[f64],
    resamples: usize,
    rng: &mut Rng,
) -> Vec<f64> {
    let (mut base_counts, mut cur_counts) = (vec![0; baseline.len()], vec![0; current.len()]);
    let mut ratios: Vec<f64> = (0..resamples.max(1))
        .map(|_| {
            let b = draw_directly(baseline, &mut base_counts, rng);
            let c = draw_directly(current, &mut cur_counts, rng);
            // Both medians zero (0 / 0): no evidence either way, a ratio of 1. (NaN would
            // sort by its sign bit, first or last, and break the partition the p-value reads.)
            if b == 0.0 && c == 0.0 { 1.0 } else { c / b }
        })
        .collect();
    ratios.sort_unstable_by(f64::total_cmp);
    ratios
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::sorted;

    /// Enumerates every resample of `n` positions (n^n of them) and tallies the median positions.
    fn enumerate_law(n: usize) -> HashMap<(u32, u32), f64> {
        let total = n.pow(u32::try_from(n).unwrap());
        let (lo_rank, hi_rank) = median_ranks(n);
        let mut law = HashMap::new();
        for code in 0..total {
            let mut draw: Vec<usize> = (0..n)
                .map(|d| code / n.pow(u32::try_from(d).unwrap()) % n)
                .collect();
            draw.sort_unstable();
            let key = (
                u32::try_from(draw[lo_rank - 1]).unwrap(),
                u32::try_from(draw[hi_rank - 1]).unwrap(),
            );
            *law.entry(key).or_insert(0.0) += 1.0 / total as f64;
        }
        law
    }

    #[test]
    fn tabulated_median_law_matches_full_enumeration() {
        for n in 1..=7 {
            let exact = enumerate_law(n);
            let table: HashMap<_, _> = resample_median_law(n).0.into_iter().collect();
            for (atom, p) in &exact {
                let got = table.get(atom).copied().unwrap_or(0.0);
                assert!((got - p).abs() < 1e-12, "n={n} atom={atom:?}: {got} vs {p}");
            }
            assert!(table.keys().all(|a| exact.contains_key(a)), "n={n}");
        }
    }

    #[test]
    fn exact_interval_matches_monte_carlo_with_many_resamples() {
        // Odd and even sizes, skewed data with ties: the exact bootstrap interval must agree with
        // plain resampling (direct draws, 200,000 resamples) to Monte Carlo precision.
        let mut rng = Rng::seed_from_u64(11);
        for (n, m) in [(15, 15), (30, 30), (12, 31), (50, 8)] {
            let base = sorted(
                &(0..n)
                    .map(|_| 100.0 + (20.0 * rng.unit_f64()).powi(2).round())
                    .collect::<Vec<_>>(),
            );
            let cur = sorted(
                &(0..m)
                    .map(|_| 104.0 + (20.0 * rng.unit_f64()).powi(2).round())
                    .collect::<Vec<_>>(),
            );
            let (bs, cs) = (MedianSampler::new(n), MedianSampler::new(m));
            let exact = ratio_of_medians_ci((&base, &bs), (&cur, &cs), 0, 0.95, &mut rng);
            let monte_carlo =
                RatioLaw::Resampled(monte_carlo_ratios(&base, &cur, 200_000, &mut rng))
                    .interval(0.05);
            for (e, mc) in [(exact.0, monte_carlo.0), (exact.1, monte_carlo.1)] {
                assert!(
                    (e / mc - 1.0).abs() < 0.01,
                    "n={n} m={m}: exact {exact:?} vs Monte Carlo {monte_carlo:?}"
                );
            }
        }
    }

    #[test]
    fn the_lattice_interval_is_within_one_step_of_the_exact_one() {
        let mut rng = Rng::seed_from_u64(21);
        for (n, m, spread) in [
            (10, 10, 0.01),
            (30, 30, 0.02),
            (31, 29, 0.3),
            (200, 7, 2.0),
            (5, 60, 0.001),
        ] {
            let draw = |rng: &mut Rng, center: f64, k: usize| {
                sorted(
                    &(0..k)
                        .map(|_| center * (1.0 + spread * rng.unit_f64()))
                        .collect::<Vec<_>>(),
                )
            };
            let (base, cur) = (draw(&mut rng, 100.0, n), draw(&mut rng, 107.0, m));
            let (bs, cs) = (MedianSampler::new(n), MedianSampler::new(m));
            let logs = bs.bind_log_law(&base).unwrap();
            let direct = bs.bind_law(&base).unwrap();
            for ((log, p), (value, q)) in logs.iter().zip(&direct) {
                assert!(
                    (log - value.ln()).abs() < 1e-12 && (p - q).abs() < 1e-15,
                    "log law differs from the law"
                );
            }
            let (mut bl, mut cl) = (bs.bind_law(&base).unwrap(), cs.bind_law(&cur).unwrap());
            bl.sort_by(|a, b| a.0.total_cmp(&b.0));
            cl.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (lo, hi) = ratio_of_medians_ci((&base, &bs), (&cur, &cs), 0, 0.95, &mut rng);
            let (exact_lo, exact_hi) = (
                ratio_quantile(&bl, &cl, 0.025),
                ratio_quantile(&bl, &cl, 0.975),
            );
            // One lattice step, in log space: 1/127 of the wider law's log range.
            let range = |law: &[(f64, f64)]| law.last().unwrap().0.ln() - law[0].0.ln();
            let step = range(&bl).max(range(&cl)) / 127.0;
            for (got, want) in [(lo, exact_lo), (hi, exact_hi)] {
                assert!(
                    (got.ln() - want.ln()).abs() <= step * 1.01 + 1e-12,
                    "n={n} m={m}: lattice {got} vs exact {want} (step {step})"
                );
            }
        }
    }

    #[test]
    fn the_exact_quantile_is_an_attained_ratio() {
        // With one atom per side the ratio is certain.
        let (base, cur) = ([(2.0, 1.0)], [(3.0, 1.0)]);
        assert!((ratio_quantile(&base, &cur, 0.025) - 1.5).abs() < 1e-6);
        assert!((ratio_quantile(&base, &cur, 0.975) - 1.5).abs() < 1e-6);
        // Two equally likely values on one side: the median ratio sits at the lower one.
        let cur = [(3.0, 0.5), (5.0, 0.5)];
        assert!((ratio_quantile(&base, &cur, 0.5) - 1.5).abs() < 1e-6);
        assert!((ratio_quantile(&base, &cur, 0.51) - 2.5).abs() < 1e-6);
    }

    #[test]
    fn dot_product_matches_the_plain_sum() {
        for len in [0usize, 1, 3, 4, 5, 17] {
            let a: Vec<f64> = (0..len).map(|i| i as f64 + 0.5).collect();
            let b: Vec<f64> = (0..len + 2).map(|i| 2.0 * i as f64).collect();
            let plain: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-9, "len {len}");
        }
    }

    #[test]
    fn ratio_interval_covers_a_known_shift() {
        let base: Vec<f64> = (0..30).map(|i| 100.0 + f64::from(i) * 0.1).collect();
        let cur: Vec<f64> = base.iter().map(|x| x * 1.10).collect();
        let mut cache = SamplerCache::default();
        let s = cache.get(30);
        let mut rng = Rng::seed_from_u64(1);
        let (lo, hi) = ratio_of_medians_ci((&base, &s), (&cur, &s), 2000, 0.95, &mut rng);
        assert!(
            lo < 1.10 && 1.10 < hi && lo > 1.08 && hi < 1.12,
            "{lo} {hi}"
        );
    }

    /// Resamples whose medians are both zero (samples with many zeros, such as system time) are a
    /// ratio of 1, not NaN: NaN would sort by its sign bit and break the partition the p-value is
    /// read from.
    #[test]
    fn zero_medians_on_both_sides_are_no_evidence_not_nan() {
        let mut side = vec![0.0; 9];
        side.extend((1..=12).map(f64::from));
        let sorted_side = sorted(&side);
        let mut rng = Rng::seed_from_u64(2);
        let ratios = monte_carlo_ratios(&sorted_side, &sorted_side, 4000, &mut rng);
        assert!(ratios.iter().all(|r| !r.is_nan()));
        assert!(ratios.windows(2).all(|w| w[0] <= w[1]), "sorted");
        let law = RatioLaw::Resampled(ratios);
        let p = law.p_value();
        assert!(p > 0.5, "identical sides: {p}");
        let (lo, hi) = law.interval(0.05);
        assert!(lo <= 1.0 && hi >= 1.0, "({lo}, {hi})");
    }
}
