//! Verdicts on deterministic inputs: small samples, harness summaries, many benchmarks, paired
//! heavy tails, and the rule that a verdict never disagrees with its interval. Every input is
//! seeded, so these tests say the same on a busy machine as on a quiet one.

use benchkeep_core::compare::{CompareConfig, GateMetrics, Method, Verdict, compare};
use benchkeep_core::model::{
    Benchmark, Direction, Metric, ReportedSummary, Spread, Statistic, Unit,
};
use benchkeep_core::stats::Rng;

fn bench(name: &str, samples: Vec<f64>) -> Benchmark {
    Benchmark::wall_time(name, samples)
}

/// `n` log-normal samples around `centre` with relative spread `cv`.
fn lognormal(centre: f64, cv: f64, n: usize, rng: &mut Rng) -> Vec<f64> {
    (0..n).map(|_| centre * (cv * normal(rng)).exp()).collect()
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut Rng) -> f64 {
    let u = rng.unit_f64().max(1e-300);
    let v = rng.unit_f64();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// A format, how it makes a value 20% worse, and its summary of a value.
type Case = (
    &'static str,
    fn(f64) -> f64,
    Box<dyn Fn(f64) -> ReportedSummary>,
);

/// A noise shape: a name and a draw of one relative value.
type Shape = (&'static str, fn(&mut Rng) -> f64);

fn with_summary(name: &str, value: f64, summary: ReportedSummary) -> Benchmark {
    let mut b = bench(name, vec![value]);
    b.metrics[0].summary = Some(summary);
    b
}

#[test]
fn three_and_five_repetitions_detect_a_twenty_percent_slowdown() {
    for n in [3, 5] {
        let mut rng = Rng::seed_from_u64(n as u64);
        let base = bench("parse", lognormal(1e6, 0.02, n, &mut rng));
        let cur = bench("parse", lognormal(1.2e6, 0.02, n, &mut rng));
        let cmp = compare(&[base], &[cur], &CompareConfig::default());
        let e = &cmp.entries[0];
        assert_eq!(e.verdict, Verdict::Regressed, "n={n}: {e:?}");
        assert_eq!(e.method, Method::TrimmedT);
        let (b, c) = (e.baseline.unwrap(), e.current.unwrap());
        assert!(
            (c.compared() / b.compared() - 1.0 - e.change.unwrap()).abs() < 1e-9,
            "the change is the ratio of the values shown"
        );
    }
}

/// Google Benchmark with `--benchmark_repetitions=5`: 2,000 benchmarks, two of them 50% slower.
/// An exact rank test cannot go below p = 0.008 with 5 samples a side, which no false discovery
/// step over 2,000 tests lets through; the trimmed t can.
#[test]
fn two_regressions_among_two_thousand_benchmarks_of_five_repetitions_are_found() {
    let mut rng = Rng::seed_from_u64(42);
    let mut base = Vec::new();
    let mut cur = Vec::new();
    for i in 0..2000 {
        let centre = 1e4 * (1.0 + f64::from(i % 97));
        let factor = if i == 17 || i == 1234 { 1.5 } else { 1.0 };
        base.push(bench(
            &format!("BM_case_{i}"),
            lognormal(centre, 0.005, 5, &mut rng),
        ));
        cur.push(bench(
            &format!("BM_case_{i}"),
            lognormal(centre * factor, 0.005, 5, &mut rng),
        ));
    }
    let config = CompareConfig {
        threads: 2,
        ..CompareConfig::default()
    };
    let cmp = compare(&base, &cur, &config);
    let regressed: Vec<&str> = cmp.regressions().map(|e| e.benchmark.as_str()).collect();
    assert_eq!(regressed, ["BM_case_17", "BM_case_1234"]);
    assert!(!cmp.passes(&config));
}

#[test]
fn summaries_are_tested_by_the_matching_rule() {
    let catch2 = |mean: f64| ReportedSummary {
        statistic: Statistic::Mean,
        value: mean,
        n: Some(100),
        spread: Spread::StdDev { value: mean * 0.05 },
    };
    let benchmark_js = |hz: f64| ReportedSummary {
        statistic: Statistic::Mean,
        value: hz,
        n: Some(90),
        spread: Spread::MarginOfError {
            relative: 0.012,
            confidence: 0.95,
        },
    };
    let libtest = |median: f64| ReportedSummary {
        statistic: Statistic::Median,
        value: median,
        n: None,
        spread: Spread::Range {
            value: median * 0.04,
        },
    };

    let cases: [Case; 3] = [
        ("catch2", |x| x * 1.2, Box::new(catch2)),
        ("benchmarkjs", |x| x / 1.2, Box::new(benchmark_js)),
        ("libtest", |x| x * 1.2, Box::new(libtest)),
    ];
    for (format, slower, summary) in cases {
        let value = 1000.0;
        let mut base = with_summary("b", value, summary(value));
        let mut cur = with_summary("b", slower(value), summary(slower(value)));
        if format == "benchmarkjs" {
            for b in [&mut base, &mut cur] {
                b.metrics[0].direction = Direction::HigherIsBetter;
                b.metrics[0].unit = Unit("ops/s".into());
            }
        }
        let cmp = compare(&[base], &[cur], &CompareConfig::default());
        let e = &cmp.entries[0];
        assert_eq!(e.verdict, Verdict::Regressed, "{format}: {e:?}");
        let want = if format == "libtest" {
            Method::SummaryRange
        } else {
            Method::SummaryT
        };
        assert_eq!(e.method, want, "{format}");
        // One percent is within the noise and the 5% threshold: never a regression.
        let base = with_summary("b", value, summary(value));
        let cur = with_summary("b", value * 1.01, summary(value * 1.01));
        let e = compare(&[base], &[cur], &CompareConfig::default()).entries[0].clone();
        assert_ne!(e.verdict, Verdict::Regressed, "{format}: {e:?}");
    }
}

#[test]
fn a_single_value_is_judged_by_the_other_sides_spread_or_said_to_be_too_little() {
    let mut rng = Rng::seed_from_u64(3);
    let history = bench("b", lognormal(1e6, 0.01, 4, &mut rng));
    let e = &compare(
        std::slice::from_ref(&history),
        &[bench("b", vec![1.3e6])],
        &CompareConfig::default(),
    )
    .entries[0];
    assert_eq!(e.verdict, Verdict::Regressed, "{e:?}");
    assert!(e.notes.iter().any(|n| n.contains("prediction interval")));
    let e = &compare(
        &[bench("b", vec![1e6])],
        &[bench("b", vec![1.3e6])],
        &CompareConfig::default(),
    )
    .entries[0];
    assert_eq!(e.verdict, Verdict::Inconclusive);
    assert!(e.reason.contains("repeat the benchmark"), "{}", e.reason);
}

#[test]
fn zero_samples_are_never_a_hundred_percent_improvement() {
    let e = &compare(
        &[bench("b", vec![5.0; 10])],
        &[bench("b", vec![0.0; 10])],
        &CompareConfig::default(),
    )
    .entries[0];
    assert_eq!(e.verdict, Verdict::Inconclusive);
    assert!(e.reason.contains("broken measurement"), "{}", e.reason);
    // ... and it fails the gate: no estimate is no evidence.
    assert_eq!(e.effect, benchkeep_core::compare::GateEffect::Failure);
    // Zero before and after (allocations, say) is no change.
    let e = &compare(
        &[bench("b", vec![0.0; 10])],
        &[bench("b", vec![0.0; 10])],
        &CompareConfig::default(),
    )
    .entries[0];
    assert_eq!(e.verdict, Verdict::Unchanged);
}

/// Non-gating metrics (user and system time, memory) are adjusted in a family of their own, so
/// testing them does not raise the bar for the wall time that gates.
#[test]
fn false_discovery_control_covers_the_gating_metrics_alone() {
    let mut rng = Rng::seed_from_u64(9);
    let mut make = |factor: f64| {
        let mut b = bench("b", lognormal(1e6 * factor, 0.03, 10, &mut rng));
        for name in ["user_time", "system_time", "peak_rss"] {
            b.metrics.push(Metric::new(
                name,
                Unit::nanoseconds(),
                Direction::LowerIsBetter,
                lognormal(1e6, 0.5, 10, &mut rng),
            ));
        }
        b
    };
    let (base, cur) = (make(1.0), make(1.08));
    let cmp = compare(&[base], &[cur], &CompareConfig::default());
    let wall = &cmp.entries[0];
    assert!(wall.gating);
    assert_eq!(
        wall.q_value, wall.p_value,
        "alone in its family, the gating metric's q is its p"
    );
}

/// The bimodal command, paired: each side takes a 2x slow path in 30% of rounds; head is
/// 5% slower. The median round says +5% and the verdict follows.
#[test]
fn a_paired_bimodal_slowdown_is_a_regression() {
    let mut rng = Rng::seed_from_u64(23);
    let path = |rng: &mut Rng| if rng.unit_f64() < 0.3 { 2.0 } else { 1.0 };
    let (base, head): (Vec<f64>, Vec<f64>) = (0..30)
        .map(|_| {
            let drift = 1.0 + 0.2 * rng.unit_f64();
            let b = 1e6 * drift * path(&mut rng) * (1.0 + 0.01 * normal(&mut rng));
            let h = 1.05e6 * drift * path(&mut rng) * (1.0 + 0.01 * normal(&mut rng));
            (b, h)
        })
        .unzip();
    let config = CompareConfig {
        method: Method::Paired,
        threshold: 0.02,
        ..CompareConfig::default()
    };
    let e = &compare(&[bench("b", base)], &[bench("b", head)], &config).entries[0];
    assert_eq!(e.method, Method::Paired);
    assert_eq!(e.verdict, Verdict::Regressed, "{e:?}");
}

/// Whatever the data, the verdict and the reported interval agree: an interval wholly beyond
/// the threshold is a regression (or improvement), a significant q-value means the interval
/// excludes no change, and "unchanged" means the interval lies inside the threshold.
#[test]
fn verdicts_never_disagree_with_their_intervals() {
    let mut rng = Rng::seed_from_u64(77);
    for trial in 0..300usize {
        let benchmarks = 1 + trial % 7;
        let paired = trial % 3 == 0;
        let mut base = Vec::new();
        let mut cur = Vec::new();
        for b in 0..benchmarks {
            let n = [2, 3, 5, 8, 12, 20, 25, 40][(trial + b) % 8];
            let effect = [0.0, 0.01, 0.04, 0.06, 0.2, -0.1][(trial * 3 + b) % 6];
            let cv = [0.005, 0.03, 0.2][(trial + 2 * b) % 3];
            base.push(bench(&format!("b{b}"), lognormal(1e6, cv, n, &mut rng)));
            cur.push(bench(
                &format!("b{b}"),
                lognormal(1e6 * (1.0 + effect), cv, n, &mut rng),
            ));
        }
        let config = CompareConfig {
            method: if paired {
                Method::Paired
            } else {
                Method::MedianBootstrap
            },
            gate: GateMetrics::All,
            ..CompareConfig::default()
        };
        for e in compare(&base, &cur, &config).entries {
            let Some((lo, hi)) = e.interval else {
                continue;
            };
            let t = e.threshold;
            match e.verdict {
                Verdict::Regressed => assert!(lo > 0.0, "{e:?}"),
                Verdict::Improved => assert!(hi < 0.0, "{e:?}"),
                Verdict::Unchanged => assert!(lo > -t && hi < t, "{e:?}"),
                _ => {
                    assert!(
                        lo <= t && hi >= -t,
                        "an interval beyond the threshold: {e:?}"
                    );
                    assert!(
                        !(lo > 0.0 && e.change.unwrap() > t),
                        "significant and beyond the threshold: {e:?}"
                    );
                }
            }
            let q = e.q_value.unwrap();
            let excludes = lo > 0.0 || hi < 0.0;
            if (q - config.alpha).abs() > 1e-9 {
                assert_eq!(
                    excludes,
                    q < config.alpha,
                    "q {q} and interval disagree: {e:?}"
                );
            }
        }
    }
}

/// Calibration: with no change and a threshold of nothing, a regression is a significant
/// one-sided result, which a calibrated method at alpha = 5% calls in 2.5% of comparisons. The
/// bound (5%, over 400 seeded comparisons per cell) catches a method whose p-values or
/// intervals are too optimistic for small samples, heavy tails or two modes.
#[test]
fn no_change_is_rarely_called_a_regression() {
    let shapes: [Shape; 3] = [
        ("lognormal", |rng| (0.05 * normal(rng)).exp()),
        ("heavy tail", |rng| {
            let u = rng.unit_f64().max(1e-12);
            1.0 + 0.02 * (u.powf(-1.0 / 2.5) - 1.0)
        }),
        ("bimodal", |rng| {
            (if rng.unit_f64() < 0.3 { 1.6 } else { 1.0 }) * (1.0 + 0.01 * normal(rng))
        }),
    ];
    for (shape, draw) in shapes {
        for (n, paired) in [
            (3, false),
            (5, false),
            (12, false),
            (30, false),
            (8, true),
            (30, true),
        ] {
            let mut rng = Rng::seed_from_u64(n * 31 + u64::from(paired));
            let config = CompareConfig {
                method: if paired {
                    Method::Paired
                } else {
                    Method::MedianBootstrap
                },
                threshold: 1e-9,
                ..CompareConfig::default()
            };
            let trials = 400;
            let mut alarms = 0;
            for _ in 0..trials {
                let mut side = || (0..n).map(|_| 1e6 * draw(&mut rng)).collect::<Vec<_>>();
                let (b, c) = (side(), side());
                let cmp = compare(&[bench("b", b)], &[bench("b", c)], &config);
                alarms += usize::from(cmp.entries[0].verdict == Verdict::Regressed);
            }
            let rate = alarms as f64 / f64::from(trials);
            assert!(
                rate <= 0.05,
                "{shape}, n={n}, paired={paired}: {alarms}/{trials} false alarms"
            );
        }
    }
}

/// A suite of 40 benchmarks of 3 repetitions whose noise differs from 0.5% to 8% (log-uniform),
/// none changed: moderating variances across the suite must not make false alarms (with a
/// threshold of nothing, a calibrated one-sided rate is 2.5%; over 30 seeded suites, 1,200
/// comparisons).
#[test]
fn moderation_across_a_suite_keeps_its_calibration_with_uneven_noise() {
    let mut rng = Rng::seed_from_u64(99);
    let config = CompareConfig {
        threshold: 1e-9,
        fdr: false,
        ..CompareConfig::default()
    };
    let (mut alarms, mut total, mut moderated) = (0, 0, 0);
    for _ in 0..30 {
        let mut base = Vec::new();
        let mut cur = Vec::new();
        for i in 0..40 {
            let cv = 0.005 * 16f64.powf(rng.unit_f64());
            let name = format!("b{i}");
            base.push(bench(&name, lognormal(1e6, cv, 3, &mut rng)));
            cur.push(bench(&name, lognormal(1e6, cv, 3, &mut rng)));
        }
        for e in compare(&base, &cur, &config).entries {
            total += 1;
            alarms += usize::from(e.verdict == Verdict::Regressed);
            moderated += usize::from(e.method == Method::TrimmedTModerated);
        }
    }
    assert_eq!(moderated, total, "every entry borrowed from the suite");
    assert!(alarms * 25 <= total, "{alarms}/{total} false alarms");
}

/// With 3 repetitions at 8% noise a 20% slowdown among 40 benchmarks is missed more often than
/// not: each variance rests on 2-4 degrees of freedom, and false discovery control over 40 tests
/// asks for a small p-value. Moderating the variances across the suite finds it far more often.
#[test]
fn moderation_finds_a_twenty_percent_slowdown_in_three_repetitions() {
    let mut rng = Rng::seed_from_u64(5);
    let (mut plain, mut moderated) = (0, 0);
    for _ in 0..40 {
        let mut base = Vec::new();
        let mut cur = Vec::new();
        for i in 0..40 {
            let factor = if i == 0 { 1.2 } else { 1.0 };
            base.push(bench(&format!("b{i}"), lognormal(1e6, 0.08, 3, &mut rng)));
            cur.push(bench(
                &format!("b{i}"),
                lognormal(1e6 * factor, 0.08, 3, &mut rng),
            ));
        }
        let unmoderated = CompareConfig {
            moderation: false,
            ..CompareConfig::default()
        };
        let without = compare(&base, &cur, &unmoderated);
        assert_eq!(without.entries[0].method, Method::TrimmedT);
        plain += usize::from(without.entries[0].verdict == Verdict::Regressed);
        let with = compare(&base, &cur, &CompareConfig::default());
        assert_eq!(with.entries[0].method, Method::TrimmedTModerated);
        moderated += usize::from(with.entries[0].verdict == Verdict::Regressed);
    }
    assert!(
        moderated >= plain + 10,
        "moderated: {moderated}/40, plain: {plain}/40"
    );
}

/// A baseline that is a harness's mean (pytest-benchmark without `data`) against a current run
/// with every round: means are compared with means. (A trimmed geometric mean against an
/// arithmetic mean of log-normal rounds with spread 0.5 would hide a 13% slowdown.)
#[test]
fn a_reported_mean_is_compared_with_the_mean_of_samples() {
    let mut rng = Rng::seed_from_u64(12);
    // Spread enough that a geometric mean would sit 4.5% below the reported arithmetic mean.
    let rounds = lognormal(1e6, 0.3, 40, &mut rng);
    let mean = rounds.iter().sum::<f64>() / 40.0;
    let sd = (rounds.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 39.0).sqrt();
    let base = with_summary(
        "b",
        stats_median(&rounds),
        ReportedSummary {
            statistic: Statistic::Mean,
            value: mean,
            n: Some(40),
            spread: Spread::StdDev { value: sd },
        },
    );
    // The same rounds, and the same rounds 30% slower.
    for (factor, slower) in [(1.0, false), (1.3, true)] {
        let cur = bench("b", rounds.iter().map(|x| x * factor).collect());
        let e = &compare(
            std::slice::from_ref(&base),
            &[cur],
            &CompareConfig::default(),
        )
        .entries[0];
        assert_eq!(e.method, Method::SummaryT, "{e:?}");
        assert!((e.change.unwrap() - (factor - 1.0)).abs() < 1e-9, "{e:?}");
        assert_eq!(e.verdict == Verdict::Regressed, slower, "{e:?}");
    }
}

fn stats_median(samples: &[f64]) -> f64 {
    benchkeep_core::stats::median(samples)
}

/// Moderation with sides of different sizes (a baseline of 10, a current run of 5) keeps its
/// calibration: one value's variance is estimated on the same scale whatever was trimmed.
#[test]
fn moderation_keeps_its_calibration_with_uneven_sides() {
    let mut rng = Rng::seed_from_u64(31);
    let config = CompareConfig {
        threshold: 1e-9,
        fdr: false,
        ..CompareConfig::default()
    };
    let (mut alarms, mut total) = (0, 0);
    for _ in 0..30 {
        let (mut base, mut cur) = (Vec::new(), Vec::new());
        for i in 0..40 {
            let name = format!("b{i}");
            base.push(bench(&name, lognormal(1e6, 0.03, 10, &mut rng)));
            cur.push(bench(&name, lognormal(1e6, 0.03, 5, &mut rng)));
        }
        for e in compare(&base, &cur, &config).entries {
            assert_eq!(e.method, Method::TrimmedTModerated);
            total += 1;
            alarms += usize::from(e.verdict == Verdict::Regressed);
        }
    }
    assert!(alarms * 25 <= total, "{alarms}/{total} false alarms");
}

/// The speed probe times work: it excuses a slowdown of times on a slower machine, never one of
/// memory or instruction counts (a +15% instruction regression on a machine 25% slower than any
/// the history saw is still a regression).
#[test]
fn the_speed_probe_excuses_times_only() {
    use benchkeep_core::baseline::Baseline;
    use benchkeep_core::compare::compare_job_with_baseline;
    use benchkeep_core::key::BaselineKey;
    use benchkeep_core::model::{Fingerprint, Run, RunId, SpeedProbe};
    let key = BaselineKey::new("main", "test").unwrap();
    let mut rng = Rng::seed_from_u64(8);
    let job = |i: i64, time: f64, instructions: f64, probe_ns: f64, rng: &mut Rng| {
        let at = jiff::Timestamp::from_second(1_800_000_000 + i * 3600).unwrap();
        let mut run = Run::new(
            RunId::new(at, u64::try_from(i).unwrap()),
            at,
            key.clone(),
            Fingerprint::default(),
        );
        let mut b = bench("b", lognormal(time, 0.002, 20, rng));
        b.metrics.push(Metric::new(
            "instructions",
            Unit("instructions".into()),
            Direction::LowerIsBetter,
            lognormal(instructions, 0.0001, 5, rng),
        ));
        run.benchmarks.push(b);
        run.probe = Some(SpeedProbe {
            version: 1,
            samples: vec![probe_ns; 3],
        });
        run
    };
    let history: Vec<Run> = (0..10)
        .map(|i| {
            job(
                i,
                1e6,
                5e8,
                5e6 * (1.0 + 0.001 * f64::from(i32::try_from(i).unwrap())),
                &mut rng,
            )
        })
        .collect();
    let baseline = Baseline::from_runs(key.clone(), &history, jiff::Timestamp::now()).unwrap();
    // 25% slower machine: times 25% up (the machine), instructions 15% up (the code).
    let current = job(99, 1.25e6, 5.75e8, 6.25e6, &mut rng);
    let config = CompareConfig {
        gate: GateMetrics::All,
        ..CompareConfig::default()
    };
    let cmp = compare_job_with_baseline(
        &baseline,
        &current.benchmarks,
        current.probe.as_ref(),
        &config,
    );
    let of = |metric: &str| cmp.entries.iter().find(|e| e.metric == metric).unwrap();
    assert_ne!(
        of("wall_time").verdict,
        Verdict::Regressed,
        "{:?}",
        of("wall_time")
    );
    assert!(of("wall_time").history.unwrap().machine.is_some());
    let instructions = of("instructions");
    assert_eq!(instructions.verdict, Verdict::Regressed, "{instructions:?}");
    assert!(
        instructions.history.unwrap().machine.is_none(),
        "{instructions:?}"
    );
}
