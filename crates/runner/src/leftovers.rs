//! What a measured command leaves running: a `cmd &` child, a `setsid` daemon. The runner owns
//! everything it starts, so after each execution (and on a timeout or Ctrl-C) it kills what is
//! left, and says how many it killed.
//!
//! On Linux the runner makes itself a child subreaper (`PR_SET_CHILD_SUBREAPER`): whatever a
//! command leaves behind is reparented to the runner when its parent exits, whatever process
//! group or session it moved to, so after an execution the runner's own children
//! (`/proc/self/task/*/children`, a few entries) are the candidates. Each execution also puts a
//! token of its own in the environment variable [`TOKEN_VARIABLE`], which descendants inherit:
//! only processes carrying this execution's token are killed, never a command another thread
//! is measuring at the same time. Where the subreaper or the children lists are unavailable,
//! the processes started since the execution began are read instead. A leftover that clears
//! its environment, or (without the subreaper) outlives a wrap-around of process ids, is not
//! found.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::signal::{Signal, kill as send};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

/// The environment variable that marks a measured execution and its descendants.
pub const TOKEN_VARIABLE: &str = "BENCHKEEP_EXECUTION";

/// A token no other execution of any benchkeep process has: process id, a counter, the time.
#[must_use]
pub fn token() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{}-{nanos:x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Makes this process the subreaper of what its children leave behind (once; Linux). Returns
/// whether it is one.
#[must_use]
pub fn adopt_orphans() -> bool {
    static SUBREAPER: OnceLock<bool> = OnceLock::new();
    *SUBREAPER.get_or_init(|| {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            nix::sys::prctl::set_child_subreaper(true).is_ok()
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            false
        }
    })
}

/// Where process ids stand before an execution starts: the last id the kernel allocated (for
/// the fallback scan: a leftover started after it has a greater id, unless ids wrapped). `None`
/// when the fallback is not needed (a subreaper that can list its children), which saves a
/// file read per execution.
#[must_use]
pub fn mark() -> Option<i32> {
    static CHILDREN_LISTED: OnceLock<bool> = OnceLock::new();
    if *CHILDREN_LISTED.get_or_init(|| adopt_orphans() && own_children().is_some()) {
        return None;
    }
    std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Kills (SIGKILL) every process carrying `token`, and reaps those that became this process's
/// children; looks again until none is left (a leftover's own children are reparented here as
/// it dies). `since` is [`mark`] before the execution started. Returns how many it killed.
#[must_use]
pub fn kill(token: &str, since: Option<i32>) -> usize {
    kill_except(token, since, None)
}

/// [`kill`], never looking at process `known` (a child known not to carry the token, such as
/// the helper that starts executions: reading its environment after every execution cost a
/// file open and reads).
#[must_use]
pub fn kill_except(token: &str, since: Option<i32>, known: Option<u32>) -> usize {
    let needle = format!("{TOKEN_VARIABLE}={token}");
    let known = known.and_then(|pid| i32::try_from(pid).ok());
    let mut killed = std::collections::HashSet::new();
    for _ in 0..20 {
        let fresh: Vec<i32> = candidates(since)
            .into_iter()
            .filter(|pid| Some(*pid) != known)
            .filter(|pid| !killed.contains(pid) && carries(*pid, needle.as_bytes()))
            .collect();
        if fresh.is_empty() {
            break;
        }
        let mut progress = false;
        for pid in fresh {
            let pid = Pid::from_raw(pid);
            if send(pid, Signal::SIGKILL).is_err() {
                continue; // gone already, or not ours to kill (then never waited for)
            }
            killed.insert(pid.as_raw());
            progress = true;
            // Reaps it when it is this process's child (an orphan reparented here): it was
            // just killed, so this returns as it dies; for any other process it returns at
            // once (not our child).
            let _ = waitpid(pid, None);
        }
        if !progress {
            break; // what is left cannot be killed by this process
        }
    }
    killed.len()
}

/// The processes that may be leftovers: this process's children when it is a subreaper and
/// the kernel lists them, else every process started since `since` (every process when ids
/// wrapped around, or no mark).
fn candidates(since: Option<i32>) -> Vec<i32> {
    if adopt_orphans()
        && let Some(children) = own_children()
    {
        return children;
    }
    let since = since.filter(|&before| mark().is_some_and(|now| now >= before));
    let own = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != own && since.is_none_or(|since| pid > since))
        .collect()
}

/// This process's children, from every thread's `children` list (`CONFIG_PROC_CHILDREN`).
fn own_children() -> Option<Vec<i32>> {
    let mut children = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let list = std::fs::read_to_string(task.ok()?.path().join("children")).ok()?;
        children.extend(
            list.split_whitespace()
                .filter_map(|pid| pid.parse::<i32>().ok()),
        );
    }
    Some(children)
}

/// Whether process `pid`'s environment has the variable `needle` (`NAME=VALUE`). Another
/// user's processes cannot be read, and are not ours to kill; a zombie's environment is empty.
fn carries(pid: i32, needle: &[u8]) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|environ| environ.split(|&b| b == 0).any(|var| var == needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_differ_between_executions() {
        assert_ne!(token(), token());
    }

    #[test]
    fn background_children_and_daemons_are_found_and_killed() {
        if !std::path::Path::new("/proc/self/environ").exists() {
            return; // no /proc: nothing to find (not Linux)
        }
        let token = token();
        let since = mark();
        let subreaper = adopt_orphans();
        // A shell that leaves a background child and a setsid daemon, then exits.
        let status = std::process::Command::new("sh")
            .args(["-c", "sleep 300 & (setsid sleep 301 &) ; exit 0"])
            .env(TOKEN_VARIABLE, &token)
            .status()
            .unwrap();
        assert!(status.success());
        std::thread::sleep(std::time::Duration::from_millis(100));
        let needle = format!("{TOKEN_VARIABLE}={token}");
        let found = || -> Vec<i32> {
            candidates(None)
                .into_iter()
                .filter(|&pid| carries(pid, needle.as_bytes()))
                .collect()
        };
        assert_eq!(
            found().len(),
            2,
            "both leftovers are found (subreaper: {subreaper})"
        );
        assert_eq!(kill(&token, since), 2);
        assert!(found().is_empty(), "none is left");
        assert_eq!(kill("no-such-token", None), 0);
    }
}
