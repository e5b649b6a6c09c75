//! benchkeep's application layer: everything the `benchkeep` binary does between parsing its
//! command line and printing, as a library. A [`Session`] works in one directory with its
//! configuration ([`config`], validated once) and store ([`stores`]); each command is a method
//! taking a request and returning what a front end shows: [`Session::check`] (measure, load or
//! import a run; bootstrap, compare with policies, adaptive looks and `--confirm`, the
//! environment policy, the gate, record, promote), [`Session::compare_runs`], [`Session::ab`]
//! and [`Session::check_pr`] (paired), [`Session::prune`], the baseline lifecycle
//! ([`baseline`]), [`Session::trend`], [`Session::load`], [`Session::site`] (the dashboard's
//! data). Verdicts come back as [`benchkeep_report::VerdictDocument`]s, which every report
//! format renders. Errors are one typed [`Error`] with an exhaustive [`Error::exit_code`]; the
//! documented exit codes are [`exit_codes`].
//!
//! The gate `benchkeep check --run FILE` runs, in a few lines (the first check makes the run
//! the baseline, the second is judged against it):
//!
//! ```
//! use benchkeep_core::key::BaselineKey;
//! use benchkeep_core::model::{Benchmark, Fingerprint, Run, RunId};
//! use benchkeep_engine::check::{CheckRequest, RunSource};
//! use benchkeep_engine::{Outcome, Session, SessionOptions, Silent};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let write_run = |index: i64, nanoseconds: f64| -> std::io::Result<std::path::PathBuf> {
//!     let at = jiff::Timestamp::from_second(1_800_000_000 + index * 60).unwrap();
//!     let key = BaselineKey::new("main", "ci").unwrap();
//!     let mut run = Run::new(RunId::new(at, 7), at, key, Fingerprint::default());
//!     let samples = (0..10).map(|i| nanoseconds * (1.0 + f64::from(i % 5) * 0.002));
//!     run.benchmarks.push(Benchmark::wall_time("parse", samples.collect()));
//!     let path = dir.path().join(format!("run-{index}.json"));
//!     std::fs::write(&path, benchkeep_core::store::encode_run(&run))?;
//!     Ok(path)
//! };
//! let session = Session::new(SessionOptions::in_dir(dir.path()), Box::new(Silent))?;
//! let first = session.check(&CheckRequest::new(RunSource::File(write_run(1, 1.0e6)?)))?;
//! assert_eq!(first.outcome, Outcome::Passed); // no baseline yet: this run becomes it
//! let slower = session.check(&CheckRequest::new(RunSource::File(write_run(2, 1.3e6)?)))?;
//! assert_eq!(slower.outcome, Outcome::Regressed);
//! assert_eq!(slower.outcome.exit_code(), benchkeep_engine::exit_codes::REGRESSION);
//! let verdict = slower.document.expect("a verdict");
//! assert!(verdict.summary.starts_with("FAIL: 1 regressed"));
//! # Ok(())
//! # }
//! ```
//!
//! The gate `benchkeep compare` runs on two sets of benchmarks, with no store at all:
//!
//! ```
//! use benchkeep_core::model::Benchmark;
//! use benchkeep_engine::{config::Config, exit_codes, gate, settings::CompareFlags};
//!
//! let config = Config::parse("[compare]\nthreshold = 5\n").unwrap();
//! let base = vec![Benchmark::wall_time("parse", vec![1.00e6, 1.01e6, 1.02e6, 1.00e6, 1.01e6])];
//! let head = vec![Benchmark::wall_time("parse", vec![1.30e6, 1.31e6, 1.32e6, 1.30e6, 1.31e6])];
//! let judged = gate::compare_benchmarks(&config, &CompareFlags::default(), &base, &head).unwrap();
//! assert!(!judged.passed);
//! assert_eq!(judged.exit_code(), exit_codes::REGRESSION);
//! ```

#![deny(missing_docs)]

pub mod ab;
pub mod baseline;
pub mod check;
mod compare_runs;
pub mod config;
pub mod dashboard;
mod error;
pub mod gate;
mod git;
pub mod import;
pub mod init;
pub mod load;
mod looks;
pub mod measure;
mod policy;
mod pr;
pub mod promote;
pub mod prune;
pub mod scan;
pub mod session;
pub mod settings;
mod shell;
pub mod stores;
mod suite;
pub mod trend;

/// The core this engine uses (the result model, statistics, the `Store` trait), re-exported so
/// that a library user depends on one crate.
pub use benchkeep_core as core;
/// The reports this engine's verdicts render in, re-exported.
pub use benchkeep_report as report;
pub use error::Error;
pub(crate) use error::{Context, bail};
pub use policy::{limits_not_applied, resolve as resolve_policies};
pub use session::{Events, KeyOverrides, Session, SessionOptions, Silent};

/// A number that differs between processes and between calls: the random part of run ids, and
/// jitter for racing writers.
#[must_use]
pub fn entropy() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

/// The documented exit codes of `benchkeep`, an API for CI scripts.
pub mod exit_codes {
    /// Success; no gating metric failed the gate.
    pub const PASS: u8 = 0;
    /// The gate failed: a regression, a missing benchmark, a limit exceeded.
    pub const REGRESSION: u8 = 1;
    /// Usage error or tool failure, and a gate that cannot judge what it was asked to.
    pub const ERROR: u8 = 2;
    /// `--require-baseline` and no baseline exists.
    pub const NO_BASELINE: u8 = 3;
    /// The output was written, but some items could not be read and were skipped.
    pub const PARTIAL: u8 = 4;
    /// Interrupted by a signal; nothing was recorded.
    pub const INTERRUPTED: u8 = 130;
}

/// Why a configuration (file or flags) cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration {}: {source}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is invalid.
    #[error("invalid configuration {}: {detail}", path.display())]
    InFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong, naming the key.
        detail: String,
    },
    /// A setting is invalid (names the key or flag).
    #[error("{0}")]
    Invalid(String),
}

/// How a gating command ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Nothing failed the gate.
    Passed,
    /// The gate failed: a regression, a missing benchmark, a limit exceeded.
    Regressed,
    /// `require_baseline` and there is no baseline.
    NoBaseline,
}

impl Outcome {
    /// [`Outcome::Passed`] or [`Outcome::Regressed`].
    #[must_use]
    pub fn of(passed: bool) -> Self {
        if passed {
            Outcome::Passed
        } else {
            Outcome::Regressed
        }
    }

    /// The documented exit code of this outcome.
    #[must_use]
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Passed => exit_codes::PASS,
            Outcome::Regressed => exit_codes::REGRESSION,
            Outcome::NoBaseline => exit_codes::NO_BASELINE,
        }
    }
}
