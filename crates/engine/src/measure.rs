//! Measuring: the benchmarks a request names (a command, or the configured `[[bench]]`es), with
//! one set of measurement defaults, into a new run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use benchkeep_core::model::{Benchmark, Run, RunId};
use benchkeep_core::store::{self as core_store, Store, StoreError};
use benchkeep_report::measurements::Export;
use benchkeep_runner::command::{
    self as runner, CommandSpec, Hooks, MeasureOptions, OutputMode, RunCount,
};
use benchkeep_runner::{environment, instructions};
use jiff::Timestamp;

use crate::config::RunDefaults;
use crate::scan::{self, Parameter, Template};
use crate::session::{KeyOverrides, Session};
use crate::{Context as _, Error, bail};

/// Warm-up runs before measuring, unless set: one, so that the first measured run does not
/// pay for cold caches alone.
pub const DEFAULT_WARMUP: u32 = 1;
/// Fewest runs with an automatic run count, unless set.
pub const DEFAULT_MIN_RUNS: u32 = 10;
/// Most runs with an automatic run count, unless set.
pub const DEFAULT_MAX_RUNS: u32 = 10_000;
/// Seconds of measurement with an automatic run count, unless set.
pub const DEFAULT_MIN_TIME: f64 = 1.0;

impl RunDefaults {
    /// These settings, each unset one taken from `below` (flags over a `[[bench]]` over
    /// `[run]`).
    #[must_use]
    pub fn over(&self, below: &RunDefaults) -> RunDefaults {
        RunDefaults {
            runs: self.runs.or(below.runs),
            warmup: self.warmup.or(below.warmup),
            min_time: self.min_time.or(below.min_time),
            min_runs: self.min_runs.or(below.min_runs),
            max_runs: self.max_runs.or(below.max_runs),
            timeout: self.timeout.or(below.timeout),
        }
    }

    /// The runner's options: these settings over the defaults ([`DEFAULT_WARMUP`] and the
    /// others), validated.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the setting: zero runs, `max_runs` below `min_runs`, a time
    /// that is not a positive number of seconds.
    pub fn options(&self, output: OutputMode) -> Result<MeasureOptions, Error> {
        let runs = match self.runs {
            Some(0) => bail!("runs must be at least 1"),
            Some(n) => RunCount::Fixed(n),
            None => {
                let min_runs = self.min_runs.unwrap_or(DEFAULT_MIN_RUNS).max(1);
                let max_runs = self.max_runs.unwrap_or(DEFAULT_MAX_RUNS);
                if max_runs < min_runs {
                    bail!("max_runs ({max_runs}) is below min_runs ({min_runs})");
                }
                RunCount::Auto {
                    min_runs,
                    max_runs,
                    min_time: seconds(self.min_time.unwrap_or(DEFAULT_MIN_TIME), "min_time")?,
                }
            }
        };
        Ok(MeasureOptions {
            warmup: self.warmup.unwrap_or(DEFAULT_WARMUP),
            runs,
            timeout: self.timeout.map(|t| seconds(t, "timeout")).transpose()?,
            output,
            keep_background: false,
            hooks: Hooks::default(),
            input: None,
            check_output: false,
            ignore_failure: false,
        })
    }
}

/// What to measure: a command, or the configured `[[bench]]`es (all, or those in `benches`).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
#[allow(clippy::struct_excessive_bools)] // independent switches, as on the command line
pub struct MeasureRequest {
    /// The command's arguments (empty: the configured benchmarks).
    pub command: Vec<String>,
    /// Run `command` joined as one script of the shell.
    pub shell: bool,
    /// The shell of `shell`, of `commands` and of the hooks (`sh` by default). Its start-up,
    /// measured once, is subtracted from the times of commands run through it, as hyperfine
    /// does.
    pub shell_program: Option<String>,
    /// Run `commands` without a shell: each is split into words as a shell would (quotes
    /// respected) and executed directly (hyperfine's `-N`).
    pub no_shell: bool,
    /// Shell commands, each a benchmark run through `sh -c` (hyperfine's positional
    /// commands), after `command` if there is one.
    pub commands: Vec<String>,
    /// The commands' benchmark names, in order (each its text by default); a name may use
    /// `{PARAMETER}`.
    pub names: Vec<String>,
    /// Shell commands run around each benchmark's executions, untimed.
    pub hooks: HookCommands,
    /// Parameter scans: one benchmark per command and combination of values.
    pub parameters: Vec<Parameter>,
    /// Files the measurement is written to in hyperfine's shapes, besides the run.
    pub exports: Vec<(Export, PathBuf)>,
    /// The file each execution of the commands reads as standard input (`/dev/null` by
    /// default), from the start each time.
    pub input: Option<PathBuf>,
    /// Keep each execution's standard output and warn when it differs from the first's.
    pub check_output: bool,
    /// Keep measuring past failing executions (hyperfine's `-i`): their times are kept, the
    /// `failed_runs` metric counts them, and a warning says so.
    pub ignore_failure: bool,
    /// Only these configured benchmarks.
    pub benches: Vec<String>,
    /// Measurement settings over each benchmark's and the file's.
    pub settings: RunDefaults,
    /// Let the command's output through instead of discarding it.
    pub show_output: bool,
    /// Also count instructions with callgrind.
    pub instructions: bool,
    /// Leave what the command starts in the background running (by default it is killed
    /// after each execution, and the number killed is said).
    pub keep_background: bool,
}

impl MeasureRequest {
    /// The shell commands run through: `shell_program`, else `sh`.
    #[must_use]
    pub fn shell_program(&self) -> &str {
        self.shell_program.as_deref().unwrap_or("sh")
    }

    /// Measures `command` with the configured defaults.
    #[must_use]
    pub fn command<I: IntoIterator<Item = S>, S: Into<String>>(command: I) -> Self {
        MeasureRequest {
            command: command.into_iter().map(Into::into).collect(),
            ..MeasureRequest::default()
        }
    }
}

/// Shell commands run around a benchmark's executions and never timed (hyperfine's flags of
/// the same names); each may use `{PARAMETER}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HookCommands {
    /// Once before the first execution of each benchmark.
    pub setup: Option<String>,
    /// Before each execution (warm-ups included).
    pub prepare: Option<String>,
    /// After each execution (warm-ups included).
    pub conclude: Option<String>,
    /// Once after the last execution of each benchmark, also when one failed.
    pub cleanup: Option<String>,
}

impl HookCommands {
    fn texts(&self) -> Vec<&str> {
        [&self.setup, &self.prepare, &self.conclude, &self.cleanup]
            .into_iter()
            .filter_map(Option::as_deref)
            .collect()
    }

    /// The runner's hooks for a benchmark run as `like` (its directory and environment), with
    /// `params` put in.
    fn specs(&self, shell: &str, like: &CommandSpec, params: &BTreeMap<String, String>) -> Hooks {
        let spec = |script: &Option<String>| {
            script.as_ref().map(|script| CommandSpec {
                argv: shell_script(shell, &scan::substitute(script, params)),
                ..like.clone()
            })
        };
        Hooks {
            setup: spec(&self.setup),
            prepare: spec(&self.prepare),
            conclude: spec(&self.conclude),
            cleanup: spec(&self.cleanup),
        }
    }
}

/// Where a new run goes besides the store.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RecordOptions {
    /// Also write the run to this file.
    pub out: Option<PathBuf>,
    /// Do not record the run in the store (nor make a baseline of it).
    pub no_record: bool,
    /// `KEY=VALUE` labels.
    pub labels: Vec<String>,
}

/// One benchmark to measure.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    pub(crate) name: String,
    pub(crate) spec: CommandSpec,
    pub(crate) options: MeasureOptions,
    pub(crate) instructions: bool,
    /// The parameter values this benchmark was made with.
    pub(crate) params: BTreeMap<String, String>,
    /// The shell it runs through, whose start-up is subtracted from its times.
    pub(crate) shell: Option<String>,
}

/// Instruction counts run under callgrind, which is slow but nearly deterministic: five runs
/// meet the comparison's minimum sample count.
const INSTRUCTION_RUNS: u32 = 5;

/// Speed-probe repetitions when a job starts, and after each benchmark.
const PROBES_AT_START: usize = 3;
const PROBES_PER_BENCHMARK: usize = 2;

impl Session {
    /// The benchmarks to measure: the command of `request`, or the configured `[[bench]]`es.
    pub(crate) fn planned_benchmarks(
        &self,
        request: &MeasureRequest,
    ) -> Result<Vec<Planned>, Error> {
        let output = if request.show_output {
            OutputMode::Inherit
        } else {
            OutputMode::Discard
        };
        if !request.command.is_empty() || !request.commands.is_empty() {
            return self.planned_commands(request, output);
        }
        if !request.parameters.is_empty() {
            bail!(
                "parameter scans (-P, -L) apply to commands given on the command line, not to [[bench]] entries"
            );
        }
        if self.config.bench.is_empty() {
            bail!(
                "nothing to measure: give a command after `--` (e.g. `benchkeep run -- ./my-program`) or list [[bench]] entries in benchkeep.toml"
            );
        }
        if !request.names.is_empty() {
            bail!(
                "--name names commands given on the command line; configured benchmarks take their names from benchkeep.toml"
            );
        }
        for wanted in &request.benches {
            if !self.config.bench.iter().any(|b| &b.name == wanted) {
                bail!("no [[bench]] named {wanted:?} in benchkeep.toml");
            }
        }
        let base = self.config.base_dir().unwrap_or(&self.cwd).to_owned();
        let input = self.input_file(request)?;
        let planned: Vec<Planned> = self
            .config
            .bench
            .iter()
            .filter(|b| request.benches.is_empty() || request.benches.contains(&b.name))
            .filter_map(|bench| bench.command.as_ref().map(|command| (bench, command)))
            .map(|(bench, command)| {
                let mut spec = CommandSpec::new(command.argv());
                spec.cwd = Some(
                    bench
                        .cwd
                        .as_ref()
                        .map_or_else(|| base.clone(), |dir| base.join(dir)),
                );
                spec.env = bench
                    .env
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let mut options = request
                    .settings
                    .over(&bench.run_settings(&self.config.run))
                    .options(output)
                    .map_err(|e| Error::Invalid(format!("[[bench]] {:?}: {e}", bench.name)))?;
                options.keep_background = request.keep_background;
                options.input.clone_from(&input);
                options.check_output = request.check_output;
                options.ignore_failure = request.ignore_failure;
                options.hooks =
                    request
                        .hooks
                        .specs(request.shell_program(), &spec, &BTreeMap::new());
                let options = self.enough_runs(&bench.name, options);
                Ok(Planned {
                    name: bench.name.clone(),
                    spec,
                    options,
                    instructions: request.instructions || bench.instructions,
                    params: BTreeMap::new(),
                    shell: None,
                })
            })
            .collect::<Result<_, Error>>()?;
        if planned.is_empty() {
            bail!(
                "no [[bench]] in benchkeep.toml has a command to measure (base/head benchmarks run with `benchkeep ab`)"
            );
        }
        Ok(planned)
    }

    /// The benchmarks of the commands given on the command line: the one after `--`, then the
    /// shell commands, each with every combination of the parameters' values.
    fn planned_commands(
        &self,
        request: &MeasureRequest,
        output: OutputMode,
    ) -> Result<Vec<Planned>, Error> {
        let shell = request.shell_program();
        let mut templates = Vec::new();
        if request.command.is_empty() && !request.benches.is_empty() {
            bail!("--bench selects configured benchmarks; it cannot be combined with commands");
        }
        // In the order of the command line: shell commands, then the command after `--`.
        for script in &request.commands {
            if script.trim().is_empty() {
                bail!("an empty command: give each command as one non-empty argument");
            }
            let (words, through) = if request.no_shell {
                let Some(words) = shlex::split(script).filter(|w| !w.is_empty()) else {
                    bail!(
                        "{script:?} cannot be split into words without a shell (an unclosed quote?); leave out --no-shell to run it through one"
                    );
                };
                (words, None)
            } else {
                (shell_script(shell, script), Some(shell.to_owned()))
            };
            templates.push(Template {
                name: None,
                words,
                shown: script.clone(),
                shell: through,
            });
        }
        if !request.command.is_empty() {
            let through = request.shell.then_some(shell);
            templates.push(Template {
                name: None,
                words: command_words(&request.command, through, &request.benches)?,
                shown: request.command.join(" "),
                shell: request.shell.then(|| shell.to_owned()),
            });
        }
        if request.names.len() > templates.len() {
            bail!(
                "--name is given {} times for {} command(s): one name per command, in order",
                request.names.len(),
                templates.len()
            );
        }
        for (template, name) in templates.iter_mut().zip(&request.names) {
            template.name = Some(name.clone());
        }
        let expanded = scan::expand(&templates, &request.parameters, &request.hooks.texts())?;
        let mut options = request.settings.over(&self.config.run).options(output)?;
        options.keep_background = request.keep_background;
        options.input = self.input_file(request)?;
        options.check_output = request.check_output;
        options.ignore_failure = request.ignore_failure;
        Ok(expanded
            .into_iter()
            .map(|benchmark| {
                let spec = CommandSpec::new(benchmark.words);
                let mut options = options.clone();
                options.hooks = request.hooks.specs(shell, &spec, &benchmark.params);
                Planned {
                    options: self.enough_runs(&benchmark.name, options),
                    name: benchmark.name,
                    spec,
                    instructions: request.instructions,
                    params: benchmark.params,
                    shell: benchmark.shell,
                }
            })
            .collect())
    }

    /// `--input`, made absolute (commands may run in another directory), refused unless it is a
    /// readable file: a missing one would look like a missing program.
    fn input_file(&self, request: &MeasureRequest) -> Result<Option<PathBuf>, Error> {
        let Some(given) = &request.input else {
            return Ok(None);
        };
        let path = self.path(given);
        // Checked before it is opened: opening a FIFO waits for a writer, forever.
        match std::fs::metadata(&path) {
            Err(e) => bail!("--input {}: {e}", given.display()),
            Ok(meta) if !meta.is_file() => {
                bail!(
                    "--input {}: not a regular file (each execution reads it from the start)",
                    given.display()
                )
            }
            Ok(_) => {}
        }
        if let Err(e) = std::fs::File::open(&path) {
            bail!("--input {}: {e}", given.display());
        }
        Ok(Some(path))
    }

    /// `options` with at least as many runs as `[compare] min_samples` asks of a verdict:
    /// fewer would make every comparison of this benchmark inconclusive, a pass earned by
    /// nothing. Says so when it raises them.
    fn enough_runs(&self, name: &str, mut options: MeasureOptions) -> MeasureOptions {
        let needed = self
            .config
            .compare
            .min_samples
            .map_or(1, |n| u32::try_from(n).unwrap_or(u32::MAX));
        let (runs, raised) = match options.runs {
            RunCount::Fixed(n) if n < needed => (n, RunCount::Fixed(needed)),
            RunCount::Auto {
                min_runs,
                max_runs,
                min_time,
            } if max_runs < needed => (
                max_runs,
                RunCount::Auto {
                    min_runs: min_runs.max(needed),
                    max_runs: needed,
                    min_time,
                },
            ),
            RunCount::Auto {
                min_runs,
                max_runs,
                min_time,
            } if min_runs < needed => (
                min_runs,
                RunCount::Auto {
                    min_runs: needed,
                    max_runs,
                    min_time,
                },
            ),
            _ => return options,
        };
        self.notice(&format!(
            "{name}: measuring {needed} runs, not {runs}: [compare] min_samples needs {needed} samples for a verdict"
        ));
        options.runs = raised;
        options
    }

    /// Measures the benchmarks `request` names into a new run of the key `key` resolves to.
    /// Nothing is written but the request's exports.
    ///
    /// # Errors
    ///
    /// Nothing to measure, invalid settings, a failing command ([`Error::Measure`]),
    /// [`Error::Interrupted`].
    pub fn measure(
        &self,
        request: &MeasureRequest,
        key: &KeyOverrides,
        record: &RecordOptions,
    ) -> Result<Run, Error> {
        self.measure_probed(request, key, record, true)
    }

    /// [`Session::measure`], with the machine-speed probe only when `probed`: a run nobody
    /// keeps (`run --no-record` without `--out`) is never compared with stored jobs, and its
    /// five probes cost 25 ms, most of what `run` costs besides the commands.
    fn measure_probed(
        &self,
        request: &MeasureRequest,
        key: &KeyOverrides,
        record: &RecordOptions,
        probed: bool,
    ) -> Result<Run, Error> {
        let planned = self.planned_benchmarks(request)?;
        // An export that cannot be written fails now, not after minutes of measuring; two
        // files of one path would leave only the last written.
        let mut paths: Vec<PathBuf> = record.out.iter().map(|p| self.path(p)).collect();
        for (_, path) in &request.exports {
            let path = self.path(path);
            if paths.contains(&path) {
                bail!(
                    "{} is given for two outputs (--out, --export-json, --export-markdown, --export-csv): one would overwrite the other",
                    path.display()
                );
            }
            paths.push(path.clone());
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
            if parent.is_some_and(|dir| !dir.is_dir()) {
                bail!(
                    "cannot write the export {}: its directory does not exist",
                    path.display()
                );
            }
        }
        let mut run = self.new_run(key, record)?;
        self.events.measuring(&self.interrupt);
        // The machine's speed before and after each benchmark, for stored comparisons with jobs
        // that ran when the machine was quieter or busier (about 5 ms a probe).
        let mut probe = probed.then(|| benchkeep_runner::probe::probe(PROBES_AT_START));
        for planned in &planned {
            run.benchmarks.push(self.measure_one(planned)?);
            if let Some(probe) = &mut probe {
                benchkeep_runner::probe::extend(probe, PROBES_PER_BENCHMARK);
            }
        }
        run.probe = probe;
        for (shell, startup) in self.shell_startups() {
            run.labels.insert(
                format!(
                    "shell_startup_ns.{}",
                    shell.split_whitespace().collect::<Vec<_>>().join("_")
                ),
                format!("{:.0}", startup.wall),
            );
        }
        self.write_exports(&run, &request.exports)?;
        Ok(run)
    }

    /// Writes `run`'s measurements to each export file, in hyperfine's shapes.
    pub(crate) fn write_exports(
        &self,
        run: &Run,
        exports: &[(Export, PathBuf)],
    ) -> Result<(), Error> {
        let codes = self
            .exit_codes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for (export, path) in exports {
            self.not_interrupted()?;
            let path = &self.path(path);
            std::fs::write(path, export.render_with_exit_codes(&run.benchmarks, &codes))
                .with_context(|| format!("cannot write the export {}", path.display()))?;
            self.detail(&format!("exported the measurement to {}", path.display()));
        }
        Ok(())
    }

    /// An empty run started now: its key, machine, git and CI information and labels.
    pub(crate) fn new_run(&self, key: &KeyOverrides, record: &RecordOptions) -> Result<Run, Error> {
        let labels = parse_labels(&record.labels)?;
        let env = |name: &str| std::env::var(name).ok();
        let fingerprint = environment::fingerprint();
        let git = environment::git_info_in(&self.cwd, Some(self.repo_root.is_some()), &env);
        let key = self.resolve_key(
            key,
            git.as_ref().and_then(|g| g.branch.as_deref()),
            &fingerprint.platform_key(),
        )?;
        let started = Timestamp::now();
        let mut run = Run::new(
            RunId::new(started, crate::entropy()),
            started,
            key,
            fingerprint,
        );
        run.git = git;
        run.ci = environment::ci_info(&env);
        run.labels = labels;
        Ok(run)
    }

    /// Measures one planned benchmark (and counts its instructions when asked).
    pub(crate) fn measure_one(&self, planned: &Planned) -> Result<Benchmark, Error> {
        let name = &planned.name;
        let mut progress = self.events.progress(name, planned.options.runs);
        let measured = runner::measure(
            &planned.spec,
            &planned.options,
            &self.interrupt,
            progress.as_mut(),
        );
        drop(progress);
        let measured = measured.map_err(|e| Error::measure(name, e))?;
        self.measured_notes(name, &[&measured]);
        let mut bench = measured.into_benchmark(name.clone(), Some(planned.spec.argv.clone()));
        bench.params.clone_from(&planned.params);
        if let Some(shell) = &planned.shell {
            let startup = self.shell_startup(shell, &planned.spec)?;
            startup.subtract_from(&mut bench);
            if let Some(left) = crate::shell::too_short(&bench) {
                self.measurement_warning(
                    name,
                    " start-up (",
                    format!(
                        "{name}: {:.3} ms once the {shell} start-up ({:.3} ms) is subtracted: too short to time reliably through a shell; --no-shell (-N) runs it without one",
                        left / 1e6,
                        startup.wall / 1e6
                    ),
                );
            }
        }
        if planned.instructions {
            self.notice(&format!("counting instructions of {name:?} with callgrind"));
            let metric = instructions::count_instructions(
                &planned.spec,
                &planned.options.hooks,
                planned.options.input.as_deref(),
                INSTRUCTION_RUNS,
                planned.options.timeout.map(|t| t * 100),
                &self.interrupt,
            )
            .map_err(|e| Error::measure(name, e))?;
            bench.metrics.push(metric);
        }
        Ok(bench)
    }

    /// The commit point of every command that records: interrupted before it, nothing is
    /// written ([`Error::Interrupted`]); after it, the command completes.
    pub(crate) fn not_interrupted(&self) -> Result<(), Error> {
        if self.interrupt.is_set() {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    }

    /// Says that `name`'s executions left `killed` processes running, which were killed.
    /// Says what the measurements of `name` left behind, and what they could not measure.
    pub(crate) fn measured_notes(&self, name: &str, measured: &[&runner::Measurement]) {
        let killed: usize = measured.iter().map(|m| m.background_killed).sum();
        if killed > 0 {
            self.notice(&format!(
                "{name}: killed {killed} background process(es) its executions left running (--keep-background leaves them)"
            ));
        }
        if let Some(why) = measured
            .iter()
            .find_map(|m| m.peak_rss_unavailable.as_deref())
        {
            self.notice(&format!("{name}: peak memory not measured: {why}"));
        }
        let mut codes: Vec<Option<i32>> = measured
            .iter()
            .flat_map(|m| m.exit_codes.iter().copied())
            .collect();
        if measured.iter().any(|m| m.failures_counted) {
            // Every measurement of this benchmark in the session (adaptive looks add more):
            // one warning with the totals, not one per look.
            let mut known = self
                .exit_codes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let all = known.entry(name.to_owned()).or_default();
            all.append(&mut codes);
            codes.clone_from(all);
        }
        let failed: Vec<String> = codes
            .iter()
            .filter(|c| **c != Some(0))
            .map(|c| c.map_or_else(|| "a signal".to_owned(), |c| c.to_string()))
            .collect();
        if !failed.is_empty() {
            let mut shown = failed.clone();
            shown.sort();
            shown.dedup();
            self.measurement_warning(
                name,
                " measured runs failed ",
                format!(
                    "{name}: {} of {} measured runs failed (exit {}); their times are included (--ignore-failure)",
                    failed.len(),
                    codes.len(),
                    shown.join(", ")
                ),
            );
        }
        let (differed, ran) = measured
            .iter()
            .filter_map(|m| m.output_differed)
            .fold((0, 0), |(d, n), (more_d, more_n)| (d + more_d, n + more_n));
        if differed > 0 {
            let warning = format!(
                "{name}: its output differed from the first execution's in {differed} of {ran} executions (--check-output): is it measuring one thing each time?"
            );
            self.notice(&warning);
            self.measurement_warnings
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(warning);
        }
    }

    /// Says `warning` about benchmark `name` now, and keeps it for the next verdict in place of
    /// an earlier one about `name` that contains `kind` (adaptive looks measure a benchmark
    /// again: its warning is said once, with the totals).
    fn measurement_warning(&self, name: &str, kind: &str, warning: String) {
        self.notice(&warning);
        let lead = format!("{name}: ");
        let mut warnings = self
            .measurement_warnings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        warnings.retain(|w| !(w.starts_with(&lead) && w.contains(kind)));
        warnings.push(warning);
    }

    /// The run file at `path` (relative to the session's directory), named as given in errors.
    ///
    /// # Errors
    ///
    /// As [`load_run_file`].
    pub fn load_run_file(&self, path: &Path) -> Result<Run, Error> {
        read_run_file(&self.path(path), path)
    }

    /// Writes `run` to `--out`, when asked.
    ///
    /// # Errors
    ///
    /// The file cannot be written.
    pub fn write_out_file(&self, run: &Run, record: &RecordOptions) -> Result<(), Error> {
        if let Some(path) = &record.out {
            self.not_interrupted()?;
            let path = &self.path(path);
            std::fs::write(path, core_store::encode_run(run))
                .with_context(|| format!("cannot write the run to {}", path.display()))?;
            self.notice(&format!("wrote run {} to {}", run.id, path.display()));
        }
        Ok(())
    }

    /// Records `run` in `store` unless `--no-record`; a run already there is not an error.
    ///
    /// # Errors
    ///
    /// The store failed.
    pub fn record(
        &self,
        store: &dyn Store,
        run: &Run,
        record: &RecordOptions,
    ) -> Result<(), Error> {
        if record.no_record {
            return Ok(());
        }
        self.not_interrupted()?;
        match self.block_on(store.append_run(run)) {
            Ok(()) => {
                self.notice(&format!("recorded run {} in {}", run.id, store.location()));
                Ok(())
            }
            Err(StoreError::AlreadyExists { .. }) => {
                self.notice(&format!(
                    "run {} is already recorded in {}",
                    run.id,
                    store.location()
                ));
                Ok(())
            }
            Err(e) => Err(Error::store("cannot record the run", e)),
        }
    }

    /// `benchkeep run`: measures, writes `--out`, records. Returns the run.
    ///
    /// # Errors
    ///
    /// As [`Session::measure`], and the store or the file failing.
    pub fn run(
        &self,
        request: &MeasureRequest,
        key: &KeyOverrides,
        record: &RecordOptions,
    ) -> Result<Run, Error> {
        let kept = !record.no_record || record.out.is_some();
        let (run, ()) = self.make_and_record(record, || {
            Ok((self.measure_probed(request, key, record, kept)?, ()))
        })?;
        Ok(run)
    }

    /// Makes a new run and keeps it, for every command that records one (`run`, `import`,
    /// `suite`, `load`): the store is opened first, unless `--no-record`, so that a bad
    /// `--store` fails in a second rather than after a minute of measuring; then `make`
    /// produces the run (and what else its command shows), which is written to `--out` and
    /// recorded.
    pub(crate) fn make_and_record<T>(
        &self,
        record: &RecordOptions,
        make: impl FnOnce() -> Result<(Run, T), Error>,
    ) -> Result<(Run, T), Error> {
        let store = if record.no_record {
            None
        } else {
            Some(self.store()?)
        };
        let (run, shown) = make()?;
        self.write_out_file(&run, record)?;
        if let Some(store) = store {
            self.record(store.as_ref(), &run, record)?;
        }
        Ok((run, shown))
    }
}

/// A run file, refused when it is not complete (see [`complete`]).
///
/// # Errors
///
/// The file cannot be read, is not a run document, or measured nothing a gate could use.
pub fn load_run_file(path: &Path) -> Result<Run, Error> {
    read_run_file(path, path)
}

/// The run file at `path`, named `shown` in errors (the path as the user gave it).
pub(crate) fn read_run_file(path: &Path, shown: &Path) -> Result<Run, Error> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read run file {}", shown.display()))?;
    let what = format!("run file {}", shown.display());
    let run = core_store::decode_run(&bytes, &what).map_err(|e| Error::Document(e.to_string()))?;
    complete(run, &what)
}

/// `run`, refused when it measured nothing a gate or a baseline could use: no benchmarks, or a
/// benchmark without metrics or samples (`what` names where it came from).
///
/// # Errors
///
/// [`Error::Document`] naming `what` and the benchmark.
pub fn complete(run: Run, what: &str) -> Result<Run, Error> {
    benchkeep_core::model::check_complete(&run.benchmarks)
        .map_err(|e| Error::Document(format!("{what}: {e}")))?;
    Ok(run)
}

fn parse_labels(labels: &[String]) -> Result<BTreeMap<String, String>, Error> {
    labels
        .iter()
        .map(|label| match label.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err(Error::Invalid(format!(
                "--label {label:?} is not KEY=VALUE"
            ))),
        })
        .collect()
}

/// `value` seconds as a duration, refused unless positive (`what` names the setting).
pub(crate) fn seconds(value: f64, what: &str) -> Result<Duration, Error> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{what} must be a positive number of seconds, not {value}"
            ))
        })
}

/// The argument vector of a command given after `--`: as given, or with a `shell` one script
/// for it (`SHELL -c '...'`). `--bench` selects configured benchmarks, so it cannot come with a
/// command.
pub(crate) fn command_words(
    command: &[String],
    shell: Option<&str>,
    benches: &[String],
) -> Result<Vec<String>, Error> {
    if !benches.is_empty() {
        bail!(
            "--bench selects configured benchmarks; it cannot be combined with a command after --"
        );
    }
    Ok(match shell {
        Some(shell) => shell_script(shell, &command.join(" ")),
        None => command.to_vec(),
    })
}

/// `shell -c script`, where `shell` may carry arguments of its own (`bash --norc`).
pub(crate) fn shell_script(shell: &str, script: &str) -> Vec<String> {
    let mut words = shlex::split(shell)
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| vec![shell.to_owned()]);
    words.extend(["-c".to_owned(), script.to_owned()]);
    words
}

/// Adds the samples of a later measurement of the same benchmark, metric by metric.
/// `failed_runs` stays one count for the job: the later measurement's failures are added to it
/// (as separate samples its median hid them: 3 failures in a second look read as 0).
pub(crate) fn append_samples(into: &mut Benchmark, more: Benchmark) {
    for extra in more.metrics {
        if let Some(metric) = into.metrics.iter_mut().find(|m| m.name == extra.name) {
            if metric.name == benchkeep_core::model::metric_names::FAILED_RUNS {
                let total: f64 = metric.samples.iter().chain(&extra.samples).sum();
                metric.samples = vec![total];
            } else {
                metric.samples.extend(extra.samples);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use benchkeep_core::model::{Benchmark, Direction, Metric, Unit, metric_names};

    fn measured(times: Vec<f64>, failed: f64) -> Benchmark {
        let mut bench = Benchmark::wall_time("b", times);
        bench.metrics.push(Metric::new(
            metric_names::FAILED_RUNS,
            Unit("runs".into()),
            Direction::LowerIsBetter,
            vec![failed],
        ));
        bench
    }

    #[test]
    fn a_later_look_adds_its_samples_and_its_failures_to_the_job_s_count() {
        let mut first = measured(vec![1.0, 2.0, 3.0], 0.0);
        super::append_samples(&mut first, measured(vec![4.0, 5.0, 6.0], 3.0));
        super::append_samples(&mut first, measured(vec![7.0], 0.0));
        assert_eq!(first.metrics[0].samples.len(), 7);
        // One count for the job: as [0, 3, 0] its median read 0 failures.
        assert_eq!(first.metrics[1].samples, [3.0]);
    }
}
