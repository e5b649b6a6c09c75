//! Which runs may join the promote branch's baseline: the rule that keeps pull requests, dirty
//! trees and laptops out of the timings every later check is judged against.
//!
//! A run is promoted only when all of these hold, checked in this order:
//!
//! 1. it passed its gate;
//! 2. its key's branch is the promote branch;
//! 3. it was not made for a pull or merge request (whatever `--branch` says);
//! 4. in CI, the job built the promote branch itself; outside CI, the user asked (`--promote`);
//! 5. its work tree was clean: a run with uncommitted changes to tracked files never promotes
//!    (untracked files, such as build outputs, do not count), and one with no git information
//!    promotes only when the user asked.

use std::fmt;

use crate::model::Run;

/// Why a run was not promoted: each says which condition failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The gate did not pass.
    NotPassed,
    /// The run's key is on another branch: the usual case for a feature branch.
    OtherBranch {
        /// The run's branch.
        branch: String,
    },
    /// A pull or merge request's job.
    PullRequest {
        /// Its number, when known.
        number: Option<u64>,
    },
    /// A CI job that built another branch than the one the run is keyed to.
    BuiltOtherBranch {
        /// The branch the job built.
        built: String,
    },
    /// A CI job whose branch is unknown, keyed to the promote branch by hand.
    UnknownCiBranch,
    /// Not in CI, and not asked for.
    Local,
    /// Uncommitted changes in the measured tree.
    Dirty,
    /// No git information, and not asked for.
    UnknownTree,
}

impl Refusal {
    /// Whether this refusal is the ordinary case not worth a notice (a feature branch's run).
    #[must_use]
    pub fn is_routine(&self) -> bool {
        matches!(self, Refusal::OtherBranch { .. } | Refusal::NotPassed)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotPassed => f.write_str("the run did not pass its gate"),
            Refusal::OtherBranch { branch } => write!(f, "the run is on {branch}"),
            Refusal::PullRequest { number: Some(n) } => write!(
                f,
                "the run was made for pull request #{n}, and a pull-request job never promotes (whatever --branch says)"
            ),
            Refusal::PullRequest { number: None } => f.write_str(
                "the run was made for a pull request, and a pull-request job never promotes (whatever --branch says)",
            ),
            Refusal::BuiltOtherBranch { built } => write!(
                f,
                "the CI job built {built}, and only a push to the promote branch promotes"
            ),
            Refusal::UnknownCiBranch => f.write_str(
                "the CI job's branch is unknown (no CI branch variable, and git reports none); give --promote to vouch for it",
            ),
            Refusal::Local => f.write_str(
                "not in CI: a local run promotes only with --promote, so laptop timings stay out of CI's baseline",
            ),
            Refusal::Dirty => f.write_str("the work tree had uncommitted changes"),
            Refusal::UnknownTree => f.write_str(
                "the run has no git information, so its tree cannot be shown clean; give --promote to vouch for it",
            ),
        }
    }
}

/// Whether `run` may join the baseline of `promote_branch`; `asked` is an explicit `--promote`.
///
/// ```
/// use benchkeep_core::model::{CiInfo, Fingerprint, GitInfo, Run, RunId};
/// use benchkeep_core::promotion::{Refusal, check};
/// use benchkeep_core::BaselineKey;
///
/// let at = jiff::Timestamp::UNIX_EPOCH;
/// let key = BaselineKey::new("main", "linux-x86_64").unwrap();
/// let mut run = Run::new(RunId::new(at, 1), at, key, Fingerprint::default());
/// run.git = Some(GitInfo { branch: Some("main".into()), dirty: Some(false), ..GitInfo::default() });
/// run.ci = Some(CiInfo { provider: "github".into(), branch: Some("main".into()), ..CiInfo::default() });
/// assert_eq!(check(&run, true, "main", false), Ok(()));
/// run.ci.as_mut().unwrap().pull_request = Some(7);
/// assert_eq!(check(&run, true, "main", false), Err(Refusal::PullRequest { number: Some(7) }));
/// ```
///
/// # Errors
///
/// The first condition that fails, as a [`Refusal`].
pub fn check(run: &Run, passed: bool, promote_branch: &str, asked: bool) -> Result<(), Refusal> {
    if !passed {
        return Err(Refusal::NotPassed);
    }
    if run.key.branch != promote_branch {
        return Err(Refusal::OtherBranch {
            branch: run.key.branch.clone(),
        });
    }
    if let Some(ci) = &run.ci {
        if ci.is_pull_request() {
            return Err(Refusal::PullRequest {
                number: ci.pull_request,
            });
        }
        let built = ci
            .branch
            .as_deref()
            .or_else(|| run.git.as_ref().and_then(|g| g.branch.as_deref()));
        match built {
            Some(built) if built != promote_branch => {
                return Err(Refusal::BuiltOtherBranch {
                    built: built.to_owned(),
                });
            }
            None if !asked => return Err(Refusal::UnknownCiBranch),
            _ => {}
        }
    } else if !asked {
        return Err(Refusal::Local);
    }
    match run.git.as_ref().and_then(|g| g.dirty) {
        Some(true) => Err(Refusal::Dirty),
        Some(false) => Ok(()),
        None if asked => Ok(()),
        None => Err(Refusal::UnknownTree),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BaselineKey;
    use crate::model::{CiInfo, Fingerprint, GitInfo, RunId};

    fn run(branch: &str, ci: Option<CiInfo>, dirty: Option<bool>) -> Run {
        let at = jiff::Timestamp::UNIX_EPOCH;
        let mut run = Run::new(
            RunId::new(at, 1),
            at,
            BaselineKey::new(branch, "p").unwrap(),
            Fingerprint::default(),
        );
        run.ci = ci;
        run.git = dirty.map(|dirty| GitInfo {
            commit: Some("c".into()),
            branch: Some(branch.into()),
            dirty: Some(dirty),
        });
        run
    }

    fn push(branch: &str) -> CiInfo {
        CiInfo {
            provider: "github".into(),
            branch: Some(branch.into()),
            ..CiInfo::default()
        }
    }

    #[test]
    fn only_a_clean_passing_push_to_the_branch_promotes_in_ci() {
        assert_eq!(
            check(
                &run("main", Some(push("main")), Some(false)),
                true,
                "main",
                false
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &run("main", Some(push("main")), Some(false)),
                false,
                "main",
                false
            ),
            Err(Refusal::NotPassed)
        );
        assert!(matches!(
            check(
                &run("dev", Some(push("dev")), Some(false)),
                true,
                "main",
                false
            ),
            Err(Refusal::OtherBranch { .. })
        ));
        // A pull request's job keyed to main by `--branch main`.
        let mut pr = push("feature");
        pr.base_branch = Some("main".into());
        assert!(matches!(
            check(&run("main", Some(pr), Some(false)), true, "main", true),
            Err(Refusal::PullRequest { number: None })
        ));
        // A push to another branch, keyed to main by hand.
        assert_eq!(
            check(
                &run("main", Some(push("feature")), Some(false)),
                true,
                "main",
                true
            ),
            Err(Refusal::BuiltOtherBranch {
                built: "feature".into()
            })
        );
        assert_eq!(
            check(
                &run("main", Some(push("main")), Some(true)),
                true,
                "main",
                true
            ),
            Err(Refusal::Dirty),
            "--promote never vouches for uncommitted changes"
        );
    }

    #[test]
    fn outside_ci_only_an_explicit_promote_promotes() {
        assert_eq!(
            check(&run("main", None, Some(false)), true, "main", false),
            Err(Refusal::Local)
        );
        assert_eq!(
            check(&run("main", None, Some(false)), true, "main", true),
            Ok(())
        );
        assert_eq!(check(&run("main", None, None), true, "main", true), Ok(()));
        assert_eq!(
            check(&run("main", Some(push("main")), None), true, "main", false),
            Err(Refusal::UnknownTree)
        );
    }
}
