//! Versioned on-disk documents and the readable-by check.
//!
//! Every document benchkeep writes (a run, a baseline) carries `"schema": {"major": M, "minor": m}`
//! and `"kind"`. A reader accepts any document with its own major version: a newer minor only adds
//! optional fields, which readers keep (see [`crate::model::Run::extra`]) so that an older writer
//! never silently drops what a newer one wrote. A different major is refused with a message that
//! says what to do.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The format version of a stored document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SchemaVersion {
    /// Incompatible changes bump the major version.
    pub major: u32,
    /// Compatible additions (new optional fields) bump the minor version.
    pub minor: u32,
}

/// The version this build writes, and the changelog of the format.
///
/// - `1.0`: runs (`kind = "run"`) and baselines (`kind = "baseline"`) as described in
///   `docs/FORMAT.md`.
/// - `1.1`: baselines may carry `history`: per-job summaries (median, n, standard error of the
///   log median) of every benchmark metric, for history-aware comparison.
/// - `1.2`: benchmarks may carry `params` (name to value, e.g. the optimizer's plan); a change is
///   reported next to the comparison, never tested.
/// - `1.3`: a run's `ci` may carry `commit`, `branch`, `pull_request`, `base_branch` and
///   `runner`; fingerprints may carry `toolchain`.
/// - `1.4`: a metric may carry `summary`: what a harness reported about measurements it did not
///   export (the statistic, its value, the count and the spread: a standard deviation, a relative
///   margin of error, or a range), kept for metrics with one sample.
/// - `1.5`: a run may carry `passed`: whether the check that recorded it passed its gate (only
///   such runs, from clean trees, are pooled at a merge-base); a baseline may carry `changes`
///   (its versions: created, promoted, set, replaced, accepted) and `accepted` (an intentional
///   slowdown); verdict entries may carry `effect` (`failure` or `warning`) and `limit`.
pub const CURRENT: SchemaVersion = SchemaVersion { major: 1, minor: 5 };

impl fmt::Display for SchemaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl Default for SchemaVersion {
    fn default() -> Self {
        CURRENT
    }
}

/// Why a document cannot be read by this build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unreadable {
    /// Written by a newer benchkeep with an incompatible format.
    #[error(
        "format {found} was written by a newer benchkeep; this build reads {supported}.x: upgrade benchkeep"
    )]
    TooNew {
        /// The version found in the document.
        found: SchemaVersion,
        /// The major version this build reads.
        supported: u32,
    },
    /// Written in a format this build no longer reads.
    #[error(
        "format {found} is older than this build reads ({supported}.x): re-record it, or read it with benchkeep {found_major}.x",
        found_major = found.major
    )]
    TooOld {
        /// The version found in the document.
        found: SchemaVersion,
        /// The major version this build reads.
        supported: u32,
    },
}

impl SchemaVersion {
    /// Checks that a document of this version can be read by a build that writes [`CURRENT`].
    pub fn check_readable_by(self, reader: SchemaVersion) -> Result<(), Unreadable> {
        use std::cmp::Ordering;
        match self.major.cmp(&reader.major) {
            Ordering::Equal => Ok(()),
            Ordering::Greater => Err(Unreadable::TooNew {
                found: self,
                supported: reader.major,
            }),
            Ordering::Less => Err(Unreadable::TooOld {
                found: self,
                supported: reader.major,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_major_any_minor_is_readable() {
        let newer_minor = SchemaVersion { major: 1, minor: 7 };
        assert_eq!(newer_minor.check_readable_by(CURRENT), Ok(()));
    }

    #[test]
    fn newer_major_says_upgrade() {
        let err = SchemaVersion { major: 2, minor: 0 }
            .check_readable_by(CURRENT)
            .unwrap_err();
        assert!(err.to_string().contains("upgrade benchkeep"), "{err}");
    }

    #[test]
    fn older_major_says_how_to_read_it() {
        let err = SchemaVersion { major: 0, minor: 3 }
            .check_readable_by(CURRENT)
            .unwrap_err();
        assert!(err.to_string().contains("benchkeep 0.x"), "{err}");
    }
}
