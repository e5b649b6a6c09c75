//! Fetch and push through the git CLI, which uses the repository's configured credentials
//! (credential helpers, `http.extraheader` set by CI checkouts) that libgit2 would ignore.

use std::path::Path;
use std::process::{Command, Stdio};

/// How a push ended.
#[derive(Debug)]
pub(crate) enum PushOutcome {
    /// The remote branch now points at the pushed commit.
    Pushed,
    /// The remote moved on (non-fast-forward): fetch, replay, and try again.
    Rejected,
    /// The remote could not be reached or refused for another reason.
    Failed(String),
}

fn git(git_dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .arg("--git-dir")
        .arg(git_dir)
        // Never wait for a password on a terminal: CI has none, and a hang is worse than an error.
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .stdin(Stdio::null());
    command
}

/// git's own explanation: its first `fatal:` or `error:` line (later lines are generic advice
/// such as "Please make sure you have the correct access rights").
fn describe(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .find(|l| l.starts_with("fatal:") || l.starts_with("error:"))
        .or(lines.first())
        .map_or_else(
            || format!("git exited with {}", output.status),
            |l| (*l).to_owned(),
        )
}

/// Fetches `branch` from `remote` into `tracking`. `Ok(false)`: the remote has no such branch yet.
pub(crate) fn fetch(
    git_dir: &Path,
    remote: &str,
    branch: &str,
    tracking: &str,
) -> Result<bool, String> {
    let refspec = format!("+refs/heads/{branch}:{tracking}");
    let output = git(git_dir)
        .args([
            "fetch",
            "--no-tags",
            "--quiet",
            "--no-write-fetch-head",
            remote,
            &refspec,
        ])
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if output.status.success() {
        return Ok(true);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("couldn't find remote ref") || stderr.contains("could not find remote ref") {
        return Ok(false);
    }
    Err(describe(&output))
}

/// Pushes `commit` to `refs/heads/<branch>` on `remote`, never forcing.
pub(crate) fn push(git_dir: &Path, remote: &str, branch: &str, commit: &str) -> PushOutcome {
    let refspec = format!("{commit}:refs/heads/{branch}");
    let output = match git(git_dir)
        .args(["push", "--porcelain", "--quiet", remote, &refspec])
        .output()
    {
        Ok(output) => output,
        Err(e) => return PushOutcome::Failed(format!("cannot run git: {e}")),
    };
    if output.status.success() {
        return PushOutcome::Pushed;
    }
    let all = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let rejected = [
        "[rejected]",
        "non-fast-forward",
        "fetch first",
        "stale info",
        "[remote rejected]",
    ]
    .iter()
    .any(|needle| all.contains(needle))
        && !all.contains("pre-receive hook declined");
    if rejected {
        PushOutcome::Rejected
    } else {
        PushOutcome::Failed(describe(&output))
    }
}

/// Replaces `refs/heads/<branch>` on `remote` with `commit`, but only if it still points at
/// `expected` (`--force-with-lease`), so a concurrent writer's push is never overwritten.
pub(crate) fn force_push_with_lease(
    git_dir: &Path,
    remote: &str,
    branch: &str,
    commit: &str,
    expected: Option<&str>,
) -> Result<(), String> {
    let lease = format!(
        "--force-with-lease=refs/heads/{branch}:{}",
        expected.unwrap_or("")
    );
    let refspec = format!("{commit}:refs/heads/{branch}");
    let output = git(git_dir)
        .args(["push", "--porcelain", "--quiet", &lease, remote, &refspec])
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(describe(&output))
    }
}
