//! Statistics for comparisons: a seeded random number generator, medians, quantiles and MADs,
//! Benjamini-Hochberg adjustment, and the Mann-Whitney U test (the simple rule the detection
//! benchmark compares with; the bootstrap laws are in [`crate::bootstrap`]).
//!
//! Everything here is deterministic: randomness comes from [`Rng`], seeded by the caller.

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
pub(crate) fn float_index(x: f64) -> usize {
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

/// 1-based ranks of the two order statistics averaged into the median (equal for odd `n`).
pub(crate) fn median_ranks(n: usize) -> (usize, usize) {
    if n % 2 == 1 {
        (n.div_ceil(2), n.div_ceil(2))
    } else {
        (n / 2, n / 2 + 1)
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
