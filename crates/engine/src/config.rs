//! `benchkeep.toml`: strict configuration (unknown keys are errors naming the key).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// `Err(ConfigError::Invalid(format!(...)))`, the file's validation failures.
macro_rules! invalid {
    ($($arg:tt)*) => {
        return Err(ConfigError::Invalid(format!($($arg)*)))
    };
}

/// The configuration file name looked for in the current directory and the repository root.
pub const CONFIG_FILE: &str = "benchkeep.toml";

/// The whole configuration file.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Store URL; relative `file://` paths are relative to the configuration file.
    pub store: Option<String>,
    /// Branch part of baseline keys.
    pub branch: Option<String>,
    /// Platform part of baseline keys.
    pub platform: Option<String>,
    /// Measurement defaults for every benchmark.
    #[serde(default)]
    pub run: RunDefaults,
    /// How comparisons decide.
    #[serde(default)]
    pub compare: CompareSection,
    /// Paired (A/B) mode settings.
    #[serde(default)]
    pub ab: AbSection,
    /// `benchkeep load` defaults.
    #[serde(default)]
    pub load: LoadSection,
    /// `check --pr`: where base worktrees are kept.
    #[serde(default)]
    pub pr: PrSection,
    /// The benchmarks `benchkeep run` measures when given no command.
    #[serde(default)]
    pub bench: Vec<BenchConfig>,
    /// Per-benchmark comparison settings, by exact name or glob; the most specific wins.
    #[serde(default)]
    pub policy: Vec<PolicyConfig>,
    /// Where the file was read from (not a key in the file).
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

/// `[run]`: measurement defaults.
#[derive(Debug, Default, Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RunDefaults {
    /// Exactly this many runs.
    pub runs: Option<u32>,
    /// Warm-up runs.
    pub warmup: Option<u32>,
    /// Seconds of measurement with an automatic run count.
    pub min_time: Option<f64>,
    /// Fewest runs with an automatic run count.
    pub min_runs: Option<u32>,
    /// Most runs with an automatic run count.
    pub max_runs: Option<u32>,
    /// Seconds before a run's process group is killed.
    pub timeout: Option<f64>,
}

/// `[compare]`: comparison settings.
#[derive(Debug, Default, Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct CompareSection {
    /// Smallest change that counts, in percent.
    pub threshold: Option<f64>,
    /// Significance level.
    pub alpha: Option<f64>,
    /// Removed (intervals follow `alpha`); kept so a config that sets it gets a clear error.
    pub confidence: Option<f64>,
    /// `check`: most looks when inconclusive benchmarks are measured again (default 4).
    pub max_looks: Option<u32>,
    /// `check`: most seconds of measuring with adaptive runs (default 4 x the first batch).
    pub max_time: Option<f64>,
    /// Moderate small samples' variances across the suite (default true).
    pub moderation: Option<bool>,
    /// `check`: what history verdicts do with the speed probe (`widen`, the default, or
    /// `ignore`).
    pub speed_probe: Option<SpeedProbePolicy>,
    /// Bootstrap resamples.
    pub resamples: Option<usize>,
    /// Bootstrap seed.
    pub seed: Option<u64>,
    /// Fewest samples per side for a verdict.
    pub min_samples: Option<usize>,
    /// `"primary"`, `"all"`, or a list of metric names.
    pub gate: Option<GateSetting>,
    /// Whether an inconclusive gating metric fails.
    pub fail_on_inconclusive: Option<bool>,
    /// The least severity of regression that fails the gate: `minor` (default), `moderate`
    /// or `critical`; smaller regressions are warnings.
    pub fail_on: Option<benchkeep_core::compare::Severity>,
    /// Whether a benchmark of the baseline may be missing from a run (default false).
    pub allow_missing: Option<bool>,
    /// Severity bands, in percent.
    pub severity: Option<SeveritySection>,
    /// Benjamini-Hochberg false discovery control across benchmarks and metrics (default true).
    pub fdr: Option<bool>,
    /// Fewest past jobs in a baseline for the history method (default 5).
    pub min_history: Option<usize>,
    /// Compare with this branch's baseline (`check --baseline-branch`).
    pub baseline_branch: Option<String>,
    /// After a passing check on this branch, add the run to its baseline (`check --promote-on`).
    pub promote_on: Option<String>,
    /// How many runs a promoted baseline keeps, newest first (default 10).
    pub promote_keep: Option<usize>,
    /// Warn when the baseline is older than this many days (default 30; 0: never).
    pub max_age_days: Option<u32>,
    /// What to do when the machine differs from the baseline's: `warn`, `refuse`, `ignore`.
    pub environment: Option<EnvironmentPolicy>,
}

/// `[load]`: defaults of `benchkeep load`.
#[derive(Debug, Default, Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct LoadSection {
    /// Concurrency levels.
    pub concurrency: Option<Vec<usize>>,
    /// Time per level, ramp-up included (`10s`, `500ms`).
    pub duration: Option<String>,
    /// Ramp-up time.
    pub ramp_up: Option<String>,
    /// Target total rate, operations per second.
    pub rate: Option<f64>,
    /// Efficiency below which the scaling curve has passed its knee (default 0.8).
    pub knee_efficiency: Option<f64>,
}

/// `[ab]`: paired mode.
#[derive(Debug, Default, Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct AbSection {
    /// Rounds (each runs base and head once, in random order).
    pub rounds: Option<u32>,
    /// Unmeasured warm-up runs of each side.
    pub warmup: Option<u32>,
    /// Smallest change that counts in paired mode, in percent.
    pub threshold: Option<f64>,
    /// Most rounds in all when inconclusive benchmarks get more (default 4 x `rounds`).
    pub max_rounds: Option<u32>,
    /// Most seconds of measuring when inconclusive benchmarks get more rounds (default 4 x
    /// the first batch's time).
    pub max_time: Option<f64>,
    /// With `--base-ref`: how to build the base revision, run in its temporary worktree.
    pub build: Option<CommandLine>,
}

/// `[pr]`: the cached base worktrees of `check --pr`.
#[derive(Debug, Default, Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct PrSection {
    /// Where base worktrees are kept, one per base commit, relative to the configuration file
    /// (default: `target/benchkeep-base` at the repository root).
    pub worktree_dir: Option<PathBuf>,
    /// How many base worktrees to keep, newest first (default 3).
    pub keep: Option<usize>,
}

/// Which way a metric is better, as written in the file.
#[derive(Debug, Deserialize, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DirectionSetting {
    /// Smaller values are better (times, memory).
    LowerIsBetter,
    /// Larger values are better (throughput).
    HigherIsBetter,
}

/// One `[[policy]]`: comparison settings for the benchmarks whose names match.
#[derive(Debug, Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// An exact benchmark name, or a glob (`*`, `?`, `[abc]`, `{a,b}`).
    pub name: String,
    /// Smallest change that counts, in percent.
    pub threshold: Option<f64>,
    /// Significance level.
    pub alpha: Option<f64>,
    /// The metric(s) to gate on: a name, a list, `"primary"` or `"all"`.
    pub metric: Option<GateSetting>,
    /// Which way the gated metric is better.
    pub direction: Option<DirectionSetting>,
    /// Severity bands, in percent.
    pub severity: Option<SeveritySection>,
    /// The least severity of regression that fails the gate for these benchmarks.
    pub fail_on: Option<benchkeep_core::compare::Severity>,
    /// Whether these benchmarks may be missing from a run.
    pub allow_missing: Option<bool>,
    /// An absolute upper bound whatever the baseline: `"250ms"`, `"512MiB"`.
    pub max: Option<String>,
    /// An absolute lower bound whatever the baseline: `"1000/s"`.
    pub min: Option<String>,
}

/// `gate = "primary" | "all" | ["metric", ...]`.
#[derive(Debug, Deserialize, Serialize, Clone)]
#[serde(untagged)]
pub enum GateSetting {
    /// `"primary"` or `"all"`.
    Word(String),
    /// Metric names.
    Metrics(Vec<String>),
}

/// `[compare.severity]`, in percent.
#[derive(Debug, Deserialize, Serialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct SeveritySection {
    /// Regressions at least this large (percent) are moderate.
    pub moderate: f64,
    /// Regressions at least this large (percent) are critical.
    pub critical: f64,
}

/// A command given as one shell string or as an argument list.
#[derive(Debug, Deserialize, Serialize, Clone)]
#[serde(untagged)]
pub enum CommandLine {
    /// Run through `sh -c`.
    Shell(String),
    /// Executed directly.
    Argv(Vec<String>),
}

impl CommandLine {
    fn is_empty(&self) -> bool {
        match self {
            CommandLine::Shell(line) => line.trim().is_empty(),
            CommandLine::Argv(words) => words.is_empty(),
        }
    }

    /// The command as one shell line: a shell string as written, an argument list quoted word
    /// by word (for a CI step that runs it).
    #[must_use]
    pub fn shell_line(&self) -> String {
        match self {
            CommandLine::Shell(line) => line.clone(),
            CommandLine::Argv(words) => shlex::try_join(words.iter().map(String::as_str))
                // Only a NUL byte makes joining fail; TOML strings cannot hold one unescaped,
                // and a word with one could not run either.
                .unwrap_or_else(|_| words.join(" ")),
        }
    }

    /// The argument vector: a shell string runs through `sh -c`.
    #[must_use]
    pub fn argv(&self) -> Vec<String> {
        match self {
            CommandLine::Shell(line) => vec!["sh".to_owned(), "-c".to_owned(), line.clone()],
            CommandLine::Argv(words) => words.clone(),
        }
    }
}

/// One `[[bench]]`.
#[derive(Debug, Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct BenchConfig {
    /// The benchmark's name.
    pub name: String,
    /// What to run (`run`, `check`; in `ab --base-ref`, both sides).
    pub command: Option<CommandLine>,
    /// In `ab`: the base side (with `head`, instead of `command`).
    pub base: Option<CommandLine>,
    /// In `ab`: the head side.
    pub head: Option<CommandLine>,
    /// Also count instructions with callgrind (slow, but nearly free of noise).
    #[serde(default)]
    pub instructions: bool,
    /// Working directory, relative to the configuration file.
    pub cwd: Option<PathBuf>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Exactly this many runs (overrides `[run]`).
    pub runs: Option<u32>,
    /// Warm-up runs (overrides `[run]`).
    pub warmup: Option<u32>,
    /// Seconds of measurement (overrides `[run]`).
    pub min_time: Option<f64>,
    /// Fewest runs (overrides `[run]`).
    pub min_runs: Option<u32>,
    /// Most runs (overrides `[run]`).
    pub max_runs: Option<u32>,
    /// Timeout in seconds (overrides `[run]`).
    pub timeout: Option<f64>,
}

impl BenchConfig {
    /// This benchmark's settings over the file's `[run]` defaults. (Listed field by field
    /// because serde cannot combine `flatten` with `deny_unknown_fields`.)
    #[must_use]
    pub fn run_settings(&self, defaults: &RunDefaults) -> RunDefaults {
        RunDefaults {
            runs: self.runs.or(defaults.runs),
            warmup: self.warmup.or(defaults.warmup),
            min_time: self.min_time.or(defaults.min_time),
            min_runs: self.min_runs.or(defaults.min_runs),
            max_runs: self.max_runs.or(defaults.max_runs),
            timeout: self.timeout.or(defaults.timeout),
        }
    }
}

impl Config {
    /// Loads the configuration: `explicit` if given (it must exist), else `benchkeep.toml` in
    /// `cwd` or, failing that, in `repo_root`; no file gives the defaults.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the file cannot be read or is invalid, naming it.
    pub fn load(
        explicit: Option<&Path>,
        cwd: &Path,
        repo_root: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        let path = match explicit {
            Some(path) => Some(path.to_path_buf()),
            None => std::iter::once(cwd)
                .chain(repo_root)
                .map(|dir| dir.join(CONFIG_FILE))
                .find(|p| p.is_file()),
        };
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let mut config = Config::parse(&text).map_err(|e| ConfigError::InFile {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        config.path = Some(path);
        Ok(config)
    }

    /// Parses and validates configuration text.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming the key (and its line for a syntax or type error).
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            // toml's Display draws a multi-line source snippet; one line with the position reads
            // better in a CI log.
            let position = e.span().map(|span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let line_start = before.rfind('\n').map_or(0, |i| i + 1);
                let column = before.len() - line_start + 1;
                // Name the key on that line too: a position alone makes people count columns.
                let line_text = text[line_start..].lines().next().unwrap_or("");
                match line_text.split_once('=') {
                    Some((key, _)) if !key.trim().is_empty() && !key.contains('[') => {
                        format!(" (key `{}`, line {line}, column {column})", key.trim())
                    }
                    _ => format!(" (line {line}, column {column})"),
                }
            });
            ConfigError::Invalid(format!(
                "{}{}",
                e.message().trim().replace('\n', " "),
                position.unwrap_or_default()
            ))
        })?;
        let mut names = std::collections::HashSet::new();
        for bench in &config.bench {
            if bench.name.is_empty() {
                invalid!("a [[bench]] has an empty name");
            }
            if !names.insert(bench.name.as_str()) {
                invalid!("[[bench]] name {:?} is used twice", bench.name);
            }
            for (key, line) in [
                ("command", &bench.command),
                ("base", &bench.base),
                ("head", &bench.head),
            ] {
                if line.as_ref().is_some_and(CommandLine::is_empty) {
                    invalid!("[[bench]] {:?} has an empty {key}", bench.name);
                }
            }
            match (&bench.command, &bench.base, &bench.head) {
                (Some(_), None, None) | (None, Some(_), Some(_)) => {}
                (None, None, None) => invalid!("[[bench]] {:?} needs a command", bench.name),
                (Some(_), _, _) => invalid!(
                    "[[bench]] {:?} has a command and base/head: give one or the other",
                    bench.name
                ),
                (None, _, _) => invalid!(
                    "[[bench]] {:?} needs both base and head (or a command)",
                    bench.name
                ),
            }
        }
        for policy in &config.policy {
            crate::policy::validate(policy)?;
        }
        if config.ab.build.as_ref().is_some_and(CommandLine::is_empty) {
            invalid!("ab.build is empty");
        }
        if config.pr.keep == Some(0) {
            invalid!("pr.keep must be at least 1: the worktree being measured is kept");
        }
        if config
            .pr
            .worktree_dir
            .as_ref()
            .is_some_and(|d| d.as_os_str().is_empty())
        {
            invalid!("pr.worktree_dir is empty");
        }
        if let Some(GateSetting::Word(word)) = &config.compare.gate
            && word != "primary"
            && word != "all"
        {
            invalid!(
                "compare.gate must be \"primary\", \"all\" or a list of metric names, not {word:?}"
            );
        }
        Ok(config)
    }

    /// The directory relative paths in the file are resolved against.
    #[must_use]
    pub fn base_dir(&self) -> Option<&Path> {
        // `--config benchkeep.toml` has the parent "", which no process can run in.
        self.path.as_deref().and_then(Path::parent).map(|dir| {
            if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            }
        })
    }
}

/// When the machine differs from the baseline's (CPU model, core count, OS, architecture,
/// toolchain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvironmentPolicy {
    /// Compare, and say in the report which fields differ.
    #[default]
    Warn,
    /// Do not compare: every gating metric is inconclusive ("environment changed").
    Refuse,
    /// Compare without a word.
    Ignore,
}

/// What `check` does with the machine-speed probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpeedProbePolicy {
    /// Widen history intervals by how far the machine lies beyond the speeds the baseline's
    /// jobs saw.
    #[default]
    Widen,
    /// Compare as if every job ran on the same machine.
    Ignore,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn a_full_configuration_parses() {
        let config = Config::parse(
            r#"
            store = "file://bench-store"
            branch = "main"
            [run]
            warmup = 2
            min_time = 0.5
            [pr]
            worktree_dir = "../bench-bases"
            keep = 2
            [compare]
            threshold = 5
            gate = ["wall_time", "peak_rss"]
            severity = { moderate = 25, critical = 60 }
            [[bench]]
            name = "startup"
            command = "./app --version"
            runs = 20
            [[bench]]
            name = "parse"
            command = ["./app", "parse", "big.json"]
            env = { RUST_LOG = "off" }
            "#,
        )
        .unwrap();
        assert_eq!(config.bench.len(), 2);
        assert_eq!(config.pr.keep, Some(2));
        assert_eq!(config.bench[0].run_settings(&config.run).runs, Some(20));
        assert_eq!(config.bench[0].run_settings(&config.run).warmup, Some(2));
        assert!(matches!(
            config.bench[1].command,
            Some(CommandLine::Argv(_))
        ));
    }

    #[test]
    fn unknown_keys_are_named() {
        for (text, key) in [
            ("colour = true", "colour"),
            ("[run]\nwarmups = 3", "warmups"),
            ("[compare]\ntreshold = 5", "treshold"),
            (
                "[[bench]]\nname = \"a\"\ncommand = \"true\"\nrunz = 3",
                "runz",
            ),
        ] {
            let err = Config::parse(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text:?} gave {err}");
            assert!(!err.contains('\n'), "multi-line error: {err}");
        }
    }

    #[test]
    fn duplicate_and_empty_benches_are_refused() {
        let dup = "[[bench]]\nname = \"a\"\ncommand = \"true\"\n[[bench]]\nname = \"a\"\ncommand = \"true\"";
        assert!(
            Config::parse(dup)
                .unwrap_err()
                .to_string()
                .contains("used twice")
        );
        let empty = "[[bench]]\nname = \"a\"\ncommand = []";
        assert!(
            Config::parse(empty)
                .unwrap_err()
                .to_string()
                .contains("empty command")
        );
        let half = "[[bench]]\nname = \"a\"\nbase = \"true\"";
        assert!(
            Config::parse(half)
                .unwrap_err()
                .to_string()
                .contains("needs both base and head")
        );
        let both = "[[bench]]\nname = \"a\"\ncommand = \"x\"\nbase = \"true\"\nhead = \"y\"";
        assert!(Config::parse(both).is_err());
        assert!(Config::parse("[compare]\ngate = \"some\"").is_err());
        assert!(Config::parse("[pr]\nkeep = 0").is_err());
    }

    /// A key the types still have that the reference leaves out: `compare.confidence` was
    /// removed, and is kept only so that setting it is an error saying what replaced it.
    const NOT_DOCUMENTED: &[&str] = &["compare.confidence"];
    /// Tables whose keys are the user's (environment variable names), not settings.
    const FREE_FORM: &[&str] = &["bench.env"];
    /// Nested tables of one type documented once: a `[[policy]]`'s `severity` is a
    /// `[compare.severity]`.
    const DOCUMENTED_AS: &[(&str, &str)] = &[("policy.severity", "compare.severity")];

    /// The dotted key paths in `value`; the entries of an array of tables are merged (a key
    /// set in any entry counts), an empty one is its own path so that it is not overlooked.
    fn key_paths(value: &serde_json::Value, path: &str, out: &mut BTreeSet<String>) {
        let join = |key: &str| {
            if path.is_empty() {
                key.to_owned()
            } else {
                format!("{path}.{key}")
            }
        };
        match value {
            serde_json::Value::Object(table) if !FREE_FORM.contains(&path) => {
                for (key, value) in table {
                    key_paths(value, &join(key), out);
                }
            }
            serde_json::Value::Array(entries)
                if entries.first().is_some_and(serde_json::Value::is_object) =>
            {
                for entry in entries {
                    key_paths(entry, path, out);
                }
            }
            _ => {
                out.insert(path.to_owned());
            }
        }
    }

    /// The keys of docs/config.md's tables (`` | `name` | ``), by the table whose section they
    /// are in: the one a heading names in backquotes (`` `[compare]` ``, `` `[[bench]]` ``),
    /// or "" under the top-level keys' heading.
    fn documented_keys(doc: &str) -> BTreeMap<String, BTreeSet<String>> {
        let mut keys: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut table: Option<String> = None;
        for line in doc.lines() {
            if line.starts_with('#') {
                table = line
                    .split('`')
                    .skip(1)
                    .step_by(2)
                    .find(|span| span.starts_with('['))
                    .map(|span| span.trim_matches(['[', ']']).to_owned())
                    .or_else(|| line.to_lowercase().contains("top-level").then(String::new));
            } else if let (Some(table), Some(row)) = (&table, line.strip_prefix("| `"))
                && let Some((key, _)) = row.split_once("` |")
            {
                keys.entry(table.clone())
                    .or_default()
                    .insert(key.to_owned());
            }
        }
        keys
    }

    /// docs/config.md cannot drift from the types: its complete example (the last TOML code
    /// block) parses, sets every key of every table, and each key it sets has a row in its
    /// table's section, each row naming a key the example sets.
    #[test]
    fn docs_config_md_documents_every_key() {
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/config.md");
        let doc = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
        let start = doc
            .rfind("```toml\n")
            .expect("docs/config.md has no ```toml block")
            + 8;
        let example = &doc[start..start + doc[start..].find("```").expect("unclosed ```toml")];

        // Every key it writes exists (unknown keys are errors), and the values are valid.
        let config = Config::parse(example)
            .unwrap_or_else(|e| panic!("the docs/config.md example does not parse: {e}"));

        // Every field of every type is written: the serialized settings list them all, set or
        // not (an unset `Option` is null, an unset default its default).
        let mut fields = BTreeSet::new();
        key_paths(&serde_json::to_value(&config).unwrap(), "", &mut fields);
        let raw: toml::Table = toml::from_str(example).unwrap();
        let mut written = BTreeSet::new();
        key_paths(&serde_json::to_value(&raw).unwrap(), "", &mut written);
        let unset: Vec<String> = fields
            .iter()
            .filter(|path| !NOT_DOCUMENTED.contains(&path.as_str()) && !written.contains(*path))
            .map(|path| format!("{path} is not in the docs/config.md example"))
            .collect();
        assert!(unset.is_empty(), "{}", unset.join("\n"));

        // Every key written has a row in its table's section ...
        let documented = documented_keys(&doc);
        let mut problems = Vec::new();
        for path in &written {
            let (table, key) = path.rsplit_once('.').unwrap_or(("", path));
            let table = DOCUMENTED_AS
                .iter()
                .find(|(alias, _)| *alias == table)
                .map_or(table, |(_, documented)| documented);
            if !documented.get(table).is_some_and(|keys| keys.contains(key)) {
                problems.push(format!(
                    "{path}: no | `{key}` | row in the section of [{table}] in docs/config.md"
                ));
            }
        }
        // ... and every row names a key the example writes (no stale or misspelled row); a
        // row may name a table (a policy's `severity`), which is a prefix of its keys' paths.
        let prefixes: BTreeSet<&str> = written
            .iter()
            .flat_map(|path| path.match_indices('.').map(|(dot, _)| &path[..dot]))
            .collect();
        for (table, keys) in &documented {
            for key in keys {
                let path = if table.is_empty() {
                    key.clone()
                } else {
                    format!("{table}.{key}")
                };
                if !written.contains(&path) && !prefixes.contains(path.as_str()) {
                    problems.push(format!(
                        "docs/config.md documents {path}, which its example does not set"
                    ));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
