//! benchkeep-runner: measures commands as benchmarks, and records where they ran.
//!
//! Each execution is timed from spawn to reaping at nanosecond resolution; user and system CPU
//! time and peak RSS come from `wait4` for that one child (including the descendants it waited
//! for), so they are neither summed over unrelated children nor stuck at an earlier maximum.
//! Commands are started by a small helper process ([`exec_helper`]), so that their peak memory
//! is theirs and not this process's. The
//! command runs in its own process group, so a timeout or Ctrl-C kills everything it started;
//! after each execution, what it left running (a `cmd &` child, a `setsid` daemon) is killed
//! too ([`leftovers`]), unless [`command::MeasureOptions::keep_background`]. Unix only for now.
//!
//! ```
//! use benchkeep_runner::command::{measure, CommandSpec, Interrupt, MeasureOptions, NoProgress, RunCount};
//!
//! let options = MeasureOptions { runs: RunCount::Fixed(3), ..MeasureOptions::default() };
//! let m = measure(&CommandSpec::new(["true"]), &options, &Interrupt::new(), &mut NoProgress).unwrap();
//! assert_eq!(m.samples.len(), 3);
//! let bench = m.into_benchmark("noop", None);
//! assert_eq!(bench.metrics[0].name, "wall_time");
//! ```
#![deny(missing_docs)]

pub mod command;
pub mod environment;
pub mod exec_helper;
pub mod instructions;
pub mod leak;
pub mod leftovers;
pub mod load;
pub mod optimize;
pub mod probe;
pub mod suite;
