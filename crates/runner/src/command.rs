//! Measuring commands: wall time, user and system CPU time, and peak RSS of each execution.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use benchkeep_core::model::{Benchmark, Direction, Metric, Unit, metric_names};
use wait4::Wait4;

use crate::exec_helper::{self, Report, Server};
use crate::leftovers;

mod hooks;
mod output;

use hooks::Hook;
pub use hooks::Hooks;

/// A command to measure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    /// The program and its arguments. No shell is involved; to use one, pass
    /// `["sh", "-c", "..."]`.
    pub argv: Vec<String>,
    /// Working directory; the current one when `None`.
    pub cwd: Option<PathBuf>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Start from an empty environment (plus `env`) instead of inheriting this process's.
    pub clear_env: bool,
}

impl CommandSpec {
    /// A command from its program and arguments.
    #[must_use]
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        CommandSpec {
            argv: argv.into_iter().map(Into::into).collect(),
            cwd: None,
            env: Vec::new(),
            clear_env: false,
        }
    }

    /// A [`Command`] for this spec: program, arguments, working directory and environment.
    /// Standard streams and the process group are left to the caller.
    #[must_use]
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.argv[0]);
        command.args(&self.argv[1..]);
        self.apply(command)
    }

    /// The `benchkeep-exec` helper that starts this command on request
    /// ([`crate::exec_helper`]), in the command's directory and environment.
    fn serving_helper(&self, helper: &Path, input: Option<&Path>) -> Command {
        let mut command = Command::new(helper);
        command
            .arg("--serve")
            .arg(leftovers::TOKEN_VARIABLE)
            .arg(input.unwrap_or(Path::new("/dev/null")))
            .args(&self.argv);
        self.apply(command)
    }

    fn apply(&self, mut command: Command) -> Command {
        if let Some(dir) = &self.cwd {
            command.current_dir(dir);
        }
        if self.clear_env {
            command.env_clear();
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// The command as one line, for messages.
    #[must_use]
    pub fn display(&self) -> String {
        self.argv
            .iter()
            .map(|arg| {
                if arg.is_empty()
                    || arg
                        .chars()
                        .any(|c| c.is_whitespace() || "'\"$`\\".contains(c))
                {
                    format!("'{}'", arg.replace('\'', r"'\''"))
                } else {
                    arg.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// How many measured runs to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunCount {
    /// Exactly this many.
    Fixed(u32),
    /// At least `min_runs` and at least `min_time` of measured time, at most `max_runs`.
    Auto {
        /// Fewest runs.
        min_runs: u32,
        /// Most runs.
        max_runs: u32,
        /// Keep running until this much time was measured.
        min_time: Duration,
    },
}

impl Default for RunCount {
    /// At least 10 runs and 1 s (hyperfine uses 10 runs and 3 s), at most 10,000 runs.
    fn default() -> Self {
        RunCount::Auto {
            min_runs: 10,
            max_runs: 10_000,
            min_time: Duration::from_secs(1),
        }
    }
}

/// What happens to the command's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputMode {
    /// stdout to /dev/null; stderr kept in a temporary file, whose tail is shown if the command
    /// fails. A file cannot fill up and block the command the way an undrained pipe does.
    #[default]
    Discard,
    /// Both stdout and stderr shown on this process's terminal.
    Inherit,
}

/// The metric of [`MeasureOptions::ignore_failure`]: how many measured executions failed.
pub const FAILED_RUNS: &str = metric_names::FAILED_RUNS;

/// Settings of a measurement.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MeasureOptions {
    /// Unmeasured runs first (caches, JIT, page cache).
    pub warmup: u32,
    /// How many measured runs.
    pub runs: RunCount,
    /// Kill the command's whole process group if one execution takes longer.
    pub timeout: Option<Duration>,
    /// What happens to output.
    pub output: OutputMode,
    /// Leave what an execution started in the background running (by default it is killed
    /// when the execution ends, and counted in [`Measurement::background_killed`]).
    pub keep_background: bool,
    /// Commands run around the executions, untimed (setup, prepare, conclude, cleanup).
    pub hooks: Hooks,
    /// The file each execution reads as its standard input, from the start (`/dev/null` when
    /// `None`); hooks read `/dev/null`.
    pub input: Option<PathBuf>,
    /// Keep each execution's standard output (in a file, instead of `/dev/null`) and count the
    /// executions whose output differs from the first's ([`Measurement::output_differed`]).
    pub check_output: bool,
    /// Keep measuring when an execution exits unsuccessfully (hyperfine's `--ignore-failure`):
    /// its figures are kept and its status is in [`Measurement::exit_codes`].
    pub ignore_failure: bool,
}

/// One measured execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sample {
    /// Wall-clock time from starting the command (the helper's fork) to reaping it, in
    /// nanoseconds.
    pub wall_ns: u64,
    /// User CPU time of the process and the descendants it waited for, in nanoseconds.
    pub user_ns: u64,
    /// System CPU time, likewise.
    pub system_ns: u64,
    /// Peak resident set size of the process or its largest waited-for descendant, in bytes;
    /// 0 when [`Measurement::peak_rss_unavailable`] says why it could not be measured.
    pub peak_rss_bytes: u64,
}

/// Why a measurement failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The command is empty.
    #[error("empty command")]
    EmptyCommand,
    /// The program does not exist.
    #[error("command not found: {program}{hint}", hint = if program.contains(char::is_whitespace) {
        " (a whole command line in one argument runs only through a shell: with benchkeep, give it before `--`, or pass --shell)"
    } else { "" })]
    NotFound {
        /// The program.
        program: String,
    },
    /// The working directory does not exist.
    #[error("working directory {dir} does not exist (command: {command})")]
    NoWorkingDirectory {
        /// The directory.
        dir: PathBuf,
        /// The command.
        command: String,
    },
    /// The program could not be started.
    #[error("cannot start {command}: {source}")]
    Spawn {
        /// The command.
        command: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The command exited unsuccessfully.
    #[error("command failed on run {run} ({status}): {command}{stderr}",
        stderr = if stderr_tail.is_empty() { String::new() } else { format!("\n  stderr: {}", stderr_tail.trim_end().replace('\n', "\n          ")) })]
    Failed {
        /// The command.
        command: String,
        /// 1-based index of the failing execution (warm-ups included).
        run: u32,
        /// How it ended: `exit code 3`, `killed by signal 11`.
        status: String,
        /// The last lines of its stderr.
        stderr_tail: String,
    },
    /// An execution exceeded the timeout; its process group was killed.
    #[error("command timed out after {timeout:?} on run {run} (process group killed): {command}")]
    TimedOut {
        /// The command.
        command: String,
        /// 1-based index of the execution.
        run: u32,
        /// The timeout.
        timeout: Duration,
    },
    /// A setup, prepare, conclude or cleanup command failed; nothing was measured after it.
    #[error("the {hook} command failed ({status}): {command}{stderr}",
        stderr = if stderr_tail.is_empty() { String::new() } else { format!("\n  stderr: {}", stderr_tail.trim_end().replace('\n', "\n          ")) })]
    Hook {
        /// Which: `setup`, `prepare`, `conclude` or `cleanup`.
        hook: &'static str,
        /// The hook's command.
        command: String,
        /// How it ended.
        status: String,
        /// The last lines of its stderr.
        stderr_tail: String,
    },
    /// The user interrupted the measurement; the command's process group was killed.
    #[error("interrupted")]
    Interrupted,
    /// Waiting for the command or reading its output failed.
    #[error("i/o error while running {command}: {source}")]
    Io {
        /// The command.
        command: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// A flag that stops measurements: set it (e.g. from a SIGINT handler) and the running command's
/// process group is killed and the measurement returns [`RunError::Interrupted`].
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// A flag that is not set.
    #[must_use]
    pub fn new() -> Self {
        Interrupt::default()
    }

    /// The shared flag, for signal handlers (`signal_hook::flag::register`).
    #[must_use]
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.0)
    }

    /// Sets the flag.
    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether the flag is set.
    #[must_use]
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Observes a measurement's progress (a progress bar, or nothing).
pub trait Progress {
    /// A measured run finished; `planned` is the run count when known in advance.
    fn sample(&mut self, done: u32, planned: Option<u32>, sample: &Sample);
}

/// Progress that shows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn sample(&mut self, _done: u32, _planned: Option<u32>, _sample: &Sample) {}
}

/// All samples of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measurement {
    /// The measured executions, in order.
    pub samples: Vec<Sample>,
    /// Processes the executions (warm-up included) left running, which were killed.
    pub background_killed: usize,
    /// Why peak memory was not measured (commands are started through a small helper so that
    /// the figure is theirs alone; see [`crate::exec_helper`]). [`Measurement::into_benchmark`]
    /// then leaves the metric out rather than report benchkeep's own memory.
    pub peak_rss_unavailable: Option<String>,
    /// With [`MeasureOptions::check_output`]: how many executions (warm-ups included) wrote
    /// another standard output than the first, and how many ran.
    pub output_differed: Option<(u32, u32)>,
    /// Whether failures were counted (`ignore_failure`): [`Measurement::into_benchmark`] then
    /// adds the [`FAILED_RUNS`] metric, 0 included.
    pub failures_counted: bool,
    /// Each measured execution's exit code, in order (`None`: killed by a signal). Without
    /// [`MeasureOptions::ignore_failure`] every one is 0: a failure ends the measurement.
    pub exit_codes: Vec<Option<i32>>,
}

impl Measurement {
    /// How many measured executions failed.
    #[must_use]
    pub fn failures(&self) -> usize {
        self.exit_codes.iter().filter(|c| **c != Some(0)).count()
    }
}

impl Measurement {
    /// The measurement as a benchmark with wall time (primary), user and system CPU time and
    /// peak RSS metrics.
    #[must_use]
    pub fn into_benchmark(
        self,
        name: impl Into<String>,
        command: Option<Vec<String>>,
    ) -> Benchmark {
        let metric = |name: &str, unit: Unit, pick: fn(&Sample) -> u64| Metric {
            name: name.into(),
            unit,
            direction: Direction::LowerIsBetter,
            samples: self.samples.iter().map(|s| pick(s) as f64).collect(),
            summary: None,
        };
        let mut metrics = vec![
            metric(metric_names::WALL_TIME, Unit::nanoseconds(), |s| s.wall_ns),
            metric(metric_names::USER_TIME, Unit::nanoseconds(), |s| s.user_ns),
            metric(metric_names::SYSTEM_TIME, Unit::nanoseconds(), |s| {
                s.system_ns
            }),
        ];
        if self.peak_rss_unavailable.is_none() {
            metrics.push(metric(metric_names::PEAK_RSS, Unit::bytes(), |s| {
                s.peak_rss_bytes
            }));
        }
        if self.failures_counted {
            // One figure for the measurement, shown beside the times; too few samples to gate
            // on, so the failures are also said as a warning.
            metrics.push(Metric {
                name: FAILED_RUNS.into(),
                unit: Unit("runs".into()),
                direction: Direction::LowerIsBetter,
                samples: vec![self.failures() as f64],
                summary: None,
            });
        }
        Benchmark {
            params: std::collections::BTreeMap::new(),
            name: name.into(),
            command,
            metrics,
        }
    }
}

/// Measures `spec` under `options`.
pub fn measure(
    spec: &CommandSpec,
    options: &MeasureOptions,
    interrupt: &Interrupt,
    progress: &mut dyn Progress,
) -> Result<Measurement, RunError> {
    let mut executor = Executor::new(spec, options, interrupt)?;
    // Cleanup follows a failed setup too: it takes down whatever setup made before it failed.
    let measured = executor
        .hook(Hook::Setup)
        .and_then(|()| measure_executions(&mut executor, progress));
    // Cleanup follows a failed measurement too; the measurement's error comes first.
    let cleaned = executor.hook(Hook::Cleanup);
    if matches!(measured, Err(RunError::Interrupted)) || interrupt.is_set() {
        // No cleanup ran to take down what the hooks started.
        executor.kill_hook_leftovers();
    }
    let measured = measured?;
    cleaned?;
    Ok(measured)
}

/// The warm-ups and measured executions of `measure`, each between its prepare and conclude.
fn measure_executions(
    executor: &mut Executor<'_>,
    progress: &mut dyn Progress,
) -> Result<Measurement, RunError> {
    let options = executor.options;
    for _ in 0..options.warmup {
        executor.run_prepared()?;
    }
    let planned = match options.runs {
        RunCount::Fixed(n) => Some(n),
        RunCount::Auto { .. } => None,
    };
    let mut samples = Vec::new();
    let mut exit_codes = Vec::new();
    let mut measured = Duration::ZERO;
    loop {
        let enough = match options.runs {
            RunCount::Fixed(n) => samples.len() >= n as usize,
            RunCount::Auto {
                min_runs,
                max_runs,
                min_time,
            } => {
                samples.len() >= max_runs as usize
                    || (samples.len() >= min_runs as usize && measured >= min_time)
            }
        };
        if enough {
            break;
        }
        let sample = executor.run_prepared()?;
        measured += Duration::from_nanos(sample.wall_ns);
        samples.push(sample);
        exit_codes.push(executor.last_exit);
        progress.sample(
            u32::try_from(samples.len()).unwrap_or(u32::MAX),
            planned,
            &sample,
        );
    }
    Ok(Measurement {
        samples,
        background_killed: executor.background_killed,
        peak_rss_unavailable: executor.peak_rss_unavailable(),
        output_differed: executor.output_differed(),
        failures_counted: options.ignore_failure,
        exit_codes,
    })
}

/// Settings of a paired (A/B) measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairedOptions {
    /// Rounds; each runs base and head once.
    pub rounds: u32,
    /// Unmeasured runs of each side first, alternating.
    pub warmup: u32,
    /// Kill a command's whole process group if one execution takes longer.
    pub timeout: Option<Duration>,
    /// What happens to output.
    pub output: OutputMode,
    /// Seed of the per-round order; the caller draws a fresh one per measurement.
    pub seed: u64,
    /// Leave what an execution started in the background running.
    pub keep_background: bool,
}

/// Aligned samples of base and head: round `i` of each ran back to back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairedMeasurement {
    /// Base samples, one per round.
    pub base: Measurement,
    /// Head samples, one per round.
    pub head: Measurement,
    /// Per round, whether head ran first.
    pub head_first: Vec<bool>,
}

/// Measures `base` and `head` in rounds on this machine, each round in a random order (AB or
/// BA), so that drift over time affects both sides alike and order effects cancel out.
pub fn measure_paired(
    base: &CommandSpec,
    head: &CommandSpec,
    options: &PairedOptions,
    interrupt: &Interrupt,
    progress: &mut dyn Progress,
) -> Result<PairedMeasurement, RunError> {
    let single = MeasureOptions {
        warmup: 0,
        runs: RunCount::Fixed(options.rounds),
        timeout: options.timeout,
        output: options.output,
        keep_background: options.keep_background,
        hooks: Hooks::default(),
        input: None,
        check_output: false,
        ignore_failure: false,
    };
    let mut base_exec = Executor::new(base, &single, interrupt)?;
    let mut head_exec = Executor::new(head, &single, interrupt)?;
    for _ in 0..options.warmup {
        base_exec.run_once()?;
        head_exec.run_once()?;
    }
    let mut rng = benchkeep_core::stats::Rng::seed_from_u64(options.seed);
    let capacity = options.rounds as usize;
    let mut result = PairedMeasurement {
        base: Measurement {
            samples: Vec::with_capacity(capacity),
            background_killed: 0,
            peak_rss_unavailable: base_exec.peak_rss_unavailable(),
            output_differed: None,
            failures_counted: false,
            exit_codes: Vec::new(),
        },
        head: Measurement {
            samples: Vec::with_capacity(capacity),
            background_killed: 0,
            peak_rss_unavailable: head_exec.peak_rss_unavailable(),
            output_differed: None,
            failures_counted: false,
            exit_codes: Vec::new(),
        },
        head_first: Vec::with_capacity(capacity),
    };
    for round in 1..=options.rounds {
        let head_first = rng.next_u64() & 1 == 1;
        let (b, h) = if head_first {
            let h = head_exec.run_once()?;
            (base_exec.run_once()?, h)
        } else {
            let b = base_exec.run_once()?;
            (b, head_exec.run_once()?)
        };
        result.base.samples.push(b);
        result.head.samples.push(h);
        result.head_first.push(head_first);
        progress.sample(round, Some(options.rounds), &h);
    }
    result.base.background_killed = base_exec.background_killed;
    result.head.background_killed = head_exec.background_killed;
    Ok(result)
}

/// Runs one command repeatedly, reusing its stderr file and watchdog.
struct Executor<'a> {
    spec: &'a CommandSpec,
    options: &'a MeasureOptions,
    interrupt: &'a Interrupt,
    stderr: Option<File>,
    watchdog: Watchdog,
    executions: u32,
    /// Processes executions left running, killed after them.
    background_killed: usize,
    /// The helper executions start through, or why there is none.
    helper: Result<&'static Path, String>,
    /// The helper while it runs (started by the first execution).
    server: Option<Server>,
    /// A helper per hook, started by its first run: a hook dies with benchkeep, as a command
    /// does (a second Ctrl-C, which exits at once, left a running cleanup behind).
    hook_servers: [Option<Server>; 4],
    /// With `check_output`: where executions write their output, and what it was.
    output: Option<output::Outputs>,
    /// The last execution's exit code (`None`: killed by a signal).
    last_exit: Option<i32>,
    /// The token every hook runs with, by which a timeout or an interrupt finds what they
    /// left running (one per hook run made a scan per run, 20,000 after 10,000 executions).
    hook_token: String,
}

/// What a helper serves: the measured command, or one of its hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Served {
    Command,
    Hook(Hook),
}

/// What stopped an execution early, if anything, and its figures or why there are none.
type Ended = (Option<Fired>, Result<Figures, RunError>);

/// How an execution ended, as far as figures go.
enum Figures {
    /// The command ran: its status and figures.
    Measured(ExitStatus, Sample),
    /// The helper ended instead of answering (killed, or failed itself): its status.
    HelperEnded(ExitStatus),
}

impl<'a> Executor<'a> {
    fn new(
        spec: &'a CommandSpec,
        options: &'a MeasureOptions,
        interrupt: &'a Interrupt,
    ) -> Result<Self, RunError> {
        if spec.argv.is_empty() {
            return Err(RunError::EmptyCommand);
        }
        if let Some(dir) = &spec.cwd
            && !dir.is_dir()
        {
            return Err(RunError::NoWorkingDirectory {
                dir: dir.clone(),
                command: spec.display(),
            });
        }
        // Before the first execution, so that what it leaves behind is reparented here.
        let _ = leftovers::adopt_orphans();
        let stderr = match options.output {
            OutputMode::Discard => Some(tempfile::tempfile().map_err(|source| RunError::Io {
                command: spec.display(),
                source,
            })?),
            OutputMode::Inherit => None,
        };
        let helper = exec_helper::path().map_err(str::to_owned);
        Ok(Executor {
            spec,
            options,
            interrupt,
            stderr,
            watchdog: Watchdog::start(interrupt.clone()),
            executions: 0,
            background_killed: 0,
            helper,
            server: None,
            hook_servers: Default::default(),
            output: output::Outputs::for_options(options).map_err(|source| RunError::Io {
                command: spec.display(),
                source,
            })?,
            last_exit: None,
            hook_token: leftovers::token(),
        })
    }

    fn peak_rss_unavailable(&self) -> Option<String> {
        self.helper.as_ref().err().cloned()
    }

    fn io_error(&self, source: std::io::Error) -> RunError {
        RunError::Io {
            command: self.spec.display(),
            source,
        }
    }

    fn run_once(&mut self) -> Result<Sample, RunError> {
        if self.interrupt.is_set() {
            return Err(RunError::Interrupted);
        }
        self.executions += 1;
        // A token the execution's descendants inherit, so that what escapes its process group
        // is found too.
        let token = leftovers::token();
        let before = leftovers::mark();
        let (fired, figures) = if self.helper.is_ok() {
            self.execute_through_helper(Served::Command, &token)?
        } else {
            self.execute_directly(&token)?
        };
        if !self.options.keep_background || fired.is_some() {
            // A timeout or an interrupt ends everything, --keep-background or not.
            let helper = self.server.as_ref().map(Server::id);
            self.background_killed += leftovers::kill_except(&token, before, helper);
        }

        let stderr_tail = self.take_stderr_tail()?;
        match fired {
            Some(Fired::Timeout) => {
                return Err(RunError::TimedOut {
                    command: self.spec.display(),
                    run: self.executions,
                    timeout: self.options.timeout.unwrap_or_default(),
                });
            }
            Some(Fired::Interrupt) => return Err(RunError::Interrupted),
            None => {}
        }
        let (status, sample) = match figures? {
            Figures::Measured(status, sample) => (status, sample),
            Figures::HelperEnded(status) => {
                return Err(RunError::Failed {
                    command: self.spec.display(),
                    run: self.executions,
                    status: format!(
                        "benchkeep-exec, which starts it, ended: {}",
                        describe_status(status)
                    ),
                    stderr_tail,
                });
            }
        };
        self.last_exit = status.code();
        if !status.success() && !self.options.ignore_failure {
            return Err(RunError::Failed {
                command: self.spec.display(),
                run: self.executions,
                status: describe_status(status),
                stderr_tail,
            });
        }
        if let Some(output) = &mut self.output {
            output.compare().map_err(|source| RunError::Io {
                command: self.spec.display(),
                source,
            })?;
        }
        Ok(sample)
    }

    /// Asks the helper of `what` (started on first use) for one execution and waits for its
    /// answer.
    pub(super) fn execute_through_helper(
        &mut self,
        what: Served,
        token: &str,
    ) -> Result<Ended, RunError> {
        let (spec, input): (&'a CommandSpec, _) = match what {
            Served::Command => (self.spec, self.options.input.as_deref()),
            Served::Hook(hook) => (hook.of(&self.options.hooks).expect("a hook to run"), None),
        };
        // Fields, not a method, so that the watchdog stays borrowable beside it.
        macro_rules! slot {
            () => {
                match what {
                    Served::Command => &mut self.server,
                    Served::Hook(hook) => &mut self.hook_servers[hook.index()],
                }
            };
        }
        if slot!().is_none() {
            let helper = *self.helper.as_ref().expect("called with a helper");
            let mut command = spec.serving_helper(helper, input);
            self.set_output(&mut command, what)?;
            let server = Server::start(command).map_err(|source| RunError::Spawn {
                command: spec.display(),
                source,
            })?;
            *slot!() = Some(server);
        }
        let Some(server) = slot!().as_mut() else {
            unreachable!("started above");
        };
        let start = Instant::now();
        let sent = server.send(token);
        self.watchdog
            .arm(server.id(), self.options.timeout.map(|t| start + t));
        let mut answer = match sent {
            Ok(()) => server.receive(),
            // It ended before it could be asked: what it says on ending is the answer.
            Err(_) => Ok(None),
        };
        // A command that started leads a process group of its own, watched from now on.
        let started = match &answer {
            Ok(Some(line)) => line.trim_end().strip_prefix("started ").map(str::parse),
            _ => None,
        };
        if let Some(Ok(pid)) = started {
            self.watchdog.also(pid);
            answer = server.receive();
        }
        let fired = self.watchdog.disarm();
        match answer {
            Ok(Some(line)) if fired.is_none() => {
                let figures = match Report::parse(&line) {
                    Some(report) => started_status(spec, report).map(|status| {
                        let sample = Sample {
                            wall_ns: report.wall_ns,
                            user_ns: report.user_ns,
                            system_ns: report.system_ns,
                            peak_rss_bytes: report.maxrss_bytes,
                        };
                        Figures::Measured(status, sample)
                    }),
                    None => Err(self.io_error(std::io::Error::other(format!(
                        "benchkeep-exec answered {:?}",
                        line.trim_end()
                    )))),
                };
                Ok((fired, figures))
            }
            // Killed by the watchdog, or ended by itself: reaped, and started again next time.
            _ => {
                let server = slot!().take().expect("running");
                let status = server.stop().map_err(|e| self.io_error(e))?;
                Ok((fired, Ok(Figures::HelperEnded(status))))
            }
        }
    }

    /// Spawns the command itself (when there is no helper) and waits for it.
    fn execute_directly(&mut self, token: &str) -> Result<Ended, RunError> {
        let mut command = self.spec.command();
        match &self.options.input {
            Some(path) => command.stdin(File::open(path).map_err(|e| self.io_error(e))?),
            None => command.stdin(Stdio::null()),
        };
        self.set_output(&mut command, Served::Command)?;
        // Its own process group, so a timeout or Ctrl-C can kill everything it started.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        command.env(leftovers::TOKEN_VARIABLE, token);
        let start = Instant::now();
        let mut child = command.spawn().map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => RunError::NotFound {
                program: self.spec.argv[0].clone(),
            },
            _ => RunError::Spawn {
                command: self.spec.display(),
                source,
            },
        })?;
        self.watchdog
            .arm(child.id(), self.options.timeout.map(|t| start + t));
        let usage = self.wait_watched(|| child.wait4())?;
        let wall = start.elapsed();
        let fired = self.watchdog.disarm();
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let sample = Sample {
            wall_ns: nanos(wall),
            user_ns: nanos(usage.rusage.utime),
            system_ns: nanos(usage.rusage.stime),
            // Not the command's own (see exec_helper); the metric is left out.
            peak_rss_bytes: 0,
        };
        Ok((fired, Ok(Figures::Measured(usage.status, sample))))
    }

    /// Standard output and error as the options say.
    /// Waits with `wait`, again when a signal interrupts it; a failure disarms the watchdog.
    fn wait_watched<T>(&self, mut wait: impl FnMut() -> std::io::Result<T>) -> Result<T, RunError> {
        loop {
            match wait() {
                Ok(done) => return Ok(done),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.watchdog.disarm();
                    return Err(self.io_error(e));
                }
            }
        }
    }

    /// Standard output and error as the options say: for `served` (hooks never have their
    /// output checked).
    fn set_output(&self, command: &mut Command, served: Served) -> Result<(), RunError> {
        match &self.stderr {
            Some(file) => {
                let clone = file.try_clone().map_err(|e| self.io_error(e))?;
                let stdout = match (&self.output, served) {
                    (Some(output), Served::Command) => {
                        Stdio::from(output.writer().map_err(|e| self.io_error(e))?)
                    }
                    _ => Stdio::null(),
                };
                command.stdout(stdout).stderr(Stdio::from(clone));
            }
            None => {
                command.stdout(Stdio::inherit()).stderr(Stdio::inherit());
            }
        }
        Ok(())
    }

    /// Returns the last 2 KiB the command wrote to stderr and empties the file for the next run.
    fn take_stderr_tail(&mut self) -> Result<String, RunError> {
        const TAIL: u64 = 2048;
        let Some(file) = self.stderr.as_mut() else {
            return Ok(String::new());
        };
        let result = (|| {
            let len = file.seek(SeekFrom::End(0))?;
            if len == 0 {
                return Ok(String::new());
            }
            file.seek(SeekFrom::Start(len.saturating_sub(TAIL)))?;
            let mut tail = Vec::new();
            file.read_to_end(&mut tail)?;
            // The child shares this file description, so resetting it here resets the next
            // child's write position too.
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            Ok(String::from_utf8_lossy(&tail).into_owned())
        })();
        result.map_err(|e| self.io_error(e))
    }
}

/// The wait status of `spec`'s execution from the helper's report, or the error that kept it
/// from starting.
fn started_status(spec: &CommandSpec, report: Report) -> Result<ExitStatus, RunError> {
    use std::os::unix::process::ExitStatusExt;
    match report.exec_errno {
        0 => Ok(ExitStatus::from_raw(report.status)),
        errno => {
            let source = std::io::Error::from_raw_os_error(errno);
            Err(if source.kind() == std::io::ErrorKind::NotFound {
                RunError::NotFound {
                    program: spec.argv[0].clone(),
                }
            } else {
                RunError::Spawn {
                    command: spec.display(),
                    source,
                }
            })
        }
    }
}

fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "unknown status".into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fired {
    Timeout,
    Interrupt,
}

#[derive(Debug, Default)]
struct WatchState {
    /// The process groups of the running execution (the command's, and the helper's that
    /// started it) and its deadline.
    target: Option<(Vec<u32>, Option<Instant>)>,
    fired: Option<Fired>,
    shutdown: bool,
}

/// A helper thread that kills the running command's process group on timeout or interrupt.
///
/// It polls every 20 ms instead of being woken for each run, so arming it costs a mutex and no
/// context switch; timeouts are therefore precise to about 20 ms.
struct Watchdog {
    shared: Arc<(Mutex<WatchState>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

const WATCH_PERIOD: Duration = Duration::from_millis(20);

impl Watchdog {
    fn start(interrupt: Interrupt) -> Self {
        let shared = Arc::new((Mutex::new(WatchState::default()), Condvar::new()));
        let watched = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("benchkeep-watchdog".into())
            .spawn(move || {
                let (lock, wake) = &*watched;
                let mut state = lock
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                while !state.shutdown {
                    if let Some((groups, deadline)) = &state.target {
                        let reason = if interrupt.is_set() {
                            Some(Fired::Interrupt)
                        } else if deadline.is_some_and(|d| Instant::now() >= d) {
                            Some(Fired::Timeout)
                        } else {
                            None
                        };
                        if let Some(reason) = reason {
                            groups.iter().rev().copied().for_each(kill_group);
                            state.fired = Some(reason);
                            state.target = None;
                        }
                    }
                    state = wake
                        .wait_timeout(state, WATCH_PERIOD)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0;
                }
            })
            .ok();
        Watchdog { shared, thread }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, WatchState> {
        self.shared
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn arm(&self, group: u32, deadline: Option<Instant>) {
        let mut state = self.state();
        state.target = Some((vec![group], deadline));
        state.fired = None;
    }

    /// Watches `group` too, with the same deadline (unless it has already fired).
    fn also(&self, group: u32) {
        if let Some((groups, _)) = &mut self.state().target {
            groups.push(group);
        }
    }

    fn disarm(&self) -> Option<Fired> {
        let mut state = self.state();
        state.target = None;
        state.fired.take()
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.state().shutdown = true;
        self.shared.1.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub(crate) fn kill_group(group: u32) {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    if let Ok(raw) = i32::try_from(group) {
        // The group may already be gone; nothing to do then.
        let _ = killpg(Pid::from_raw(raw), Signal::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn sh(script: &str) -> CommandSpec {
        CommandSpec::new(["sh", "-c", script])
    }

    fn fixed(n: u32) -> MeasureOptions {
        MeasureOptions {
            runs: RunCount::Fixed(n),
            ..MeasureOptions::default()
        }
    }

    fn run(spec: &CommandSpec, options: &MeasureOptions) -> Result<Measurement, RunError> {
        measure(spec, options, &Interrupt::new(), &mut NoProgress)
    }

    #[test]
    fn sleep_is_timed_at_nanosecond_resolution() {
        let m = run(&CommandSpec::new(["sleep", "0.05"]), &fixed(3)).unwrap();
        assert_eq!(m.samples.len(), 3);
        for s in &m.samples {
            assert!(s.wall_ns >= 50_000_000 && s.wall_ns < 80_000_000, "{s:?}");
            assert_ne!(
                s.wall_ns % 1000,
                0,
                "wall time looks rounded to microseconds"
            );
        }
    }

    #[test]
    fn cpu_time_is_attributed_to_the_measured_process() {
        let busy = sh("i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done");
        let m = run(&busy, &fixed(1)).unwrap();
        let s = m.samples[0];
        assert!(s.user_ns > 20_000_000, "{s:?}");
        assert!(s.user_ns + s.system_ns <= s.wall_ns + 5_000_000, "{s:?}");
    }

    #[test]
    fn peak_rss_is_per_execution_not_a_running_maximum() {
        // A grandchild (sh -> dd, whose 200 MiB block buffer is written and so resident), then a
        // tiny command in the same process: RUSAGE_CHILDREN would report 200 MiB for both.
        let hog = sh("dd if=/dev/zero of=/dev/null bs=200M count=1 2>/dev/null; true");
        let small = CommandSpec::new(["true"]);
        let hog_rss = run(&hog, &fixed(1)).unwrap().samples[0].peak_rss_bytes;
        let after = run(&small, &fixed(1)).unwrap().samples[0].peak_rss_bytes;
        assert!(
            hog_rss > 150 * 1024 * 1024,
            "the grandchild's memory was missed: {hog_rss}"
        );
        assert!(
            after < 50 * 1024 * 1024,
            "true after the hog reports {after}: stuck at a maximum"
        );
    }

    #[test]
    fn peak_rss_is_the_command_s_own_not_the_runner_s() {
        // 96 MiB resident in this process: spawned directly, `true` reported at least that,
        // because Linux carries the spawner's high-water mark into the exec'd process.
        let ballast = std::hint::black_box(vec![1_u8; 96 << 20]);
        let tiny = run(&CommandSpec::new(["true"]), &fixed(1)).unwrap();
        let dd = CommandSpec::new(["dd", "if=/dev/zero", "of=/dev/null", "bs=100M", "count=1"]);
        let hundred = run(&dd, &fixed(1)).unwrap();
        drop(ballast);
        assert_eq!(tiny.peak_rss_unavailable, None);
        let tiny = tiny.samples[0].peak_rss_bytes;
        assert!(
            (256 << 10..4 << 20).contains(&tiny),
            "true reported {tiny} bytes (GNU time: about 1 MiB)"
        );
        // dd's 100 MiB block buffer is written, so resident: 100 MiB plus dd and libc.
        let hundred = hundred.samples[0].peak_rss_bytes;
        assert!(
            (100 << 20..110 << 20).contains(&hundred),
            "a 100 MiB buffer reported {hundred} bytes"
        );
    }

    #[test]
    fn commands_read_dev_null_not_the_helper_s_socket() {
        // `cat` would wait for the socket forever, or swallow the helper's next request.
        let options = MeasureOptions {
            timeout: Some(Duration::from_secs(20)),
            ..fixed(3)
        };
        let measured = run(&sh("cat; cat"), &options).unwrap();
        assert_eq!(measured.samples.len(), 3);
    }

    #[test]
    fn each_execution_leads_its_own_process_group() {
        // `kill 0` signals the caller's group: the command's own, not the helper's.
        let measured = run(&sh("trap '' TERM; kill 0; exit 0"), &fixed(2)).unwrap();
        assert_eq!(measured.samples.len(), 2);
        let measured = run(&sh("sleep 5 & kill -- -$$; exit 0"), &fixed(1));
        assert!(
            matches!(&measured, Err(RunError::Failed { status, .. }) if status == "killed by signal 15"),
            "{measured:?}"
        );
    }

    #[test]
    fn a_helper_that_dies_is_a_failure_never_a_sample() {
        // The command kills the helper that started it: no figures, so no sample.
        let err = run(&sh("kill -9 $PPID; sleep 1"), &fixed(2)).unwrap_err();
        match &err {
            RunError::Failed { status, run, .. } => {
                assert_eq!(*run, 1);
                assert!(
                    status
                        .starts_with("benchkeep-exec, which starts it, ended: killed by signal 9"),
                    "{status}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_program_that_cannot_be_executed_is_a_start_error() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("not-executable");
        std::fs::write(&script, "#!/bin/sh\ntrue\n").unwrap();
        let err = run(&CommandSpec::new([script.to_str().unwrap()]), &fixed(1)).unwrap_err();
        assert!(
            matches!(&err, RunError::Spawn { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied),
            "{err:?}"
        );
    }

    #[test]
    fn a_failing_command_is_a_failure_with_its_stderr() {
        let err = run(&sh("echo 'boom: disk on fire' >&2; exit 3"), &fixed(2)).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, RunError::Failed { run: 1, .. }), "{err:?}");
        assert!(
            message.contains("exit code 3") && message.contains("disk on fire"),
            "{message}"
        );
    }

    #[test]
    fn a_command_failing_midway_names_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let counter = dir.path().join("n");
        let script = format!(
            "n=$(cat {0} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {0}; [ $n -lt 3 ]",
            counter.display()
        );
        let err = run(&sh(&script), &fixed(5)).unwrap_err();
        assert!(matches!(err, RunError::Failed { run: 3, .. }), "{err:?}");
    }

    #[test]
    fn missing_programs_and_directories_are_named() {
        let err = run(&CommandSpec::new(["no-such-program-xyz"]), &fixed(1)).unwrap_err();
        assert_eq!(err.to_string(), "command not found: no-such-program-xyz");
        let mut spec = CommandSpec::new(["true"]);
        spec.cwd = Some("/no/such/dir".into());
        let err = run(&spec, &fixed(1)).unwrap_err();
        assert!(err.to_string().contains("/no/such/dir"), "{err}");
        assert!(matches!(
            run(&CommandSpec::new(Vec::<String>::new()), &fixed(1)),
            Err(RunError::EmptyCommand)
        ));
    }

    #[test]
    fn megabytes_of_output_do_not_deadlock() {
        let spec = sh("head -c 20000000 /dev/zero; head -c 20000000 /dev/zero >&2");
        let m = run(&spec, &fixed(2)).unwrap();
        assert_eq!(m.samples.len(), 2);
    }

    #[test]
    fn timeouts_kill_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("grandchild-survived");
        // The grandchild would write the marker after 1.5 s if it survived the group kill.
        let script = format!("(sleep 1.5; touch {}) & sleep 30", marker.display());
        let options = MeasureOptions {
            timeout: Some(Duration::from_millis(200)),
            ..fixed(1)
        };
        let started = Instant::now();
        let err = run(&sh(&script), &options).unwrap_err();
        assert!(matches!(err, RunError::TimedOut { .. }), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(1800));
        assert!(
            !marker.exists(),
            "a process of the group survived the timeout"
        );
    }

    #[test]
    fn an_interrupt_stops_the_measurement_and_kills_the_command() {
        let interrupt = Interrupt::new();
        let trigger = interrupt.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            trigger.trigger();
        });
        let started = Instant::now();
        let err = measure(
            &CommandSpec::new(["sleep", "30"]),
            &fixed(3),
            &interrupt,
            &mut NoProgress,
        )
        .unwrap_err();
        assert!(matches!(err, RunError::Interrupted), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn what_an_execution_leaves_running_is_killed_and_counted() {
        if !Path::new("/proc/self/environ").exists() {
            return; // leftovers are found through /proc (Linux)
        }
        let dir = tempfile::tempdir().unwrap();
        let survived = |name: &str| dir.path().join(name);
        // A background child and a setsid daemon, each touching a file if it lives 1 s.
        let script = format!(
            "(sleep 1; touch {}) & (setsid sh -c 'sleep 1; touch {}' &); exit 0",
            survived("child").display(),
            survived("daemon").display()
        );
        let m = run(&sh(&script), &fixed(2)).unwrap();
        assert!(m.background_killed >= 4, "killed {}", m.background_killed);
        std::thread::sleep(Duration::from_millis(1500));
        assert!(!survived("child").exists(), "a background child survived");
        assert!(!survived("daemon").exists(), "a setsid daemon survived");

        let kept = MeasureOptions {
            keep_background: true,
            ..fixed(1)
        };
        let m = run(
            &sh(&format!(
                "(sleep 0.3; touch {}) &",
                survived("kept").display()
            )),
            &kept,
        )
        .unwrap();
        assert_eq!(m.background_killed, 0);
        // Generous: the machine running the tests may be busy.
        for _ in 0..50 {
            if survived("kept").exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            survived("kept").exists(),
            "--keep-background kept it running"
        );
    }

    #[test]
    fn auto_run_count_honours_min_runs_and_min_time() {
        let options = MeasureOptions {
            runs: RunCount::Auto {
                min_runs: 3,
                max_runs: 100,
                min_time: Duration::from_millis(100),
            },
            ..MeasureOptions::default()
        };
        let m = run(&CommandSpec::new(["sleep", "0.02"]), &options).unwrap();
        assert!((5..=7).contains(&m.samples.len()), "{}", m.samples.len());
    }

    #[test]
    fn environment_and_working_directory_are_applied() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec =
            sh("[ \"$BENCH_X\" = 42 ] && [ \"$(pwd)\" = \"$EXPECTED\" ] && [ -z \"$HOME\" ]");
        spec.cwd = Some(dir.path().canonicalize().unwrap());
        spec.clear_env = true;
        spec.env = vec![
            ("BENCH_X".into(), "42".into()),
            (
                "EXPECTED".into(),
                dir.path().canonicalize().unwrap().display().to_string(),
            ),
            ("PATH".into(), std::env::var("PATH").unwrap()),
        ];
        run(&spec, &fixed(1)).unwrap();
    }
}
