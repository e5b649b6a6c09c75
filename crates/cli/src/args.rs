//! The command line, as clap parses it. Validation into settings happens in the commands.

use std::fmt::Write as _;
use std::path::PathBuf;

use benchkeep_core::compare::Severity;
pub(crate) use benchkeep_engine::config::{EnvironmentPolicy, SpeedProbePolicy};
use benchkeep_engine::settings::CompareFlags;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::examples;

/// Catch performance regressions before they merge.
///
/// benchkeep measures commands (wall time, CPU time, peak memory), keeps results and baselines in
/// a store, and compares each run with its baseline using statistics that say "inconclusive" when
/// the data cannot decide.
///
/// Exit codes: 0 pass, 1 regression, 2 usage or tool error, 3 no baseline where one is required,
/// 4 report written but something could not be read, 130 interrupted.
#[derive(Debug, Parser)]
#[command(
    name = "benchkeep",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub(crate) struct Cli {
    /// Where runs and baselines are kept: `file://PATH` (default: .benchkeep/ at the repository
    /// root), `git:[BRANCH]`, `s3://BUCKET/PREFIX`.
    #[arg(long, global = true, env = "BENCHKEEP_STORE", value_name = "URL")]
    pub(crate) store: Option<String>,

    /// The configuration file (default: benchkeep.toml in the current directory or repository root).
    #[arg(long, global = true, env = "BENCHKEEP_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// Print only results and errors: no progress, no notices.
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,

    /// Also say where settings came from and what was loaded (the store, the key, the baseline).
    #[arg(long, short, global = true)]
    pub(crate) verbose: bool,

    /// Colour in terminal output: `auto` (on a terminal, unless `NO_COLOR` is set), `always`,
    /// `never`.
    #[arg(long, global = true, value_enum, default_value_t, value_name = "WHEN")]
    pub(crate) color: ColorChoice,

    /// The command to run.
    #[command(subcommand)]
    pub(crate) command: Commands,
}

/// When to colour terminal output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set.
    #[default]
    Auto,
    /// Always, even into a pipe.
    Always,
    /// Never.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Commands {
    /// Measure a command (or the benchmarks in benchkeep.toml) and record the run.
    #[command(after_help = examples::RUN)]
    Run(Box<RunArgs>),
    /// Measure (or load) a run and compare it with the baseline of its key; exit 1 on a regression.
    #[command(after_help = examples::CHECK)]
    Check(Box<CheckArgs>),
    /// Manage baselines.
    #[command(subcommand, after_help = examples::BASELINE)]
    Baseline(BaselineCommand),
    /// The store itself: what its backend guarantees.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Compare two runs (files or run ids); exit 1 on a regression.
    #[command(after_help = examples::COMPARE)]
    Compare(CompareArgs),
    /// Paired A/B comparison on this machine: rounds run base and head back to back in random
    /// order; exit 1 when head regressed.
    #[command(after_help = examples::AB)]
    Ab(AbArgs),
    /// Find step changes and slow drifts in each benchmark's recorded history.
    #[command(after_help = examples::TREND)]
    Trend(TrendArgs),
    /// Delete old runs (never the runs a baseline was built from).
    #[command(after_help = examples::PRUNE)]
    Prune(PruneArgs),
    /// Run the standard workload suite: the parallelism optimizer's plan against serial and an
    /// exhaustive sweep on five workloads; record the run (speedup, accuracy, times, the plan).
    #[command(after_help = examples::SUITE)]
    Suite(SuiteArgs),
    /// Import another harness's results (criterion, hyperfine, go test, ...) as a run and record
    /// it.
    #[command(after_help = examples::IMPORT)]
    Import(ImportArgs),
    /// Write a commented benchkeep.toml and, on request, a CI workflow.
    #[command(after_help = examples::INIT)]
    Init(InitArgs),
    /// Print a shell completion script.
    #[command(after_help = examples::COMPLETIONS)]
    Completions(CompletionsArgs),
    /// Print the manual page (roff) of benchkeep, or of one subcommand, generated from this
    /// command line.
    #[command(after_help = examples::MAN)]
    Man(ManArgs),
    /// List the formats `import` and `check --import` read, with one example each.
    #[command(after_help = examples::FORMATS, long_about = formats_help())]
    Formats,
    /// Split standard input into words as a POSIX shell would (quotes, backslashes) without
    /// evaluating anything, and print each word followed by a NUL byte. For scripts that take
    /// a command line as one string: the GitHub Action's `args` (scripts/action.sh).
    #[command(hide = true)]
    SplitWords,
    /// Load a command from concurrent workers at several concurrency levels: throughput,
    /// latency percentiles, errors, scaling; or, with --leak-check, memory growth of a
    /// long-lived worker (exit 1 when it grows).
    #[command(after_help = examples::LOAD)]
    Load(LoadArgs),
    /// Write a static dashboard of the store (every key, benchmark histories as charts) that
    /// works from file:// with no network; exit 4 when something could not be read.
    #[command(after_help = examples::REPORT)]
    Report(ReportArgs),
}

/// Arguments of `man`.
#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// The subcommand whose page to print (`check` prints benchkeep-check(1)); benchkeep's own
    /// page when left out.
    #[arg(value_name = "SUBCOMMAND")]
    pub(crate) subcommand: Option<String>,
}

/// The import formats with an example each, for `benchkeep formats` and `benchkeep help
/// formats`.
pub(crate) fn formats_help() -> String {
    let mut text = String::from(
        "List the formats `import` and `check --import` read, with one example each. Each \
         refuses what it cannot vouch for (failed benchmarks, truncated output, duplicates): \
         docs/import.md says what, and why.\n",
    );
    for format in benchkeep_import::Format::ALL {
        let _ = write!(
            text,
            "\n{}\n    {}\n    $ {}\n",
            format.name(),
            format.expected(),
            format.example()
        );
    }
    text
}

/// Arguments of `load`.
#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    /// Concurrency levels, comma-separated (default 1,2,4,8, or `[load] concurrency`).
    #[arg(long, value_name = "N,N,...", conflicts_with = "ramp")]
    pub(crate) concurrency: Option<String>,
    /// Levels from FROM to TO, doubling (1..8 is 1,2,4,8).
    #[arg(long, value_name = "FROM..TO")]
    pub(crate) ramp: Option<String>,
    /// Time per level, ramp-up included (default 10s).
    #[arg(long, value_name = "DURATION")]
    pub(crate) duration: Option<String>,
    /// Workers start one after another over this time, unmeasured (default 1s).
    #[arg(long, value_name = "DURATION")]
    pub(crate) ramp_up: Option<String>,
    /// Stop each level after N measured operations (instead of at --duration).
    #[arg(long, value_name = "N")]
    pub(crate) requests: Option<u64>,
    /// Target total rate, operations per second: latency is measured from each operation's
    /// intended start (no coordinated omission).
    #[arg(long, value_name = "OPS")]
    pub(crate) rate: Option<f64>,
    /// Kill an operation (or, with --leak-check, the worker on a job) after this long; it
    /// counts as an error.
    #[arg(long, value_name = "DURATION")]
    pub(crate) timeout: Option<String>,
    /// Memory growth instead of load: run the command once as a worker that reads one line per
    /// job on stdin and prints one line per job done, and sample its RSS.
    #[arg(long, conflicts_with_all = ["concurrency", "ramp", "rate", "requests"])]
    pub(crate) leak_check: bool,
    /// With --leak-check: jobs to run (default 10000).
    #[arg(long, value_name = "N", requires = "leak_check")]
    pub(crate) iterations: Option<u64>,
    /// Benchmark name (default: the command line).
    #[arg(long, short)]
    pub(crate) name: Option<String>,
    /// The baseline key.
    #[command(flatten)]
    pub(crate) key: KeyArgs,
    /// Where the run goes.
    #[command(flatten)]
    pub(crate) record: RecordArgs,
    /// The command, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    pub(crate) command: Vec<String>,
}

/// Arguments of `report`.
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// Write the site into this directory (created if needed; an earlier report there is
    /// replaced).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Only this key (default: every key in the store).
    #[arg(long, value_name = "BRANCH@PLATFORM")]
    pub(crate) key: Option<String>,
    /// Only runs since this date (YYYY-MM-DD, or an RFC 3339 time).
    #[arg(long, value_name = "DATE")]
    pub(crate) since: Option<String>,
    /// Chart at most the newest N runs of each key (default 1000).
    #[arg(long, value_name = "N")]
    pub(crate) max_runs: Option<usize>,
    /// Then serve the site on 127.0.0.1:PORT (default 8000) until interrupted.
    #[arg(long, value_name = "PORT", num_args = 0..=1, default_missing_value = "8000")]
    pub(crate) serve: Option<u16>,
}

/// Arguments of `import`.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The input's format: criterion, libtest, hyperfine, google-benchmark, go,
    /// pytest-benchmark, jmh, benchmarkdotnet, catch2, benchmarkjs, custom (docs/import.md).
    #[arg(long, short, value_name = "FORMAT")]
    pub(crate) format: String,
    /// The file (for criterion also a target/criterion directory), or `-` for standard input.
    #[arg(value_name = "FILE|-")]
    pub(crate) file: PathBuf,
    /// The baseline key.
    #[command(flatten)]
    pub(crate) key: KeyArgs,
    /// Where the run goes.
    #[command(flatten)]
    pub(crate) record: RecordArgs,
    /// How the input is read.
    #[command(flatten)]
    pub(crate) read: ImportFlags,
}

/// How an import reads its input.
#[derive(Debug, Args, Clone, Copy, Default)]
pub(crate) struct ImportFlags {
    /// Pool entries that share a name (and metric) as one benchmark's samples, instead of
    /// refusing them (formats pytest-benchmark, jmh, benchmarkdotnet, catch2, custom).
    #[arg(long)]
    pub(crate) merge_duplicates: bool,
    /// Refuse an input larger than this (`1GiB` by default; `500MiB`, `2GB`, bytes).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub(crate) max_input_size: Option<u64>,
}

impl ImportFlags {
    /// The importer's options.
    #[must_use]
    pub(crate) fn options(self) -> benchkeep_import::ImportOptions {
        let mut options = benchkeep_import::ImportOptions::default();
        options.merge_duplicates = self.merge_duplicates;
        options.max_input_bytes = self.max_input_size;
        options
    }
}

/// CI systems `init` writes a job for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CiSystem {
    /// `.github/workflows/benchkeep.yml`.
    Github,
    /// `.gitlab/benchkeep.gitlab-ci.yml`, to `include:` from `.gitlab-ci.yml`.
    Gitlab,
}

/// Arguments of `init`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Where runs and baselines will be kept: `fs`, `git`, `s3` or a store URL (`file://PATH`,
    /// `git:BRANCH`, `s3://BUCKET/PREFIX`). Default: the existing benchkeep.toml's store, else
    /// fs; another store than the existing one is refused.
    #[arg(long, value_name = "fs|git|s3|URL")]
    pub(crate) store: Option<String>,
    /// Also write a CI job for this system.
    #[arg(long, value_enum)]
    pub(crate) ci: Option<CiSystem>,
    /// The branch whose passing checks update the baseline (default: the existing
    /// benchkeep.toml's `promote_on`, else main).
    #[arg(long, value_name = "BRANCH")]
    pub(crate) main_branch: Option<String>,
    /// The benchmark command the generated configuration runs (default: a placeholder).
    #[arg(long, value_name = "COMMAND")]
    pub(crate) bench: Option<String>,
    /// How to build the project before measuring: `[ab] build` (check --pr runs it in both
    /// trees) and the CI job's build step.
    #[arg(long, value_name = "COMMAND")]
    pub(crate) build: Option<String>,
    /// Overwrite files that exist; an existing benchkeep.toml keeps its store. With --ci, an
    /// existing benchkeep.toml is kept as it is and the job is written for it.
    #[arg(long)]
    pub(crate) force: bool,
    /// Write into this directory (default: the current one).
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
}

/// Arguments of `completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

/// Arguments of `suite`.
#[derive(Debug, Args)]
pub(crate) struct SuiteArgs {
    /// Shorter samples and fewer repetitions (for CI; well under 30 s on 2 cores).
    #[arg(long)]
    pub(crate) quick: bool,
    /// Only these workloads (repeatable; default: all five, see docs/optimizer.md).
    #[arg(long = "workload", value_name = "NAME")]
    pub(crate) workloads: Vec<String>,
    /// The baseline key.
    #[command(flatten)]
    pub(crate) key: KeyArgs,
    /// Where the run goes.
    #[command(flatten)]
    pub(crate) record: RecordArgs,
}

/// Arguments of `prune`.
#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    /// Keep the newest N runs of each key.
    #[arg(long, value_name = "N")]
    pub(crate) keep_last: Option<usize>,
    /// Delete runs older than this many days.
    #[arg(long, value_name = "DAYS")]
    pub(crate) older_than: Option<u32>,
    /// Only runs of the key given by --branch/--platform (default: every key).
    #[arg(long)]
    pub(crate) only_key: bool,
    /// The key, with --only-key.
    #[command(flatten)]
    pub(crate) key: KeyArgs,
    /// List what would be deleted; delete nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// git store only: afterwards rewrite the data branch as one commit (a force-push).
    #[arg(long)]
    pub(crate) squash_history: bool,
}

/// How to measure.
#[derive(Debug, Args, Clone, Default)]
#[allow(clippy::struct_excessive_bools)] // independent switches a user turns on
pub(crate) struct MeasureArgs {
    /// Shell commands to measure, each a benchmark (as hyperfine takes them: each one argument,
    /// run through `sh -c`). A command after `--` is run as given, without a shell.
    #[arg(value_name = "SHELL_COMMAND")]
    pub(crate) commands: Vec<String>,
    /// Benchmark name (default: the command line); repeat it to name several commands, in
    /// order (shell commands first, then the one after `--`). A name may use {PARAMETER}.
    #[arg(long, short, value_name = "NAME", visible_alias = "command-name")]
    pub(crate) name: Vec<String>,
    /// Exactly this many measured runs (default: at least 10 and at least --min-time).
    #[arg(long, short, value_name = "N", conflicts_with_all = ["min_time", "min_runs", "max_runs"])]
    pub(crate) runs: Option<u32>,
    /// Unmeasured warm-up runs (default 1).
    #[arg(long, short, value_name = "N")]
    pub(crate) warmup: Option<u32>,
    /// With an automatic run count: measure for at least this many seconds (default 1).
    #[arg(long, value_name = "SECONDS")]
    pub(crate) min_time: Option<f64>,
    /// With an automatic run count: fewest runs (default 10).
    #[arg(long, short = 'm', value_name = "N")]
    pub(crate) min_runs: Option<u32>,
    /// With an automatic run count: most runs (default 10000).
    #[arg(long, short = 'M', value_name = "N")]
    pub(crate) max_runs: Option<u32>,
    /// Kill a run's whole process group after this many seconds (precise to about 20 ms); a
    /// setup, prepare, conclude or cleanup command gets as long.
    #[arg(long, value_name = "SECONDS")]
    pub(crate) timeout: Option<f64>,
    /// The shell that runs the commands and hooks (default `sh`; hooks run through `sh` with
    /// `-N` or `-S none`); with a command after `--`, also run that through it as one string.
    /// The shell's start-up, measured once, is subtracted from the times of commands run
    /// through it.
    #[arg(
        long,
        short = 'S',
        value_name = "SHELL",
        num_args = 0..=1,
        default_missing_value = "sh"
    )]
    pub(crate) shell: Option<String>,
    /// Run the commands without a shell: each is split into words (quotes respected) and
    /// executed directly, with nothing subtracted.
    #[arg(long, short = 'N', conflicts_with = "shell")]
    pub(crate) no_shell: bool,
    /// Show the command's output instead of discarding it.
    #[arg(long)]
    pub(crate) show_output: bool,
    /// Run this once before each benchmark's first execution (through `sh -c`; not timed).
    #[arg(long, short = 's', value_name = "COMMAND")]
    pub(crate) setup: Option<String>,
    /// Run this before each execution, warm-ups included (through `sh -c`; not timed), e.g.
    /// `sync` or dropping caches.
    #[arg(long, short = 'p', value_name = "COMMAND")]
    pub(crate) prepare: Option<String>,
    /// Run this after each execution, warm-ups included (through `sh -c`; not timed).
    #[arg(long, short = 'C', value_name = "COMMAND")]
    pub(crate) conclude: Option<String>,
    /// Run this once after each benchmark's last execution, also after a failed one (through
    /// `sh -c`; not timed).
    #[arg(long, short = 'c', value_name = "COMMAND")]
    pub(crate) cleanup: Option<String>,
    /// One benchmark per value of NAME from MIN to MAX (steps of 1, or --parameter-step-size),
    /// with {NAME} replaced in the commands, names and hooks; the value is kept in the
    /// benchmark's params.
    #[arg(
        long = "parameter-scan",
        short = 'P',
        num_args = 3,
        value_names = ["NAME", "MIN", "MAX"],
        allow_negative_numbers = true
    )]
    pub(crate) parameter_scan: Vec<String>,
    /// The step of --parameter-scan (decimals allowed).
    #[arg(
        long = "parameter-step-size",
        short = 'D',
        value_name = "STEP",
        requires = "parameter_scan"
    )]
    pub(crate) parameter_step: Option<String>,
    /// One benchmark per listed value of NAME (comma-separated), with {NAME} replaced as for
    /// --parameter-scan; repeatable (every combination is measured).
    #[arg(
        long = "parameter-list",
        short = 'L',
        num_args = 2,
        value_names = ["NAME", "VALUES"],
        action = clap::ArgAction::Append
    )]
    pub(crate) parameter_list: Vec<String>,
    /// Keep measuring when a command fails: its times are kept, the `failed_runs` metric counts
    /// the failures, a warning says so, and a failure rate above the baseline's fails a check
    /// (by default a failure stops with exit 2; a timeout still does).
    #[arg(long, short = 'i')]
    pub(crate) ignore_failure: bool,
    /// Keep each execution's standard output (in a file, not /dev/null, which the command's time
    /// includes) and warn when it differs from the first execution's: a benchmark that is not
    /// doing one thing each time.
    #[arg(long, conflicts_with = "show_output")]
    pub(crate) check_output: bool,
    /// Each execution reads this file as its standard input, from the start (default:
    /// /dev/null).
    #[arg(long, value_name = "FILE")]
    pub(crate) input: Option<PathBuf>,
    /// Also write the measurement as hyperfine's JSON (`import --format hyperfine` reads it).
    #[arg(long, value_name = "FILE")]
    pub(crate) export_json: Option<PathBuf>,
    /// Also write the measurement as hyperfine's Markdown table.
    #[arg(long, value_name = "FILE")]
    pub(crate) export_markdown: Option<PathBuf>,
    /// Also write the measurement as hyperfine's CSV.
    #[arg(long, value_name = "FILE")]
    pub(crate) export_csv: Option<PathBuf>,
    /// Leave what the command starts in the background running (by default what an execution
    /// leaves running, `cmd &` children and `setsid` daemons alike, is killed after it).
    #[arg(long)]
    pub(crate) keep_background: bool,
    /// Also count instructions with valgrind's callgrind (a low-noise metric; slow).
    #[arg(long)]
    pub(crate) instructions: bool,
    /// Only the [[bench]] entries of benchkeep.toml with these names.
    #[arg(long = "bench", value_name = "NAME")]
    pub(crate) benches: Vec<String>,
    /// The command to measure, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    pub(crate) command: Vec<String>,
}

/// Which baseline key a run belongs to, and what is recorded.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct KeyArgs {
    /// Branch part of the baseline key (default: from CI or git, else "default").
    #[arg(long, env = "BENCHKEEP_BRANCH")]
    pub(crate) branch: Option<String>,
    /// Platform part of the baseline key (default: os-arch, e.g. linux-x86_64).
    #[arg(long, env = "BENCHKEEP_PLATFORM")]
    pub(crate) platform: Option<String>,
}

/// Where the run goes.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct RecordArgs {
    /// Also write the run as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Do not record the run in the store.
    #[arg(long)]
    pub(crate) no_record: bool,
    /// A label for the run, KEY=VALUE (repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub(crate) labels: Vec<String>,
}

/// Arguments of `run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// How to measure.
    #[command(flatten)]
    pub(crate) measure: MeasureArgs,
    /// The baseline key.
    #[command(flatten)]
    pub(crate) key: KeyArgs,
    /// Where the run goes.
    #[command(flatten)]
    pub(crate) record: RecordArgs,
}

/// Output formats of comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum Format {
    /// A table for terminals and CI logs.
    #[default]
    Text,
    /// The versioned verdict document (see docs/FORMAT.md).
    Json,
    /// A pull-request comment: verdict, regressions first, the rest collapsed, under GitHub's
    /// size limit, with a marker for updating one sticky comment.
    Markdown,
    /// GitHub Actions annotations; also appends the Markdown report to `$GITHUB_STEP_SUMMARY`
    /// and `verdict`, `regressions`, `alert`, `summary` to `$GITHUB_OUTPUT` when they are set.
    Github,
    /// `JUnit` XML: each benchmark metric a test case, a regression a failure.
    Junit,
    /// One row per benchmark and metric, for spreadsheets.
    Csv,
    /// For moderate or critical regressions, an issue to open: title, blank line, body; empty
    /// otherwise.
    Alert,
}

impl Format {
    /// The report crate's format of the same name.
    #[must_use]
    pub(crate) fn to_report(self) -> benchkeep_report::Format {
        match self {
            Format::Text => benchkeep_report::Format::Text,
            Format::Json => benchkeep_report::Format::Json,
            Format::Markdown => benchkeep_report::Format::Markdown,
            Format::Github => benchkeep_report::Format::Github,
            Format::Junit => benchkeep_report::Format::Junit,
            Format::Csv => benchkeep_report::Format::Csv,
            Format::Alert => benchkeep_report::Format::Alert,
        }
    }
}

/// How comparisons decide.
// Each flag is an independent switch a user turns on; an enum would not read better.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct CompareOptions {
    /// Smallest change that counts, in percent (default 5; 2 in paired mode).
    #[arg(long, value_name = "PERCENT")]
    pub(crate) threshold: Option<f64>,
    /// Significance level (default 0.05).
    #[arg(long)]
    pub(crate) alpha: Option<f64>,
    /// Gate on these metrics (repeatable or comma-separated; "all" for every metric; default:
    /// each benchmark's first). A metric no benchmark measured is an error (exit 2).
    #[arg(long = "gate-metric", value_name = "METRIC", value_delimiter = ',')]
    pub(crate) gate_metrics: Vec<String>,
    /// Fail the gate when a gating metric is inconclusive.
    #[arg(long)]
    pub(crate) fail_on_inconclusive: bool,
    /// The least severity of regression that fails the gate: minor (default: every
    /// regression), moderate or critical; smaller regressions are warnings.
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    pub(crate) fail_on: Option<Severity>,
    /// Accept benchmarks of the baseline that are missing from the run (a warning); by default
    /// a missing benchmark fails the gate.
    #[arg(long)]
    pub(crate) allow_missing: bool,
    /// Judge each p-value alone instead of controlling the false discovery rate across all
    /// benchmarks and metrics (Benjamini-Hochberg).
    #[arg(long)]
    pub(crate) no_fdr: bool,
    /// Output format on standard output.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: Format,
    /// Also write a report in FORMAT to FILE (repeatable), e.g. `--report junit=bench.xml`.
    #[arg(long = "report", value_name = "FORMAT=FILE", value_parser = parse_report)]
    pub(crate) reports: Vec<(Format, PathBuf)>,
    /// Show every metric, not only the gating ones.
    #[arg(long)]
    pub(crate) all_metrics: bool,
}

/// `FORMAT=FILE` of `--report`.
fn parse_environment_policy(text: &str) -> Result<EnvironmentPolicy, String> {
    match text {
        "warn" => Ok(EnvironmentPolicy::Warn),
        "refuse" => Ok(EnvironmentPolicy::Refuse),
        "ignore" => Ok(EnvironmentPolicy::Ignore),
        other => Err(format!("{other:?} is not a policy: warn, refuse or ignore")),
    }
}

fn parse_speed_probe_policy(text: &str) -> Result<SpeedProbePolicy, String> {
    match text {
        "widen" => Ok(SpeedProbePolicy::Widen),
        "ignore" => Ok(SpeedProbePolicy::Ignore),
        other => Err(format!("{other:?} is not a policy: widen or ignore")),
    }
}

impl CompareOptions {
    /// The flags the engine's settings take from this command line.
    #[must_use]
    pub(crate) fn flags(&self) -> CompareFlags {
        let mut flags = CompareFlags::default();
        flags.threshold = self.threshold;
        flags.alpha = self.alpha;
        flags.gate_metrics.clone_from(&self.gate_metrics);
        flags.fail_on_inconclusive = self.fail_on_inconclusive;
        flags.fail_on = self.fail_on;
        flags.allow_missing = self.allow_missing;
        flags.no_fdr = self.no_fdr;
        flags
    }
}

/// `1GiB`, `500MiB`, `2GB`, or a number of bytes.
fn parse_size(text: &str) -> Result<u64, String> {
    if let Ok(bytes) = text.trim().parse::<u64>() {
        return Ok(bytes);
    }
    let limit = benchkeep_core::compare::Limit::parse(text).map_err(|e| e.to_string())?;
    if limit.unit != benchkeep_core::model::Unit::bytes() {
        return Err(format!("{text:?} is not a size (e.g. 1GiB, 500MiB, 2GB)"));
    }
    // A size in bytes: whole and far below 2^64.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(limit.value.round() as u64)
}

fn parse_severity(text: &str) -> Result<Severity, String> {
    match text {
        "minor" => Ok(Severity::Minor),
        "moderate" => Ok(Severity::Moderate),
        "critical" => Ok(Severity::Critical),
        other => Err(format!(
            "{other:?} is not a severity: minor, moderate or critical"
        )),
    }
}

fn parse_report(text: &str) -> Result<(Format, PathBuf), String> {
    let (format, file) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not FORMAT=FILE (e.g. junit=bench.xml)"))?;
    let format = Format::from_str(format, true).map_err(|_| {
        let names: Vec<String> = Format::value_variants()
            .iter()
            .filter_map(|f| f.to_possible_value().map(|v| v.get_name().to_owned()))
            .collect();
        format!(
            "unknown report format {format:?}; expected one of {}",
            names.join(", ")
        )
    })?;
    if file.is_empty() {
        return Err(format!("{text:?} names no file"));
    }
    Ok((format, PathBuf::from(file)))
}

/// Output formats of `trend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum TrendFormat {
    /// A table for terminals and CI logs.
    #[default]
    Text,
    /// The versioned trend document.
    Json,
}

/// Arguments of `check`.
// Independent switches of one command (--require-baseline, --confirm, --merge-base, ...).
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Args, Clone)]
pub(crate) struct CheckArgs {
    /// How to measure.
    #[command(flatten)]
    pub(crate) measure: MeasureArgs,
    /// The baseline key.
    #[command(flatten)]
    pub(crate) key: KeyArgs,
    /// Where the run goes.
    #[command(flatten)]
    pub(crate) record: RecordArgs,
    /// How to compare.
    #[command(flatten)]
    pub(crate) compare: CompareOptions,
    /// Check this run file instead of measuring.
    #[arg(long, value_name = "FILE", conflicts_with_all = [
        "command", "commands", "setup", "prepare", "conclude", "cleanup", "parameter_scan",
        "parameter_list", "export_json", "export_markdown", "export_csv", "input", "check_output",
        "ignore_failure", "warmup", "shell",
        "no_shell", "timeout", "min_runs", "min_time", "max_runs", "show_output",
        "instructions", "name", "benches", "keep_background",
    ])]
    pub(crate) run: Option<PathBuf>,
    /// Exit 3 instead of creating the baseline when there is none yet.
    #[arg(long)]
    pub(crate) require_baseline: bool,
    /// Measure benchmarks that look regressed again before the verdict is final.
    #[arg(long, conflicts_with_all = ["run", "import"])]
    pub(crate) confirm: bool,
    /// Check another harness's results instead of measuring: `--import hyperfine out.json`
    /// (formats: see `benchkeep import --help`; FILE may be `-`).
    #[arg(long, num_args = 2, value_names = ["FORMAT", "FILE"], conflicts_with_all = [
        "command", "run", "commands", "setup", "prepare", "conclude", "cleanup",
        "parameter_scan", "parameter_list", "export_json", "export_markdown", "export_csv",
        "input", "check_output", "ignore_failure",
    ])]
    pub(crate) import: Vec<String>,
    /// How `--import` reads its input.
    #[command(flatten)]
    pub(crate) read: ImportFlags,
    /// Compare with the baseline of this branch (same platform) instead of the run's own
    /// branch: a pull request against its base branch. The run is still recorded under its own
    /// key.
    #[arg(long, value_name = "BRANCH")]
    pub(crate) baseline_branch: Option<String>,
    /// With git: compare with the runs recorded at the merge-base of HEAD and the baseline
    /// branch (--baseline-branch, or the pull request's base branch from CI), when there are
    /// any; else with the baseline branch's baseline.
    #[arg(long)]
    pub(crate) merge_base: bool,
    /// After a passing check on this branch, add the run to its baseline (compare-and-swap,
    /// retried on a concurrent update; the oldest runs leave beyond `[compare] promote_keep`,
    /// default 10). Only a CI job for a push to that branch promotes, from a clean tree; a
    /// pull-request job never does, whatever --branch says. On any other branch the baseline is
    /// never touched.
    #[arg(long, value_name = "BRANCH")]
    pub(crate) promote_on: Option<String>,
    /// Vouch for a run outside CI (or one without git information) so that it may be promoted
    /// on the promote branch; a dirty tree, a pull request or a failed gate still never is.
    #[arg(long)]
    pub(crate) promote: bool,
    /// When the machine differs from the baseline's: warn (default), refuse, or ignore.
    #[arg(long, value_name = "POLICY", value_parser = parse_environment_policy)]
    pub(crate) environment: Option<EnvironmentPolicy>,
    /// A pull request: measure its base and this checkout in paired rounds in this job, so
    /// machine drift between jobs cannot pass for a code change. The base is REV, or the
    /// merge-base of HEAD with the pull request's base branch (`GITHUB_BASE_REF`,
    /// `CI_MERGE_REQUEST_TARGET_BRANCH_NAME`, or `BENCHKEEP_BASE_BRANCH`), built with `[ab]
    /// build` or --build in a cached worktree (`[pr] worktree_dir`). Nothing is recorded and no
    /// baseline changes.
    #[arg(
        long,
        value_name = "REV",
        num_args = 0..=1,
        conflicts_with_all = [
            "run", "import", "baseline_branch", "merge_base", "promote_on", "require_baseline",
            "environment", "out", "runs", "min_time", "min_runs", "max_runs", "instructions",
            "commands", "setup", "prepare", "conclude", "cleanup", "parameter_scan",
            "parameter_list", "export_json", "export_markdown", "export_csv", "input",
            "check_output", "ignore_failure",
        ]
    )]
    #[allow(clippy::option_option)] // absent, `--pr` (find the merge-base), `--pr REV`
    pub(crate) pr: Option<Option<String>>,
    /// With --pr: the build command, run through `sh -c` in the base worktree and in this
    /// checkout (default: `[ab] build`).
    #[arg(long, value_name = "COMMAND", requires = "pr")]
    pub(crate) build: Option<String>,
    /// With --pr: rounds; each runs base and head once (default 30, or `[ab] rounds`).
    #[arg(long, value_name = "N", requires = "pr")]
    pub(crate) rounds: Option<u32>,
    /// With --pr: seed of the per-round order (default: fresh each time).
    #[arg(long, requires = "pr")]
    pub(crate) seed: Option<u64>,
    /// With --pr: keep measuring inconclusive benchmarks up to this many rounds in all
    /// (default 4 x --rounds; equal to --rounds: one look, no adaptive rounds).
    #[arg(long, value_name = "N", requires = "pr")]
    pub(crate) max_rounds: Option<u32>,
    /// Stop measuring inconclusive benchmarks again when the next batch would end past this
    /// many seconds of measuring (default 4 x the first batch's time).
    #[arg(long, value_name = "SECONDS", conflicts_with_all = ["run", "import"])]
    pub(crate) max_time: Option<f64>,
    /// Measure benchmarks whose gating metric is inconclusive again, up to this many looks in
    /// all, with alpha spent across them (default 4; 1: no adaptive runs). With --pr, see
    /// --max-rounds.
    #[arg(long, value_name = "N", conflicts_with_all = ["run", "import", "pr"])]
    pub(crate) max_looks: Option<u32>,
    /// What history verdicts do when this job's machine ran faster or slower than any of the
    /// baseline's jobs, by the speed probe: widen the interval by the difference (default), or
    /// ignore the probe.
    #[arg(
        long,
        value_name = "POLICY",
        conflicts_with = "pr",
        value_parser = parse_speed_probe_policy
    )]
    pub(crate) speed_probe: Option<SpeedProbePolicy>,
}

/// Arguments of `ab`.
#[derive(Debug, Args, Clone)]
pub(crate) struct AbArgs {
    /// The base command (run through `sh -c`).
    #[arg(
        long,
        value_name = "COMMAND",
        requires = "head",
        conflicts_with = "base_ref"
    )]
    pub(crate) base: Option<String>,
    /// The head command (run through `sh -c`).
    #[arg(long, value_name = "COMMAND", requires = "base")]
    pub(crate) head: Option<String>,
    /// Build this git revision in a temporary worktree (with `[ab] build` or --build) and use
    /// it as the base; the head is the current checkout. Runs the command after `--` (or the
    /// configured benchmarks) on both.
    #[arg(long, value_name = "REV")]
    pub(crate) base_ref: Option<String>,
    /// With --base-ref: the build command (run through `sh -c` in each tree).
    #[arg(long, value_name = "COMMAND", requires = "base_ref")]
    pub(crate) build: Option<String>,
    /// Benchmark name (default: "ab", or the command with --base-ref).
    #[arg(long, short)]
    pub(crate) name: Option<String>,
    /// Rounds; each runs base and head once (default 30).
    #[arg(long, value_name = "N")]
    pub(crate) rounds: Option<u32>,
    /// Keep measuring inconclusive benchmarks up to this many rounds in all, in batches of
    /// --rounds (as many as fit), with alpha spent across the looks (default 4 x --rounds; equal
    /// to --rounds: one look, no adaptive rounds).
    #[arg(long, value_name = "N")]
    pub(crate) max_rounds: Option<u32>,
    /// Stop adding rounds when the next batch would end past this many seconds (default 4 x
    /// the first batch's time).
    #[arg(long, value_name = "SECONDS")]
    pub(crate) max_time: Option<f64>,
    /// Unmeasured warm-up runs of each side (default 1).
    #[arg(long, short, value_name = "N")]
    pub(crate) warmup: Option<u32>,
    /// Kill a run's whole process group after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub(crate) timeout: Option<f64>,
    /// Show the commands' output instead of discarding it.
    #[arg(long)]
    pub(crate) show_output: bool,
    /// Leave what the commands start in the background running (by default it is killed
    /// after each execution).
    #[arg(long)]
    pub(crate) keep_background: bool,
    /// Run more rounds of benchmarks that look regressed before the verdict is final.
    #[arg(long)]
    pub(crate) confirm: bool,
    /// Seed of the per-round order (default: fresh each time).
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Only the [[bench]] entries of benchkeep.toml with these names.
    #[arg(long = "bench", value_name = "NAME")]
    pub(crate) benches: Vec<String>,
    /// How to compare (the threshold defaults to 2% in paired mode, or `[ab] threshold`).
    #[command(flatten)]
    pub(crate) compare: CompareOptions,
    /// With --base-ref: the command to measure on both sides, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    pub(crate) command: Vec<String>,
}

/// Arguments of `trend`.
#[derive(Debug, Args, Clone)]
pub(crate) struct TrendArgs {
    /// Only benchmarks with this name (or glob).
    pub(crate) name: Option<String>,
    /// The key whose recorded runs form the history.
    #[command(flatten)]
    pub(crate) key: KeyArgs,
    /// The metric to follow (default: each benchmark's first).
    #[arg(long)]
    pub(crate) metric: Option<String>,
    /// Analyse the newest N jobs (default 100).
    #[arg(long, value_name = "N")]
    pub(crate) window: Option<usize>,
    /// Smallest step to report, in percent (default 5).
    #[arg(long, value_name = "PERCENT")]
    pub(crate) min_change: Option<f64>,
    /// Significance of a change point, by permutation test (default 0.01).
    #[arg(long, value_name = "P")]
    pub(crate) p_value: Option<f64>,
    /// Exit 1 when a change point or a degrading correlation trend is found.
    #[arg(long)]
    pub(crate) fail_on_change: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: TrendFormat,
}

/// `store` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum StoreCommand {
    /// Try, now, what the store's correctness rests on: for S3, that a create-only put of an
    /// existing key and a put with a stale `ETag` are refused and that a written object is listed
    /// and read back at once (a passing probe is remembered for a day; this probes again).
    /// Exit 0 when everything holds, 2 naming what does not.
    Check,
}

/// `baseline` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum BaselineCommand {
    /// Make the baseline of a key from runs (default: the newest run of the key).
    Set(BaselineSetArgs),
    /// Show the baseline of a key.
    Show(BaselineShowArgs),
    /// List every baseline in the store.
    List,
    /// Accept an intentional slowdown: a run (default: the key's newest) becomes the baseline,
    /// with the reason and its commit, shown in reports and `baseline history`.
    Accept(BaselineAcceptArgs),
    /// List how a key's baseline came to be: created, promoted, set, replaced, accepted.
    History(BaselineHistoryArgs),
    /// Delete a key's baseline (its runs are kept).
    Delete(BaselineDeleteArgs),
}

/// Arguments of `baseline accept`.
#[derive(Debug, Args)]
pub(crate) struct BaselineAcceptArgs {
    /// Why the slowdown is accepted (shown in reports and `baseline history`).
    #[arg(long, value_name = "TEXT")]
    pub(crate) reason: String,
    /// The run to accept: a run id from the store or a run file (default: the newest run of the
    /// key).
    #[arg(long = "from", value_name = "RUN_ID|FILE")]
    pub(crate) from: Option<String>,
    /// Replace a baseline that cannot be read.
    #[arg(long)]
    pub(crate) force: bool,
    /// The baseline key.
    #[command(flatten)]
    pub(crate) key: KeyArgs,
}

/// Arguments of `baseline history`.
#[derive(Debug, Args)]
pub(crate) struct BaselineHistoryArgs {
    /// The baseline key.
    #[command(flatten)]
    pub(crate) key: KeyArgs,
    /// Print the changes as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Arguments of `baseline delete`.
#[derive(Debug, Args)]
pub(crate) struct BaselineDeleteArgs {
    /// The key, as `baseline list` prints it (`BRANCH@PLATFORM`), or give --branch/--platform;
    /// one of them is required.
    #[arg(value_name = "KEY")]
    pub(crate) name: Option<String>,
    /// The baseline key.
    #[command(flatten)]
    pub(crate) key: KeyArgs,
}

/// Arguments of `baseline set`.
#[derive(Debug, Args)]
pub(crate) struct BaselineSetArgs {
    /// Runs to pool: run ids from the store, or run files (repeatable).
    #[arg(long = "from", value_name = "RUN_ID|FILE")]
    pub(crate) from: Vec<String>,
    /// Pool the newest N runs of the key.
    #[arg(long, value_name = "N", conflicts_with = "from")]
    pub(crate) last: Option<usize>,
    /// Replace a baseline that cannot be read (corrupt, truncated, another format), saying what
    /// is replaced.
    #[arg(long)]
    pub(crate) force: bool,
    /// The baseline key.
    #[command(flatten)]
    pub(crate) key: KeyArgs,
}

/// Arguments of `baseline show`.
#[derive(Debug, Args)]
pub(crate) struct BaselineShowArgs {
    /// The baseline key.
    #[command(flatten)]
    pub(crate) key: KeyArgs,
    /// Print the stored document as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Arguments of `compare`.
#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    /// The reference run: a run file or a run id in the store.
    pub(crate) base: String,
    /// The run compared with it.
    pub(crate) head: String,
    /// How to compare.
    #[command(flatten)]
    pub(crate) compare: CompareOptions,
}

#[cfg(test)]
mod tests {
    use super::*;
    use benchkeep_engine::init::StoreKind;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Valid and invalid command lines, table-driven.
    #[test]
    fn command_lines() {
        let ok = [
            "benchkeep run -- true",
            "benchkeep run --name nap --runs 5 --warmup 0 -- sleep 0.01",
            "benchkeep check --name nap -- sleep 0.02",
            "benchkeep check --run run.json --format json",
            "benchkeep check --threshold 5 --gate-metric wall_time --gate-metric peak_rss -- true",
            "benchkeep baseline set --last 3",
            "benchkeep baseline set --from a.json --from b.json",
            "benchkeep baseline show --branch main --platform linux-x86_64",
            "benchkeep baseline list",
            "benchkeep compare a.json b.json --format markdown",
            "benchkeep prune --keep-last 100",
            "benchkeep prune --older-than 30 --dry-run",
            "benchkeep --store file:///tmp/s run -- true",
            "benchkeep ab --base ./old --head ./new",
            "benchkeep ab --base ./old --head ./new --rounds 20 --confirm --threshold 3",
            "benchkeep ab --base-ref main -- ./bench",
            "benchkeep ab --base-ref HEAD~1 --build make --bench parse",
            "benchkeep check --confirm --no-fdr -- true",
            "benchkeep run --instructions -- true",
            "benchkeep trend",
            "benchkeep trend parse --window 50 --min-change 3 --fail-on-change",
            "benchkeep suite --quick --out suite.json --no-record",
            "benchkeep suite --workload fast_function --workload cpu_intensive --branch main",
            "benchkeep import --format criterion target/criterion",
            "benchkeep import -f hyperfine - --branch main",
            "benchkeep check --import hyperfine out.json --format github --report junit=b.xml --report markdown=c.md",
            "benchkeep check --baseline-branch main --merge-base --promote-on main -- true",
            "benchkeep check --pr -- ./bench",
            "benchkeep check --pr origin/main --build make --rounds 10 --seed 7 -- ./bench",
            "benchkeep check --pr --format github --report junit=b.xml --confirm --bench parse",
            "benchkeep check --environment refuse --format csv -- true",
            "benchkeep compare a.json b.json --report alert=issue.md",
            "benchkeep init --ci github --store git",
            "benchkeep completions bash",
            "benchkeep man",
            "benchkeep --color never -v run -- true",
            "benchkeep report --out site",
            "benchkeep report --out site --key main@linux-x86_64 --since 2026-11-01 --serve",
            "benchkeep --store git: report --out site --serve 9000 --max-runs 200",
            "benchkeep load --concurrency 1,2 --duration 2s --ramp-up 200ms -- ./client",
            "benchkeep load --ramp 1..8 --rate 500 --timeout 1s -- ./client",
            "benchkeep load --leak-check --iterations 5000 -- ./worker",
        ];
        for line in ok {
            let parsed = Cli::try_parse_from(line.split_whitespace());
            assert!(parsed.is_ok(), "{line}: {}", parsed.unwrap_err());
        }
        let bad = [
            "benchkeep",
            "benchkeep run --runs many -- true",
            "benchkeep check --run r.json -- true",
            "benchkeep baseline set --last 3 --from x",
            "benchkeep compare only-one",
            "benchkeep check --format yaml -- true",
            "benchkeep frobnicate",
            "benchkeep ab --base ./old",
            "benchkeep ab --base ./old --head ./new --base-ref main",
            "benchkeep ab --build make",
            "benchkeep check --confirm --run r.json",
            "benchkeep check --import hyperfine",
            "benchkeep check --import hyperfine out.json -- true",
            "benchkeep check --report junit -- true",
            "benchkeep check --report yaml=x -- true",
            "benchkeep check --environment sometimes -- true",
            "benchkeep check --pr --promote-on main -- true",
            "benchkeep check --pr --baseline-branch main -- true",
            "benchkeep check --pr --run r.json",
            "benchkeep check --pr --runs 5 -- true",
            "benchkeep check --rounds 5 -- true",
            "benchkeep check --build make -- true",
            "benchkeep import out.json",
            "benchkeep completions tcsh",
            "benchkeep -q -v run -- true",
            "benchkeep report",
            "benchkeep report --out site --serve http",
            "benchkeep load --concurrency 1,2 --ramp 1..4 -- x",
            "benchkeep load --leak-check --concurrency 2 -- x",
            "benchkeep load --iterations 5 -- x",
        ];
        for line in bad {
            assert!(
                Cli::try_parse_from(line.split_whitespace()).is_err(),
                "{line} was accepted"
            );
        }
    }

    /// The `benchkeep check` line of each generated job, as it runs on a pull request and on the
    /// main branch, is a command line benchkeep accepts: `--pr` on one, `--promote-on` on the
    /// other.
    #[test]
    fn generated_jobs_run_valid_check_command_lines() {
        let accepts = |what: &str, line: &str| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let parsed = Cli::try_parse_from(&words);
            assert!(parsed.is_ok(), "{what}: {line}: {}", parsed.unwrap_err());
        };
        for store in [StoreKind::Fs, StoreKind::Git, StoreKind::S3] {
            let github = benchkeep_engine::init::github_workflow(store, "trunk", Some("make"));
            let start = github.find("benchkeep check").unwrap();
            let end = ["\n        env:", "\n      - name"]
                .iter()
                .filter_map(|m| github[start..].find(m))
                .min()
                .unwrap();
            let block = &github[start..start + end];
            let choice =
                "${{ github.event_name == 'pull_request' && '--pr' || '--promote-on trunk' }}";
            assert!(block.contains(choice), "{block}");
            for (event, mode) in [("pull request", "--pr"), ("push", "--promote-on trunk")] {
                accepts(
                    &format!("{store:?} github {event}"),
                    &block.replace(choice, mode),
                );
            }
            // The trend job's one-line commands.
            let one_liners: Vec<&str> = github
                .lines()
                .filter_map(|l| l.trim().strip_prefix("run: benchkeep "))
                .collect();
            assert_eq!(one_liners.len(), 2, "{github}");
            for line in one_liners {
                accepts(
                    &format!("{store:?} github trend"),
                    &format!("benchkeep {line}"),
                );
            }
            assert!(github.contains("branches: [\"trunk\"]"));
            assert!(github.contains("path: target/benchkeep-base"));
            assert_eq!(store == StoreKind::Git, github.contains("contents: write"));
            assert_eq!(store == StoreKind::Fs, github.contains("path: .benchkeep"));
            assert_eq!(
                store == StoreKind::S3,
                github.contains("AWS_SECRET_ACCESS_KEY")
            );

            let gitlab = benchkeep_engine::init::gitlab_job(store, "trunk", Some("make"));
            assert!(
                gitlab.contains(
                    "MODE=$([ -n \"$CI_MERGE_REQUEST_IID\" ] && echo --pr || echo --promote-on trunk)"
                ),
                "{gitlab}"
            );
            let line = gitlab
                .lines()
                .find(|l| l.contains("- benchkeep check"))
                .unwrap()
                .trim_start_matches([' ', '-']);
            for (event, mode) in [("merge request", "--pr"), ("push", "--promote-on trunk")] {
                accepts(
                    &format!("{store:?} gitlab {event}"),
                    &line.replace("$MODE", mode),
                );
            }
            for line in gitlab
                .lines()
                .filter_map(|l| l.trim().strip_prefix("- benchkeep "))
            {
                if !line.starts_with("check") {
                    accepts(
                        &format!("{store:?} gitlab trend"),
                        &format!("benchkeep {line}"),
                    );
                }
            }
            assert!(gitlab.contains("junit: benchkeep.xml"));
            assert!(gitlab.contains("paths: [target/benchkeep-base/]"));
            assert_eq!(
                store == StoreKind::Fs,
                gitlab.contains("paths: [.benchkeep/]")
            );
        }
    }
}
