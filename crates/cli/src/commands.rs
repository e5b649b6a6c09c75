//! The subcommands: turn validated arguments into runs, baselines and verdicts.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use benchkeep_core::baseline::{Baseline, ChangeAction};
use benchkeep_core::compare::{self, CompareConfig, Verdict};
use benchkeep_core::key::BaselineKey;
use benchkeep_core::model::{Benchmark, Run, RunId, SpeedProbe};
use benchkeep_core::promotion;
use benchkeep_core::store::{self as core_store, RunQuery, Store, StoreError};
use benchkeep_runner::command::{
    self as runner, CommandSpec, Interrupt, MeasureOptions, OutputMode, Progress, RunCount,
    RunError, Sample,
};
use benchkeep_runner::environment;
use benchkeep_runner::instructions;
use jiff::Timestamp;

use crate::Outcome;
use crate::args::{
    BaselineCommand, CheckArgs, Cli, ColorChoice, Commands, CompareArgs, CompareOptions,
    EnvironmentPolicy, Format, KeyArgs, MeasureArgs, PruneArgs, RecordArgs, RunArgs,
    SpeedProbePolicy,
};
use crate::stores::{self, UrlOrigin};
use benchkeep_engine::config::{Config, RunDefaults};
use benchkeep_engine::{gate, promote, settings};
use benchkeep_report::{self as report, Context, RenderOptions, VerdictDocument};

mod ab;
mod adoption;
mod baseline;
mod dashboard;
mod git;
mod import;
mod init;
mod load;
mod looks;
mod pr;
mod suite;
mod trend;

/// Marks an error as "the user interrupted us", which exits 130 rather than 2.
#[derive(Debug)]
struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// Runs the parsed command line.
pub(crate) fn dispatch(cli: &Cli) -> Outcome {
    let app = match App::new(cli) {
        Ok(app) => app,
        Err(e) => return Outcome::Failed(e),
    };
    let result = match &cli.command {
        Commands::Run(args) => app.run(args),
        Commands::Check(args) => app.check(args),
        Commands::Baseline(BaselineCommand::Set(args)) => app.baseline_set(args),
        Commands::Baseline(BaselineCommand::Show(args)) => app.baseline_show(args),
        Commands::Baseline(BaselineCommand::List) => app.baseline_list(),
        Commands::Baseline(BaselineCommand::Accept(args)) => app.baseline_accept(args),
        Commands::Baseline(BaselineCommand::History(args)) => app.baseline_history(args),
        Commands::Baseline(BaselineCommand::Delete(args)) => app.baseline_delete(args),
        Commands::Compare(args) => app.compare(args),
        Commands::Prune(args) => app.prune(args),
        Commands::Ab(args) => app.ab(args),
        Commands::Trend(args) => app.trend(args),
        Commands::Suite(args) => app.suite(args),
        Commands::Import(args) => app.import(args),
        Commands::Init(args) => init::init(args, &app.cwd),
        Commands::Completions(args) => adoption::completions(args),
        Commands::Man => adoption::man(),
        Commands::Report(args) => app.report(args),
        Commands::Load(args) => app.load(args),
    };
    match result {
        Ok(outcome) => outcome,
        Err(e) if e.downcast_ref::<Interrupted>().is_some() => Outcome::Interrupted,
        Err(e) => Outcome::Failed(e),
    }
}

struct App {
    cwd: PathBuf,
    repo_root: Option<PathBuf>,
    config: Config,
    store_url: Option<String>,
    quiet: bool,
    verbose: bool,
    /// Whether terminal output may carry colour (`--color`, `NO_COLOR`).
    color: bool,
    runtime: tokio::runtime::Runtime,
    interrupt: Interrupt,
}

impl App {
    fn new(cli: &Cli) -> Result<Self> {
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        let repo_root = environment::git_toplevel(&cwd);
        let config = Config::load(cli.config.as_deref(), &cwd, repo_root.as_deref())?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let color = match cli.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            // https://no-color.org: set and not empty means no colour.
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stdout().is_terminal()
            }
        };
        if cli.verbose {
            match &config.path {
                Some(path) => eprintln!("config: {}", path.display()),
                None => eprintln!("config: none found (defaults)"),
            }
        }
        Ok(App {
            cwd,
            repo_root,
            config,
            store_url: cli.store.clone(),
            quiet: cli.quiet,
            verbose: cli.verbose,
            color,
            runtime,
            interrupt: Interrupt::new(),
        })
    }

    fn store(&self) -> Result<Box<dyn Store>> {
        let url = match (&self.store_url, &self.config.store) {
            (Some(url), _) => Some((url.as_str(), UrlOrigin::CommandLine)),
            (None, Some(url)) => Some((
                url.as_str(),
                self.config
                    .base_dir()
                    .map_or(UrlOrigin::CommandLine, UrlOrigin::ConfigFile),
            )),
            (None, None) => None,
        };
        stores::open(url, &self.cwd, self.repo_root.as_deref())
    }

    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    fn notice(&self, text: &str) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }

    /// Whether `comparison` passes the gate under `config`, the one place every gating command
    /// asks; settles each entry's effect on the gate, which the reports then show. First
    /// refuses a gate that has no evidence for something it was asked to judge (exit 2): a
    /// benchmark whose gate names only metrics it did not measure, a gate metric no benchmark
    /// measured, or a policy limit on a unit none of its benchmark's metrics has. A pass there
    /// would be earned by nothing.
    fn gate_passes(
        &self,
        comparison: &mut compare::Comparison,
        config: &CompareConfig,
    ) -> Result<bool> {
        for warning in gate::judge(comparison, config)? {
            self.notice(&format!("warning: {warning}"));
        }
        Ok(gate::passes(comparison))
    }

    /// A line only `--verbose` shows: where settings came from, what was loaded.
    fn detail(&self, text: &str) {
        if self.verbose {
            eprintln!("{text}");
        }
    }

    /// Stops measurements on SIGINT/SIGTERM; a second SIGINT exits at once.
    fn watch_signals(&self) -> Result<()> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let flag = self.interrupt.flag();
        signal_hook::flag::register_conditional_shutdown(SIGINT, 130, flag.clone())
            .context("cannot install the SIGINT handler")?;
        for signal in [SIGINT, SIGTERM] {
            signal_hook::flag::register(signal, flag.clone())
                .context("cannot install a signal handler")?;
        }
        Ok(())
    }

    fn resolve_key(
        &self,
        args: &KeyArgs,
        git_branch: Option<&str>,
        default_platform: &str,
    ) -> Result<BaselineKey> {
        let branch = args
            .branch
            .clone()
            .or_else(|| self.config.branch.clone())
            .or_else(|| git_branch.map(str::to_owned))
            .unwrap_or_else(|| "default".to_owned());
        let platform = args
            .platform
            .clone()
            .or_else(|| self.config.platform.clone())
            .unwrap_or_else(|| default_platform.to_owned());
        BaselineKey::new(branch, platform).map_err(|e| anyhow!("{e}"))
    }

    /// The key of this checkout and machine, unless `args` overrides it.
    fn current_key(&self, args: &KeyArgs) -> Result<BaselineKey> {
        let env = |name: &str| std::env::var(name).ok();
        let git = environment::git_info(&self.cwd, &env);
        self.resolve_key(
            args,
            git.as_ref().and_then(|g| g.branch.as_deref()),
            &environment::fingerprint().platform_key(),
        )
    }

    /// The benchmarks to measure: the command after `--`, or the configured `[[bench]]`es.
    fn planned_benchmarks(&self, args: &MeasureArgs) -> Result<Vec<Planned>> {
        if !args.command.is_empty() {
            let spec = CommandSpec::new(command_words(&args.command, args.shell, &args.benches)?);
            let name = args.name.clone().unwrap_or_else(|| args.command.join(" "));
            let options = self.enough_runs(&name, measure_options(args, &self.config.run)?);
            return Ok(vec![Planned {
                name,
                spec,
                options,
                instructions: args.instructions,
            }]);
        }
        if self.config.bench.is_empty() {
            bail!(
                "nothing to measure: give a command after `--` (e.g. `benchkeep run -- ./my-program`) or list [[bench]] entries in benchkeep.toml"
            );
        }
        if args.name.is_some() {
            bail!(
                "--name names a command given after --; configured benchmarks take their names from benchkeep.toml"
            );
        }
        for wanted in &args.benches {
            if !self.config.bench.iter().any(|b| &b.name == wanted) {
                bail!("no [[bench]] named {wanted:?} in benchkeep.toml");
            }
        }
        let base = self.config.base_dir().unwrap_or(&self.cwd).to_owned();
        let planned: Vec<Planned> = self
            .config
            .bench
            .iter()
            .filter(|b| args.benches.is_empty() || args.benches.contains(&b.name))
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
                let options = measure_options(args, &bench.run_settings(&self.config.run))
                    .with_context(|| format!("[[bench]] {:?}", bench.name))?;
                let options = self.enough_runs(&bench.name, options);
                Ok(Planned {
                    name: bench.name.clone(),
                    spec,
                    options,
                    instructions: args.instructions || bench.instructions,
                })
            })
            .collect::<Result<_>>()?;
        if planned.is_empty() {
            bail!(
                "no [[bench]] in benchkeep.toml has a command to measure (base/head benchmarks run with `benchkeep ab`)"
            );
        }
        Ok(planned)
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

    /// Measures the planned benchmarks into a new run. Nothing is written anywhere here.
    fn measure(&self, args: &MeasureArgs, key_args: &KeyArgs, record: &RecordArgs) -> Result<Run> {
        let planned = self.planned_benchmarks(args)?;
        let mut run = self.new_run(key_args, record)?;
        self.watch_signals()?;
        // The machine's speed before and after each benchmark, for stored comparisons with jobs
        // that ran when the machine was quieter or busier (about 5 ms a probe).
        let mut probe = benchkeep_runner::probe::probe(PROBES_AT_START);
        for planned in &planned {
            run.benchmarks.push(self.measure_one(planned)?);
            benchkeep_runner::probe::extend(&mut probe, PROBES_PER_BENCHMARK);
        }
        run.probe = Some(probe);
        Ok(run)
    }

    /// An empty run started now: its key, machine, git and CI information and labels.
    fn new_run(&self, key_args: &KeyArgs, record: &RecordArgs) -> Result<Run> {
        let labels = parse_labels(&record.labels)?;
        let env = |name: &str| std::env::var(name).ok();
        let fingerprint = environment::fingerprint();
        let git = environment::git_info(&self.cwd, &env);
        let key = self.resolve_key(
            key_args,
            git.as_ref().and_then(|g| g.branch.as_deref()),
            &fingerprint.platform_key(),
        )?;
        let started = Timestamp::now();
        let mut run = Run::new(
            RunId::new(started, benchkeep_engine::entropy()),
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
    fn measure_one(&self, planned: &Planned) -> Result<Benchmark> {
        let name = &planned.name;
        let show_progress = !self.quiet && std::io::stderr().is_terminal();
        let mut progress = Bar::new(show_progress, name, planned.options.runs);
        let measured = runner::measure(
            &planned.spec,
            &planned.options,
            &self.interrupt,
            &mut progress,
        );
        progress.finish();
        let mut bench = measured
            .map_err(|e| run_error(e, name))?
            .into_benchmark(name.clone(), Some(planned.spec.argv.clone()));
        if planned.instructions {
            self.notice(&format!("counting instructions of {name:?} with callgrind"));
            let metric = instructions::count_instructions(
                &planned.spec,
                INSTRUCTION_RUNS,
                planned.options.timeout.map(|t| t * 100),
                &self.interrupt,
            )
            .map_err(|e| run_error(e, name))?;
            bench.metrics.push(metric);
        }
        Ok(bench)
    }

    fn write_out_file(&self, run: &Run, record: &RecordArgs) -> Result<()> {
        if let Some(path) = &record.out {
            std::fs::write(path, core_store::encode_run(run))
                .with_context(|| format!("cannot write the run to {}", path.display()))?;
            self.notice(&format!("wrote run {} to {}", run.id, path.display()));
        }
        Ok(())
    }

    fn record(&self, store: &dyn Store, run: &Run, record: &RecordArgs) -> Result<()> {
        if record.no_record {
            return Ok(());
        }
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
            Err(e) => Err(anyhow!(e).context("cannot record the run")),
        }
    }

    fn run(&self, args: &RunArgs) -> Result<Outcome> {
        // Open the store before measuring: a bad --store should fail in a second, not a minute.
        let store = if args.record.no_record {
            None
        } else {
            Some(self.store()?)
        };
        let run = self.measure(&args.measure, &args.key, &args.record)?;
        emit(&report::run_summary(&run.benchmarks))?;
        self.write_out_file(&run, &args.record)?;
        if let Some(store) = store {
            self.record(store.as_ref(), &run, &args.record)?;
        }
        Ok(Outcome::Passed)
    }

    fn compare_config(&self, options: &CompareOptions) -> Result<CompareConfig> {
        Ok(settings::compare_config(&self.config, &options.flags())?)
    }

    /// The `[[policy]]` that applies to each benchmark on either side of a comparison.
    fn policies_for(
        &self,
        baseline: &[Benchmark],
        current: &[Benchmark],
    ) -> Result<std::collections::BTreeMap<String, compare::Policy>> {
        let names: Vec<&str> = baseline
            .iter()
            .chain(current)
            .map(|b| b.name.as_str())
            .collect();
        for warning in benchkeep_engine::limits_not_applied(&self.config.policy, &names) {
            self.notice(&format!("warning: {warning}"));
        }
        Ok(benchkeep_engine::resolve_policies(
            &self.config.policy,
            names.iter().copied(),
        )?)
    }

    fn check(&self, args: &CheckArgs) -> Result<Outcome> {
        if let Some(rev) = &args.pr {
            // Before the store is opened: a paired pull-request check neither reads nor writes it.
            return self.check_pr(args, rev.as_deref());
        }
        let config = self.compare_config(&args.compare)?;
        let store = self.store()?;
        self.detail(&format!("store: {}", store.location()));
        // When the run is measured here, its benchmarks can be measured again (adaptive runs).
        let mut measured = None;
        let run = if let Some(path) = &args.run {
            let mut run = load_run_file(path)?;
            if args.key.branch.is_some() || args.key.platform.is_some() {
                run.key = self.resolve_key(&args.key, Some(&run.key.branch), &run.key.platform)?;
            }
            run
        } else if let [format, file] = args.import.as_slice() {
            self.imported_run(
                format,
                Path::new(file),
                &args.key,
                &args.record,
                args.read.options(),
            )?
        } else {
            let started = Instant::now();
            let run = self.measure(&args.measure, &args.key, &args.record)?;
            measured = Some((started, started.elapsed(), run.benchmarks.len()));
            run
        };
        self.write_out_file(&run, &args.record)?;
        let own_key = run.key.clone();
        let compare_with = self.baseline_key_for(&run, args)?;
        self.detail(&format!(
            "run {} of {own_key}; baseline key {compare_with}",
            run.id
        ));
        let at_merge_base = if args.merge_base {
            self.merge_base_baseline(store.as_ref(), &compare_with)?
        } else {
            None
        };
        let baseline = match at_merge_base {
            Some(baseline) => baseline,
            None => match self.block_on(store.get_baseline(&compare_with)) {
                Ok(found) => found.value,
                Err(StoreError::NotFound { .. }) => {
                    if args.require_baseline {
                        self.record(store.as_ref(), &run, &args.record)?;
                        eprintln!(
                            "error: no baseline for {compare_with} in {} (--require-baseline); create one with `benchkeep baseline set`",
                            store.location()
                        );
                        return Ok(Outcome::NoBaseline);
                    }
                    if compare_with != own_key {
                        // Another branch's baseline is never created from this run.
                        let judged = self.gate_without_baseline(&run, &args.compare)?;
                        self.publish_without_baseline(
                            &run,
                            &format!("no baseline for {compare_with} yet: nothing to compare with"),
                            false,
                            &args.compare,
                            &judged,
                        )?;
                        let within_limits = judged.1;
                        let mut run = run;
                        run.passed = Some(within_limits);
                        self.record(store.as_ref(), &run, &args.record)?;
                        if !within_limits {
                            return Ok(Outcome::Regressed);
                        }
                        self.notice(&format!(
                            "no baseline for {compare_with} in {} yet, so nothing to compare with; the run is recorded under {own_key} (use --require-baseline to fail instead)",
                            store.location()
                        ));
                        return Ok(Outcome::Passed);
                    }
                    return self.bootstrap(store.as_ref(), &run, args);
                }
                Err(e) => {
                    return Err(
                        anyhow!(e).context(format!("cannot load the baseline of {compare_with}"))
                    );
                }
            },
        };
        let mut run = run;
        let mut baseline = baseline;
        if measured.is_some() && !args.measure.benches.is_empty() {
            // `--bench` measured a chosen few: the rest of the baseline was not asked about,
            // so it is not "missing".
            let chosen = |name: &str| args.measure.benches.iter().any(|b| b == name);
            baseline.benchmarks.retain(|b| chosen(&b.name));
            baseline.history.retain(|h| chosen(&h.benchmark));
        }
        let before = run.benchmarks.clone();
        let outcome = self.gate(&baseline, &mut run, &config, args, measured)?;
        if before != run.benchmarks {
            // Adaptive runs or --confirm measured more: the file and the store get the final
            // samples.
            self.write_out_file(&run, &args.record)?;
        }
        let passed = matches!(outcome, Outcome::Passed);
        run.passed = Some(passed);
        self.record(store.as_ref(), &run, &args.record)?;
        self.promote_if_asked(store.as_ref(), &run, args, passed)?;
        Ok(outcome)
    }

    /// The key whose baseline a check compares with: the run's own, or `--baseline-branch`'s
    /// (with `--merge-base` and no branch given, the pull request's base branch from CI).
    fn baseline_key_for(&self, run: &Run, args: &CheckArgs) -> Result<BaselineKey> {
        let branch = args
            .baseline_branch
            .clone()
            .or_else(|| self.config.compare.baseline_branch.clone())
            .or_else(|| {
                args.merge_base
                    .then(|| run.ci.as_ref().and_then(|ci| ci.base_branch.clone()))
                    .flatten()
                    .filter(|branch| !branch.is_empty())
            });
        if let Some(branch) = branch {
            return BaselineKey::new(branch, run.key.platform.clone())
                .map_err(|e| anyhow!("--baseline-branch: {e}"));
        }
        if args.merge_base {
            bail!(
                "--merge-base needs the branch to merge into: give --baseline-branch (no pull request base branch was found in the CI environment)"
            );
        }
        Ok(run.key.clone())
    }

    /// With `--merge-base`: a baseline pooled from the runs of `key` recorded at the merge-base
    /// of HEAD and the key's branch, if git finds one and the store has such runs.
    fn merge_base_baseline(
        &self,
        store: &dyn Store,
        key: &BaselineKey,
    ) -> Result<Option<Baseline>> {
        let Some(commit) = environment::merge_base(&self.cwd, &key.branch) else {
            self.notice(&format!(
                "--merge-base: git found no merge-base of HEAD and {} (in CI, fetch the branch with its history, e.g. fetch-depth: 0); comparing with the baseline of {key}",
                key.branch
            ));
            return Ok(None);
        };
        let runs = self
            .block_on(store.list_runs(&RunQuery::latest(key.clone(), MERGE_BASE_SEARCH)))
            .with_context(|| format!("cannot list the runs of {key}"))?;
        let promoted: std::collections::HashSet<RunId> =
            match self.block_on(store.get_baseline(key)) {
                Ok(found) => found.value.sources.into_iter().map(|s| s.run).collect(),
                Err(StoreError::NotFound { .. }) => std::collections::HashSet::new(),
                Err(e) => {
                    return Err(anyhow!(e).context(format!("cannot load the baseline of {key}")));
                }
            };
        let at_commit: Vec<Run> = runs
            .into_iter()
            .filter(|r| r.git.as_ref().and_then(|g| g.commit.as_deref()) == Some(commit.as_str()))
            .rev() // oldest first
            .collect();
        let found = at_commit.len();
        // Only evidence main itself accepted: runs that passed their gate (or were promoted),
        // measured from a clean tree. A run that failed main's gate, or measured uncommitted
        // changes, says nothing about the fork point.
        let at_commit: Vec<Run> = at_commit
            .into_iter()
            .filter(|r| r.passed == Some(true) || promoted.contains(&r.id))
            .filter(|r| r.git.as_ref().and_then(|g| g.dirty) == Some(false))
            .collect();
        let short: String = commit.chars().take(12).collect();
        if at_commit.is_empty() {
            let why = if found == 0 {
                format!("no run of {key} was recorded at the merge-base {short}")
            } else {
                format!(
                    "none of the {found} run(s) of {key} at the merge-base {short} both passed its gate and measured a clean tree"
                )
            };
            self.notice(&format!(
                "--merge-base: {why}; comparing with the baseline of {key}"
            ));
            return Ok(None);
        }
        self.notice(&format!(
            "comparing with {} run(s) of {key} recorded at the merge-base {short}",
            at_commit.len()
        ));
        Ok(Some(Baseline::from_runs(
            key.clone(),
            &at_commit,
            Timestamp::now(),
        )?))
    }

    /// `--promote-on BRANCH` (or `[compare] promote_on`): on that branch, add a passing run to
    /// its baseline with compare-and-swap, re-reading and retrying when another job updated it
    /// meanwhile, so no promotion is lost.
    fn promote_if_asked(
        &self,
        store: &dyn Store,
        run: &Run,
        args: &CheckArgs,
        passed: bool,
    ) -> Result<()> {
        let Some(branch) = self.promote_branch(args) else {
            return Ok(());
        };
        if let Err(refusal) =
            promotion::check(&promotion_subject(run), passed, branch, args.promote)
        {
            let text = format!("not promoting into the baseline of {}: {refusal}", run.key);
            if refusal.is_routine() {
                self.detail(&text);
            } else {
                self.notice(&text);
            }
            return Ok(());
        }
        if args.record.no_record {
            self.notice("not promoting: --no-record keeps the run out of the store, and a baseline is built from stored runs");
            return Ok(());
        }
        self.join_baseline(store, run)
    }

    /// `--promote-on BRANCH`, else `[compare] promote_on`.
    fn promote_branch<'a>(&'a self, args: &'a CheckArgs) -> Option<&'a String> {
        args.promote_on
            .as_ref()
            .or(self.config.compare.promote_on.as_ref())
    }

    /// Adds the recorded `run` to its key's baseline by compare-and-swap (see [`promote`]).
    fn join_baseline(&self, store: &dyn Store, run: &Run) -> Result<()> {
        let keep = self.config.compare.promote_keep.unwrap_or(10).max(1);
        let promote::Promoted {
            sources,
            left_out: dropped,
            ..
        } = self
            .block_on(promote::promote(store, run, keep))
            .with_context(|| {
                format!(
                    "cannot promote run {} into the baseline of {}",
                    run.id, run.key
                )
            })?;
        let mut text = format!(
            "promoted run {} into the baseline of {} ({sources} run(s))",
            run.id, run.key
        );
        if dropped > 0 {
            let _ = write!(
                text,
                "; {dropped} source run(s) no longer in the store were left out"
            );
        }
        self.notice(&text);
        Ok(())
    }

    /// Compares `run` with `baseline` (confirming regressions first with `--confirm`), prints the
    /// report, and says whether the gate passes.
    fn gate(
        &self,
        baseline: &Baseline,
        run: &mut Run,
        config: &CompareConfig,
        args: &CheckArgs,
        measured: Option<(Instant, Duration, usize)>,
    ) -> Result<Outcome> {
        let options = &args.compare;
        let mut config = config.clone();
        config.policies = self.policies_for(&baseline.benchmarks, &run.benchmarks)?;
        let mut comparison = match measured {
            Some(first_batch) => {
                self.adaptive_check(baseline, run, &mut config, args, first_batch)?
            }
            None => compare::compare_job_with_baseline(
                baseline,
                &run.benchmarks,
                self.probe_of(run, args),
                &config,
            ),
        };
        let config = &config;
        if args.confirm {
            self.confirm_check(baseline, run, config, args, &mut comparison)?;
        }
        if baseline.sources.len() < config.min_history
            && comparison
                .entries
                .iter()
                .any(|e| e.gating && e.method == compare::Method::MedianBootstrap)
        {
            self.notice(&format!(
                "hint: the baseline of {} comes from {} job(s), so job-to-job noise is unknown; pool {} or more with `benchkeep baseline set --last 10` for history-aware verdicts",
                baseline.key,
                baseline.sources.len(),
                config.min_history
            ));
        }
        load::note_scaling_regressions(&mut comparison);
        let mut warnings = self.baseline_notes(baseline);
        let changed = run.fingerprint.differences_from(&baseline.fingerprint);
        if !changed.is_empty() {
            let what = format!(
                "environment changed since the baseline ({})",
                changed.join("; ")
            );
            match args
                .environment
                .or(self.config.compare.environment)
                .unwrap_or_default()
            {
                EnvironmentPolicy::Ignore => {}
                EnvironmentPolicy::Warn => warnings.push(format!(
                    "{what}: timings may differ for that reason alone (`--environment refuse` makes this inconclusive)"
                )),
                EnvironmentPolicy::Refuse => {
                    warnings.push(format!("{what}: not compared (--environment refuse)"));
                    refuse_comparison(&mut comparison, &what);
                }
            }
        }
        let passed = self.gate_passes(&mut comparison, config)?;
        let context = Context {
            subject: run.key.to_string(),
            baseline_runs: baseline.sources.iter().map(|s| s.run.to_string()).collect(),
            current_run: run.id.to_string(),
            heading: (baseline.key != run.key).then(|| {
                format!(
                    "{} compared with the baseline of {} ({} run{})",
                    run.key,
                    baseline.key,
                    baseline.sources.len(),
                    if baseline.sources.len() == 1 { "" } else { "s" }
                )
            }),
            warnings,
            current_commit: run.git.as_ref().and_then(|g| g.commit.clone()),
            baseline_commits: baseline
                .sources
                .iter()
                .filter_map(|s| s.commit.clone())
                .collect(),
            job_url: run.ci.as_ref().and_then(|c| c.url.clone()),
        };
        self.publish(&VerdictDocument::new(&comparison, context, passed), options)?;
        Ok(if passed {
            Outcome::Passed
        } else {
            Outcome::Regressed
        })
    }

    /// What a reader of a comparison with `baseline` must know about it: an accepted slowdown
    /// it carries, and an age past `[compare] max_age_days` (default 30; 0 turns it off), which
    /// usually means promotions stopped.
    fn baseline_notes(&self, baseline: &Baseline) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(accepted) = &baseline.accepted {
            let commit = accepted.commit.as_deref().map_or_else(String::new, |c| {
                format!(" at commit {}", c.get(..12).unwrap_or(c))
            });
            notes.push(format!(
                "the baseline accepted a slowdown on {}{commit} (`baseline accept`): {}",
                accepted.at.strftime("%Y-%m-%d"),
                accepted.reason.as_deref().unwrap_or("no reason given")
            ));
        }
        let max_age = self.config.compare.max_age_days.unwrap_or(30);
        let age_days = (Timestamp::now().as_second() - baseline.updated.as_second()) / 86_400;
        if max_age > 0 && age_days > i64::from(max_age) {
            notes.push(format!(
                "the baseline of {} was last updated {age_days} days ago (max_age_days = {max_age}): promotions may have stopped, and the code it measured is old",
                baseline.key
            ));
        }
        notes
    }

    /// The job's speed probe, unless the check ignores it.
    fn probe_of<'r>(&self, run: &'r Run, args: &CheckArgs) -> Option<&'r SpeedProbe> {
        let policy = args
            .speed_probe
            .or(self.config.compare.speed_probe)
            .unwrap_or_default();
        run.probe
            .as_ref()
            .filter(|_| policy == SpeedProbePolicy::Widen)
    }

    /// `--confirm`: measures the benchmarks that look regressed again, replacing their samples,
    /// and compares again, noting on each whether the regression was confirmed.
    fn confirm_check(
        &self,
        baseline: &Baseline,
        run: &mut Run,
        config: &CompareConfig,
        args: &CheckArgs,
        comparison: &mut compare::Comparison,
    ) -> Result<()> {
        let suspects = regressed_benchmarks(comparison);
        if !suspects.is_empty() {
            let planned = self.planned_benchmarks(&args.measure)?;
            let first = comparison.clone();
            for name in &suspects {
                let Some(plan) = planned.iter().find(|p| &p.name == name) else {
                    continue;
                };
                self.notice(&format!(
                    "{name}: looks regressed; measuring it again to confirm"
                ));
                let again = self.measure_one(plan)?;
                if let Some(slot) = run.benchmarks.iter_mut().find(|b| &b.name == name) {
                    *slot = again;
                }
            }
            let full = CompareConfig {
                spend: 1.0,
                ..config.clone()
            };
            let again = compare::compare_job_with_baseline(
                baseline,
                &run.benchmarks,
                self.probe_of(run, args),
                &full,
            );
            *comparison = merge_confirmations(first, &again, &suspects, "measured again");
        }
        Ok(())
    }

    /// Compares a run measured here with its baseline; benchmarks whose gating metric is
    /// inconclusive for want of data are measured again, look after look, and their new samples
    /// join the run (`commands::looks`). In history mode only where this job's own spread is a
    /// real part of the interval: more runs of this job cannot narrow the spread between jobs.
    fn adaptive_check(
        &self,
        baseline: &Baseline,
        run: &mut Run,
        config: &mut CompareConfig,
        args: &CheckArgs,
        first_batch: (Instant, Duration, usize),
    ) -> Result<compare::Comparison> {
        let looks = args
            .max_looks
            .or(self.config.compare.max_looks)
            .unwrap_or(looks::ADAPTIVE_FACTOR);
        if looks == 0 {
            bail!("max-looks must be at least 1, not 0");
        }
        let adaptive = looks::Adaptive {
            design: benchkeep_core::sequential::Design::new(looks),
            max_time: args
                .max_time
                .or(self.config.compare.max_time)
                .map(|t| seconds(t, "max-time"))
                .transpose()?,
        };
        let planned = if looks > 1 {
            self.planned_benchmarks(&args.measure)?
        } else {
            Vec::new()
        };
        let probe = self.probe_of(run, args).cloned();
        looks::decide(
            &adaptive,
            config,
            first_batch,
            &mut run.benchmarks,
            |benchmarks, config| {
                compare::compare_job_with_baseline(baseline, benchmarks, probe.as_ref(), config)
            },
            |benchmarks, open, look| {
                for name in open {
                    let (Some(plan), Some(bench)) = (
                        planned.iter().find(|p| &p.name == name),
                        benchmarks.iter_mut().find(|b| &b.name == name),
                    ) else {
                        continue;
                    };
                    self.notice(&format!(
                        "{name}: inconclusive after {} runs; measuring it again (look {look} of at most {looks})",
                        bench.metrics.first().map_or(0, |m| m.samples.len()),
                    ));
                    append_samples(bench, self.measure_one(plan)?);
                }
                Ok(())
            },
        )
    }

    /// Writes every `--report FORMAT=FILE`; with the `github` format (on stdout or in a file)
    /// also the job summary and step outputs.
    fn write_reports(&self, document: &VerdictDocument, options: &CompareOptions) -> Result<()> {
        for (format, path) in &options.reports {
            let text = render(*format, document, options.all_metrics, false);
            std::fs::write(path, text).with_context(|| {
                format!("cannot write the {format:?} report to {}", path.display())
            })?;
            self.detail(&format!(
                "wrote the {format:?} report to {}",
                path.display()
            ));
        }
        if options.format == Format::Github
            || options.reports.iter().any(|(f, _)| *f == Format::Github)
        {
            github_files(document)?;
        }
        Ok(())
    }

    /// The gate of a run with no baseline: every benchmark is new, so only the policies'
    /// absolute limits can fail it (`max = "250ms"` holds from the first run on).
    fn gate_without_baseline(
        &self,
        run: &Run,
        options: &CompareOptions,
    ) -> Result<(compare::Comparison, bool)> {
        let mut config = self.compare_config(options)?;
        config.policies = self.policies_for(&[], &run.benchmarks)?;
        let mut comparison = compare::compare(&[], &run.benchmarks, &config);
        let passed = self.gate_passes(&mut comparison, &config)?;
        Ok((comparison, passed))
    }

    /// With no baseline to compare with, the reports still appear (CI steps read them): every
    /// benchmark is "new", and `note` says why; `bootstrapped` when the run became the
    /// baseline. Text shows the run's summary table when it passed (and what failed a limit
    /// when not). `judged` is [`App::gate_without_baseline`]'s.
    fn publish_without_baseline(
        &self,
        run: &Run,
        note: &str,
        bootstrapped: bool,
        options: &CompareOptions,
        (comparison, passed): &(compare::Comparison, bool),
    ) -> Result<()> {
        let context = Context {
            subject: run.key.to_string(),
            current_run: run.id.to_string(),
            heading: Some(format!(
                "{}: no baseline to compare with (only absolute limits apply)",
                run.key
            )),
            warnings: vec![note.to_owned()],
            current_commit: run.git.as_ref().and_then(|g| g.commit.clone()),
            job_url: run.ci.as_ref().and_then(|c| c.url.clone()),
            ..Context::default()
        };
        let document =
            VerdictDocument::without_baseline(comparison, context, *passed, bootstrapped);
        self.write_reports(&document, options)?;
        match options.format {
            Format::Text if *passed => emit(&report::run_summary(&run.benchmarks)),
            other => emit(&render(other, &document, options.all_metrics, self.color)),
        }
    }

    /// Prints the report in `--format` and writes every `--report FORMAT=FILE`; the `github`
    /// format also fills `$GITHUB_STEP_SUMMARY` and `$GITHUB_OUTPUT`.
    fn publish(&self, document: &VerdictDocument, options: &CompareOptions) -> Result<()> {
        self.write_reports(document, options)?;
        emit(&render(
            options.format,
            document,
            options.all_metrics,
            self.color,
        ))
    }

    /// No baseline yet: this run becomes it (the seeds' first-run behaviour).
    fn bootstrap(&self, store: &dyn Store, run: &Run, args: &CheckArgs) -> Result<Outcome> {
        let judged = self.gate_without_baseline(run, &args.compare)?;
        if !judged.1 {
            // A run beyond its policies' absolute limits fails, and does not become the
            // baseline that later runs would be judged against.
            if !args.record.no_record {
                let mut run = run.clone();
                run.passed = Some(false);
                self.record(store, &run, &args.record)?;
            }
            self.publish_without_baseline(
                run,
                "no baseline yet; none created: the run is beyond its policies' limits",
                false,
                &args.compare,
                &judged,
            )?;
            return Ok(Outcome::Regressed);
        }
        if let Some(branch) = self.promote_branch(args)
            && run.key.branch == *branch
            && let Err(refusal) =
                promotion::check(&promotion_subject(run), true, branch, args.promote)
        {
            // The promote branch's baseline is what every later check there is judged
            // against: its first run must be one that could have been promoted.
            let mut run = run.clone();
            run.passed = Some(true);
            self.record(store, &run, &args.record)?;
            self.publish_without_baseline(
                &run,
                &format!("no baseline yet; none created: {refusal}"),
                false,
                &args.compare,
                &judged,
            )?;
            self.notice(&format!(
                "no baseline for {} in {}; none created from this run: {refusal}",
                run.key,
                store.location()
            ));
            return Ok(Outcome::Passed);
        }
        if args.record.no_record {
            self.publish_without_baseline(
                run,
                "no baseline yet; none created because of --no-record",
                false,
                &args.compare,
                &judged,
            )?;
            self.notice(&format!(
                "no baseline for {} in {}; none created because of --no-record (use --require-baseline to fail instead)",
                run.key,
                store.location()
            ));
            return Ok(Outcome::Passed);
        }
        let mut run = run.clone();
        run.passed = Some(true);
        let run = &run;
        let mut baseline =
            Baseline::from_runs(run.key.clone(), std::slice::from_ref(run), Timestamp::now())?;
        baseline.record_change(None, ChangeAction::Created, std::slice::from_ref(run), None);
        self.record(store, run, &args.record)?;
        match self.block_on(store.put_baseline(&baseline, core_store::PutMode::Create)) {
            Ok(_) => {}
            Err(StoreError::AlreadyExists { .. }) => {
                // Another job created it meanwhile: compare with theirs, and when this run
                // passes, join it (compare-and-swap), as it would have been had it won.
                self.notice("another job created the baseline meanwhile; comparing with it");
                let outcome = self.check_against_existing(store, run, args)?;
                if matches!(outcome, Outcome::Passed) {
                    self.join_baseline(store, run)?;
                }
                return Ok(outcome);
            }
            Err(e) => return Err(anyhow!(e).context("cannot create the baseline")),
        }
        self.publish_without_baseline(
            run,
            "no baseline yet: this run is now the baseline",
            true,
            &args.compare,
            &judged,
        )?;
        self.notice(&format!(
            "no baseline for {} yet: this run is now the baseline (in {}); later checks compare with it",
            run.key,
            store.location()
        ));
        Ok(Outcome::Passed)
    }

    fn check_against_existing(
        &self,
        store: &dyn Store,
        run: &Run,
        args: &CheckArgs,
    ) -> Result<Outcome> {
        let config = self.compare_config(&args.compare)?;
        let baseline = self
            .block_on(store.get_baseline(&run.key))
            .map_err(|e| anyhow!(e).context(format!("cannot load the baseline of {}", run.key)))?
            .value;
        let mut run = run.clone();
        self.gate(&baseline, &mut run, &config, args, None)
    }

    /// A run from a file path, or by id from the store.
    fn load_run(&self, store: &dyn Store, source: &str) -> Result<Run> {
        if Path::new(source).is_file() {
            return load_run_file(Path::new(source));
        }
        let id: RunId = source
            .parse()
            .map_err(|e| anyhow!("{source:?} is neither a run file nor a run id ({e})"))?;
        let run = self
            .block_on(store.get_run(&id))
            .map_err(|e| anyhow!(e).context(format!("cannot load run {id}")))?;
        complete(run, &format!("run {id}"))
    }

    fn prune(&self, args: &PruneArgs) -> Result<Outcome> {
        if args.keep_last.is_none() && args.older_than.is_none() && !args.squash_history {
            bail!("prune needs --keep-last N, --older-than DAYS or --squash-history");
        }
        if args.squash_history {
            // Refuse before deleting anything, not after.
            self.git_options()?;
        }
        let store = self.store()?;
        let key = if args.only_key {
            Some(self.current_key(&args.key)?)
        } else {
            None
        };
        let runs = self
            .block_on(store.list_runs(&RunQuery {
                key,
                ..RunQuery::default()
            }))
            .context("cannot list runs to prune")?;
        let protected: std::collections::HashSet<RunId> = self
            .block_on(store.list_baselines())
            .context("cannot list baselines (their source runs are never pruned)")?
            .into_iter()
            .flat_map(|b| b.value.sources.into_iter().map(|s| s.run))
            .collect();
        let cutoff = args
            .older_than
            .map(|days| Timestamp::now() - jiff::SignedDuration::from_hours(24 * i64::from(days)));
        let mut seen_per_key: std::collections::HashMap<&BaselineKey, usize> =
            std::collections::HashMap::new();
        let mut doomed = Vec::new();
        let mut kept_for_baselines = 0usize;
        // Newest first, so the first `keep_last` of each key are the ones kept.
        for run in &runs {
            let rank = seen_per_key.entry(&run.key).or_insert(0);
            *rank += 1;
            let too_many = args.keep_last.is_some_and(|keep| *rank > keep);
            let too_old = cutoff.is_some_and(|c| run.timestamp < c);
            if too_many || too_old {
                if protected.contains(&run.id) {
                    kept_for_baselines += 1;
                } else {
                    doomed.push(run.id.clone());
                }
            }
        }
        let mut text = String::new();
        if args.dry_run {
            for id in &doomed {
                let _ = writeln!(text, "would delete run {id}");
            }
            let _ = writeln!(
                text,
                "would delete {} of {} run(s); {kept_for_baselines} kept because a baseline was built from them",
                doomed.len(),
                runs.len()
            );
            emit(&text)?;
            return Ok(Outcome::Passed);
        }
        let deleted = self
            .block_on(store.delete_runs(&doomed))
            .context("cannot delete runs")?;
        // A check may have promoted one of these runs after the baselines were listed above.
        // Read them again and put back any run a baseline now names (the promoting check also
        // restores its run if it finds it gone, so between the two none is lost).
        let restored = self.block_on(promote::restore_promoted(store.as_ref(), &runs, &doomed))?;
        let _ = writeln!(
            text,
            "deleted {} of {} run(s) in {}; {kept_for_baselines} kept because a baseline was built from them",
            deleted.saturating_sub(restored),
            runs.len(),
            store.location()
        );
        if restored > 0 {
            let _ = writeln!(
                text,
                "{restored} run(s) put back: a check promoted them while this prune ran"
            );
        }
        if args.squash_history {
            let squashed = self.squash_history()?;
            let _ = writeln!(text, "{squashed}");
        }
        emit(&text)?;
        Ok(Outcome::Passed)
    }

    /// Rewrites a git store's data branch as one commit.
    /// The git store's options, for operations only a git store has.
    fn git_options(&self) -> Result<benchkeep_store_git::GitOptions> {
        let url = self
            .store_url
            .as_deref()
            .or(self.config.store.as_deref())
            .filter(|u| u.starts_with("git:"))
            .ok_or_else(|| {
                anyhow!("--squash-history applies to git stores only (--store git:...)")
            })?;
        let base = match (&self.store_url, self.config.base_dir()) {
            (None, Some(dir)) => dir.to_owned(),
            _ => self.cwd.clone(),
        };
        Ok(benchkeep_store_git::GitOptions::from_url(
            &url["git:".len()..],
            &base,
        )?)
    }

    fn squash_history(&self) -> Result<String> {
        let store = benchkeep_store_git::GitStore::open(self.git_options()?)?;
        let commit = store.squash_history()?;
        Ok(format!("rewrote the data branch as one commit, {commit}"))
    }

    fn compare(&self, args: &CompareArgs) -> Result<Outcome> {
        let needs_store = [&args.base, &args.head]
            .iter()
            .any(|s| !Path::new(s).is_file());
        let (base, head) = if needs_store {
            let store = self.store()?;
            (
                self.load_run(store.as_ref(), &args.base)?,
                self.load_run(store.as_ref(), &args.head)?,
            )
        } else {
            // Two files: decode them in parallel (a large run takes tens of milliseconds).
            std::thread::scope(|scope| {
                let head = scope.spawn(|| load_run_file(Path::new(&args.head)));
                let base = load_run_file(Path::new(&args.base));
                let head = head
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                Ok::<_, anyhow::Error>((base?, head?))
            })?
        };
        let judged = gate::compare_benchmarks(
            &self.config,
            &args.compare.flags(),
            &base.benchmarks,
            &head.benchmarks,
        )?;
        for warning in &judged.warnings {
            self.notice(&format!("warning: {warning}"));
        }
        let (mut comparison, passed) = (judged.comparison, judged.passed);
        load::note_scaling_regressions(&mut comparison);
        let context = Context {
            subject: format!("{} -> {}", args.base, args.head),
            baseline_runs: vec![base.id.to_string()],
            current_run: head.id.to_string(),
            current_commit: head.git.as_ref().and_then(|g| g.commit.clone()),
            baseline_commits: base.git.iter().filter_map(|g| g.commit.clone()).collect(),
            job_url: head.ci.as_ref().and_then(|c| c.url.clone()),
            ..Context::default()
        };
        self.publish(
            &VerdictDocument::new(&comparison, context, passed),
            &args.compare,
        )?;
        Ok(if passed {
            Outcome::Passed
        } else {
            Outcome::Regressed
        })
    }
}

fn render(format: Format, document: &VerdictDocument, all_metrics: bool, color: bool) -> String {
    format
        .to_report()
        .renderer(RenderOptions { all_metrics, color })
        .render(document)
}

/// For the `github` format inside GitHub Actions: the Markdown report appended to the job
/// summary, and the verdict to the step's outputs. Outside Actions (variables unset) nothing.
fn github_files(document: &VerdictDocument) -> Result<()> {
    let append = |variable: &str, text: &str| -> Result<()> {
        let Some(path) = std::env::var_os(variable).filter(|p| !p.is_empty()) else {
            return Ok(());
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open ${variable} ({})", Path::new(&path).display()))?;
        file.write_all(text.as_bytes())
            .with_context(|| format!("cannot write ${variable}"))
    };
    append(
        "GITHUB_STEP_SUMMARY",
        &format!("{}\n", render(Format::Markdown, document, false, false)),
    )?;
    let delimiter = format!("benchkeep_{:016x}", benchkeep_engine::entropy());
    append(
        "GITHUB_OUTPUT",
        &report::formats::github::outputs(document, &delimiter),
    )
}

/// `--environment refuse`: every gating verdict becomes inconclusive, with the reason.
fn refuse_comparison(comparison: &mut compare::Comparison, what: &str) {
    for entry in comparison.entries.iter_mut().filter(|e| e.gating) {
        if matches!(
            entry.verdict,
            Verdict::Regressed | Verdict::Improved | Verdict::Unchanged
        ) {
            entry.verdict = Verdict::Inconclusive;
            entry.severity = None;
            what.clone_into(&mut entry.reason);
        }
    }
}

/// `run` as promotion judges it: with this job's CI information, not what a run file or an
/// import carries. Whether a run may join a baseline depends on the job doing it: a run file
/// made by a push job and checked in a pull request's job must not promote, and one checked on
/// a laptop needs `--promote` like any local run. (The tree's state stays the run's own: it is
/// what was measured.)
fn promotion_subject(run: &Run) -> std::borrow::Cow<'_, Run> {
    let here = environment::ci_info(&|name| std::env::var(name).ok());
    if run.ci == here {
        return std::borrow::Cow::Borrowed(run);
    }
    let mut subject = run.clone();
    subject.ci = here;
    std::borrow::Cow::Owned(subject)
}

/// How many of a key's newest runs `--merge-base` searches for the merge-base commit.
const MERGE_BASE_SEARCH: usize = 500;

/// Writes to stdout; a closed pipe (`benchkeep ... | head`) is not an error.
fn emit(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow!(e).context("cannot write to stdout"))
        }
        _ => Ok(()),
    }
}

fn load_run_file(path: &Path) -> Result<Run> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read run file {}", path.display()))?;
    let what = format!("run file {}", path.display());
    complete(core_store::decode_run(&bytes, &what)?, &what)
}

/// `run`, refused (exit 2) when it measured nothing a gate or a baseline could use: no
/// benchmarks, or a benchmark without metrics or samples (`what` names where it came from).
fn complete(run: Run, what: &str) -> Result<Run> {
    benchkeep_core::model::check_complete(&run.benchmarks).map_err(|e| anyhow!("{what}: {e}"))?;
    Ok(run)
}

fn parse_labels(labels: &[String]) -> Result<std::collections::BTreeMap<String, String>> {
    labels
        .iter()
        .map(|label| match label.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err(anyhow!("--label {label:?} is not KEY=VALUE")),
        })
        .collect()
}

fn seconds(value: f64, what: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| anyhow!("{what} must be a positive number of seconds, not {value}"))
}

fn measure_options(args: &MeasureArgs, file: &RunDefaults) -> Result<MeasureOptions> {
    let runs = match args.runs.or(file.runs) {
        Some(0) => bail!("runs must be at least 1"),
        Some(n) => RunCount::Fixed(n),
        None => {
            let min_runs = args.min_runs.or(file.min_runs).unwrap_or(10).max(1);
            let max_runs = args.max_runs.or(file.max_runs).unwrap_or(10_000);
            if max_runs < min_runs {
                bail!("max_runs ({max_runs}) is below min_runs ({min_runs})");
            }
            RunCount::Auto {
                min_runs,
                max_runs,
                min_time: seconds(args.min_time.or(file.min_time).unwrap_or(1.0), "min_time")?,
            }
        }
    };
    Ok(MeasureOptions {
        warmup: args.warmup.or(file.warmup).unwrap_or(1),
        runs,
        timeout: args
            .timeout
            .or(file.timeout)
            .map(|t| seconds(t, "timeout"))
            .transpose()?,
        output: if args.show_output {
            OutputMode::Inherit
        } else {
            OutputMode::Discard
        },
    })
}

/// Instruction counts run under callgrind, which is slow but nearly deterministic: five runs
/// meet the comparison's minimum sample count.
const INSTRUCTION_RUNS: u32 = 5;

/// One benchmark to measure.
struct Planned {
    name: String,
    spec: CommandSpec,
    options: MeasureOptions,
    instructions: bool,
}

/// The argument vector of a command given after `--`: as given, or with `--shell` one string
/// for `sh -c`. `--bench` selects configured benchmarks, so it cannot come with a command.
fn command_words(command: &[String], shell: bool, benches: &[String]) -> Result<Vec<String>> {
    if !benches.is_empty() {
        bail!(
            "--bench selects configured benchmarks; it cannot be combined with a command after --"
        );
    }
    Ok(if shell {
        vec!["sh".to_owned(), "-c".to_owned(), command.join(" ")]
    } else {
        command.to_vec()
    })
}

fn run_error(error: RunError, name: &str) -> anyhow::Error {
    match error {
        RunError::Interrupted => Interrupted.into(),
        e => anyhow!(e).context(format!("benchmark {name:?}")),
    }
}

/// Benchmarks with a gating metric that regressed, in report order, each once.
fn regressed_benchmarks(comparison: &compare::Comparison) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for e in comparison.regressions() {
        if !names.contains(&e.benchmark) {
            names.push(e.benchmark.clone());
        }
    }
    names
}

/// Speed-probe repetitions when a job starts, and after each benchmark.
const PROBES_AT_START: usize = 3;
const PROBES_PER_BENCHMARK: usize = 2;

/// Adds the samples of a later measurement of the same benchmark, metric by metric.
fn append_samples(into: &mut Benchmark, more: Benchmark) {
    for extra in more.metrics {
        if let Some(metric) = into.metrics.iter_mut().find(|m| m.name == extra.name) {
            metric.samples.extend(extra.samples);
        }
    }
}

/// The comparison after a confirmation: `first`'s entries, but for the benchmarks re-measured
/// (`suspects`), their entries from `confirmed`, each noting whether the regression held.
/// Confirmation only ever withdraws a regression found at some look, whose alpha was spent
/// there, so `confirmed` may be judged at the whole alpha; the benchmarks not re-measured keep
/// the verdicts of the looks that decided them.
fn merge_confirmations(
    first: compare::Comparison,
    confirmed: &compare::Comparison,
    suspects: &[String],
    how: &str,
) -> compare::Comparison {
    let mut merged = first;
    for entry in &mut merged.entries {
        if !suspects.contains(&entry.benchmark) {
            continue;
        }
        let Some(again) = confirmed
            .entries
            .iter()
            .find(|e| e.benchmark == entry.benchmark && e.metric == entry.metric)
        else {
            continue;
        };
        let was = entry.verdict;
        *entry = again.clone();
        if entry.gating && was == Verdict::Regressed {
            entry.notes.push(if entry.verdict == Verdict::Regressed {
                format!("confirmed: {how}, still regressed")
            } else {
                format!("not confirmed: looked regressed, {how}: {}", entry.verdict)
            });
        }
    }
    merged
}

/// A progress bar on a terminal; nothing elsewhere (CI logs stay clean).
struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    fn new(show: bool, name: &str, runs: RunCount) -> Self {
        if !show {
            return Bar(None);
        }
        let bar = match runs {
            RunCount::Fixed(n) => indicatif::ProgressBar::new(u64::from(n)),
            RunCount::Auto { .. } => indicatif::ProgressBar::new_spinner(),
        };
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        let style =
            indicatif::ProgressStyle::with_template("{spinner} {msg}: {pos} runs [{elapsed}]")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(name.chars().take(60).collect::<String>());
        Bar(Some(bar))
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn sample(&mut self, done: u32, _planned: Option<u32>, _sample: &Sample) {
        if let Some(bar) = &self.0 {
            bar.set_position(u64::from(done));
        }
    }
}

#[cfg(test)]
mod tests {
    use benchkeep_core::compare::{self, CompareConfig, Comparison, Verdict};
    use benchkeep_core::model::Benchmark;

    use super::merge_confirmations;

    fn comparison(verdicts: &[(&str, f64)]) -> Comparison {
        let bench = |name: &str, centre: f64| {
            let samples = (0..30).map(|i| centre * (1.0 + 0.001 * f64::from(i % 5)));
            Benchmark::wall_time(name, samples.collect())
        };
        let base: Vec<Benchmark> = verdicts.iter().map(|(n, _)| bench(n, 1e6)).collect();
        let cur: Vec<Benchmark> = verdicts.iter().map(|(n, c)| bench(n, 1e6 * c)).collect();
        compare::compare(&base, &cur, &CompareConfig::default())
    }

    /// Only the re-measured benchmarks take the confirmation's verdicts; the others keep the
    /// looks that decided them (a confirmation judged at the whole alpha must not create new
    /// regressions elsewhere).
    #[test]
    fn a_confirmation_replaces_the_suspects_only() {
        let first = comparison(&[("a", 1.3), ("b", 1.0)]);
        assert_eq!(first.entries[0].verdict, Verdict::Regressed);
        let confirmed = comparison(&[("a", 1.0), ("b", 1.3)]);
        let merged = merge_confirmations(first, &confirmed, &["a".to_owned()], "measured again");
        assert_eq!(merged.entries[0].verdict, Verdict::Unchanged);
        assert!(merged.entries[0].notes[0].starts_with("not confirmed"));
        assert_eq!(
            merged.entries[1].verdict,
            Verdict::Unchanged,
            "b keeps its first verdict"
        );
    }
}
