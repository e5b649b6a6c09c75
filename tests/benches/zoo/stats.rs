//! The statistics the harness computes itself: the simple rules it sets beside benchkeep's
//! verdicts, and the intervals around every rate. Written out here, not borrowed from
//! benchkeep-core, so the benchmark keeps judging the binary and not the library it was built from.

/// The median; `None` for no samples. NaN never occurs (samples come from integer nanoseconds).
pub(crate) fn median(samples: &[f64]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        f64::midpoint(sorted[mid - 1], sorted[mid])
    })
}

/// The fixed-threshold rule of github-action-benchmark and friends: the current median is more
/// than `threshold` (relative) above the reference median. No test, no spread.
pub(crate) fn fixed_threshold(reference: f64, current: f64, threshold: f64) -> bool {
    current / reference - 1.0 > threshold
}

/// Two-sided p-value of the Mann-Whitney U test, normal approximation with tie and continuity
/// corrections: what most tools run on two sets of samples. `None` when a side is empty or every
/// value is tied (no variance to test).
pub(crate) fn mann_whitney_p(first: &[f64], second: &[f64]) -> Option<f64> {
    let (n1, n2) = (first.len() as f64, second.len() as f64);
    if first.is_empty() || second.is_empty() {
        return None;
    }
    let mut all: Vec<(f64, bool)> = first
        .iter()
        .map(|&x| (x, true))
        .chain(second.iter().map(|&x| (x, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let pooled = all.len() as f64;
    let (mut rank_sum_a, mut ties) = (0.0, 0.0);
    let mut start = 0;
    while start < all.len() {
        let mut end = start;
        while end + 1 < all.len() && all[end + 1].0.total_cmp(&all[start].0).is_eq() {
            end += 1;
        }
        // Ranks are 1-based; a tie group shares the mean of its ranks.
        let shared = (start + end) as f64 / 2.0 + 1.0;
        let size = (end - start + 1) as f64;
        ties += size * size * size - size;
        rank_sum_a += shared * all[start..=end].iter().filter(|v| v.1).count() as f64;
        start = end + 1;
    }
    let u_first = rank_sum_a - n1 * (n1 + 1.0) / 2.0;
    let variance = n1 * n2 / 12.0 * ((pooled + 1.0) - ties / (pooled * (pooled - 1.0)));
    if variance <= 0.0 {
        return None;
    }
    let z_score = ((u_first - n1 * n2 / 2.0).abs() - 0.5).max(0.0) / variance.sqrt();
    Some(erfc(z_score / std::f64::consts::SQRT_2).min(1.0))
}

/// The complementary error function, to about 1e-7 (Numerical Recipes' Chebyshev fit): plenty
/// for comparing a p-value with 0.05.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// The 95% Wilson score interval of `hits` out of `trials`: unlike the normal approximation it
/// stays inside [0, 1] and is honest at 0/30 (a rate of 0 is not a certainty).
pub(crate) fn wilson(hits: usize, trials: usize) -> Option<(f64, f64)> {
    if trials == 0 {
        return None;
    }
    let z = 1.959_963_984_540_054_f64;
    let n = trials as f64;
    let p = hits as f64 / n;
    let denominator = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denominator;
    let half = z / denominator * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// Checks against values worked out by hand, run once at start-up: a wrong rule would silently
/// corrupt every row of the table, and this binary has no test harness.
pub(crate) fn self_check() {
    assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
    let (lo, hi) = wilson(0, 30).unwrap();
    assert!(
        lo == 0.0 && (hi - 0.1135).abs() < 1e-3,
        "wilson(0, 30) = {hi}"
    );
    let (lo, hi) = wilson(15, 30).unwrap();
    assert!((lo - 0.3315).abs() < 1e-3 && (hi - 0.6685).abs() < 1e-3);
    // U = 8, four ties of two: variance 64/12 * (17 - 24/240), z = 23.5 / sqrt(variance).
    let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
    let b = [5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0];
    let p = mann_whitney_p(&a, &b).unwrap();
    assert!((p - 0.013_313).abs() < 1e-5, "Mann-Whitney p = {p}");
    assert!((mann_whitney_p(&a, &a).unwrap() - 1.0).abs() < 1e-9);
    assert!((erfc(0.0) - 1.0).abs() < 1e-7 && (erfc(1.0) - 0.157_299_2).abs() < 1e-6);
}
