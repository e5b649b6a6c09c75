//! What a run records about where it ran: the machine, the git state and the CI job.

use std::path::Path;
use std::process::{Command, Stdio};

use benchkeep_core::model::{CiInfo, Fingerprint, GitInfo};

/// Reads the fingerprint of this machine. Fields that cannot be read are left empty.
#[must_use]
pub fn fingerprint() -> Fingerprint {
    Fingerprint {
        os: std::env::consts::OS.to_owned(),
        arch: std::env::consts::ARCH.to_owned(),
        cpu_model: cpu_model(),
        logical_cores: std::thread::available_parallelism()
            .ok()
            .and_then(|n| u32::try_from(n.get()).ok()),
        memory_bytes: memory_bytes(),
        kernel: nix::sys::utsname::uname()
            .ok()
            .map(|u| u.release().to_string_lossy().into_owned()),
        toolchain: std::env::var("BENCHKEEP_TOOLCHAIN")
            .ok()
            .filter(|t| !t.trim().is_empty()),
    }
}

fn cpu_model() -> Option<String> {
    if cfg!(target_os = "linux") {
        let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
        info.lines()
            .find_map(|line| {
                let (field, value) = line.split_once(':')?;
                matches!(field.trim(), "model name" | "Hardware" | "cpu model")
                    .then(|| value.trim().to_owned())
            })
            .filter(|m| !m.is_empty())
    } else {
        command_output(None, "sysctl", &["-n", "machdep.cpu.brand_string"])
    }
}

fn memory_bytes() -> Option<u64> {
    if cfg!(target_os = "linux") {
        let info = std::fs::read_to_string("/proc/meminfo").ok()?;
        let kib = info
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<u64>()
            .ok()?;
        Some(kib * 1024)
    } else {
        command_output(None, "sysctl", &["-n", "hw.memsize"])?
            .parse()
            .ok()
    }
}

fn command_output(dir: Option<&Path>, program: &str, args: &[&str]) -> Option<String> {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let output = command.output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// The top directory of the git work tree containing `dir`, if any.
#[must_use]
pub fn git_toplevel(dir: &Path) -> Option<std::path::PathBuf> {
    command_output(Some(dir), "git", &["rev-parse", "--show-toplevel"]).map(Into::into)
}

/// Reads the git state of the work tree containing `dir` with the git CLI, if there is one.
///
/// `env` supplies environment variables, so that a CI checkout in detached-HEAD state still
/// reports its branch (`GITHUB_HEAD_REF`, `GITHUB_REF_NAME`, `CI_COMMIT_REF_NAME`).
#[must_use]
pub fn git_info(dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> Option<GitInfo> {
    git_info_in(dir, None, env)
}

/// [`git_info`] when it is already known whether `dir` is in a git work tree (`in_repo`, from
/// [`git_toplevel`]): outside one no git command runs (each costs a process start, 1-2 ms).
#[must_use]
pub fn git_info_in(
    dir: &Path,
    in_repo: Option<bool>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<GitInfo> {
    let commit = match in_repo {
        Some(false) => None,
        _ => command_output(Some(dir), "git", &["rev-parse", "HEAD"]),
    };
    let in_repo = match in_repo {
        Some(known) => known,
        None => commit.is_some() || git_toplevel(dir).is_some(),
    };
    let ci_branch = ci_branch(env);
    if !in_repo {
        return ci_branch.map(|branch| GitInfo {
            branch: Some(branch),
            ..GitInfo::default()
        });
    }
    let branch = ci_branch.or_else(|| {
        command_output(
            Some(dir),
            "git",
            &["symbolic-ref", "--quiet", "--short", "HEAD"],
        )
    });
    let dirty = commit.as_ref().and_then(|_| {
        command_output(
            Some(dir),
            "git",
            &["status", "--porcelain", "--untracked-files=no"],
        )
        .map(|_| true)
        .or(Some(false))
    });
    Some(GitInfo {
        commit,
        branch,
        dirty,
    })
}

/// The merge-base of `HEAD` and `branch` in the repository containing `dir`: against
/// `origin/BRANCH` first (what a CI checkout has), then the local branch.
#[must_use]
pub fn merge_base(dir: &Path, branch: &str) -> Option<String> {
    if branch.starts_with('-') {
        return None; // never an option to git
    }
    [format!("origin/{branch}"), branch.to_owned()]
        .iter()
        .find_map(|rev| command_output(Some(dir), "git", &["merge-base", "HEAD", rev]))
}

/// The variables that name the branch a pull request merges into, in the order they are read:
/// the override first, then GitHub Actions, GitLab CI, Buildkite and Jenkins.
pub const BASE_BRANCH_VARIABLES: [&str; 5] = [
    "BENCHKEEP_BASE_BRANCH",
    "GITHUB_BASE_REF",
    "CI_MERGE_REQUEST_TARGET_BRANCH_NAME",
    "BUILDKITE_PULL_REQUEST_BASE_BRANCH",
    "CHANGE_TARGET",
];

/// The branch a pull request merges into, and the variable that named it (see
/// [`BASE_BRANCH_VARIABLES`]). Unlike [`ci_info`] this needs no CI detected, so that
/// `BENCHKEEP_BASE_BRANCH` works on a developer's machine too. Empty values (GitHub sets
/// `GITHUB_BASE_REF=""` on pushes) count as unset.
#[must_use]
pub fn base_branch(env: &dyn Fn(&str) -> Option<String>) -> Option<(&'static str, String)> {
    BASE_BRANCH_VARIABLES.iter().find_map(|name| {
        env(name)
            .filter(|v| !v.trim().is_empty())
            .map(|v| (*name, v))
    })
}

/// The branch a CI provider says it is building, if any: for a pull request, its source branch.
fn ci_branch(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    [
        "GITHUB_HEAD_REF",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
        "GITHUB_REF_NAME",
        "CI_COMMIT_REF_NAME",
        "BUILDKITE_BRANCH",
        "CIRCLE_BRANCH",
        "CHANGE_BRANCH",
        "BRANCH_NAME",
        "GIT_BRANCH",
    ]
    .iter()
    .find_map(|name| {
        let value = env(name).filter(|v| !v.is_empty())?;
        // Jenkins' GIT_BRANCH names the remote-tracking branch (`origin/main`); the branch a
        // baseline key means is `main`.
        Some(match (*name, value.strip_prefix("origin/")) {
            ("GIT_BRANCH", Some(branch)) if !branch.is_empty() => branch.to_owned(),
            _ => value,
        })
    })
}

/// Detects the CI provider and job from the environment: GitHub Actions, GitLab CI, and any
/// other CI that sets `CI` (with Buildkite's, `CircleCI`'s and Jenkins' variables when present).
///
/// `BENCHKEEP_PR` and `BENCHKEEP_BASE_BRANCH` override the detected pull request and base
/// branch, for CIs benchkeep does not know.
#[must_use]
pub fn ci_info(env: &dyn Fn(&str) -> Option<String>) -> Option<CiInfo> {
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    let first = |names: &[&str]| names.iter().find_map(|n| set(n));
    let mut info = if set("GITHUB_ACTIONS").as_deref() == Some("true") {
        let run_id = set("GITHUB_RUN_ID");
        let url = match (set("GITHUB_SERVER_URL"), set("GITHUB_REPOSITORY"), &run_id) {
            (Some(server), Some(repo), Some(run)) => {
                Some(format!("{server}/{repo}/actions/runs/{run}"))
            }
            _ => None,
        };
        let job = match (run_id, set("GITHUB_JOB")) {
            (Some(run), Some(job)) => Some(format!("{run}/{job}")),
            (run, job) => run.or(job),
        };
        // refs/pull/123/merge on pull_request events.
        let pull_request = set("GITHUB_REF").and_then(|r| {
            r.strip_prefix("refs/pull/")?
                .split('/')
                .next()?
                .parse()
                .ok()
        });
        CiInfo {
            provider: "github".into(),
            job,
            url,
            commit: set("GITHUB_SHA"),
            branch: first(&["GITHUB_HEAD_REF", "GITHUB_REF_NAME"]),
            pull_request,
            base_branch: set("GITHUB_BASE_REF"),
            runner: set("RUNNER_NAME"),
        }
    } else if set("GITLAB_CI").is_some() {
        CiInfo {
            provider: "gitlab".into(),
            job: set("CI_JOB_ID"),
            url: set("CI_JOB_URL"),
            commit: set("CI_COMMIT_SHA"),
            branch: first(&["CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "CI_COMMIT_REF_NAME"]),
            pull_request: set("CI_MERGE_REQUEST_IID").and_then(|n| n.parse().ok()),
            base_branch: set("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"),
            runner: first(&["CI_RUNNER_DESCRIPTION", "CI_RUNNER_ID"]),
        }
    } else if set("CI").is_some_and(|v| v != "false" && v != "0") {
        CiInfo {
            provider: "generic".into(),
            job: first(&["BUILDKITE_JOB_ID", "CIRCLE_WORKFLOW_JOB_ID", "BUILD_ID"]),
            url: first(&["BUILDKITE_BUILD_URL", "CIRCLE_BUILD_URL", "BUILD_URL"]),
            commit: first(&["BUILDKITE_COMMIT", "CIRCLE_SHA1", "GIT_COMMIT"]),
            branch: ci_branch(env),
            pull_request: first(&["BUILDKITE_PULL_REQUEST", "CIRCLE_PR_NUMBER", "CHANGE_ID"])
                .and_then(|n| n.parse().ok()),
            base_branch: first(&["BUILDKITE_PULL_REQUEST_BASE_BRANCH", "CHANGE_TARGET"]),
            runner: first(&["BUILDKITE_AGENT_NAME", "NODE_NAME", "RUNNER_NAME"]),
        }
    } else {
        // No CI detected, but a pull request's variables are there (a CI benchkeep does not
        // know, or a job that unset CI): such a job is a pull request's all the same, and must
        // never promote.
        pull_request_without_ci(&set)?
    };
    if let Some(pr) = set("BENCHKEEP_PR").and_then(|n| n.parse().ok()) {
        info.pull_request = Some(pr);
    }
    if let Some(base) = set("BENCHKEEP_BASE_BRANCH") {
        info.base_branch = Some(base);
    }
    Some(info)
}

/// A pull request's CI information from its variables alone, when no CI was detected:
/// `BENCHKEEP_PR`, `GITHUB_REF=refs/pull/N/...`, `GITHUB_BASE_REF`, `CI_MERGE_REQUEST_IID`.
fn pull_request_without_ci(set: &dyn Fn(&str) -> Option<String>) -> Option<CiInfo> {
    let from_ref = set("GITHUB_REF").and_then(|r| {
        r.strip_prefix("refs/pull/")?
            .split('/')
            .next()?
            .parse::<u64>()
            .ok()
    });
    let number = set("BENCHKEEP_PR")
        .and_then(|n| n.parse().ok())
        .or(from_ref)
        .or_else(|| set("CI_MERGE_REQUEST_IID").and_then(|n| n.parse().ok()));
    let base_branch = set("BENCHKEEP_BASE_BRANCH")
        .or_else(|| set("GITHUB_BASE_REF"))
        .or_else(|| set("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"));
    let marked = number.is_some()
        || base_branch.is_some()
        || set("BENCHKEEP_PR").is_some()
        || set("CI_MERGE_REQUEST_IID").is_some();
    marked.then(|| CiInfo {
        provider: "generic".into(),
        pull_request: number,
        // A marker whose number cannot be read still makes this a pull request's job.
        base_branch: base_branch.or_else(|| number.is_none().then(String::new)),
        ..CiInfo::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn github_actions_is_detected_with_a_job_link() {
        let env = env_of(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_JOB", "bench"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "o/r"),
        ]);
        let ci = ci_info(&env).unwrap();
        assert_eq!(ci.provider, "github");
        assert_eq!(ci.job.as_deref(), Some("42/bench"));
        assert_eq!(
            ci.url.as_deref(),
            Some("https://github.com/o/r/actions/runs/42")
        );
    }

    #[test]
    fn jenkins_branches_are_the_branch_not_the_remote_tracking_ref() {
        let branch = |vars: &[(&str, &str)]| ci_branch(&env_of(vars));
        assert_eq!(
            branch(&[("GIT_BRANCH", "origin/main")]).as_deref(),
            Some("main")
        );
        assert_eq!(
            branch(&[("BRANCH_NAME", "main"), ("GIT_BRANCH", "origin/main")]).as_deref(),
            Some("main")
        );
        assert_eq!(
            branch(&[("GIT_BRANCH", "feature/x")]).as_deref(),
            Some("feature/x")
        );
    }

    #[test]
    fn a_pull_requests_variables_mark_it_even_without_a_detected_ci() {
        for vars in [
            &[("BENCHKEEP_PR", "12")][..],
            &[
                ("GITHUB_REF", "refs/pull/3/merge"),
                ("GITHUB_BASE_REF", "main"),
            ],
            &[("CI_MERGE_REQUEST_IID", "7")],
            &[("BENCHKEEP_BASE_BRANCH", "main")],
            &[("BENCHKEEP_PR", "yes")],
        ] {
            let info = ci_info(&env_of(vars)).expect("a pull request's job");
            assert!(info.is_pull_request(), "{vars:?}: {info:?}");
        }
        assert!(ci_info(&env_of(&[("HOME", "/root")])).is_none());
    }

    #[test]
    fn pull_requests_are_detected_with_their_branches() {
        let github = ci_info(&env_of(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REF", "refs/pull/42/merge"),
            ("GITHUB_REF_NAME", "42/merge"),
            ("GITHUB_HEAD_REF", "feature"),
            ("GITHUB_BASE_REF", "main"),
            ("GITHUB_SHA", "abc123"),
            ("RUNNER_NAME", "GitHub Actions 7"),
        ]))
        .unwrap();
        assert_eq!(github.pull_request, Some(42));
        assert_eq!(github.branch.as_deref(), Some("feature"));
        assert_eq!(github.base_branch.as_deref(), Some("main"));
        assert_eq!(github.commit.as_deref(), Some("abc123"));
        assert_eq!(github.runner.as_deref(), Some("GitHub Actions 7"));
        let push = ci_info(&env_of(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REF", "refs/heads/main"),
            ("GITHUB_REF_NAME", "main"),
        ]))
        .unwrap();
        assert_eq!(
            (push.pull_request, push.branch.as_deref()),
            (None, Some("main"))
        );
        let gitlab = ci_info(&env_of(&[
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_REF_NAME", "feature"),
            ("CI_MERGE_REQUEST_IID", "7"),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature"),
            ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "develop"),
            ("CI_RUNNER_DESCRIPTION", "shared-runner-3"),
        ]))
        .unwrap();
        assert_eq!(gitlab.pull_request, Some(7));
        assert_eq!(gitlab.base_branch.as_deref(), Some("develop"));
        assert_eq!(gitlab.runner.as_deref(), Some("shared-runner-3"));
        let jenkins = ci_info(&env_of(&[
            ("CI", "true"),
            ("CHANGE_ID", "9"),
            ("CHANGE_TARGET", "main"),
            ("BUILD_URL", "https://ci/job/9"),
            ("BENCHKEEP_BASE_BRANCH", "release"),
        ]))
        .unwrap();
        assert_eq!(jenkins.pull_request, Some(9));
        assert_eq!(
            jenkins.base_branch.as_deref(),
            Some("release"),
            "the override wins"
        );
        assert_eq!(jenkins.url.as_deref(), Some("https://ci/job/9"));
    }

    #[test]
    fn the_base_branch_names_its_variable_and_the_override_wins() {
        assert_eq!(
            base_branch(&env_of(&[("GITHUB_BASE_REF", "main")])),
            Some(("GITHUB_BASE_REF", "main".to_owned()))
        );
        assert_eq!(
            base_branch(&env_of(&[
                ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "develop"),
                ("BENCHKEEP_BASE_BRANCH", "release"),
            ])),
            Some(("BENCHKEEP_BASE_BRANCH", "release".to_owned()))
        );
        // A push on GitHub sets the variable, empty.
        assert_eq!(base_branch(&env_of(&[("GITHUB_BASE_REF", "")])), None);
    }

    #[test]
    fn gitlab_generic_and_none() {
        assert_eq!(
            ci_info(&env_of(&[("GITLAB_CI", "true"), ("CI_JOB_ID", "7")]))
                .unwrap()
                .provider,
            "gitlab"
        );
        assert_eq!(
            ci_info(&env_of(&[("CI", "true")])).unwrap().provider,
            "generic"
        );
        assert!(ci_info(&env_of(&[("CI", "false")])).is_none());
        assert!(ci_info(&env_of(&[])).is_none());
    }

    #[test]
    fn fingerprint_reads_this_machine() {
        let fp = fingerprint();
        assert_eq!(fp.os, std::env::consts::OS);
        assert!(fp.logical_cores.unwrap_or(0) >= 1);
        if cfg!(target_os = "linux") {
            assert!(fp.memory_bytes.unwrap_or(0) > 0);
            assert!(fp.kernel.is_some());
        }
    }

    #[test]
    fn git_info_outside_a_repository_uses_the_ci_branch_only() {
        let dir = tempfile::tempdir().unwrap();
        assert!(git_info(dir.path(), &env_of(&[])).is_none());
        let info = git_info(dir.path(), &env_of(&[("GITHUB_REF_NAME", "main")])).unwrap();
        assert_eq!(info.branch.as_deref(), Some("main"));
        assert!(info.commit.is_none());
    }
}
