//! benchkeep's application layer: what the `benchkeep` binary does between parsing its command
//! line and printing, as a library. One configuration file format ([`config`]) and one way to
//! turn it and the command line into comparison settings ([`settings`]); the gate's decision
//! ([`gate`]), which refuses to pass on evidence it does not have; promotion and prune that lose
//! nothing when jobs race ([`promote`]); the documented exit codes ([`exit_codes`]).
//!
//! The gate `benchkeep compare` runs on two run files, in a few lines:
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

pub mod config;
pub mod gate;
mod policy;
pub mod promote;
pub mod settings;

pub use policy::{limits_not_applied, resolve as resolve_policies};

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

/// Why the engine could not do what it was asked; each has its documented exit code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration or flag is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The gate was asked to judge what nothing measured (a gate metric no benchmark has, a
    /// limit in a unit nothing measured): passing would be earned by nothing.
    #[error("{0}")]
    Unjudged(String),
    /// The store failed.
    #[error("{context}: {source}")]
    Store {
        /// What was being done.
        context: String,
        /// The store's error.
        source: benchkeep_core::StoreError,
    },
    /// Runs could not be pooled into a baseline.
    #[error(transparent)]
    Pool(#[from] benchkeep_core::baseline::PoolError),
}

impl Error {
    /// The process exit code for this error. Exhaustive on purpose: a new error must be given
    /// a documented code.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::Unjudged(_) | Error::Store { .. } | Error::Pool(_) => {
                exit_codes::ERROR
            }
        }
    }
}
