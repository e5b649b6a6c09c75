//! Trends over history: step changes (change points) and slow drifts in a benchmark's job-level
//! series.
//!
//! **Change points** use E-divisive means (Matteson and James 2014, the method Otava/Hunter use
//! for performance histories) with `alpha = 1`: for a split of a segment into `X` (before) and
//! `Y` (after), the energy statistic
//!
//! `Q = |X||Y| / (|X| + |Y|) * (2 mean|x - y| - mean|x - x'| - mean|y - y'|)`
//!
//! is largest where the two sides' distributions differ most. Its significance comes from a
//! permutation test (the maximum of `Q` over all splits of shuffled copies of the segment), and
//! a significant split that also changes the median by at least `min_change` is reported; the
//! two halves are then searched recursively (binary segmentation). Values are analysed on a log
//! scale, so a 5% step means the same at 1 ms and at 1 s.
//!
//! The **correlation trend** is the seeds' rule: Pearson's r between value and position in the
//! series; above +0.3 a lower-is-better metric is degrading, below -0.3 improving.

use serde::{Deserialize, Serialize};

use crate::model::Direction;
use crate::stats::{self, Rng};

/// Settings of change-point detection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendConfig {
    /// Largest permutation p-value of a reported change point (default 0.01).
    pub max_p_value: f64,
    /// Smallest relative step of the median to report (default 0.05).
    pub min_change: f64,
    /// Fewest points on each side of a change point (default 4).
    pub min_segment: usize,
    /// Permutations per test (default 499).
    pub permutations: usize,
    /// Seed of the permutations.
    pub seed: u64,
    /// |r| beyond which the correlation trend counts (default 0.3).
    pub correlation_threshold: f64,
}

impl Default for TrendConfig {
    fn default() -> Self {
        TrendConfig {
            max_p_value: 0.01,
            min_change: 0.05,
            min_segment: 4,
            permutations: 499,
            seed: 0x7e4d_5eed,
            correlation_threshold: 0.3,
        }
    }
}

/// One step change in a series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChangePoint {
    /// Index of the first point after the change.
    pub index: usize,
    /// Median of the segment before the change (in the series' units).
    pub before: f64,
    /// Median of the segment after it.
    pub after: f64,
    /// `after / before - 1`.
    pub change: f64,
    /// Permutation p-value.
    pub p_value: f64,
}

/// The direction of a correlation trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Drift {
    /// Getting worse over time.
    Degrading,
    /// Getting better over time.
    Improving,
    /// Neither, by the correlation rule.
    Stable,
}

/// Everything found in one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendReport {
    /// Points analysed.
    pub points: usize,
    /// Step changes, oldest first.
    pub change_points: Vec<ChangePoint>,
    /// Pearson r of value against position (`None` below 3 points or with no variation).
    pub correlation: Option<f64>,
    /// The correlation rule's reading.
    pub drift: Drift,
}

/// Analyses `values` (oldest first; positive) of a metric with `direction`.
#[must_use]
pub fn analyze(values: &[f64], direction: Direction, config: &TrendConfig) -> TrendReport {
    let usable = values.iter().all(|v| v.is_finite() && *v > 0.0);
    let mut change_points = Vec::new();
    if usable {
        let logs: Vec<f64> = values.iter().map(|v| v.ln()).collect();
        let mut rng = Rng::seed_from_u64(config.seed);
        segment(&logs, 0, values, config, &mut rng, &mut change_points);
        change_points.sort_by_key(|c| c.index);
    }
    let correlation = pearson_with_position(values);
    // A correlation says the points line up, not that they moved: four jobs within 0.5% of
    // each other can have r = 0.6. The fitted line must also move by `min_change` over the
    // window, the same bar a step must clear.
    let moved = fitted_change(values).is_some_and(|c| c.abs() >= config.min_change);
    let drift = match correlation {
        Some(r) if r.abs() > config.correlation_threshold && moved => {
            let worse = match direction {
                Direction::LowerIsBetter => r > 0.0,
                Direction::HigherIsBetter => r < 0.0,
            };
            if worse {
                Drift::Degrading
            } else {
                Drift::Improving
            }
        }
        _ => Drift::Stable,
    };
    TrendReport {
        points: values.len(),
        change_points,
        correlation,
        drift,
    }
}

/// Searches `logs` (which start at `offset` in the series) for a change point and recurses.
fn segment(
    logs: &[f64],
    offset: usize,
    values: &[f64],
    config: &TrendConfig,
    rng: &mut Rng,
    found: &mut Vec<ChangePoint>,
) {
    let min = config.min_segment.max(2);
    if logs.len() < 2 * min {
        return;
    }
    let Some((split, observed)) = best_split(logs, min) else {
        return;
    };
    let mut shuffled = logs.to_vec();
    let mut at_least = 0usize;
    for _ in 0..config.permutations {
        shuffle(&mut shuffled, rng);
        if best_split(&shuffled, min).is_some_and(|(_, q)| q >= observed) {
            at_least += 1;
        }
    }
    let p_value = (at_least + 1) as f64 / (config.permutations + 1) as f64;
    if p_value > config.max_p_value {
        return;
    }
    let before = stats::median(&values[offset..offset + split]);
    let after = stats::median(&values[offset + split..offset + logs.len()]);
    let change = after / before - 1.0;
    if change.abs() < config.min_change {
        return;
    }
    found.push(ChangePoint {
        index: offset + split,
        before,
        after,
        change,
        p_value,
    });
    segment(&logs[..split], offset, values, config, rng, found);
    segment(&logs[split..], offset + split, values, config, rng, found);
}

/// The split (index of the first point after it) maximising the energy statistic, and its value.
/// O(n²) for all splits at once, from running sums of pairwise distances.
fn best_split(x: &[f64], min: usize) -> Option<(usize, f64)> {
    let n = x.len();
    // within_left[t]: sum of |x_i - x_j| over i < j < t; within_right likewise for t <= i < j.
    let mut within_left = vec![0.0; n + 1];
    for t in 1..=n {
        let newest = x[t - 1];
        within_left[t] =
            within_left[t - 1] + x[..t - 1].iter().map(|v| (v - newest).abs()).sum::<f64>();
    }
    let mut within_right = vec![0.0; n + 1];
    for t in (0..n).rev() {
        let oldest = x[t];
        within_right[t] =
            within_right[t + 1] + x[t + 1..].iter().map(|v| (v - oldest).abs()).sum::<f64>();
    }
    let total = within_left[n];
    let mut best: Option<(usize, f64)> = None;
    for t in min..=n - min {
        let (left, right) = (t as f64, (n - t) as f64);
        let between = total - within_left[t] - within_right[t];
        let energy = 2.0 * between / (left * right)
            - within_left[t] / (left * (left - 1.0) / 2.0)
            - within_right[t] / (right * (right - 1.0) / 2.0);
        let q = left * right / (left + right) * energy;
        if best.is_none_or(|(_, top)| q > top) {
            best = Some((t, q));
        }
    }
    best
}

fn shuffle(x: &mut [f64], rng: &mut Rng) {
    for i in (1..x.len()).rev() {
        x.swap(i, rng.below(i + 1));
    }
}

/// Pearson's r between the values and their positions `0, 1, 2, ...`.
#[must_use]
pub fn pearson_with_position(values: &[f64]) -> Option<f64> {
    if values.len() < 3 {
        return None;
    }
    let fit = LineFit::of(values)?;
    (fit.syy > 0.0).then(|| fit.sxy / (fit.sxx * fit.syy).sqrt())
}

/// The sums behind a least-squares line of values against their position.
struct LineFit {
    mean_y: f64,
    sxy: f64,
    sxx: f64,
    syy: f64,
}

impl LineFit {
    /// `None` below 2 points or with a value that is not finite.
    fn of(values: &[f64]) -> Option<LineFit> {
        if values.len() < 2 || values.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let nf = values.len() as f64;
        let mean_x = (nf - 1.0) / 2.0;
        let mean_y = values.iter().sum::<f64>() / nf;
        let mut fit = LineFit {
            mean_y,
            sxy: 0.0,
            sxx: 0.0,
            syy: 0.0,
        };
        for (i, y) in values.iter().enumerate() {
            let dx = i as f64 - mean_x;
            let dy = y - mean_y;
            fit.sxy += dx * dy;
            fit.sxx += dx * dx;
            fit.syy += dy * dy;
        }
        Some(fit)
    }
}

/// The relative change of the least-squares line of `values` against position from the first
/// point to the last: `slope × (n − 1) / mean`. `None` below 2 points or with a mean that is not
/// positive.
fn fitted_change(values: &[f64]) -> Option<f64> {
    let fit = LineFit::of(values)?;
    let span = (values.len() - 1) as f64;
    (fit.mean_y > 0.0).then(|| fit.sxy / fit.sxx * span / fit.mean_y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_correlation_without_movement_is_not_drift() {
        // What `trend --fail-on-change` once failed on: 4 jobs within 0.5%, r = +0.58.
        let jobs = [10.84e6, 10.90e6, 10.85e6, 10.89e6];
        let report = analyze(&jobs, Direction::LowerIsBetter, &TrendConfig::default());
        assert!(report.correlation.unwrap() > 0.3);
        assert_eq!(report.drift, Drift::Stable);
        // The same shape moving 8%: drift.
        let moving: Vec<f64> = jobs
            .iter()
            .enumerate()
            .map(|(i, v)| v * (1.0 + 0.027 * i as f64))
            .collect();
        let report = analyze(&moving, Direction::LowerIsBetter, &TrendConfig::default());
        assert_eq!(report.drift, Drift::Degrading);
    }

    fn noise(n: usize, level: f64, spread: f64, seed: u64) -> Vec<f64> {
        let mut rng = Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| level * (1.0 + spread * (rng.unit_f64() - 0.5)))
            .collect()
    }

    #[test]
    fn finds_an_injected_step_with_its_position() {
        let mut series = noise(30, 100.0, 0.04, 1);
        series.extend(noise(20, 112.0, 0.04, 2));
        let report = analyze(&series, Direction::LowerIsBetter, &TrendConfig::default());
        assert_eq!(report.change_points.len(), 1, "{report:?}");
        let step = report.change_points[0];
        assert!((29..=31).contains(&step.index), "{step:?}");
        assert!((step.change - 0.12).abs() < 0.03, "{step:?}");
        assert!(step.p_value <= 0.01);
    }

    #[test]
    fn finds_two_steps() {
        let mut series = noise(25, 100.0, 0.03, 3);
        series.extend(noise(25, 120.0, 0.03, 4));
        series.extend(noise(25, 105.0, 0.03, 5));
        let report = analyze(&series, Direction::LowerIsBetter, &TrendConfig::default());
        let indices: Vec<usize> = report.change_points.iter().map(|c| c.index).collect();
        assert_eq!(indices.len(), 2, "{report:?}");
        assert!(
            indices[0].abs_diff(25) <= 1 && indices[1].abs_diff(50) <= 1,
            "{indices:?}"
        );
    }

    #[test]
    fn reports_nothing_in_flat_noise() {
        // Many independent flat series: with p <= 0.01 and a 5% minimum, none raises a change.
        let config = TrendConfig::default();
        let false_alarms = (0..50)
            .filter(|&seed| {
                let series = noise(60, 100.0, 0.06, 100 + seed);
                !analyze(&series, Direction::LowerIsBetter, &config)
                    .change_points
                    .is_empty()
            })
            .count();
        assert!(
            false_alarms <= 1,
            "{false_alarms} of 50 flat series had a change"
        );
    }

    #[test]
    fn small_steps_below_the_minimum_are_not_reported() {
        let mut series = noise(30, 100.0, 0.002, 7);
        series.extend(noise(30, 102.0, 0.002, 8));
        let report = analyze(&series, Direction::LowerIsBetter, &TrendConfig::default());
        assert!(report.change_points.is_empty(), "{report:?}");
        let sensitive = TrendConfig {
            min_change: 0.01,
            ..TrendConfig::default()
        };
        assert_eq!(
            analyze(&series, Direction::LowerIsBetter, &sensitive)
                .change_points
                .len(),
            1
        );
    }

    #[test]
    fn correlation_trend_follows_the_seeds_rule() {
        let rising: Vec<f64> = (0..20).map(|i| 100.0 + f64::from(i)).collect();
        let report = analyze(&rising, Direction::LowerIsBetter, &TrendConfig::default());
        assert_eq!(report.drift, Drift::Degrading);
        assert!(report.correlation.unwrap() > 0.99);
        let report = analyze(&rising, Direction::HigherIsBetter, &TrendConfig::default());
        assert_eq!(report.drift, Drift::Improving);
        let flat = analyze(
            &[5.0; 10],
            Direction::LowerIsBetter,
            &TrendConfig::default(),
        );
        assert_eq!(flat.drift, Drift::Stable);
        assert_eq!(flat.correlation, None);
    }

    #[test]
    fn the_energy_statistic_matches_its_definition() {
        let x = [1.0, 1.2, 0.9, 3.0, 3.1, 2.8, 3.3];
        let (split, q) = best_split(&x, 2).unwrap();
        assert_eq!(split, 3);
        let (a, b) = (&x[..3], &x[3..]);
        let mean_abs = |p: &[f64], r: &[f64], same: bool| {
            let mut sum = 0.0;
            let mut count = 0.0;
            for (i, u) in p.iter().enumerate() {
                for (j, v) in r.iter().enumerate() {
                    if same && j <= i {
                        continue;
                    }
                    sum += (u - v).abs();
                    count += 1.0;
                }
            }
            sum / count
        };
        let energy = 2.0 * mean_abs(a, b, false) - mean_abs(a, a, true) - mean_abs(b, b, true);
        let expected = 3.0 * 4.0 / 7.0 * energy;
        assert!((q - expected).abs() < 1e-12, "{q} {expected}");
    }
}
