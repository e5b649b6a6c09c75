//! The command line, as clap parses it. Validation into settings happens in the commands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Catch performance regressions before they merge.
///
/// benchkeep measures commands (wall time, CPU time, peak memory), keeps results and baselines in
/// a store, and compares each run with its baseline using statistics that say "inconclusive" when
/// the data cannot decide.
///
/// Exit codes: 0 pass, 1 regression, 2 usage or tool error, 3 no baseline where one is required,
/// 130 interrupted.
#[derive(Debug, Parser)]
#[command(
    name = "benchkeep",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Where runs and baselines are kept: `file://PATH` (default: .benchkeep/ at the repository
    /// root), `git:[BRANCH]`, `s3://BUCKET/PREFIX`.
    #[arg(long, global = true, env = "BENCHKEEP_STORE", value_name = "URL")]
    pub store: Option<String>,

    /// The configuration file (default: benchkeep.toml in the current directory or repository root).
    #[arg(long, global = true, env = "BENCHKEEP_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print only results and errors: no progress, no notices.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// The command to run.
    #[command(subcommand)]
    pub command: Commands,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Measure a command (or the benchmarks in benchkeep.toml) and record the run.
    Run(RunArgs),
    /// Measure (or load) a run and compare it with the baseline of its key; exit 1 on a regression.
    Check(CheckArgs),
    /// Manage baselines.
    #[command(subcommand)]
    Baseline(BaselineCommand),
    /// Compare two runs (files or run ids); exit 1 on a regression.
    Compare(CompareArgs),
    /// Paired A/B comparison on this machine: rounds run base and head back to back in random
    /// order; exit 1 when head regressed.
    Ab(AbArgs),
    /// Find step changes and slow drifts in each benchmark's recorded history.
    Trend(TrendArgs),
    /// Delete old runs (never the runs a baseline was built from).
    Prune(PruneArgs),
    /// Run the standard workload suite: the parallelism optimizer's plan against serial and an
    /// exhaustive sweep on five workloads; record the run (speedup, accuracy, times, the plan).
    Suite(SuiteArgs),
}

/// Arguments of `suite`.
#[derive(Debug, Args)]
pub struct SuiteArgs {
    /// Shorter samples and fewer repetitions (for CI; well under 30 s on 2 cores).
    #[arg(long)]
    pub quick: bool,
    /// Only these workloads (repeatable; default: all five, see docs/optimizer.md).
    #[arg(long = "workload", value_name = "NAME")]
    pub workloads: Vec<String>,
    /// The baseline key.
    #[command(flatten)]
    pub key: KeyArgs,
    /// Where the run goes.
    #[command(flatten)]
    pub record: RecordArgs,
}

/// Arguments of `prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Keep the newest N runs of each key.
    #[arg(long, value_name = "N")]
    pub keep_last: Option<usize>,
    /// Delete runs older than this many days.
    #[arg(long, value_name = "DAYS")]
    pub older_than: Option<u32>,
    /// Only runs of the key given by --branch/--platform (default: every key).
    #[arg(long)]
    pub only_key: bool,
    /// The key, with --only-key.
    #[command(flatten)]
    pub key: KeyArgs,
    /// List what would be deleted; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// git store only: afterwards rewrite the data branch as one commit (a force-push).
    #[arg(long)]
    pub squash_history: bool,
}

/// How to measure.
#[derive(Debug, Args, Clone, Default)]
pub struct MeasureArgs {
    /// Benchmark name (default: the command line).
    #[arg(long, short)]
    pub name: Option<String>,
    /// Exactly this many measured runs (default: at least 10 and at least --min-time).
    #[arg(long, short, value_name = "N")]
    pub runs: Option<u32>,
    /// Unmeasured warm-up runs (default 1).
    #[arg(long, short, value_name = "N")]
    pub warmup: Option<u32>,
    /// With an automatic run count: measure for at least this many seconds (default 1).
    #[arg(long, value_name = "SECONDS")]
    pub min_time: Option<f64>,
    /// With an automatic run count: fewest runs (default 10).
    #[arg(long, value_name = "N")]
    pub min_runs: Option<u32>,
    /// With an automatic run count: most runs (default 10000).
    #[arg(long, value_name = "N")]
    pub max_runs: Option<u32>,
    /// Kill a run's whole process group after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Run the command through `sh -c` (one string) instead of executing it directly.
    #[arg(long)]
    pub shell: bool,
    /// Show the command's output instead of discarding it.
    #[arg(long)]
    pub show_output: bool,
    /// Also count instructions with valgrind's callgrind (a low-noise metric; slow).
    #[arg(long)]
    pub instructions: bool,
    /// Only the [[bench]] entries of benchkeep.toml with these names.
    #[arg(long = "bench", value_name = "NAME")]
    pub benches: Vec<String>,
    /// The command to measure, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Which baseline key a run belongs to, and what is recorded.
#[derive(Debug, Args, Clone, Default)]
pub struct KeyArgs {
    /// Branch part of the baseline key (default: from CI or git, else "default").
    #[arg(long, env = "BENCHKEEP_BRANCH")]
    pub branch: Option<String>,
    /// Platform part of the baseline key (default: os-arch, e.g. linux-x86_64).
    #[arg(long, env = "BENCHKEEP_PLATFORM")]
    pub platform: Option<String>,
}

/// Where the run goes.
#[derive(Debug, Args, Clone, Default)]
pub struct RecordArgs {
    /// Also write the run as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Do not record the run in the store.
    #[arg(long)]
    pub no_record: bool,
    /// A label for the run, KEY=VALUE (repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
}

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// How to measure.
    #[command(flatten)]
    pub measure: MeasureArgs,
    /// The baseline key.
    #[command(flatten)]
    pub key: KeyArgs,
    /// Where the run goes.
    #[command(flatten)]
    pub record: RecordArgs,
}

/// Output formats of comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// A table for terminals and CI logs.
    #[default]
    Text,
    /// The versioned verdict document (see docs/FORMAT.md).
    Json,
    /// A table for pull-request comments.
    Markdown,
}

/// How comparisons decide.
#[derive(Debug, Args, Clone, Default)]
pub struct CompareOptions {
    /// Smallest change that counts, in percent (default 5; 2 in paired mode).
    #[arg(long, value_name = "PERCENT")]
    pub threshold: Option<f64>,
    /// Significance level (default 0.05).
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Gate on these metrics (repeatable; "all" for every metric; default: each benchmark's first).
    #[arg(long = "gate-metric", value_name = "METRIC")]
    pub gate_metrics: Vec<String>,
    /// Fail the gate when a gating metric is inconclusive.
    #[arg(long)]
    pub fail_on_inconclusive: bool,
    /// Judge each p-value alone instead of controlling the false discovery rate across all
    /// benchmarks and metrics (Benjamini-Hochberg).
    #[arg(long)]
    pub no_fdr: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Show every metric, not only the gating ones.
    #[arg(long)]
    pub all_metrics: bool,
}

/// Arguments of `check`.
#[derive(Debug, Args, Clone)]
pub struct CheckArgs {
    /// How to measure.
    #[command(flatten)]
    pub measure: MeasureArgs,
    /// The baseline key.
    #[command(flatten)]
    pub key: KeyArgs,
    /// Where the run goes.
    #[command(flatten)]
    pub record: RecordArgs,
    /// How to compare.
    #[command(flatten)]
    pub compare: CompareOptions,
    /// Check this run file instead of measuring.
    #[arg(long, value_name = "FILE", conflicts_with = "command")]
    pub run: Option<PathBuf>,
    /// Exit 3 instead of creating the baseline when there is none yet.
    #[arg(long)]
    pub require_baseline: bool,
    /// Measure benchmarks that look regressed again before the verdict is final.
    #[arg(long, conflicts_with = "run")]
    pub confirm: bool,
}

/// Arguments of `ab`.
#[derive(Debug, Args, Clone)]
pub struct AbArgs {
    /// The base command (run through `sh -c`).
    #[arg(
        long,
        value_name = "COMMAND",
        requires = "head",
        conflicts_with = "base_ref"
    )]
    pub base: Option<String>,
    /// The head command (run through `sh -c`).
    #[arg(long, value_name = "COMMAND", requires = "base")]
    pub head: Option<String>,
    /// Build this git revision in a temporary worktree (with `[ab] build` or --build) and use
    /// it as the base; the head is the current checkout. Runs the command after `--` (or the
    /// configured benchmarks) on both.
    #[arg(long, value_name = "REV")]
    pub base_ref: Option<String>,
    /// With --base-ref: the build command (run through `sh -c` in each tree).
    #[arg(long, value_name = "COMMAND", requires = "base_ref")]
    pub build: Option<String>,
    /// Benchmark name (default: "ab", or the command with --base-ref).
    #[arg(long, short)]
    pub name: Option<String>,
    /// Rounds; each runs base and head once (default 30).
    #[arg(long, value_name = "N")]
    pub rounds: Option<u32>,
    /// Unmeasured warm-up runs of each side (default 1).
    #[arg(long, short, value_name = "N")]
    pub warmup: Option<u32>,
    /// Kill a run's whole process group after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Show the commands' output instead of discarding it.
    #[arg(long)]
    pub show_output: bool,
    /// Run more rounds of benchmarks that look regressed before the verdict is final.
    #[arg(long)]
    pub confirm: bool,
    /// Seed of the per-round order (default: fresh each time).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Only the [[bench]] entries of benchkeep.toml with these names.
    #[arg(long = "bench", value_name = "NAME")]
    pub benches: Vec<String>,
    /// How to compare (the threshold defaults to 2% in paired mode, or `[ab] threshold`).
    #[command(flatten)]
    pub compare: CompareOptions,
    /// With --base-ref: the command to measure on both sides, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Arguments of `trend`.
#[derive(Debug, Args, Clone)]
pub struct TrendArgs {
    /// Only benchmarks with this name (or glob).
    pub name: Option<String>,
    /// The key whose recorded runs form the history.
    #[command(flatten)]
    pub key: KeyArgs,
    /// The metric to follow (default: each benchmark's first).
    #[arg(long)]
    pub metric: Option<String>,
    /// Analyse the newest N jobs (default 100).
    #[arg(long, value_name = "N")]
    pub window: Option<usize>,
    /// Smallest step to report, in percent (default 5).
    #[arg(long, value_name = "PERCENT")]
    pub min_change: Option<f64>,
    /// Significance of a change point, by permutation test (default 0.01).
    #[arg(long, value_name = "P")]
    pub p_value: Option<f64>,
    /// Exit 1 when a change point or a degrading correlation trend is found.
    #[arg(long)]
    pub fail_on_change: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// `baseline` subcommands.
#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Make the baseline of a key from runs (default: the newest run of the key).
    Set(BaselineSetArgs),
    /// Show the baseline of a key.
    Show(BaselineShowArgs),
    /// List every baseline in the store.
    List,
}

/// Arguments of `baseline set`.
#[derive(Debug, Args)]
pub struct BaselineSetArgs {
    /// Runs to pool: run ids from the store, or run files (repeatable).
    #[arg(long = "from", value_name = "RUN_ID|FILE")]
    pub from: Vec<String>,
    /// Pool the newest N runs of the key.
    #[arg(long, value_name = "N", conflicts_with = "from")]
    pub last: Option<usize>,
    /// The baseline key.
    #[command(flatten)]
    pub key: KeyArgs,
}

/// Arguments of `baseline show`.
#[derive(Debug, Args)]
pub struct BaselineShowArgs {
    /// The baseline key.
    #[command(flatten)]
    pub key: KeyArgs,
    /// Print the stored document as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The reference run: a run file or a run id in the store.
    pub base: String,
    /// The run compared with it.
    pub head: String,
    /// How to compare.
    #[command(flatten)]
    pub compare: CompareOptions,
}

#[cfg(test)]
mod tests {
    use super::*;
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
        ];
        for line in bad {
            assert!(
                Cli::try_parse_from(line.split_whitespace()).is_err(),
                "{line} was accepted"
            );
        }
    }
}
