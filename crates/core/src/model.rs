//! The result model: a [`Run`] holds [`Benchmark`]s, each with one or more [`Metric`]s of raw samples.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::key::BaselineKey;
use crate::schema::SchemaVersion;

/// Well-known metric names written by the command runner.
pub mod metric_names {
    /// Wall-clock time of one execution, in nanoseconds.
    pub const WALL_TIME: &str = "wall_time";
    /// User-mode CPU time of the measured process tree, in nanoseconds.
    pub const USER_TIME: &str = "user_time";
    /// Kernel-mode CPU time of the measured process tree, in nanoseconds.
    pub const SYSTEM_TIME: &str = "system_time";
    /// Peak resident set size of the measured process tree, in bytes.
    pub const PEAK_RSS: &str = "peak_rss";
    /// Measured executions that failed, one count per job (`--ignore-failure`). The gate
    /// fails when the failure rate is above the baseline's ([`crate::compare::Comparison`]).
    pub const FAILED_RUNS: &str = "failed_runs";
}

/// A unique, time-sortable run identifier: `YYYYMMDDTHHMMSSmmmZ-` followed by 12 hex digits.
///
/// Lexicographic order is chronological order (to the millisecond), which lets stores list the
/// newest runs of a key from names alone, and the fixed alphabet makes an id safe as a file or
/// object name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RunId(String);

/// A string that is not a valid [`RunId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid run id {id:?}: expected YYYYMMDDTHHMMSSmmmZ-xxxxxxxxxxxx (12 hex digits)")]
pub struct InvalidRunId {
    /// The rejected text (truncated to 80 characters).
    pub id: String,
}

const RUN_ID_LEN: usize = 32;

impl RunId {
    /// Builds the id of a run started at `at`; `entropy` makes ids of the same millisecond distinct.
    #[must_use]
    pub fn new(at: Timestamp, entropy: u64) -> Self {
        let utc = at.to_zoned_datetime(jiff::tz::TimeZone::UTC);
        let millis = utc.subsec_nanosecond() / 1_000_000;
        RunId(format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}{:03}Z-{:012x}",
            utc.year(),
            utc.month(),
            utc.day(),
            utc.hour(),
            utc.minute(),
            utc.second(),
            millis,
            entropy & 0xffff_ffff_ffff
        ))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The start time encoded in the id, to the millisecond.
    #[must_use]
    pub fn timestamp(&self) -> Timestamp {
        // Validated at construction, so the fields parse.
        let s = &self.0;
        let num = |range: std::ops::Range<usize>| s[range].parse::<i16>().unwrap_or(0);
        let millis = i32::from(num(15..18));
        // Narrowing is safe: the fields are at most two digits.
        #[allow(clippy::cast_possible_truncation)]
        let small = |range| num(range) as i8;
        jiff::civil::DateTime::new(
            num(0..4),
            small(4..6),
            small(6..8),
            small(9..11),
            small(11..13),
            small(13..15),
            millis * 1_000_000,
        )
        .and_then(|dt| dt.to_zoned_datetime(jiff::tz::TimeZone::UTC))
        .map_or(Timestamp::UNIX_EPOCH, |z| z.timestamp())
    }
}

impl FromStr for RunId {
    type Err = InvalidRunId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        let shape_ok = b.len() == RUN_ID_LEN
            && b[..8].iter().all(u8::is_ascii_digit)
            && b[8] == b'T'
            && b[9..18].iter().all(u8::is_ascii_digit)
            && b[18] == b'Z'
            && b[19] == b'-'
            && b[20..]
                .iter()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c));
        let fields_ok = shape_ok && {
            let id = RunId(s.to_owned());
            // A real calendar date: month 13 or hour 25 would not round-trip.
            RunId::new(
                id.timestamp(),
                u64::from_str_radix(&s[20..], 16).unwrap_or(0),
            ) == id
        };
        if fields_ok {
            Ok(RunId(s.to_owned()))
        } else {
            Err(InvalidRunId {
                id: s.chars().take(80).collect(),
            })
        }
    }
}

impl TryFrom<String> for RunId {
    type Error = InvalidRunId;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<RunId> for String {
    fn from(id: RunId) -> Self {
        id.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether smaller or larger values of a metric are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Times, memory: a larger value is a regression.
    LowerIsBetter,
    /// Throughput, speedup: a smaller value is a regression.
    HigherIsBetter,
}

/// The unit of a metric's samples. Well-known units format nicely; any other string is kept as is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Unit(pub String);

impl Unit {
    /// Nanoseconds.
    #[must_use]
    pub fn nanoseconds() -> Self {
        Unit("ns".into())
    }
    /// Bytes.
    #[must_use]
    pub fn bytes() -> Self {
        Unit("bytes".into())
    }

    /// Formats a value of this unit for people: `12.3 ms`, `45.1 MiB`, `3.2 ops/s`.
    #[must_use]
    pub fn format(&self, value: f64) -> String {
        match self.0.as_str() {
            "ns" => format_duration_ns(value),
            "bytes" => format_bytes(value),
            other => format!("{} {other}", format_number(value)),
        }
    }
}

fn format_number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 100.0 || magnitude == 0.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

fn format_duration_ns(ns: f64) -> String {
    let magnitude = ns.abs();
    let (scaled, unit) = if magnitude >= 1e9 {
        (ns / 1e9, "s")
    } else if magnitude >= 1e6 {
        (ns / 1e6, "ms")
    } else if magnitude >= 1e3 {
        (ns / 1e3, "µs")
    } else {
        (ns, "ns")
    };
    format!("{} {unit}", format_number(scaled))
}

fn format_bytes(bytes: f64) -> String {
    let magnitude = bytes.abs();
    let (scaled, unit) = if magnitude >= 1024.0 * 1024.0 * 1024.0 {
        (bytes / (1024.0 * 1024.0 * 1024.0), "GiB")
    } else if magnitude >= 1024.0 * 1024.0 {
        (bytes / (1024.0 * 1024.0), "MiB")
    } else if magnitude >= 1024.0 {
        (bytes / 1024.0, "KiB")
    } else {
        (bytes, "B")
    };
    format!("{} {unit}", format_number(scaled))
}

/// One measured quantity of a benchmark, with every raw sample kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// The metric's name, e.g. [`metric_names::WALL_TIME`].
    pub name: String,
    /// The unit of every sample.
    pub unit: Unit,
    /// Which way is better.
    pub direction: Direction,
    /// Raw samples, in the order they were taken.
    pub samples: Vec<f64>,
    /// What the harness reported about measurements it did not export (format 1.4): kept only
    /// for a metric with one sample (a summary-only output such as Catch2's XML, Benchmark.js or
    /// libtest), so that one value still comes with its spread and sample count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<ReportedSummary>,
}

impl Metric {
    /// A metric of raw samples, with no harness summary.
    #[must_use]
    pub fn new(
        name: impl Into<String>,
        unit: Unit,
        direction: Direction,
        samples: Vec<f64>,
    ) -> Self {
        Metric {
            name: name.into(),
            unit,
            direction,
            samples,
            summary: None,
        }
    }
}

/// A harness's own summary of measurements it did not export one by one: the statistic it
/// reports, how many measurements it summarises, and their spread, each as the harness gave it.
///
/// ```
/// use benchkeep_core::model::{ReportedSummary, Spread, Statistic};
///
/// // Catch2: `<mean value="1234"/>`, `<standardDeviation value="56"/>`, `samples="100"`.
/// let catch2 = ReportedSummary {
///     statistic: Statistic::Mean,
///     value: 1234.0,
///     n: Some(100),
///     spread: Spread::StdDev { value: 56.0 },
/// };
/// assert!((catch2.log_variance_of_centre().unwrap().0 - (56.0f64 / 1234.0).powi(2) / 100.0).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportedSummary {
    /// Which centre `value` is.
    pub statistic: Statistic,
    /// The centre, in the metric's unit.
    pub value: f64,
    /// How many measurements it summarises, when the harness says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u64>,
    /// Their spread, as the harness reports it.
    pub spread: Spread,
}

/// The centre a harness reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Statistic {
    /// The arithmetic mean of the measurements.
    Mean,
    /// Their median.
    Median,
}

/// The spread a harness reports around its centre.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Spread {
    /// The sample standard deviation of the measurements, in the metric's unit (Catch2, Google
    /// Benchmark's `stddev` aggregate, pytest-benchmark's `stddev`).
    StdDev {
        /// The standard deviation.
        value: f64,
    },
    /// The margin of error of the mean relative to it, at `confidence` (Benchmark.js's `±1.2%`
    /// at 95%, from Student's t with `n - 1` degrees of freedom).
    MarginOfError {
        /// Relative margin, e.g. 0.012 for ±1.2%.
        relative: f64,
        /// Confidence of the margin, e.g. 0.95.
        confidence: f64,
    },
    /// The distance between the largest and smallest measurement (libtest's `(+/- N)`, which is
    /// the range of its winsorized samples), in the metric's unit.
    Range {
        /// The range.
        value: f64,
    },
}

impl ReportedSummary {
    /// The variance of `ln(centre)` this summary implies, with the degrees of freedom it was
    /// estimated with (`f64::INFINITY` for a bound rather than an estimate), or `None` when the
    /// summary cannot say (no positive centre, no sample count where one is needed).
    ///
    /// - a standard deviation `s` of `n` measurements: `(s / value)^2 / n`, `n - 1` degrees of
    ///   freedom (the delta method on a log scale);
    /// - a relative margin of error `r` at confidence `c` of `n` measurements: `(r / t)^2` with
    ///   `t` Student's `(1 + c) / 2` quantile for `n - 1` degrees of freedom (the normal one
    ///   above 30, as Benchmark.js computes its margin);
    /// - a range `w` with no sample count: `(w / 2 / value)^2`, a bound, because no distribution
    ///   confined to an interval of width `w` has a standard deviation above `w / 2`
    ///   (Popoviciu's inequality), and the centre is taken as one measurement. Conservative on
    ///   purpose: libtest does not say how many samples its range covers.
    #[must_use]
    pub fn log_variance_of_centre(&self) -> Option<(f64, f64)> {
        if !(self.value.is_finite() && self.value > 0.0) {
            return None;
        }
        let n = self.n.filter(|&n| n >= 2).map(|n| n as f64);
        match self.spread {
            Spread::StdDev { value } if value.is_finite() && value >= 0.0 => {
                let n = n?;
                Some(((value / self.value).powi(2) / n, n - 1.0))
            }
            Spread::MarginOfError {
                relative,
                confidence,
            } if relative.is_finite()
                && relative >= 0.0
                && confidence > 0.0
                && confidence < 1.0 =>
            {
                let n = n?;
                // Benchmark.js tabulates Student's t up to 30 degrees of freedom and uses the
                // normal quantile beyond; so does this, to undo its margin exactly.
                let df = if n - 1.0 > 30.0 {
                    f64::INFINITY
                } else {
                    n - 1.0
                };
                let t = crate::inference::student_t_quantile(f64::midpoint(1.0, confidence), df);
                Some(((relative / t).powi(2), n - 1.0))
            }
            Spread::Range { value } if value.is_finite() && value >= 0.0 => {
                Some(((value / 2.0 / self.value).powi(2), f64::INFINITY))
            }
            _ => None,
        }
    }
}

/// One benchmark of a run. Its first metric is its *primary* metric, the one gated by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Benchmark {
    /// The benchmark's name; any text, unique within a run.
    pub name: String,
    /// The command that was measured, when the benchmark is a command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// The metrics, primary first.
    pub metrics: Vec<Metric>,
    /// How the benchmark was set up, as name and value (format 1.2), e.g. the plan the
    /// parallelism optimizer chose. Not compared statistically: a change between baseline and
    /// current is reported as such, because it explains a step in the metrics.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
}

impl Benchmark {
    /// A benchmark with one metric, [`metric_names::WALL_TIME`] in nanoseconds (lower is better):
    /// the shape of most timed results, and of most examples and tests.
    ///
    /// ```
    /// use benchkeep_core::model::Benchmark;
    ///
    /// let parse = Benchmark::wall_time("parse", vec![1.2e6, 1.1e6, 1.3e6]);
    /// assert_eq!(parse.metrics[0].name, "wall_time");
    /// ```
    #[must_use]
    pub fn wall_time(name: impl Into<String>, samples_ns: Vec<f64>) -> Self {
        Benchmark {
            name: name.into(),
            command: None,
            metrics: vec![Metric::new(
                metric_names::WALL_TIME,
                Unit::nanoseconds(),
                Direction::LowerIsBetter,
                samples_ns,
            )],
            params: BTreeMap::new(),
        }
    }

    /// The metric called `name`, if the benchmark has it.
    #[must_use]
    pub fn metric(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.name == name)
    }
}

/// The git state of the measured code, when known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitInfo {
    /// The commit hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The branch name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Whether the work tree had uncommitted changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dirty: Option<bool>,
}

/// The CI job that produced a run, when known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CiInfo {
    /// `github`, `gitlab`, or `generic`.
    pub provider: String,
    /// The job or pipeline identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// A link to the job, when the provider gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The commit the job built (format 1.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The branch the job built: a pull request's source branch (format 1.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The pull or merge request number, when the job builds one (format 1.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<u64>,
    /// The branch a pull request would merge into (format 1.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_branch: Option<String>,
    /// The machine or runner that ran the job (format 1.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<String>,
}

impl CiInfo {
    /// Whether the job was made for a pull or merge request (it has a number, or a base branch
    /// to merge into).
    #[must_use]
    pub fn is_pull_request(&self) -> bool {
        self.pull_request.is_some() || self.base_branch.is_some()
    }
}

/// The machine a run was measured on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Operating system (`linux`, `macos`, ...).
    pub os: String,
    /// CPU architecture (`x86_64`, `aarch64`, ...).
    pub arch: String,
    /// CPU model name, when readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_model: Option<String>,
    /// Logical cores this process may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logical_cores: Option<u32>,
    /// Total memory in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// Kernel release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// The compiler or runtime the benchmarks ran on, when known (format 1.3): from
    /// `BENCHKEEP_TOOLCHAIN`, or what an imported harness output says (`CPython 3.11.7`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toolchain: Option<String>,
}

impl Fingerprint {
    /// The default platform part of a baseline key: `os-arch`, e.g. `linux-x86_64`.
    ///
    /// Deliberately coarse: CI fleets mix CPU models under one label, and splitting keys by model
    /// would leave most jobs without a baseline. The full fingerprint is kept with every run.
    #[must_use]
    pub fn platform_key(&self) -> String {
        format!("{}-{}", self.os, self.arch)
    }

    /// The fields that differ from `other` in ways that change timings: OS, architecture, CPU
    /// model, core count and toolchain, as `field: theirs -> ours`. A field unknown on either
    /// side is not compared.
    #[must_use]
    pub fn differences_from(&self, other: &Fingerprint) -> Vec<String> {
        let mut changed = Vec::new();
        let mut compare = |field: &str, ours: Option<String>, theirs: Option<String>| {
            if let (Some(ours), Some(theirs)) = (ours, theirs)
                && ours != theirs
            {
                changed.push(format!("{field}: {theirs} -> {ours}"));
            }
        };
        compare("os", Some(self.os.clone()), Some(other.os.clone()));
        compare("arch", Some(self.arch.clone()), Some(other.arch.clone()));
        compare("cpu_model", self.cpu_model.clone(), other.cpu_model.clone());
        compare(
            "logical_cores",
            self.logical_cores.map(|n| n.to_string()),
            other.logical_cores.map(|n| n.to_string()),
        );
        compare("toolchain", self.toolchain.clone(), other.toolchain.clone());
        changed
    }
}

/// The document `kind` of a run.
pub const RUN_KIND: &str = "run";

/// One invocation of benchkeep that measured something.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    /// The format version this run was written with.
    pub schema: SchemaVersion,
    /// Always [`RUN_KIND`].
    pub kind: String,
    /// The run's unique id.
    pub id: RunId,
    /// When the run started.
    pub timestamp: Timestamp,
    /// The baseline key this run belongs to.
    pub key: BaselineKey,
    /// Git state, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitInfo>,
    /// CI job, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<CiInfo>,
    /// The machine.
    pub fingerprint: Fingerprint,
    /// Free-form labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The benchmarks, in the order they ran.
    pub benchmarks: Vec<Benchmark>,
    /// How fast the machine ran while this job measured (format 1.4), for stored comparisons
    /// with jobs that ran at other times; absent for imported results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<SpeedProbe>,
    /// Whether the check that recorded this run passed its gate (format 1.5); absent for runs
    /// recorded without one (`run`, `import`, `baseline set`). Only runs that passed are pooled
    /// at a merge-base.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passed: Option<bool>,
    /// Fields written by a newer minor version of the format, kept so they survive a rewrite.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

crate::document::deserialize_keeping_unknown_fields!(
    Run,
    "a benchkeep run document",
    required: [schema, kind, id, timestamp, key, fingerprint, benchmarks],
    optional: [git, ci, labels, probe, passed]
);

/// Timings of a fixed amount of CPU and memory work, made beside a job's benchmarks: how fast the
/// machine ran, whatever the code did (`benchkeep_runner::probe`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeedProbe {
    /// The version of the work; probes of different versions are not comparable.
    pub version: u32,
    /// Nanoseconds per repetition of the work.
    pub samples: Vec<f64>,
}

impl SpeedProbe {
    /// The median time of the work, when there is a usable one.
    #[must_use]
    pub fn median(&self) -> Option<f64> {
        let median = crate::stats::median(&self.samples);
        (median.is_finite() && median > 0.0).then_some(median)
    }
}

impl Run {
    /// A run with no benchmarks yet.
    #[must_use]
    pub fn new(
        id: RunId,
        timestamp: Timestamp,
        key: BaselineKey,
        fingerprint: Fingerprint,
    ) -> Self {
        Run {
            schema: crate::schema::CURRENT,
            kind: RUN_KIND.into(),
            id,
            timestamp,
            key,
            git: None,
            ci: None,
            fingerprint,
            labels: BTreeMap::new(),
            benchmarks: Vec::new(),
            probe: None,
            passed: None,
            extra: BTreeMap::new(),
        }
    }

    /// The benchmark called `name`, if the run has it.
    #[must_use]
    pub fn benchmark(&self, name: &str) -> Option<&Benchmark> {
        self.benchmarks.iter().find(|b| b.name == name)
    }
}

/// Why a set of benchmarks cannot be gated or become a baseline: a gate over it would pass on
/// nothing measured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Incomplete {
    /// Not one benchmark.
    #[error("it has no benchmarks: nothing was measured, so nothing can pass a gate")]
    NoBenchmarks,
    /// A benchmark without metrics.
    #[error("benchmark {0:?} has no metrics: nothing was measured for it")]
    NoMetrics(String),
    /// A metric without samples.
    #[error("metric {metric:?} of benchmark {benchmark:?} has no samples")]
    NoSamples {
        /// The benchmark.
        benchmark: String,
        /// Its empty metric.
        metric: String,
    },
    /// A sample that is negative or not a finite number: comparisons are ratios of
    /// non-negative measurements.
    #[error(
        "metric {metric:?} of benchmark {benchmark:?} has a sample that is {value} (samples must be finite and not negative)"
    )]
    InvalidSample {
        /// The benchmark.
        benchmark: String,
        /// The metric.
        metric: String,
        /// The sample, as written.
        value: String,
    },
    /// Two metrics with one name in one benchmark: only one of them would be compared.
    #[error("benchmark {benchmark:?} has two metrics named {metric:?}")]
    DuplicateMetric {
        /// The benchmark.
        benchmark: String,
        /// The repeated name.
        metric: String,
    },
}

/// Checks that every benchmark measured something: at least one benchmark, each with at
/// least one metric, each with at least one sample, every sample finite and not negative.
///
/// ```
/// use benchkeep_core::model::{Benchmark, Incomplete, check_complete};
///
/// assert_eq!(check_complete(&[]), Err(Incomplete::NoBenchmarks));
/// assert!(check_complete(&[Benchmark::wall_time("parse", vec![1e6])]).is_ok());
/// for bad in [-5.0, f64::NAN, f64::INFINITY] {
///     let refused = check_complete(&[Benchmark::wall_time("parse", vec![1e6, bad])]);
///     assert!(matches!(refused, Err(Incomplete::InvalidSample { .. })), "{bad}");
/// }
/// ```
///
/// # Errors
///
/// The first [`Incomplete`] found.
pub fn check_complete(benchmarks: &[Benchmark]) -> Result<(), Incomplete> {
    if benchmarks.is_empty() {
        return Err(Incomplete::NoBenchmarks);
    }
    for bench in benchmarks {
        if bench.metrics.is_empty() {
            return Err(Incomplete::NoMetrics(bench.name.clone()));
        }
        if let Some(metric) = bench.metrics.iter().find(|m| m.samples.is_empty()) {
            return Err(Incomplete::NoSamples {
                benchmark: bench.name.clone(),
                metric: metric.name.clone(),
            });
        }
        for metric in &bench.metrics {
            if let Some(&value) = metric
                .samples
                .iter()
                .find(|s| !(s.is_finite() && **s >= 0.0))
            {
                return Err(Incomplete::InvalidSample {
                    benchmark: bench.name.clone(),
                    metric: metric.name.clone(),
                    value: value.to_string(),
                });
            }
        }
        for (i, metric) in bench.metrics.iter().enumerate() {
            if bench.metrics[..i].iter().any(|m| m.name == metric.name) {
                return Err(Incomplete::DuplicateMetric {
                    benchmark: bench.name.clone(),
                    metric: metric.name.clone(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_id_round_trips_and_sorts_by_time() {
        let early: Timestamp = "2026-11-23T15:16:00.123Z".parse().unwrap();
        let late: Timestamp = "2026-11-23T15:16:00.124Z".parse().unwrap();
        let a = RunId::new(early, 0xdead_beef);
        let b = RunId::new(late, 0);
        assert_eq!(a.as_str(), "20261123T151600123Z-0000deadbeef");
        assert!(a < b);
        assert_eq!(a.timestamp(), early);
        assert_eq!(a.as_str().parse::<RunId>().unwrap(), a);
    }

    #[test]
    fn run_id_rejects_paths_and_impossible_dates() {
        for bad in [
            "../../etc/passwd",
            "",
            "20261323T151600123Z-0000deadbeef",
            "20261123T151600123Z-0000DEADBEEF",
            "20261123T151600123Z-0000deadbee/",
        ] {
            assert!(bad.parse::<RunId>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn fingerprint_differences_name_the_fields_that_matter() {
        let base = Fingerprint {
            os: "linux".into(),
            arch: "x86_64".into(),
            cpu_model: Some("EPYC 7763".into()),
            logical_cores: Some(2),
            memory_bytes: Some(1),
            kernel: Some("6.1".into()),
            toolchain: None,
        };
        let mut ours = base.clone();
        ours.memory_bytes = Some(2);
        ours.kernel = Some("6.2".into());
        ours.toolchain = Some("rustc 1.95.0".into());
        assert!(
            ours.differences_from(&base).is_empty(),
            "memory, kernel, one-sided toolchain"
        );
        ours.cpu_model = Some("Xeon 8370C".into());
        ours.logical_cores = Some(4);
        assert_eq!(
            ours.differences_from(&base),
            [
                "cpu_model: EPYC 7763 -> Xeon 8370C",
                "logical_cores: 2 -> 4"
            ]
        );
    }

    #[test]
    fn units_format_for_people() {
        assert_eq!(Unit::nanoseconds().format(20_123_000.0), "20.12 ms");
        assert_eq!(Unit::bytes().format(3.0 * 1024.0 * 1024.0), "3.000 MiB");
        assert_eq!(Unit("ops/s".into()).format(1234.0), "1234 ops/s");
    }
}
