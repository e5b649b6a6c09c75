//! Commands run around the measured executions and never timed: hyperfine's `--setup`,
//! `--prepare`, `--conclude` and `--cleanup`.

use std::process::Stdio;
use std::time::Instant;

use super::{
    CommandSpec, Ended, Executor, Figures, Fired, RunError, Served, describe_status, leftovers,
};

/// Commands run around a measurement; none is timed.
///
/// ```
/// use benchkeep_runner::command::{CommandSpec, Hooks};
///
/// // Drop the page cache's dirty pages before each execution, as `hyperfine --prepare sync`.
/// let hooks = Hooks {
///     prepare: Some(CommandSpec::new(["sync"])),
///     ..Hooks::default()
/// };
/// assert!(hooks.cleanup.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hooks {
    /// Once, before the first execution (warm-ups included).
    pub setup: Option<CommandSpec>,
    /// Before each execution, warm-ups included.
    pub prepare: Option<CommandSpec>,
    /// After each execution, warm-ups included.
    pub conclude: Option<CommandSpec>,
    /// Once, after the last execution; also after a failed one, so that what `setup` made is
    /// taken down.
    pub cleanup: Option<CommandSpec>,
}

/// Which hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hook {
    Setup,
    Prepare,
    Conclude,
    Cleanup,
}

impl Hook {
    /// Its place among an executor's hook helpers.
    pub(super) fn index(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        match self {
            Hook::Setup => "setup",
            Hook::Prepare => "prepare",
            Hook::Conclude => "conclude",
            Hook::Cleanup => "cleanup",
        }
    }

    pub(super) fn of(self, hooks: &Hooks) -> Option<&CommandSpec> {
        match self {
            Hook::Setup => hooks.setup.as_ref(),
            Hook::Prepare => hooks.prepare.as_ref(),
            Hook::Conclude => hooks.conclude.as_ref(),
            Hook::Cleanup => hooks.cleanup.as_ref(),
        }
    }
}

impl Executor<'_> {
    /// Runs `hook`, if there is one, to its end: through a helper of its own when there is one
    /// (so that it dies with benchkeep), its output where the command's goes, leading its own
    /// process group, killed by the timeout and interrupts as an execution would be. What it
    /// leaves running is its own (a setup may start a server the benchmark uses).
    pub(super) fn hook(&mut self, hook: Hook) -> Result<(), RunError> {
        let Some(spec) = hook.of(&self.options.hooks) else {
            return Ok(());
        };
        if self.interrupt.is_set() {
            return Err(RunError::Interrupted);
        }
        // What a hook leaves running is its own (a server a setup starts), until a timeout or
        // an interrupt ends everything: the hooks' one token finds it then.
        let token = self.hook_token.clone();
        let (fired, figures) = if self.helper.is_ok() {
            self.execute_through_helper(Served::Hook(hook), &token)?
        } else {
            self.spawn_hook(hook, spec, &token)?
        };
        if fired.is_some() {
            self.kill_hook_leftovers();
        }
        let stderr_tail = self.take_stderr_tail()?;
        let failed = |status: String, stderr_tail: String| RunError::Hook {
            hook: hook.name(),
            command: spec.display(),
            status,
            stderr_tail,
        };
        match fired {
            Some(Fired::Interrupt) => return Err(RunError::Interrupted),
            Some(Fired::Timeout) => {
                return Err(failed(
                    format!(
                        "timed out after {:?}, process group killed",
                        self.options.timeout.unwrap_or_default()
                    ),
                    stderr_tail,
                ));
            }
            None => {}
        }
        match figures {
            Ok(Figures::Measured(status, _)) if status.success() => Ok(()),
            Ok(Figures::Measured(status, _)) => Err(failed(describe_status(status), stderr_tail)),
            Ok(Figures::HelperEnded(status)) => Err(failed(
                format!(
                    "benchkeep-exec, which starts it, ended: {}",
                    describe_status(status)
                ),
                stderr_tail,
            )),
            Err(e) => Err(failed(format!("cannot start: {e}"), stderr_tail)),
        }
    }

    /// Spawns a hook itself (when there is no helper) and waits for it.
    fn spawn_hook(
        &mut self,
        hook: Hook,
        spec: &CommandSpec,
        token: &str,
    ) -> Result<Ended, RunError> {
        let mut command = spec.command();
        command.stdin(Stdio::null());
        command.env(leftovers::TOKEN_VARIABLE, token);
        self.set_output(&mut command, Served::Hook(hook))?;
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let start = Instant::now();
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(source) => {
                let error = RunError::Spawn {
                    command: spec.display(),
                    source,
                };
                return Ok((None, Err(error)));
            }
        };
        self.watchdog
            .arm(child.id(), self.options.timeout.map(|t| start + t));
        let status = self.wait_watched(|| child.wait())?;
        let fired = self.watchdog.disarm();
        Ok((
            fired,
            Ok(Figures::Measured(status, super::Sample::default())),
        ))
    }

    /// Kills what the hooks run so far left running (on a timeout or an interrupt, when no
    /// cleanup will take it down): one scan for every hook, as they share a token. A hook just
    /// killed may still be exiting, its daemon not yet handed to this process: the scan is
    /// repeated for a moment (a single scan missed a `setsid` daemon on a busy CI machine).
    pub(super) fn kill_hook_leftovers(&mut self) {
        for _ in 0..10 {
            self.background_killed += leftovers::kill(&self.hook_token, None);
            std::thread::sleep(std::time::Duration::from_millis(30));
        }
    }

    /// One execution between the `prepare` and `conclude` hooks.
    pub(super) fn run_prepared(&mut self) -> Result<super::Sample, RunError> {
        self.hook(Hook::Prepare)?;
        let sample = self.run_once()?;
        self.hook(Hook::Conclude)?;
        Ok(sample)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Interrupt, MeasureOptions, NoProgress, RunCount, measure};
    use super::*;

    /// A command appending `mark` to `log` (through the shell, so that it runs as a hook would).
    fn append(log: &std::path::Path, mark: &str) -> CommandSpec {
        CommandSpec::new([
            "sh".to_owned(),
            "-c".to_owned(),
            format!("printf {mark} >> '{}'", log.display()),
        ])
    }

    fn logged(log: &std::path::Path, command: &str) -> (MeasureOptions, CommandSpec) {
        let options = MeasureOptions {
            warmup: 1,
            runs: RunCount::Fixed(2),
            hooks: Hooks {
                setup: Some(append(log, "s")),
                prepare: Some(append(log, "p")),
                conclude: Some(append(log, "c")),
                cleanup: Some(append(log, "k")),
            },
            ..MeasureOptions::default()
        };
        let spec = CommandSpec::new([
            "sh".to_owned(),
            "-c".to_owned(),
            format!("printf x >> '{}'; {command}", log.display()),
        ]);
        (options, spec)
    }

    #[test]
    fn hooks_run_in_order_around_every_execution_warm_ups_included() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let (options, spec) = logged(&log, "true");
        let measured = measure(&spec, &options, &Interrupt::new(), &mut NoProgress).unwrap();
        assert_eq!(measured.samples.len(), 2);
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "spxcpxcpxck");
    }

    #[test]
    fn cleanup_follows_a_failed_execution_and_the_failure_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let (options, spec) = logged(&log, "exit 3");
        let e = measure(&spec, &options, &Interrupt::new(), &mut NoProgress).unwrap_err();
        assert!(matches!(e, RunError::Failed { run: 1, .. }), "{e}");
        // No conclude after the failed execution, but cleanup.
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "spxk");
    }

    #[test]
    fn a_failing_hook_stops_the_measurement_naming_the_hook_and_its_stderr() {
        let options = MeasureOptions {
            runs: RunCount::Fixed(3),
            hooks: Hooks {
                prepare: Some(CommandSpec::new(["sh", "-c", "echo no disk >&2; exit 4"])),
                ..Hooks::default()
            },
            ..MeasureOptions::default()
        };
        let e = measure(
            &CommandSpec::new(["true"]),
            &options,
            &Interrupt::new(),
            &mut NoProgress,
        )
        .unwrap_err();
        let RunError::Hook {
            hook,
            status,
            stderr_tail,
            ..
        } = &e
        else {
            panic!("{e}");
        };
        assert_eq!((*hook, status.as_str()), ("prepare", "exit code 4"));
        assert_eq!(stderr_tail.trim(), "no disk");
        assert!(
            e.to_string()
                .starts_with("the prepare command failed (exit code 4): sh -c")
        );
        let missing = MeasureOptions {
            hooks: Hooks {
                setup: Some(CommandSpec::new(["/nonexistent/setup"])),
                ..Hooks::default()
            },
            ..MeasureOptions::default()
        };
        let e = measure(
            &CommandSpec::new(["true"]),
            &missing,
            &Interrupt::new(),
            &mut NoProgress,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("the setup command failed (cannot start: "),
            "{e}"
        );
        // Cleanup follows a failed setup: it takes down what setup made before failing.
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let (mut options, spec) = logged(&log, "true");
        options.hooks.setup = Some(CommandSpec::new(["sh", "-c", "exit 1"]));
        let e = measure(&spec, &options, &Interrupt::new(), &mut NoProgress).unwrap_err();
        assert!(matches!(e, RunError::Hook { hook: "setup", .. }), "{e}");
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "k");
    }

    /// Processes whose command line is `argv`, zombies aside.
    fn running(argv: &[&str]) -> usize {
        let wanted: Vec<u8> = argv
            .iter()
            .flat_map(|a| [a.as_bytes(), b"\0"].concat())
            .collect();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return 0;
        };
        entries
            .filter_map(Result::ok)
            .filter(|e| {
                let path = e.path();
                let alive = std::fs::read_to_string(path.join("stat")).is_ok_and(|s| {
                    !s.rsplit(')')
                        .next()
                        .is_some_and(|s| s.trim_start().starts_with('Z'))
                });
                alive && std::fs::read(path.join("cmdline")).is_ok_and(|c| c == wanted)
            })
            .count()
    }

    #[test]
    fn a_hook_that_times_out_takes_what_it_started_with_it() {
        if !std::path::Path::new("/proc/self/cmdline").exists() {
            return; // no /proc (not Linux)
        }
        let options = MeasureOptions {
            runs: RunCount::Fixed(1),
            timeout: Some(std::time::Duration::from_millis(300)),
            hooks: Hooks {
                setup: Some(CommandSpec::new([
                    "sh",
                    "-c",
                    "setsid sleep 57.25 & sleep 5",
                ])),
                ..Hooks::default()
            },
            ..MeasureOptions::default()
        };
        let e = measure(
            &CommandSpec::new(["true"]),
            &options,
            &Interrupt::new(),
            &mut NoProgress,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("the setup command failed (timed out"),
            "{e}"
        );
        // Killed as the measurement ended: a daemon escaped the hook's process group.
        for _ in 0..50 {
            if running(&["sleep", "57.25"]) == 0 {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the setup's daemon outlived its timeout");
    }
}
