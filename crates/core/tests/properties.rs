//! Property tests of the statistics and the comparison engine.

use benchkeep_core::compare::{CompareConfig, Method, Verdict, compare};
use benchkeep_core::model::{Benchmark, Direction, Metric, Unit};
use benchkeep_core::stats::{self, Rng};
use proptest::prelude::*;

fn bench(samples: Vec<f64>) -> Benchmark {
    Benchmark {
        params: std::collections::BTreeMap::new(),
        name: "b".into(),
        command: None,
        metrics: vec![Metric {
            name: "wall_time".into(),
            unit: Unit::nanoseconds(),
            direction: Direction::LowerIsBetter,
            samples,
            summary: None,
        }],
    }
}

fn positive_samples() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(1.0f64..1e9, 5..40)
}

fn paired() -> CompareConfig {
    CompareConfig {
        method: Method::Paired,
        threshold: 0.02,
        ..CompareConfig::default()
    }
}

fn noisy(center: f64, n: usize, spread: f64, seed: u64) -> Vec<f64> {
    let mut rng = Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| center * (1.0 + spread * (rng.unit_f64() - 0.5)))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Benjamini-Hochberg: adjusted values are p-values, never below the raw ones, and keep
    /// their order.
    #[test]
    fn benjamini_hochberg_is_monotone_and_conservative(p in prop::collection::vec(0.0f64..=1.0, 1..60)) {
        let q = stats::benjamini_hochberg(&p);
        for (i, (&pi, &qi)) in p.iter().zip(&q).enumerate() {
            prop_assert!((0.0..=1.0).contains(&qi));
            prop_assert!(qi >= pi - 1e-15);
            for (&pj, &qj) in p.iter().zip(&q).skip(i + 1) {
                if pi < pj {
                    prop_assert!(qi <= qj + 1e-15);
                }
            }
        }
    }

    /// History method: rescaling every job changes nothing; a slower current job never gets a
    /// lower change estimate or a better verdict.
    #[test]
    fn history_method_is_scale_invariant_and_monotone(
        offsets in prop::collection::vec(0.9f64..1.1, 5..15),
        slower in 0.0f64..0.3,
        extra in 0.0f64..0.3,
        scale in 1e-3f64..1e3,
    ) {
        use benchkeep_core::history::{JobStat, analyze};
        let job = |center: f64, seed: u64| {
            JobStat::of_sorted(&stats::sorted(&noisy(center, 20, 0.02, seed))).unwrap()
        };
        let history: Vec<JobStat> = offsets.iter().zip(0..).map(|(o, i)| job(1e6 * o, i)).collect();
        let scaled: Vec<JobStat> = offsets.iter().zip(0..).map(|(o, i)| job(1e6 * o * scale, i)).collect();
        let low = analyze(&history, &job(1e6 * (1.0 + slower), 99), 0.95).unwrap();
        let low_scaled = analyze(&scaled, &job(1e6 * scale * (1.0 + slower), 99), 0.95).unwrap();
        prop_assert!((low.change - low_scaled.change).abs() < 1e-6);
        prop_assert!((low.p_value - low_scaled.p_value).abs() < 1e-6);
        let high = analyze(&history, &job(1e6 * (1.0 + slower + extra), 99), 0.95).unwrap();
        prop_assert!(high.change >= low.change - 1e-12);
        prop_assert!(high.interval.0 >= low.interval.0 - 1e-12);
    }

    /// Paired analysis: swapping base and head inverts the ratio, and the p-value is the same.
    #[test]
    fn paired_analysis_is_symmetric(rounds in prop::collection::vec((1.0f64..1e9, 0.5f64..2.0), 5..40)) {
        let base: Vec<f64> = rounds.iter().map(|r| r.0).collect();
        let head: Vec<f64> = rounds.iter().map(|r| r.0 * r.1).collect();
        let config = paired();
        let ab = compare(&[bench(base.clone())], &[bench(head.clone())], &config);
        let ba = compare(&[bench(head)], &[bench(base)], &config);
        let (ab, ba) = (&ab.entries[0], &ba.entries[0]);
        prop_assert!(((1.0 + ab.change.unwrap()) * (1.0 + ba.change.unwrap()) - 1.0).abs() < 1e-9);
        prop_assert!((ab.p_value.unwrap() - ba.p_value.unwrap()).abs() < 1e-9);
        let (lo, hi) = ab.interval.unwrap();
        prop_assert!(lo <= ab.change.unwrap() + 1e-12 && ab.change.unwrap() <= hi + 1e-12);
    }

    /// Paired analysis: rescaling both sides changes nothing; the same seed gives the same result.
    #[test]
    fn paired_analysis_is_scale_invariant_and_reproducible(
        rounds in prop::collection::vec((1.0f64..1e6, 0.8f64..1.25), 5..40),
        scale in 1e-3f64..1e3,
    ) {
        let base: Vec<f64> = rounds.iter().map(|r| r.0).collect();
        let head: Vec<f64> = rounds.iter().map(|r| r.0 * r.1).collect();
        let config = paired();
        let plain = compare(&[bench(base.clone())], &[bench(head.clone())], &config);
        let again = compare(&[bench(base.clone())], &[bench(head.clone())], &config);
        prop_assert_eq!(&plain, &again);
        let scaled = compare(
            &[bench(base.iter().map(|x| x * scale).collect())],
            &[bench(head.iter().map(|x| x * scale).collect())],
            &config,
        );
        let (p, s) = (&plain.entries[0], &scaled.entries[0]);
        prop_assert_eq!(p.verdict, s.verdict);
        prop_assert!((p.change.unwrap() - s.change.unwrap()).abs() < 1e-9);
    }

    /// Paired analysis: a larger injected slowdown never gets a better verdict or a lower estimate.
    #[test]
    fn paired_verdict_is_monotone_in_the_injected_effect(seed in 0u64..1000, small in 0.0f64..0.1, extra in 0.0f64..0.2) {
        let base = noisy(1e6, 20, 0.05, seed);
        let jitter = noisy(1.0, 20, 0.01, seed + 1);
        let head = |factor: f64| -> Vec<f64> {
            base.iter().zip(&jitter).map(|(b, j)| b * j * factor).collect()
        };
        let config = paired();
        let low = compare(&[bench(base.clone())], &[bench(head(1.0 + small))], &config);
        let high = compare(&[bench(base.clone())], &[bench(head(1.0 + small + extra))], &config);
        let (low, high) = (&low.entries[0], &high.entries[0]);
        prop_assert!(high.change.unwrap() >= low.change.unwrap() - 1e-12);
        if low.verdict == Verdict::Regressed {
            prop_assert_eq!(high.verdict, Verdict::Regressed);
        }
    }

    /// Swapping the samples swaps the p-value not at all (two-sided test).
    #[test]
    fn mann_whitney_is_symmetric(a in positive_samples(), b in positive_samples()) {
        let (a, b) = (stats::sorted(&a), stats::sorted(&b));
        let ab = stats::mann_whitney_sorted(&a, &b);
        let ba = stats::mann_whitney_sorted(&b, &a);
        prop_assert!((ab.p_value - ba.p_value).abs() < 1e-9);
        prop_assert!((ab.u + ba.u - (a.len() * b.len()) as f64).abs() < 1e-9);
        prop_assert!((0.0..=1.0).contains(&ab.p_value));
    }

    /// Rescaling both sides (ns to s, say) changes no verdict and no relative change.
    #[test]
    fn comparison_is_scale_invariant(a in positive_samples(), b in positive_samples(), scale in 1e-6f64..1e6) {
        let config = CompareConfig::default();
        let plain = compare(&[bench(a.clone())], &[bench(b.clone())], &config);
        let scaled = compare(
            &[bench(a.iter().map(|x| x * scale).collect())],
            &[bench(b.iter().map(|x| x * scale).collect())],
            &config,
        );
        let (p, s) = (&plain.entries[0], &scaled.entries[0]);
        prop_assert_eq!(p.verdict, s.verdict);
        prop_assert!((p.change.unwrap() - s.change.unwrap()).abs() < 1e-9);
        let (pl, ph) = p.interval.unwrap();
        let (sl, sh) = s.interval.unwrap();
        prop_assert!((pl - sl).abs() < 1e-6 && (ph - sh).abs() < 1e-6);
    }

    /// The same inputs and seed give the same verdict, interval and p-value.
    #[test]
    fn comparison_is_reproducible(a in positive_samples(), b in positive_samples()) {
        let config = CompareConfig::default();
        let first = compare(&[bench(a.clone())], &[bench(b.clone())], &config);
        let second = compare(&[bench(a)], &[bench(b)], &config);
        prop_assert_eq!(first, second);
    }

    /// The interval contains the point estimate (the bootstrap of the median is centred on it
    /// closely enough for any realistic data).
    #[test]
    fn interval_is_ordered(a in positive_samples(), b in positive_samples()) {
        let c = compare(&[bench(a)], &[bench(b)], &CompareConfig::default());
        let (lo, hi) = c.entries[0].interval.unwrap();
        prop_assert!(lo <= hi);
    }

    /// A larger injected slowdown never gives a less severe verdict.
    #[test]
    fn verdict_is_monotone_in_the_injected_effect(seed in 0u64..1000, small in 0.0f64..0.3, extra in 0.0f64..0.5) {
        let rank = |v: Verdict| match v {
            Verdict::Improved => 0,
            Verdict::Unchanged => 1,
            Verdict::Inconclusive => 2,
            Verdict::Regressed => 3,
            Verdict::New | Verdict::Missing => 99,
        };
        let base = noisy(1e6, 20, 0.02, seed);
        let noise = noisy(1.0, 20, 0.02, seed + 1);
        let with = |effect: f64| {
            let cur: Vec<f64> = noise.iter().map(|x| 1e6 * x * (1.0 + effect)).collect();
            compare(&[bench(base.clone())], &[bench(cur)], &CompareConfig::default()).entries[0].verdict
        };
        let (weaker, stronger) = (with(small), with(small + extra));
        prop_assert!(rank(weaker) <= rank(stronger),
            "effect {small} gave {weaker}, effect {} gave {stronger}", small + extra);
        prop_assert!(rank(weaker) < 99);
    }
}

#[test]
fn detects_a_clear_regression_and_calls_identical_noise_unchanged() {
    let base = noisy(50e6, 30, 0.02, 1);
    let same = noisy(50e6, 30, 0.02, 2);
    let slower = noisy(60e6, 30, 0.02, 3);
    let config = CompareConfig::default();
    assert_eq!(
        compare(&[bench(base.clone())], &[bench(same)], &config).entries[0].verdict,
        Verdict::Unchanged
    );
    assert_eq!(
        compare(&[bench(base)], &[bench(slower)], &config).entries[0].verdict,
        Verdict::Regressed
    );
}
