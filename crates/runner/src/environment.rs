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
    let commit = command_output(Some(dir), "git", &["rev-parse", "HEAD"]);
    let in_repo = commit.is_some() || git_toplevel(dir).is_some();
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

/// The branch a CI provider says it is building, if any.
fn ci_branch(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    [
        "GITHUB_HEAD_REF",
        "GITHUB_REF_NAME",
        "CI_COMMIT_REF_NAME",
        "BUILDKITE_BRANCH",
        "CIRCLE_BRANCH",
    ]
    .iter()
    .find_map(|name| env(name).filter(|v| !v.is_empty()))
}

/// Detects the CI provider and job from the environment.
#[must_use]
pub fn ci_info(env: &dyn Fn(&str) -> Option<String>) -> Option<CiInfo> {
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    if set("GITHUB_ACTIONS").as_deref() == Some("true") {
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
        return Some(CiInfo {
            provider: "github".into(),
            job,
            url,
        });
    }
    if set("GITLAB_CI").is_some() {
        return Some(CiInfo {
            provider: "gitlab".into(),
            job: set("CI_JOB_ID"),
            url: set("CI_JOB_URL"),
        });
    }
    if set("CI").is_some_and(|v| v != "false" && v != "0") {
        return Some(CiInfo {
            provider: "generic".into(),
            job: None,
            url: None,
        });
    }
    None
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
