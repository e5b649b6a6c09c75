//! The subcommands: each turns its arguments into the engine's request, runs it, and prints
//! what came back. Everything else happens in `benchkeep-engine`.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::{Context as _, Result, anyhow};
use benchkeep_engine::baseline::Written;
use benchkeep_engine::check::CheckReport;
use benchkeep_engine::{Events, Session, SessionOptions, exit_codes};
use benchkeep_report::{self as report, RenderOptions, VerdictDocument};
use benchkeep_runner::command::{Interrupt, Progress, RunCount, Sample};

use crate::Outcome;
use crate::args::{
    BaselineCommand, Cli, ColorChoice, Commands, CompareOptions, Format, StoreCommand,
};

mod adoption;
mod dashboard;

/// Runs the parsed command line; `interrupt` is set by the signal handlers.
pub(crate) fn dispatch(cli: &Cli, interrupt: Interrupt) -> Outcome {
    if let Commands::Completions(args) = &cli.command {
        return adoption::completions(args).unwrap_or_else(Outcome::Failed);
    }
    match &cli.command {
        Commands::Man(args) => {
            return adoption::man(args.subcommand.as_deref()).unwrap_or_else(Outcome::Failed);
        }
        Commands::Formats => {
            return emit(&crate::args::formats_help())
                .map_or_else(Outcome::Failed, |()| Outcome::Passed);
        }
        Commands::SplitWords => {
            return adoption::split_words().unwrap_or_else(Outcome::Failed);
        }
        // Before a session: a session loads the configuration, which `init` may be here to
        // write (or `init --force` to rewrite when it no longer parses).
        Commands::Init(args) => return settled(adoption::init(args, cli.config.as_deref())),
        _ => {}
    }
    let mut options = SessionOptions::default();
    options.config.clone_from(&cli.config);
    options.store.clone_from(&cli.store);
    options.interrupt = Some(interrupt);
    let events = Box::new(Terminal {
        quiet: cli.quiet,
        verbose: cli.verbose,
    });
    let app = match Session::new(options, events) {
        Ok(session) => App {
            session,
            color: color(cli.color),
        },
        Err(e) => return failed(e),
    };

    settled(app.run(&cli.command))
}

/// A command's result as an outcome: an engine error by its exit code.
fn settled(result: Result<Outcome>) -> Outcome {
    match result {
        Ok(outcome) => outcome,
        Err(e) => match e.downcast::<benchkeep_engine::Error>() {
            Ok(e) => failed(e),
            Err(e) => Outcome::Failed(e),
        },
    }
}

/// An engine error as an outcome, by its exit code.
fn failed(error: benchkeep_engine::Error) -> Outcome {
    if error.exit_code() == exit_codes::INTERRUPTED {
        Outcome::Interrupted
    } else {
        Outcome::Failed(error.into())
    }
}

/// Whether terminal output may carry colour (`--color`, `NO_COLOR`).
fn color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        // https://no-color.org: set and not empty means no colour.
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}

struct App {
    session: Session,
    color: bool,
}

impl App {
    fn run(&self, command: &Commands) -> Result<Outcome> {
        let session = &self.session;
        match command {
            Commands::Run(args) => {
                let run = session.run(
                    &args.measure.request()?,
                    &args.key.overrides(),
                    &args.record.options(),
                )?;
                emit(&report::run_summary(&run.benchmarks))?;
                if args.measure.several_commands() {
                    emit(&report::measurements::relative_summary(&run.benchmarks))?;
                }
                for warning in report::measurements::warnings(&run.benchmarks) {
                    emit(&format!("warning: {warning}\n"))?;
                }
                Ok(Outcome::Passed)
            }
            Commands::Check(args) => {
                if let Some(rev) = &args.pr {
                    let document =
                        session.check_pr(&args.paired(), &args.key.overrides(), rev.as_deref())?;
                    return self.publish(&document, &args.compare);
                }
                self.check(&session.check(&args.request()?)?, &args.compare)
            }
            Commands::Compare(args) => {
                let flags = args.compare.flags();
                let document = session.compare_runs(&args.base, &args.head, &flags)?;
                self.publish(&document, &args.compare)
            }
            Commands::Ab(args) => self.publish(&session.ab(&args.request())?, &args.compare),
            Commands::Baseline(command) => self.baseline(command),
            Commands::Store(StoreCommand::Check) => store_check(session),
            Commands::Prune(args) => {
                let pruned = session.prune(&args.request())?;
                emit(&prune_text(&pruned, args.dry_run))?;
                Ok(Outcome::Passed)
            }
            Commands::Trend(args) => {
                let document = session.trend(&args.request())?;
                emit(&match args.format {
                    crate::args::TrendFormat::Json => document.json(),
                    crate::args::TrendFormat::Text => document.text(),
                })?;
                let changed = document.series.iter().any(report::trend::Series::changed);
                Ok(if changed && args.fail_on_change {
                    Outcome::Regressed
                } else {
                    Outcome::Passed
                })
            }
            Commands::Suite(args) => {
                let (_, table) = session.suite(
                    &args.workloads,
                    args.quick,
                    &args.key.overrides(),
                    &args.record.options(),
                )?;
                emit(&table)?;
                Ok(Outcome::Passed)
            }
            Commands::Import(args) => {
                let run = session.import(
                    &args.request(),
                    &args.key.overrides(),
                    &args.record.options(),
                )?;
                emit(&report::run_summary(&run.benchmarks))?;
                Ok(Outcome::Passed)
            }
            Commands::Load(args) => {
                let loaded = session.load(
                    &args.request(),
                    &args.key.overrides(),
                    &args.record.options(),
                )?;
                emit(&loaded.summary)?;
                Ok(if loaded.grows {
                    Outcome::Regressed
                } else {
                    Outcome::Passed
                })
            }
            Commands::Report(args) => dashboard::report(session, args),
            Commands::Completions(_)
            | Commands::Man(_)
            | Commands::Formats
            | Commands::SplitWords
            | Commands::Init(_) => {
                unreachable!("dispatched before a session is opened")
            }
        }
    }

    /// A stored check's verdict, or why there is none.
    fn check(&self, checked: &CheckReport, options: &CompareOptions) -> Result<Outcome> {
        let Some(document) = &checked.document else {
            if let Some(reason) = &checked.reason {
                eprintln!("error: {reason}");
            }
            return Ok(Outcome::NoBaseline);
        };
        self.write_reports(document, options)?;
        if document.outcome == report::Basis::NoBaseline
            && document.passed
            && options.format == Format::Text
        {
            // Nothing was compared: the run's own figures say more than an empty table.
            emit(&report::run_summary(&checked.run.benchmarks))?;
        } else {
            emit(&render(
                options.format,
                document,
                options.all_metrics,
                self.color,
            ))?;
        }
        Ok(outcome(document))
    }

    fn baseline(&self, command: &BaselineCommand) -> Result<Outcome> {
        let session = &self.session;
        let text = match command {
            BaselineCommand::Set(args) => {
                let Written {
                    key, runs, version, ..
                } = session.baseline_set(&args.request())?;
                let ids: Vec<String> = runs.iter().map(|r| r.id.to_string()).collect();
                format!(
                    "baseline {key} set from {} run(s): {} (version {version})\n",
                    runs.len(),
                    ids.join(", ")
                )
            }
            BaselineCommand::Accept(args) => {
                let Written {
                    key, runs, version, ..
                } = session.baseline_accept(&args.request())?;
                let run = &runs[0];
                let commit = run
                    .git
                    .as_ref()
                    .and_then(|g| g.commit.as_deref())
                    .map_or_else(String::new, |c| {
                        format!(" (commit {})", report::baselines::short(c))
                    });
                format!(
                    "baseline {key} now accepts run {}{commit}: {} (version {version})\n",
                    run.id,
                    args.reason.trim()
                )
            }
            BaselineCommand::Show(args) => {
                let baseline = session.baseline(&args.key.overrides())?;
                if args.json {
                    json_text(&baseline.value)?
                } else {
                    report::baselines::show(&baseline)
                }
            }
            BaselineCommand::History(args) => {
                let baseline = session.baseline(&args.key.overrides())?.value;
                if args.json {
                    json_text(&baseline.changes)?
                } else {
                    report::baselines::history(&baseline)
                }
            }
            BaselineCommand::List => {
                let (baselines, location) = session.baselines()?;
                report::baselines::list(&baselines, &location)
            }
            BaselineCommand::Delete(args) => {
                let (key, location) =
                    session.baseline_delete(args.name.as_deref(), &args.key.overrides())?;
                format!(
                    "deleted the baseline of {key} in {location}; its runs are kept (`benchkeep baseline set` makes a new one)\n"
                )
            }
        };
        emit(&text)?;
        Ok(Outcome::Passed)
    }

    /// Prints the report in `--format` and writes every `--report FORMAT=FILE`; the `github`
    /// format also fills `$GITHUB_STEP_SUMMARY` and `$GITHUB_OUTPUT`.
    fn publish(&self, document: &VerdictDocument, options: &CompareOptions) -> Result<Outcome> {
        self.write_reports(document, options)?;
        emit(&render(
            options.format,
            document,
            options.all_metrics,
            self.color,
        ))?;
        Ok(outcome(document))
    }

    /// Writes every `--report FORMAT=FILE`; with the `github` format (on stdout or in a file)
    /// also the job summary and step outputs.
    fn write_reports(&self, document: &VerdictDocument, options: &CompareOptions) -> Result<()> {
        for (format, path) in &options.reports {
            let text = render(*format, document, options.all_metrics, false);
            std::fs::write(path, text).with_context(|| {
                format!("cannot write the {format:?} report to {}", path.display())
            })?;
            self.session.events().detail(&format!(
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
}

/// Pass or regression, as the gate decided.
fn outcome(document: &VerdictDocument) -> Outcome {
    if document.passed {
        Outcome::Passed
    } else {
        Outcome::Regressed
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

fn prune_text(pruned: &benchkeep_engine::prune::PruneReport, dry_run: bool) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    if dry_run {
        for id in &pruned.doomed {
            let _ = writeln!(text, "would delete run {id}");
        }
        let _ = writeln!(
            text,
            "would delete {} of {} run(s); {} kept because a baseline was built from them",
            pruned.doomed.len(),
            pruned.listed,
            pruned.kept_for_baselines
        );
        return text;
    }
    let _ = writeln!(
        text,
        "deleted {} of {} run(s) in {}; {} kept because a baseline was built from them",
        pruned.deleted, pruned.listed, pruned.location, pruned.kept_for_baselines
    );
    if pruned.restored > 0 {
        let _ = writeln!(
            text,
            "{} run(s) put back: a check promoted them while this prune ran",
            pruned.restored
        );
    }
    if let Some(commit) = &pruned.squashed {
        let _ = writeln!(text, "rewrote the data branch as one commit, {commit}");
    }
    text
}

fn json_text<T: serde::Serialize>(value: &T) -> Result<String> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}

/// `benchkeep store check`: every guarantee the store relies on, tried now; exit 2 naming
/// those that do not hold.
fn store_check(session: &Session) -> Result<Outcome> {
    let (location, found) = session.check_store()?;
    let mut text = format!("{location}\n");
    for guarantee in &found {
        let mark = if guarantee.held { "holds " } else { "BROKEN" };
        let _ = writeln!(text, "  {mark}  {}: {}", guarantee.name, guarantee.detail);
    }
    emit(&text)?;
    let broken: Vec<&str> = found
        .iter()
        .filter(|g| !g.held)
        .map(|g| g.name.as_str())
        .collect();
    if broken.is_empty() {
        return Ok(Outcome::Passed);
    }
    Err(benchkeep_engine::Error::Invalid(format!(
        "{location} does not keep what benchkeep relies on ({}): runs and promotions could be \
         lost, so benchkeep will not write there; use a server with conditional writes, or the \
         git store (docs/stores/s3.md)",
        broken.join(", ")
    ))
    .into())
}

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

/// One interrupt path for every command: SIGINT and SIGTERM set `interrupt`'s flag, which
/// stops a measurement and is checked before anything is recorded; a SIGINT while it is
/// already set exits with 130 at once.
pub(crate) fn watch_signals(interrupt: &Interrupt) -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let flag = interrupt.flag();
    signal_hook::flag::register_conditional_shutdown(
        SIGINT,
        i32::from(exit_codes::INTERRUPTED),
        flag.clone(),
    )
    .and_then(|_| signal_hook::flag::register(SIGINT, flag.clone()))
    .and_then(|_| signal_hook::flag::register(SIGTERM, flag))
    .context("cannot install the signal handlers")?;
    Ok(())
}

/// What the engine says, on a terminal: notices on stderr unless `--quiet`, details with
/// `--verbose`, progress bars when stderr is a terminal.
struct Terminal {
    quiet: bool,
    verbose: bool,
}

impl Events for Terminal {
    fn notice(&self, text: &str) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }

    fn detail(&self, text: &str) {
        if self.verbose {
            eprintln!("{text}");
        }
    }

    fn progress(&self, name: &str, runs: RunCount) -> Box<dyn Progress> {
        Box::new(Bar::new(
            !self.quiet && std::io::stderr().is_terminal(),
            name,
            runs,
        ))
    }
}

/// A progress bar on a terminal; nothing elsewhere (CI logs stay clean). Cleared when dropped.
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
}

impl Drop for Bar {
    fn drop(&mut self) {
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
