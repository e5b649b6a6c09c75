//! git, run as a command, for the worktrees of `ab --base-ref` and `check --pr`: the same git
//! (and configuration) the user's checkout was made with, as `benchkeep_runner::environment`
//! uses for everything else it asks git.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::Error;

/// Adds a detached worktree of `repo` at `path` holding `rev`; without `checkout`, only git's
/// link and bookkeeping (the files are someone else's to bring).
pub(crate) fn add_worktree(
    repo: &Path,
    path: &Path,
    rev: &str,
    checkout: bool,
) -> Result<(), Error> {
    let mut args = vec![
        OsStr::new("worktree"),
        OsStr::new("add"),
        OsStr::new("--detach"),
        OsStr::new("--quiet"),
    ];
    if !checkout {
        args.push(OsStr::new("--no-checkout"));
    }
    args.extend([path.as_os_str(), OsStr::new(rev)]);
    git_os(repo, &args).map(drop)
}

/// Removes a worktree and git's bookkeeping of it; a directory git does not know is deleted.
pub(crate) fn remove_worktree(repo: &Path, path: &Path) -> bool {
    let removed = git_os(
        repo,
        &[
            OsStr::new("worktree"),
            OsStr::new("remove"),
            OsStr::new("--force"),
            path.as_os_str(),
        ],
    );
    removed.is_ok() || std::fs::remove_dir_all(path).is_ok()
}

/// [`git_os`] with arguments that are all text.
pub(crate) fn git(dir: &Path, args: &[&str]) -> Result<String, Error> {
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    git_os(dir, &args)
}

/// Runs git in `dir`; its trimmed stdout, or an error with git's own first `fatal:` line.
pub(crate) fn git_os(dir: &Path, args: &[&OsStr]) -> Result<String, Error> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Git(format!("cannot run git: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr
            .lines()
            .find(|l| l.starts_with("fatal:") || l.starts_with("error:"))
            .or_else(|| stderr.lines().next())
            .unwrap_or("failed");
        return Err(Error::Git(format!(
            "git {}: {first}",
            args[0].to_string_lossy()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
