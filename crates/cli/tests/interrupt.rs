//! One interrupt path for every command (`check --import`, `import`, `check`, `load`, `ab`):
//! Ctrl-C at a spread of moments either ends the command
//! with exit 130, saying so, and nothing recorded; or comes after the run was recorded, and the
//! command completes. Never a run recorded by a command that says it was interrupted. (A
//! signal in the first milliseconds, before `main` installs the handlers, ends the process
//! by the signal itself: nothing can be recorded by then either.)

mod common;

use std::fmt::Write as _;
use std::process::Stdio;
use std::time::Duration;

use common::{Sandbox, stderr};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A custom-format output of `n` benchmarks, large enough that importing it takes a while.
fn big_import(sandbox: &Sandbox, n: usize) -> String {
    let mut text = String::from("{\"benchmarks\": [\n");
    for i in 0..n {
        let sep = if i + 1 == n { "" } else { "," };
        let _ = writeln!(
            text,
            "{{\"name\": \"bench_{i:05}\", \"unit\": \"ns\", \"samples\": [1000, 1010, 990, 1005, 995]}}{sep}"
        );
    }
    text.push_str("]}\n");
    let path = sandbox.path().join("big.json");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Runs `args`, sends SIGINT after `delay`, and returns (exit code, stderr).
fn interrupted(sandbox: &Sandbox, args: &[&str], delay: Duration) -> (Option<i32>, String) {
    let child = sandbox
        .command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let _ = kill(
        Pid::from_raw(i32::try_from(child.id()).unwrap()),
        Signal::SIGINT,
    );
    let out = child.wait_with_output().unwrap();
    (out.status.code(), stderr(&out))
}

#[test]
fn ctrl_c_at_any_moment_records_nothing_or_completes() {
    let sandbox = Sandbox::new();
    let file = big_import(&sandbox, 3_000);
    // A baseline first, so that `check --import` compares (and records) on every try.
    let first = sandbox.run(&["check", "--import", "custom", &file, "--branch", "main"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let commands: [&[&str]; 5] = [
        &["check", "--import", "custom", &file, "--branch", "main"],
        &["import", "--format", "custom", &file, "--branch", "main"],
        &["check", "--branch", "main", "--runs", "200", "--", "true"],
        &[
            "load",
            "--branch",
            "main",
            "--concurrency",
            "1,2",
            "--duration",
            "100ms",
            "--ramp-up",
            "10ms",
            "--",
            "true",
        ],
        // `ab` records nothing whatever happens; interrupted, it must still say so.
        &["ab", "--base", "true", "--head", "true", "--rounds", "40"],
    ];
    let mut outcomes = std::collections::BTreeMap::new();
    for round in 0..40u64 {
        let args = commands[usize::try_from(round).unwrap() % commands.len()];
        // Spread over the command's life: before the store is open, while reading or
        // measuring, around the moment the run is recorded.
        let delay = Duration::from_millis(5 + (round * 37) % 140);
        let before = sandbox.run_files().len();
        let (code, err) = interrupted(&sandbox, args, delay);
        let after = sandbox.run_files().len();
        match code {
            Some(130) => {
                assert!(err.contains("interrupted"), "{args:?}: {err}");
                assert_eq!(
                    after, before,
                    "{args:?}: interrupted, yet a run was recorded"
                );
            }
            Some(0 | 1) if args[0] == "ab" => assert_eq!(after, before, "{args:?}: {err}"),
            Some(0 | 1) => assert_eq!(after, before + 1, "{args:?} completed: {err}"),
            // Killed by the signal before the handlers existed (process start-up).
            None if err.is_empty() => assert_eq!(after, before, "{args:?}: killed at start-up"),
            other => panic!("{args:?} after {delay:?}: exit {other:?}: {err}"),
        }
        *outcomes.entry(code).or_insert(0) += 1;
    }
    eprintln!("exit codes of 40 interrupted tries: {outcomes:?}");
    assert!(
        outcomes.get(&Some(130)).copied().unwrap_or(0) > 0,
        "no try was interrupted: {outcomes:?}"
    );
}

/// The process ids whose command line is exactly `argv` (from /proc), zombies excluded.
fn processes_running(argv: &[&str]) -> Vec<i32> {
    let wanted: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rsplit(')')
                    .next()
                    .is_some_and(|s| s.trim_start().starts_with('Z'))
            });
            !zombie && std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == wanted)
        })
        .collect()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..300 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("waited 30 s for {what}");
}

#[test]
fn benchkeep_killed_with_sigkill_leaves_no_command_running() {
    // A duration no other process uses, to find this command and only it.
    let command = ["sleep", "97.3125"];
    killed_benchkeep_leaves_nothing_running(&["--", command[0], command[1]], &command);
}

/// The same for a hook: a cleanup that was running when benchkeep died (a second Ctrl-C exits
/// at once) ran on, before hooks started through benchkeep-exec too.
#[test]
fn benchkeep_killed_with_sigkill_leaves_no_hook_running() {
    let hook = ["sleep", "96.8125"];
    killed_benchkeep_leaves_nothing_running(&["--cleanup", "sleep 96.8125", "true"], &hook);
}

/// Starts `benchkeep run --no-record -r 1 -w 0 ARGS`, waits for a process whose command line is
/// `running`, kills benchkeep with SIGKILL, and waits for that process to end.
fn killed_benchkeep_leaves_nothing_running(args: &[&str], running: &[&str]) {
    if !std::path::Path::new("/proc/self/cmdline").exists() {
        return; // no /proc: nothing to look at (not Linux)
    }
    let sandbox = Sandbox::new();
    let mut full = vec!["run", "--no-record", "--runs", "1", "--warmup", "0"];
    full.extend_from_slice(args);
    let mut child = sandbox
        .command(&full)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the process to start", || {
        !processes_running(running).is_empty()
    });
    kill(
        Pid::from_raw(i32::try_from(child.id()).unwrap()),
        Signal::SIGKILL,
    )
    .unwrap();
    let _ = child.wait();
    // Before benchkeep-exec ended with benchkeep, the command ran its whole 97 s.
    wait_for("the process to end with benchkeep", || {
        processes_running(running).is_empty()
    });
}
