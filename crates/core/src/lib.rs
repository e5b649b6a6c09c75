//! benchkeep-core: the result model, statistics, comparison engine and [`Store`] trait of
//! benchkeep, a continuous-benchmarking toolkit.
//!
//! This crate is pure: no file or network I/O, no async runtime, and every random choice comes
//! from a seed. Stores (`benchkeep-store-fs`, ...) implement [`Store`]; the runner
//! (`benchkeep-runner`) produces [`Run`]s; the CLI glues them together.
//!
//! ```
//! use benchkeep_core::compare::{compare, CompareConfig, Verdict};
//! use benchkeep_core::model::{Benchmark, Direction, Metric, Unit};
//!
//! let bench = |samples: Vec<f64>| Benchmark {
//!     name: "parse".into(),
//!     command: None,
//!     metrics: vec![Metric::new("wall_time", Unit::nanoseconds(), Direction::LowerIsBetter, samples)],
//!     params: std::collections::BTreeMap::new(),
//! };
//! let baseline = bench((0..20).map(|i| 100.0 + f64::from(i % 3)).collect());
//! let slower = bench((0..20).map(|i| 130.0 + f64::from(i % 3)).collect());
//! let result = compare(&[baseline], &[slower], &CompareConfig::default());
//! assert_eq!(result.entries[0].verdict, Verdict::Regressed);
//! ```
#![deny(missing_docs)]

pub mod baseline;
pub mod bootstrap;
pub mod compare;
#[cfg(feature = "conformance")]
pub mod conformance;
mod document;
pub mod history;
pub mod inference;
pub mod key;
pub mod model;
pub mod moderation;
pub mod paired;
pub mod promotion;
pub mod schema;
pub mod sequential;
pub mod stats;
pub mod store;
pub mod trend;

pub use baseline::Baseline;
pub use key::BaselineKey;
pub use model::{Benchmark, Metric, Run, RunId};
pub use store::{PutMode, RunQuery, Store, StoreError, Version, Versioned};
