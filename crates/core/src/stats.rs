//! Statistics for comparisons: medians, the Mann-Whitney U test, and a seeded bootstrap
//! confidence interval for the ratio of two medians.
//!
//! Everything here is deterministic: randomness comes from [`Rng`], seeded by the caller.

use std::collections::HashMap;
use std::sync::Arc;

/// A small, fast, seedable random number generator (xoshiro256++ seeded through splitmix64).
///
/// Kept in-tree on purpose: a stored seed must reproduce the same verdict after a dependency
/// upgrade, and general-purpose RNG crates do not promise a stable stream across versions.
#[derive(Debug, Clone)]
pub struct Rng {
    state: [u64; 4],
}

impl Rng {
    /// A generator whose stream is fully determined by `seed`.
    #[must_use]
    pub fn seed_from_u64(seed: u64) -> Self {
        let mut sm = seed;
        let mut next = || {
            sm = sm.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = sm;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Rng {
            state: [next(), next(), next(), next()],
        }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform integer in `0..n` (`n > 0`), by multiply-shift. The bias is below `n / 2^64`,
    /// far under anything a bootstrap of at most millions of draws could notice.
    pub fn below(&mut self, n: usize) -> usize {
        let wide = u128::from(self.next_u64()) * n as u128;
        // The high half of a 64x64 product is below `n`, so it fits.
        usize::try_from(wide >> 64).unwrap_or(0)
    }

    /// A uniform float in `[0, 1)`.
    pub fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Converts a non-negative, already-rounded float index to `usize` (negative and NaN become 0,
/// too-large values saturate), the one place where float positions become array indices.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn float_index(x: f64) -> usize {
    x.max(0.0) as usize
}

/// Sorts a copy of `samples` (NaN last; callers reject NaN before).
#[must_use]
pub fn sorted(samples: &[f64]) -> Vec<f64> {
    let mut v = samples.to_vec();
    v.sort_unstable_by(f64::total_cmp);
    v
}

/// The median of sorted data (the mean of the two middle values for an even count).
#[must_use]
pub fn median_of_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => f64::midpoint(sorted[n / 2 - 1], sorted[n / 2]),
    }
}

/// The median of unsorted data (NaN for none): [`median_of_sorted`] of a sorted copy.
#[must_use]
pub fn median(samples: &[f64]) -> f64 {
    median_of_sorted(&sorted(samples))
}

/// The `q`-quantile of sorted data by linear interpolation (type 7, as R and numpy default).
#[must_use]
pub fn quantile_of_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor();
    let frac = pos - lo;
    let lo = float_index(lo);
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

/// The median absolute deviation of sorted data, unscaled.
///
/// No sorting: below the median the deviations grow as the index falls, above it as the index
/// rises, so walking outwards from the middle and always taking the smaller of the two next
/// deviations visits them in ascending order.
#[must_use]
pub fn mad_of_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let m = median_of_sorted(sorted);
    // Indices of the next deviation on each side; `down` counts down from the middle.
    let mut up = n / 2;
    let mut down = n / 2; // one past the next index below
    let mut next = || {
        let above = sorted.get(up).map(|x| x - m);
        let below = down.checked_sub(1).map(|i| m - sorted[i]);
        match (below, above) {
            (Some(b), Some(a)) if b <= a => {
                down -= 1;
                b
            }
            (_, Some(a)) => {
                up += 1;
                a
            }
            (Some(b), None) => {
                down -= 1;
                b
            }
            (None, None) => f64::NAN,
        }
    };
    // The median of the n deviations: ranks (n+1)/2, or n/2 and n/2 + 1.
    let (lo_rank, hi_rank) = median_ranks(n);
    let mut value = f64::NAN;
    for _ in 0..lo_rank {
        value = next();
    }
    if hi_rank == lo_rank {
        value
    } else {
        f64::midpoint(value, next())
    }
}

/// The result of a two-sided Mann-Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankTest {
    /// U statistic of the first sample.
    pub u: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Whether the p-value comes from the exact null distribution (small samples, no ties)
    /// rather than the tie-corrected normal approximation.
    pub exact: bool,
}

/// Benjamini-Hochberg adjusted p-values ("q-values"), in the order given.
///
/// Declaring every test with an adjusted value below `q` significant keeps the expected share of
/// false discoveries among them at most `q` (for independent or positively dependent tests).
/// NaN p-values count as 1.
#[must_use]
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    let p = |i: usize| {
        if p_values[i].is_nan() {
            1.0
        } else {
            p_values[i]
        }
    };
    order.sort_unstable_by(|&a, &b| p(a).total_cmp(&p(b)));
    let mut adjusted = vec![1.0; m];
    let mut running_min = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        running_min = running_min.min(p(i) * m as f64 / (rank + 1) as f64);
        adjusted[i] = running_min.min(1.0);
    }
    adjusted
}

/// Largest sample size for which the exact null distribution of U is computed.
const EXACT_U_MAX: usize = 20;

// The names are the textbook's: samples a and b of sizes n and m, statistic U.
#[allow(clippy::many_single_char_names)]
/// Two-sided Mann-Whitney U test of sorted samples `a` and `b` (both non-empty).
///
/// Exact for samples of at most 20 without ties; otherwise the normal approximation with tie and
/// continuity correction, as scipy and R use.
#[must_use]
pub fn mann_whitney_sorted(a: &[f64], b: &[f64]) -> RankTest {
    let (n, m) = (a.len(), b.len());
    debug_assert!(n > 0 && m > 0);
    // Merge the two sorted samples, giving tied values their average rank.
    let (mut i, mut j) = (0usize, 0usize);
    let mut rank_sum_a = 0.0;
    let mut tie_term = 0.0;
    let mut position = 0usize;
    while i < n || j < m {
        let value = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => unreachable!(),
        };
        // Exact equality is the point: these are ties in the ranking.
        #[allow(clippy::float_cmp)]
        let from_a = a[i..].iter().take_while(|&&x| x == value).count();
        #[allow(clippy::float_cmp)]
        let from_b = b[j..].iter().take_while(|&&y| y == value).count();
        let tied = (from_a + from_b) as f64;
        let average_rank = position as f64 + f64::midpoint(tied, 1.0);
        rank_sum_a += from_a as f64 * average_rank;
        tie_term += tied * tied * tied - tied;
        position += from_a + from_b;
        i += from_a;
        j += from_b;
    }
    let (nf, mf) = (n as f64, m as f64);
    let u = rank_sum_a - nf * (nf + 1.0) / 2.0;
    let mean = nf * mf / 2.0;
    if tie_term == 0.0 && n <= EXACT_U_MAX && m <= EXACT_U_MAX {
        let p = exact_u_two_sided(n, m, u);
        return RankTest {
            u,
            p_value: p,
            exact: true,
        };
    }
    let total = nf + mf;
    let variance = nf * mf / 12.0 * ((total + 1.0) - tie_term / (total * (total - 1.0)));
    if variance <= 0.0 {
        // Every value tied: no evidence of any difference.
        return RankTest {
            u,
            p_value: 1.0,
            exact: false,
        };
    }
    let distance = ((u - mean).abs() - 0.5).max(0.0);
    let z = distance / variance.sqrt();
    let p = statrs::function::erf::erfc(z / std::f64::consts::SQRT_2).min(1.0);
    RankTest {
        u,
        p_value: p,
        exact: false,
    }
}

/// Exact two-sided p-value of U under the null, by the classic recurrence on counts.
fn exact_u_two_sided(n: usize, m: usize, u: f64) -> f64 {
    // counts[k][u]: arrangements of k items of the first sample among `cols` of the second with
    // statistic u, built up one item of the first sample at a time.
    let max_u = n * m;
    let mut table = vec![vec![0.0f64; max_u + 1]; m + 1];
    for row in &mut table {
        row[0] = 1.0; // zero items of the first sample: U = 0 in exactly one way
    }
    for _k in 1..=n {
        let mut next = vec![vec![0.0f64; max_u + 1]; m + 1];
        // next[c][u] = next[c-1][u] + table[c][u - c]: the largest of the c + k items is either
        // from the second sample, or is the new first-sample item that beats all c of them.
        for c in 0..=m {
            for value in 0..=max_u {
                let mut count = if c > 0 { next[c - 1][value] } else { 0.0 };
                if value >= c {
                    count += table[c][value - c];
                }
                next[c][value] = count;
            }
        }
        table = next;
    }
    let dist = &table[m];
    let total: f64 = dist.iter().sum();
    let u_index = float_index(u.round());
    let lower: f64 = dist[..=u_index.min(max_u)].iter().sum::<f64>() / total;
    let upper: f64 = dist[u_index.min(max_u)..].iter().sum::<f64>() / total;
    (2.0 * lower.min(upper)).min(1.0)
}

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
    /// `((i, j), probability)`, atoms below 1e-9 dropped: together they weigh under 1e-6, which
    /// cannot move a 95% (or 99.9%) interval.
    law: Option<Vec<((u32, u32), f64)>>,
}

impl MedianSampler {
    /// A sampler for sorted samples of size `n` (`n > 0`).
    #[must_use]
    pub fn new(n: usize) -> Self {
        MedianSampler {
            n,
            law: (n <= EXACT_MEDIAN_MAX).then(|| resample_median_law(n)),
        }
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

/// A percentile-bootstrap confidence interval for the median of sorted `data` (any sign).
///
/// Exact (as with infinitely many resamples) for at most 200 values, from the tabulated law of
/// the resampled median; Monte Carlo with `resamples` draws above that. Paired comparisons use
/// it on per-round log ratios.
#[must_use]
pub fn median_interval(
    sorted: &[f64],
    sampler: &MedianSampler,
    resamples: usize,
    confidence: f64,
    rng: &mut Rng,
) -> (f64, f64) {
    let tail = (1.0 - confidence) / 2.0;
    if let Some(mut law) = sampler.bind_law(sorted) {
        law.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        return (
            law_quantile(&law, tail),
            law_quantile(&law, 1.0 - tail - 1e-12),
        );
    }
    let mut counts = vec![0; sorted.len()];
    let mut medians: Vec<f64> = (0..resamples.max(1))
        .map(|_| draw_directly(sorted, &mut counts, rng))
        .collect();
    medians.sort_unstable_by(f64::total_cmp);
    (
        quantile_of_sorted(&medians, tail),
        quantile_of_sorted(&medians, 1.0 - tail),
    )
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

/// 1-based ranks of the two order statistics averaged into the median (equal for odd `n`).
fn median_ranks(n: usize) -> (usize, usize) {
    if n % 2 == 1 {
        (n.div_ceil(2), n.div_ceil(2))
    } else {
        (n / 2, n / 2 + 1)
    }
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

/// The exact joint law of the (0-based) sorted positions whose average is the median of a
/// resample with replacement of `n` sorted values: a list of `((i, j), probability)`.
fn resample_median_law(n: usize) -> Vec<((u32, u32), f64)> {
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
    // Atoms below 1e-9 weigh under 1e-6 together (at most ~20,000 atoms): they cannot move a
    // 95% (or 99.9%) interval, and dropping them halves the work per comparison.
    atoms.retain(|&(_, p)| p > 1e-9);
    let total: f64 = atoms.iter().map(|&(_, p)| p).sum();
    for atom in &mut atoms {
        atom.1 /= total;
    }
    atoms
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

/// A percentile-bootstrap confidence interval for `median(current) / median(baseline)`,
/// resampling each (sorted, non-negative) side independently.
///
/// For samples of at most 200 with positive values, nothing is resampled at random: each
/// median's bootstrap law is known exactly (see [`MedianSampler`]), the two laws are placed on a
/// common logarithmic lattice of 128 steps spanning the wider of them, and the law of
/// `log(C / B)` is their exact convolution there, whose quantiles give the interval. The only
/// approximation is the lattice: endpoints are within one step (1/127 of the wider median law's
/// range), which is finer than the scatter of a 2,000-resample Monte Carlo interval, and the
/// result is deterministic. `resamples` and `rng` serve larger samples, or samples containing
/// zeros, where resamples are drawn directly.
#[must_use]
pub fn ratio_of_medians_ci(
    baseline: (&[f64], &MedianSampler),
    current: (&[f64], &MedianSampler),
    resamples: usize,
    confidence: f64,
    rng: &mut Rng,
) -> (f64, f64) {
    let tail = (1.0 - confidence) / 2.0;
    let positive = |sorted: &[f64]| sorted.first().is_some_and(|&x| x > 0.0);
    if positive(baseline.0)
        && positive(current.0)
        && let (Some(base), Some(cur)) = (
            baseline.1.bind_log_law(baseline.0),
            current.1.bind_log_law(current.0),
        )
    {
        return lattice_ratio_interval(&base, &cur, tail);
    }
    monte_carlo_ratio_ci(baseline.0, current.0, resamples, tail, rng)
}

/// The `tail` and `1 - tail` quantiles of `C / B` from the laws of `ln B` and `ln C`, by exact
/// convolution on a common log lattice.
fn lattice_ratio_interval(
    base_log: &[(f64, f64)],
    cur_log: &[(f64, f64)],
    tail: f64,
) -> (f64, f64) {
    let bounds = |law: &[(f64, f64)]| {
        law.iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(v, _)| {
                (lo.min(v), hi.max(v))
            })
    };
    let (base_lo, base_hi) = bounds(base_log);
    let (cur_lo, cur_hi) = bounds(cur_log);
    let width = (base_hi - base_lo).max(cur_hi - cur_lo);
    // NaN cannot occur (positive, finite inputs); zero width means both medians are certain.
    if width <= 0.0 || width.is_nan() {
        // Both medians are certain: so is their ratio.
        let ratio = (cur_lo - base_lo).exp();
        return (ratio, ratio);
    }
    let step = width / (LATTICE_STEPS - 1) as f64;
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
    let hb = histogram(base_log, base_lo, base_hi);
    let hc = histogram(cur_log, cur_lo, cur_hi);
    // ln(C / B) = cur_lo - base_lo + (kc - kb) * step; lattice point d = kc - kb + (|hb| - 1).
    // P(D <= d) = sum over kb of hb[kb] * Hc[d + kb - (|hb| - 1)], with Hc the cumulative law
    // of C (0 below its range, 1 above), so each quantile is a binary search over the points
    // with one dot product per probe.
    let offset = hb.len() - 1;
    let points = hb.len() + hc.len() - 1;
    let cumulative_c: Vec<f64> = hc
        .iter()
        .scan(0.0, |sum, &p| {
            *sum += p;
            Some(*sum)
        })
        .collect();
    // suffix_b[k]: the mass of B at bins k and above (where C's cumulative law is already 1).
    let mut suffix_b = vec![0.0; hb.len() + 1];
    for k in (0..hb.len()).rev() {
        suffix_b[k] = suffix_b[k + 1] + hb[k];
    }
    let cdf_at = |d: usize| -> f64 {
        // kc = d + kb - offset: below 0 contributes nothing, at or past |hc| contributes hb[kb].
        let kb_from = offset.saturating_sub(d);
        let kb_full = (offset + hc.len()).saturating_sub(d).min(hb.len());
        let partial = if kb_from < kb_full {
            dot(&hb[kb_from..kb_full], &cumulative_c[d + kb_from - offset..])
        } else {
            0.0
        };
        partial + suffix_b[kb_full.max(kb_from)]
    };
    let quantile_point = |q: f64| {
        // The smallest d with P(D <= d) >= q; the last point always qualifies.
        let (mut lo, mut hi) = (0usize, points - 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if cdf_at(mid) >= q - 1e-12 {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    };
    let ratio_at = |d: usize| (cur_lo - base_lo + (d as f64 - offset as f64) * step).exp();
    (
        ratio_at(quantile_point(tail)),
        ratio_at(quantile_point(1.0 - tail)),
    )
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

/// The Monte Carlo percentile interval, drawing each resample's median directly.
fn monte_carlo_ratio_ci(
    baseline: &[f64],
    current: &[f64],
    resamples: usize,
    tail: f64,
    rng: &mut Rng,
) -> (f64, f64) {
    let resamples = resamples.max(1);
    let last = resamples - 1;
    let lo_index = float_index((tail * resamples as f64).floor()).min(last);
    let hi_index = float_index(((1.0 - tail) * resamples as f64).ceil())
        .saturating_sub(1)
        .min(last);
    // Only two order statistics are wanted, so keep the `lo_index + 1` smallest and the
    // `resamples - hi_index` largest ratios in bounded heaps instead of storing all of them.
    let mut smallest = TopK::new(lo_index + 1);
    let mut largest = TopK::new(resamples - hi_index);
    let (mut base_counts, mut cur_counts) = (vec![0; baseline.len()], vec![0; current.len()]);
    for _ in 0..resamples {
        let b = draw_directly(baseline, &mut base_counts, rng);
        let c = draw_directly(current, &mut cur_counts, rng);
        // Samples are non-negative (callers check), so every ratio is non-negative, infinite or
        // NaN, and for those the IEEE bit patterns order like the values.
        let ratio = (c / b).to_bits();
        smallest.offer(ratio);
        largest.offer(u64::MAX - ratio);
    }
    (
        f64::from_bits(smallest.kth()),
        f64::from_bits(u64::MAX - largest.kth()),
    )
}

/// The `k` smallest values seen, in a max-heap whose top is the k-th smallest.
struct TopK {
    k: usize,
    heap: std::collections::BinaryHeap<u64>,
    /// The heap's top once full: most values are rejected by this one comparison.
    bound: u64,
    full: bool,
}

impl TopK {
    fn new(k: usize) -> Self {
        TopK {
            k: k.max(1),
            heap: std::collections::BinaryHeap::with_capacity(k.max(1)),
            bound: u64::MAX,
            full: false,
        }
    }

    #[inline]
    fn offer(&mut self, value: u64) {
        // Once full, most values are rejected here; while filling, every value is kept.
        if self.full && value >= self.bound {
            return;
        }
        self.accept(value);
    }

    #[inline(never)]
    fn accept(&mut self, value: u64) {
        if self.heap.len() < self.k {
            self.heap.push(value);
            if self.heap.len() == self.k {
                self.full = true;
                self.bound = self.kth();
            }
        } else {
            if let Some(mut top) = self.heap.peek_mut() {
                *top = value;
            }
            self.bound = self.kth();
        }
    }

    /// The k-th smallest value offered (the largest if fewer than k were offered).
    fn kth(&self) -> u64 {
        self.heap.peek().copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let table: HashMap<_, _> = resample_median_law(n).into_iter().collect();
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
            let monte_carlo = monte_carlo_ratio_ci(&base, &cur, 200_000, 0.025, &mut rng);
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
    fn mann_whitney_matches_known_values() {
        // scipy.stats.mannwhitneyu([1,2,3,4,5], [6,7,8,9,10]) -> U = 0, p = 0.007937 (exact).
        let t = mann_whitney_sorted(&[1.0, 2.0, 3.0, 4.0, 5.0], &[6.0, 7.0, 8.0, 9.0, 10.0]);
        assert!(t.exact);
        assert!((t.u - 0.0).abs() < 1e-12);
        assert!((t.p_value - 0.007_937).abs() < 1e-5, "{}", t.p_value);
        // Identical samples: p = 1.
        let same = [1.0, 2.0, 3.0];
        assert!((mann_whitney_sorted(&same, &same).p_value - 1.0).abs() < 1e-12);
        // With ties (normal approximation, tie- and continuity-corrected, scipy's "asymptotic"):
        // ranks of the first sample 1 + 3 + 3 + 5 = 12, so U = 2; variance 16/12 * (9 - 24/56),
        // z = 5.5 / 3.3806 = 1.627, p = 0.1037.
        let t = mann_whitney_sorted(&[1.0, 2.0, 2.0, 3.0], &[2.0, 4.0, 5.0, 6.0]);
        assert!(!t.exact);
        assert!((t.u - 2.0).abs() < 1e-12);
        assert!((t.p_value - 0.1037).abs() < 1e-3, "{}", t.p_value);
    }

    #[test]
    fn benjamini_hochberg_matches_r() {
        // R: p.adjust(c(0.01, 0.04, 0.03, 0.005, 0.5), "BH")
        //   -> 0.025 0.050 0.050 0.025 0.500
        let q = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.005, 0.5]);
        for (got, want) in q.iter().zip([0.025, 0.05, 0.05, 0.025, 0.5]) {
            assert!((got - want).abs() < 1e-12, "{q:?}");
        }
        assert!(benjamini_hochberg(&[]).is_empty());
    }

    #[test]
    fn mad_matches_the_sorting_definition() {
        let mut rng = Rng::seed_from_u64(4);
        for n in 1..40 {
            let data = sorted(
                &(0..n)
                    .map(|_| (rng.unit_f64() * 10.0).round())
                    .collect::<Vec<_>>(),
            );
            let m = median_of_sorted(&data);
            let deviations = sorted(&data.iter().map(|x| (x - m).abs()).collect::<Vec<_>>());
            assert_eq!(
                mad_of_sorted(&data).to_bits(),
                median_of_sorted(&deviations).to_bits(),
                "{data:?}"
            );
        }
    }

    #[test]
    fn quantiles_and_medians() {
        let data = [1.0, 2.0, 3.0, 4.0];
        assert!((median_of_sorted(&data) - 2.5).abs() < 1e-12);
        assert!((quantile_of_sorted(&data, 0.25) - 1.75).abs() < 1e-12);
        assert!((mad_of_sorted(&data) - 1.0).abs() < 1e-12);
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
    fn top_k_matches_sorting() {
        let mut rng = Rng::seed_from_u64(5);
        let values: Vec<u64> = (0..2000).map(|_| rng.next_u64() % 10_000).collect();
        let mut sorted_values = values.clone();
        sorted_values.sort_unstable();
        let mut filling = TopK::new(2);
        filling.offer(u64::MAX);
        filling.offer(u64::MAX);
        assert_eq!(
            filling.kth(),
            u64::MAX,
            "values at u64::MAX must be kept while filling"
        );
        filling.offer(7);
        assert_eq!(filling.kth(), u64::MAX);
        filling.offer(3);
        assert_eq!(filling.kth(), 7);
        for k in [1, 50, 51, 1999, 2000] {
            let mut top = TopK::new(k);
            for &v in &values {
                top.offer(v);
            }
            assert_eq!(top.kth(), sorted_values[k - 1], "k = {k}");
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
}
