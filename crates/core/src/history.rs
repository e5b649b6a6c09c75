//! History-aware comparison with stored baselines: how much do separately started jobs differ?
//!
//! Samples from one job repeat within 0.1-1%, but a job on another machine (or the same machine
//! another hour) can differ by 3-15%. A two-sample test of this job against samples stored by
//! another job counts that difference as a code change. When a baseline was pooled from several
//! jobs, each job left a summary ([`JobStat`]: its median and the standard error of that median on
//! a log scale), and the spread of those medians measures the between-job variation directly.
//!
//! The model, on log medians: job `k` measures `mu + b_k + e_k` with a between-job effect `b_k`
//! (variance `sigma_b^2`) and the within-job error `e_k` of its median (variance `se_k^2`, known
//! from its samples). For `K` past jobs with mean `m` and sample variance `s^2`,
//! `sigma_b^2 = max(0, s^2 - mean(se_k^2))`, and the current job's difference `d = m_c - m` has
//! variance `sigma_b^2 + se_c^2 + s^2 / K`. A Student t with `K - 1` degrees of freedom gives the
//! prediction interval of `d` and its two-sided p-value, so the test is exactly as wide as the
//! measured job-to-job noise, plus this job's own spread.

use serde::{Deserialize, Serialize};

use crate::stats;

/// Consistency constant of the MAD for a normal law (`1 / Phi^-1(3/4)`).
const MAD_TO_SD: f64 = 1.482_6;
/// Asymptotic standard error of a median relative to that of a mean, `sqrt(pi / 2)`.
const MEDIAN_SE_FACTOR: f64 = 1.253_314;

/// One job's summary of one metric, kept in baselines pooled from several jobs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct JobStat {
    /// Samples the job measured.
    pub n: usize,
    /// Their median.
    pub median: f64,
    /// Standard error of `ln(median)`, from the robust spread of the log samples.
    pub log_se: f64,
    /// How fast the machine ran during the job: the median time of the speed probe's work and
    /// the probe's version (format 1.4; absent for imported results and older baselines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeMedian>,
}

/// A job's median speed-probe time, with the version of the probe's work.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeMedian {
    /// The version of the work (probes of different versions are not comparable).
    pub version: u32,
    /// Median nanoseconds of the work.
    pub ns: f64,
}

impl ProbeMedian {
    /// The median of a job's probe, when it has a usable one.
    #[must_use]
    pub fn of(probe: &crate::model::SpeedProbe) -> Option<Self> {
        Some(ProbeMedian {
            version: probe.version,
            ns: probe.median()?,
        })
    }
}

impl JobStat {
    /// Summarises sorted samples; `None` unless all are positive and finite (a log scale needs it).
    #[must_use]
    pub fn of_sorted(sorted: &[f64]) -> Option<Self> {
        if sorted.is_empty() || !sorted.iter().all(|x| x.is_finite() && *x > 0.0) {
            return None;
        }
        // The logarithm is monotone, so the logs of sorted samples are sorted.
        let logs: Vec<f64> = sorted.iter().map(|x| x.ln()).collect();
        let sd = MAD_TO_SD * stats::mad_of_sorted(&logs);
        Some(JobStat {
            n: sorted.len(),
            median: stats::median_of_sorted(sorted),
            log_se: MEDIAN_SE_FACTOR * sd / (sorted.len() as f64).sqrt(),
            probe: None,
        })
    }
}

/// What the history model found for one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEstimate {
    /// Past jobs in the model.
    pub jobs: usize,
    /// Relative change of this job's median over the geometric mean of the past jobs' medians.
    pub change: f64,
    /// Prediction interval of `change` under "no change".
    pub interval: (f64, f64),
    /// Two-sided p-value.
    pub p_value: f64,
    /// Estimated job-to-job standard deviation, relative (e.g. 0.04 = 4%).
    pub between_jobs: f64,
    /// The typical past job: the geometric mean of their medians, which `change` is relative to.
    pub baseline_centre: f64,
    /// The share of the interval's variance that comes from the current job's own samples: more
    /// samples of this job can narrow only that part.
    pub this_job_share: f64,
    /// How much slower (positive) or faster the machine ran than during the past jobs on
    /// average, by the speed probe, when both sides have one.
    pub machine_shift: Option<f64>,
    /// How far (relative) this job's probe lies outside the range of the past jobs' probes:
    /// the shift no history explains, by which the interval is stretched on its side (positive:
    /// a slower machine; 0 inside the range).
    pub machine_beyond_range: Option<f64>,
    /// The law of the log change, for p-values and intervals at any level.
    pub law: crate::inference::Law,
}

/// Compares the `current` job with `history` (at least 2 past jobs; `None` otherwise).
#[must_use]
pub fn analyze(history: &[JobStat], current: &JobStat, confidence: f64) -> Option<HistoryEstimate> {
    let k = history.len();
    if k < 2 {
        return None;
    }
    let kf = k as f64;
    let logs: Vec<f64> = history.iter().map(|j| j.median.ln()).collect();
    let mean = logs.iter().sum::<f64>() / kf;
    let s2 = logs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (kf - 1.0);
    let within = history.iter().map(|j| j.log_se.powi(2)).sum::<f64>() / kf;
    let between = (s2 - within).max(0.0);
    let machine = machine_shift(history, current);
    // The past jobs' spread covers the machine speeds they saw; a job on a machine outside that
    // range (a busy runner against a quiet history) may differ by as much as the machine did
    // beyond it, which no history predicts: that excess widens the interval, whole.
    let variance = between + current.log_se.powi(2) + s2 / kf;
    let d = current.median.ln() - mean;
    // A benchmark slows down with its machine by at most as much as the probe did (between not
    // at all, for a sleep or an I/O wait, and fully, for a CPU-bound loop): the part of this
    // job's shift beyond the history's range may be that much of its estimate, in the
    // machine's direction, and the interval is stretched by it on that side.
    let law = match machine.map(|m| m.beyond_range) {
        Some(excess) if excess != 0.0 => crate::inference::Law::Biased {
            centre: d,
            scale: variance.max(0.0).sqrt(),
            df: kf - 1.0,
            below: excess.max(0.0),
            above: (-excess).max(0.0),
        },
        _ => crate::inference::Law::Location {
            centre: d,
            scale: variance.max(0.0).sqrt(),
            df: kf - 1.0,
        },
    };
    Some(HistoryEstimate {
        jobs: k,
        change: d.exp_m1(),
        interval: law.interval(1.0 - confidence),
        p_value: law.p_value(),
        between_jobs: between.sqrt(),
        baseline_centre: mean.exp(),
        machine_shift: machine.map(|m| m.from_mean.exp_m1()),
        machine_beyond_range: machine.map(|m| m.beyond_range.exp_m1()),
        this_job_share: if variance > 0.0 {
            current.log_se.powi(2) / variance
        } else {
            0.0
        },
        law,
    })
}

/// Where the current job's speed probe lies against the past jobs' (log scale).
#[derive(Debug, Clone, Copy)]
struct MachineShift {
    /// From the past jobs' mean log probe median.
    from_mean: f64,
    /// Beyond the range of the past jobs' log probe medians: positive for a slower machine,
    /// negative for a faster one, 0 inside it.
    beyond_range: f64,
}

/// The current job's speed probe against the past jobs', when the current job and at least two
/// past jobs have probes of the same version.
fn machine_shift(history: &[JobStat], current: &JobStat) -> Option<MachineShift> {
    let now = current.probe.filter(|p| p.ns > 0.0)?;
    let past: Vec<f64> = history
        .iter()
        .filter_map(|j| j.probe)
        .filter(|p| p.version == now.version && p.ns > 0.0)
        .map(|p| p.ns.ln())
        .collect();
    if past.len() < 2 {
        return None;
    }
    let here = now.ns.ln();
    let (low, high) = past
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    Some(MachineShift {
        from_mean: here - past.iter().sum::<f64>() / past.len() as f64,
        beyond_range: (here - high).max(0.0) - (low - here).max(0.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Rng;

    /// A job on a machine `offset` away from the typical one, with 0.5% within-job noise.
    fn job(offset: f64, rng: &mut Rng) -> JobStat {
        let samples: Vec<f64> = (0..30)
            .map(|_| 1e6 * offset * (1.0 + 0.01 * (rng.unit_f64() - 0.5)))
            .collect();
        JobStat::of_sorted(&stats::sorted(&samples)).unwrap()
    }

    #[test]
    fn between_job_noise_widens_the_interval() {
        let mut rng = Rng::seed_from_u64(5);
        // Jobs differ by about ±5%.
        let history: Vec<JobStat> = (0..12)
            .map(|_| job(1.0 + 0.1 * (rng.unit_f64() - 0.5), &mut rng))
            .collect();
        let current = job(1.04, &mut rng);
        let est = analyze(&history, &current, 0.95).unwrap();
        assert!(est.between_jobs > 0.02, "{est:?}");
        assert!(
            est.p_value > 0.05,
            "a 4% job within ±5% job noise is no evidence: {est:?}"
        );
        assert!(est.interval.0 < est.change && est.change < est.interval.1);
    }

    #[test]
    fn quiet_history_detects_small_changes() {
        let mut rng = Rng::seed_from_u64(6);
        let history: Vec<JobStat> = (0..12)
            .map(|_| job(1.0 + 0.004 * (rng.unit_f64() - 0.5), &mut rng))
            .collect();
        let est = analyze(&history, &job(1.05, &mut rng), 0.95).unwrap();
        assert!(est.p_value < 0.001, "{est:?}");
        assert!((est.change - 0.05).abs() < 0.01, "{est:?}");
    }

    #[test]
    fn a_job_on_a_slower_machine_is_judged_with_that_shift_in_its_interval() {
        let mut rng = Rng::seed_from_u64(7);
        let probed = |job: JobStat, ns: f64| JobStat {
            probe: Some(ProbeMedian { version: 1, ns }),
            ..job
        };
        // A quiet history: jobs within ±0.2%, machine probes within ±0.5%.
        let history: Vec<JobStat> = (0..10)
            .map(|i| {
                let job = job(1.0 + 0.004 * (rng.unit_f64() - 0.5), &mut rng);
                probed(job, 5e6 * (1.0 + 0.01 * (f64::from(i) / 10.0 - 0.5)))
            })
            .collect();
        // The check runs on a machine 25% slower, and so does the benchmark.
        let busy = probed(job(1.25, &mut rng), 6.25e6);
        let unprobed = analyze(&history, &job(1.25, &mut rng), 0.95).unwrap();
        assert!(
            unprobed.p_value < 1e-6,
            "without a probe this looks regressed"
        );
        let est = analyze(&history, &busy, 0.95).unwrap();
        assert!((est.machine_shift.unwrap() - 0.25).abs() < 0.01, "{est:?}");
        assert!(est.machine_beyond_range.unwrap() > 0.2, "{est:?}");
        // The machine explains it: the least change the estimate stands for is about nothing,
        // and so is the interval's lower end.
        let (least, _) = est.law.estimate_range().unwrap();
        assert!(least.abs() < 0.01 && est.interval.0 < 0.01, "{est:?}");
        // On the same machine, a real 25% slowdown stays certain, and inside the range the
        // history saw, nothing is widened.
        let same_machine = probed(job(1.25, &mut rng), 5e6);
        let est = analyze(&history, &same_machine, 0.95).unwrap();
        assert!(est.p_value < 1e-6);
        assert!(
            est.machine_beyond_range.unwrap().abs() < f64::EPSILON,
            "{est:?}"
        );
    }

    #[test]
    fn identical_jobs_are_certain_and_too_few_jobs_are_refused() {
        let exact = JobStat {
            n: 5,
            median: 100.0,
            log_se: 0.0,
            probe: None,
        };
        let est = analyze(&[exact; 4], &exact, 0.95).unwrap();
        assert_eq!(est.interval, (0.0, 0.0));
        assert!((est.p_value - 1.0).abs() < f64::EPSILON);
        assert!(analyze(&[exact], &exact, 0.95).is_none());
        assert!(JobStat::of_sorted(&[0.0, 1.0]).is_none());
    }
}
