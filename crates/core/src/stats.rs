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
#[must_use]
pub fn mad_of_sorted(sorted: &[f64]) -> f64 {
    let m = median_of_sorted(sorted);
    let deviations = sorted.iter().map(|x| (x - m).abs()).collect::<Vec<_>>();
    median_of_sorted(&self::sorted(&deviations))
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

/// Draws the median of a bootstrap resample of a sorted sample of size `n`.
///
/// For `n <= 200` it samples the resample median's *exact* distribution from an alias table
/// (the median of a resample of sorted data is a function of two order-statistic indices whose
/// joint law depends only on `n`), so one draw costs one random number instead of `n`. The law is
/// the one of ordinary resampling with replacement; tests check it against full enumeration.
#[derive(Debug, Clone)]
pub struct MedianSampler {
    n: usize,
    table: Option<AliasTable>,
}

#[derive(Debug, Clone)]
struct AliasTable {
    atoms: Vec<(u32, u32)>,
    probability: Vec<f64>,
    alias: Vec<u32>,
}

impl MedianSampler {
    /// A sampler for sorted samples of size `n` (`n > 0`).
    #[must_use]
    pub fn new(n: usize) -> Self {
        let table = (n <= EXACT_MEDIAN_MAX).then(|| {
            let atoms = resample_median_law(n);
            AliasTable::build(&atoms)
        });
        MedianSampler { n, table }
    }

    /// The median of one bootstrap resample of `sorted` (which must have this sampler's size).
    pub fn draw(&self, sorted: &[f64], rng: &mut Rng, scratch: &mut Vec<u32>) -> f64 {
        debug_assert_eq!(sorted.len(), self.n);
        if let Some(table) = &self.table {
            let (i, j) = table.draw(rng);
            return f64::midpoint(sorted[i as usize], sorted[j as usize]);
        }
        // Direct resampling, by counting how often each sorted position is drawn.
        scratch.clear();
        scratch.resize(self.n, 0);
        for _ in 0..self.n {
            scratch[rng.below(self.n)] += 1;
        }
        let (lo_rank, hi_rank) = median_ranks(self.n);
        let (mut lo, mut hi, mut seen) = (None, None, 0usize);
        for (index, &count) in scratch.iter().enumerate() {
            seen += count as usize;
            if lo.is_none() && seen >= lo_rank {
                lo = Some(index);
            }
            if seen >= hi_rank {
                hi = Some(index);
                break;
            }
        }
        let (lo, hi) = (lo.unwrap_or(self.n - 1), hi.unwrap_or(self.n - 1));
        f64::midpoint(sorted[lo], sorted[hi])
    }
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
    // Atoms below 1e-15 cannot be seen in any realistic number of resamples.
    atoms.retain(|&(_, p)| p > 1e-15);
    let total: f64 = atoms.iter().map(|&(_, p)| p).sum();
    for atom in &mut atoms {
        atom.1 /= total;
    }
    atoms
}

impl AliasTable {
    /// Vose's alias method: O(1) draws from a discrete law.
    fn build(law: &[((u32, u32), f64)]) -> Self {
        let len = law.len();
        let mut probability = vec![0.0; len];
        let mut alias = vec![0u32; len];
        let mut scaled: Vec<f64> = law.iter().map(|&(_, p)| p * len as f64).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..len).partition(|&i| scaled[i] < 1.0);
        // Peek at `large` before popping `small`: when rounding empties `large` first, the
        // remaining small columns must keep their own mass (probability 1 below), not lose it.
        while let Some(&l) = large.last() {
            let Some(s) = small.pop() else { break };
            probability[s] = scaled[s];
            alias[s] = u32::try_from(l).unwrap_or(0);
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        for i in small.into_iter().chain(large) {
            probability[i] = 1.0;
        }
        AliasTable {
            atoms: law.iter().map(|&(atom, _)| atom).collect(),
            probability,
            alias,
        }
    }

    fn draw(&self, rng: &mut Rng) -> (u32, u32) {
        let column = rng.below(self.atoms.len());
        let chosen = if rng.unit_f64() < self.probability[column] {
            column
        } else {
            self.alias[column] as usize
        };
        self.atoms[chosen]
    }
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

/// A percentile-bootstrap confidence interval for `median(current) / median(baseline)`,
/// resampling each (sorted, strictly positive) side independently.
#[must_use]
pub fn ratio_of_medians_ci(
    baseline: (&[f64], &MedianSampler),
    current: (&[f64], &MedianSampler),
    resamples: usize,
    confidence: f64,
    rng: &mut Rng,
) -> (f64, f64) {
    let mut scratch = Vec::new();
    let mut ratios: Vec<f64> = (0..resamples.max(1))
        .map(|_| {
            let b = baseline.1.draw(baseline.0, rng, &mut scratch);
            let c = current.1.draw(current.0, rng, &mut scratch);
            c / b
        })
        .collect();
    let tail = (1.0 - confidence) / 2.0;
    let last = ratios.len() - 1;
    let lo_index = float_index((tail * ratios.len() as f64).floor()).min(last);
    let hi_index = float_index(((1.0 - tail) * ratios.len() as f64).ceil())
        .saturating_sub(1)
        .min(last);
    let (_, &mut lo, upper) = ratios.select_nth_unstable_by(lo_index, f64::total_cmp);
    let hi = if hi_index > lo_index {
        let offset = hi_index - lo_index - 1;
        *upper.select_nth_unstable_by(offset, f64::total_cmp).1
    } else {
        lo
    };
    (lo, hi)
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
    fn alias_sampling_follows_the_law() {
        let n = 6;
        let law: HashMap<_, _> = resample_median_law(n).into_iter().collect();
        let sampler = MedianSampler::new(n);
        let table = sampler.table.as_ref().unwrap();
        let mut rng = Rng::seed_from_u64(7);
        let draws = 200_000;
        let mut counts: HashMap<(u32, u32), f64> = HashMap::new();
        for _ in 0..draws {
            *counts.entry(table.draw(&mut rng)).or_insert(0.0) += 1.0;
        }
        for (atom, p) in law {
            let freq = counts.get(&atom).copied().unwrap_or(0.0) / f64::from(draws);
            let sd = (p * (1.0 - p) / f64::from(draws)).sqrt();
            assert!(
                (freq - p).abs() < 5.0 * sd + 1e-4,
                "{atom:?}: {freq} vs {p}"
            );
        }
    }

    #[test]
    fn direct_and_tabulated_resampling_agree_on_the_median_spread() {
        // n = 201 uses direct resampling; n = 199 the table. Their bootstrap spreads of the median
        // of 0..n must be about equal.
        let spread = |n: usize| {
            let data: Vec<f64> = (0..n).map(|x| x as f64).collect();
            let sampler = MedianSampler::new(n);
            let mut rng = Rng::seed_from_u64(3);
            let mut scratch = Vec::new();
            let draws: Vec<f64> = (0..20_000)
                .map(|_| sampler.draw(&data, &mut rng, &mut scratch))
                .collect();
            let mean = draws.iter().sum::<f64>() / draws.len() as f64;
            (draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / draws.len() as f64).sqrt()
        };
        let (table, direct) = (spread(199), spread(201));
        assert!((table / direct - 1.0).abs() < 0.05, "{table} vs {direct}");
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
    fn quantiles_and_medians() {
        let data = [1.0, 2.0, 3.0, 4.0];
        assert!((median_of_sorted(&data) - 2.5).abs() < 1e-12);
        assert!((quantile_of_sorted(&data, 0.25) - 1.75).abs() < 1e-12);
        assert!((mad_of_sorted(&data) - 1.0).abs() < 1e-12);
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
