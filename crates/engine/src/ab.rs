//! `benchkeep ab`: paired A/B comparison on this machine, and the paired engine that
//! `check --pr` shares with it (settings, pairs, building, measuring, confirming).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::{Context as _, Error, bail};
use benchkeep_core::compare::{self, CompareConfig, Comparison, Method};
use benchkeep_core::model::Benchmark;
use benchkeep_core::sequential::Design;
use benchkeep_runner::command::{self as runner, CommandSpec, PairedOptions, RunCount};

use crate::config::{BenchConfig, CommandLine};
use crate::git::{add_worktree, git, remove_worktree};
use crate::looks::{self, ADAPTIVE_FACTOR, Adaptive};
use crate::looks::{merge_confirmations, regressed_benchmarks};
use crate::measure::{append_samples, command_words, seconds};
use crate::session::Session;
use crate::settings::CompareFlags;
use benchkeep_report::{Context, VerdictDocument};

/// Rounds per paired benchmark unless configured: enough for the exact signed-rank test to
/// resolve p-values far below 0.05, and the detection targets in docs/DETECTION.md.
const DEFAULT_ROUNDS: u32 = 30;
/// Smallest change that counts in paired mode, in percent. Paired rounds on one machine repeat
/// within about 1%, so 2% separates real changes from noise (see docs/DETECTION.md).
const DEFAULT_THRESHOLD: f64 = 2.0;

/// A benchmark measured on both sides.
pub(crate) struct PlannedPair {
    name: String,
    base: CommandSpec,
    head: CommandSpec,
}

/// What a paired comparison is asked, whichever command asks (`ab`, `check --pr`), so both
/// resolve settings and plan benchmarks the same way. Unset settings come from `[ab]` (and
/// `[run] timeout`), then the paired defaults.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
#[allow(clippy::struct_excessive_bools)] // independent switches, as on the command line
pub struct PairedRequest {
    /// Rounds per batch (default 30).
    pub rounds: Option<u32>,
    /// Most rounds in all, adaptive rounds included.
    pub max_rounds: Option<u32>,
    /// Most seconds of measuring, adaptive rounds included.
    pub max_time: Option<f64>,
    /// Warm-up rounds.
    pub warmup: Option<u32>,
    /// Seconds before a run's process group is killed.
    pub timeout: Option<f64>,
    /// Let the commands' output through.
    pub show_output: bool,
    /// The seed of the rounds' random order.
    pub seed: Option<u64>,
    /// Re-measure benchmarks that look regressed before the verdict is final.
    pub confirm: bool,
    /// Comparison flags (the threshold defaults to 2% in paired mode).
    pub compare: CompareFlags,
    /// The build command; `[ab] build` when absent.
    pub build: Option<String>,
    /// The command measured in both trees; empty for the configured benchmarks.
    pub command: Vec<String>,
    /// Run `command` through `sh -c` as one string.
    pub shell: bool,
    /// The command's benchmark name.
    pub name: Option<String>,
    /// Only these configured benchmarks.
    pub benches: Vec<String>,
    /// Leave what the commands start in the background running.
    pub keep_background: bool,
}

/// `benchkeep ab`: what to compare with what.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AbRequest {
    /// The paired settings, and the command or benchmarks to measure.
    pub paired: PairedRequest,
    /// The base side as a shell command (with `head`).
    pub base: Option<String>,
    /// The head side as a shell command (with `base`).
    pub head: Option<String>,
    /// Measure this checkout against a worktree of this revision.
    pub base_ref: Option<String>,
}

impl Session {
    /// `benchkeep ab`: base and head measured in paired rounds on this machine, compared and
    /// gated; nothing is recorded.
    ///
    /// # Errors
    ///
    /// Invalid settings, nothing to compare, a failing build or command,
    /// [`Error::Interrupted`].
    pub fn ab(&self, args: &AbRequest) -> Result<VerdictDocument, Error> {
        let request = &args.paired;
        let (mut config, options, adaptive) = self.paired_settings(request)?;
        self.events.measuring(&self.interrupt);
        let worktree = match &args.base_ref {
            Some(rev) => Some(self.prepare_base_ref(rev, request)?),
            None => None,
        };
        let (pairs, heading) = self.planned_pairs(args, request, worktree.as_ref())?;
        let comparison =
            self.paired_comparison(&pairs, &options, &adaptive, &mut config, request.confirm)?;
        let context = Context {
            subject: heading.clone(),
            heading: Some(heading),
            ..Context::default()
        };
        let judged = self.judge_paired(comparison, context, &config);
        drop(worktree);
        judged
    }

    /// The comparison settings, round options and adaptive budget of a paired comparison:
    /// `[ab]` and the command line over paired defaults (2% threshold, 30 rounds, up to 4x as
    /// many when benchmarks are inconclusive).
    pub(crate) fn paired_settings(
        &self,
        request: &PairedRequest,
    ) -> Result<(CompareConfig, PairedOptions, Adaptive), Error> {
        let mut config = self.compare_config(&request.compare)?;
        config.method = Method::Paired;
        let threshold = request
            .compare
            .threshold
            .or(self.config.ab.threshold)
            .unwrap_or(DEFAULT_THRESHOLD);
        if !(threshold.is_finite() && threshold > 0.0) {
            bail!("threshold must be a positive percentage, not {threshold}");
        }
        config.threshold = threshold / 100.0;
        let rounds = request
            .rounds
            .or(self.config.ab.rounds)
            .unwrap_or(DEFAULT_ROUNDS);
        if rounds < 2 {
            bail!("rounds must be at least 2, not {rounds}");
        }
        let max_rounds = request
            .max_rounds
            .or(self.config.ab.max_rounds)
            .unwrap_or(rounds.saturating_mul(ADAPTIVE_FACTOR));
        if max_rounds < rounds {
            bail!("max-rounds ({max_rounds}) must be at least rounds ({rounds})");
        }
        let max_time = request
            .max_time
            .or(self.config.ab.max_time)
            .map(|t| seconds(t, "max-time"))
            .transpose()?;
        // Batches of `rounds`: the most that fit within `max_rounds`.
        let adaptive = Adaptive {
            design: Design::new(max_rounds / rounds),
            max_time,
        };
        let options = PairedOptions {
            rounds,
            warmup: request
                .warmup
                .or(self.config.ab.warmup)
                .unwrap_or(crate::measure::DEFAULT_WARMUP),
            timeout: request
                .timeout
                .or(self.config.run.timeout)
                .map(|t| seconds(t, "timeout"))
                .transpose()?,
            output: if request.show_output {
                runner::OutputMode::Inherit
            } else {
                runner::OutputMode::Discard
            },
            seed: request.seed.unwrap_or_else(crate::entropy),
            keep_background: request.keep_background,
        };
        Ok((config, options, adaptive))
    }

    /// Measures every pair in paired rounds and compares head with base. Benchmarks whose gating
    /// metric is inconclusive get another batch of rounds, look after look, until decided or the
    /// budget is spent, with alpha spent across the looks (`core::sequential`). With `confirm`,
    /// benchmarks that look regressed get as many rounds again before the verdict. `config`
    /// gains the `[[policy]]` of each benchmark, so the caller's gate sees them too.
    pub(crate) fn paired_comparison(
        &self,
        pairs: &[PlannedPair],
        options: &PairedOptions,
        adaptive: &Adaptive,
        config: &mut CompareConfig,
        confirm: bool,
    ) -> Result<Comparison, Error> {
        let started = Instant::now();
        let mut base: Vec<Benchmark> = Vec::new();
        let mut head: Vec<Benchmark> = Vec::new();
        for pair in pairs {
            let (b, h) = self.measure_pair(pair, options)?;
            base.push(b);
            head.push(h);
        }
        config.policies = self.policies_for(&base, &head)?;
        let first_batch = (started, started.elapsed(), pairs.len());
        let mut sides = (base, head);
        let comparison = looks::decide(
            adaptive,
            config,
            first_batch,
            &mut sides,
            |(base, head), config| compare::compare(base, head, config),
            |(base, head), open, look| {
                for name in open {
                    let Some(index) = pairs.iter().position(|p| &p.name == name) else {
                        continue;
                    };
                    self.notice(&format!(
                        "{name}: inconclusive after {} rounds; measuring {} more (look {look} of at most {})",
                        head[index].metrics.first().map_or(0, |m| m.samples.len()),
                        options.rounds,
                        adaptive.design.looks()
                    ));
                    let more = PairedOptions {
                        seed: options
                            .seed
                            .wrapping_add(u64::from(look) << 32)
                            .wrapping_add(index as u64),
                        ..options.clone()
                    };
                    let (b, h) = self.measure_pair(&pairs[index], &more)?;
                    append_samples(&mut base[index], b);
                    append_samples(&mut head[index], h);
                }
                Ok(())
            },
        )?;
        let (mut base, mut head) = sides;
        if !confirm {
            return Ok(comparison);
        }
        let suspects = regressed_benchmarks(&comparison);
        if suspects.is_empty() {
            return Ok(comparison);
        }
        let first = comparison.clone();
        for name in &suspects {
            let Some(index) = pairs.iter().position(|p| &p.name == name) else {
                continue;
            };
            self.notice(&format!(
                "{name}: looks regressed; running {} more rounds to confirm",
                options.rounds
            ));
            let seed = options.seed.wrapping_add(1 + index as u64);
            let more = PairedOptions {
                seed,
                ..options.clone()
            };
            let (b, h) = self.measure_pair(&pairs[index], &more)?;
            append_samples(&mut base[index], b);
            append_samples(&mut head[index], h);
        }
        let full = CompareConfig {
            spend: 1.0,
            ..config.clone()
        };
        Ok(merge_confirmations(
            first,
            &compare::compare(&base, &head, &full),
            &suspects,
            &format!("{} more rounds", options.rounds),
        ))
    }

    /// The verdict of a paired comparison, gated as `check` gates.
    pub(crate) fn judge_paired(
        &self,
        mut comparison: Comparison,
        context: Context,
        config: &CompareConfig,
    ) -> Result<VerdictDocument, Error> {
        let passed = self.gate_passes(&mut comparison, config)?;
        Ok(VerdictDocument::new(&comparison, context, passed))
    }

    fn measure_pair(
        &self,
        pair: &PlannedPair,
        options: &PairedOptions,
    ) -> Result<(Benchmark, Benchmark), Error> {
        let mut progress = self
            .events
            .progress(&pair.name, RunCount::Fixed(options.rounds));
        let measured = runner::measure_paired(
            &pair.base,
            &pair.head,
            options,
            &self.interrupt,
            progress.as_mut(),
        );
        drop(progress);
        let measured = measured.map_err(|e| Error::measure(&pair.name, e))?;
        self.measured_notes(&pair.name, &[&measured.base, &measured.head]);
        Ok((
            measured
                .base
                .into_benchmark(pair.name.clone(), Some(pair.base.argv.clone())),
            measured
                .head
                .into_benchmark(pair.name.clone(), Some(pair.head.argv.clone())),
        ))
    }

    /// The pairs to measure, and a heading that says what is compared with what.
    fn planned_pairs(
        &self,
        args: &AbRequest,
        request: &PairedRequest,
        worktree: Option<&Worktree>,
    ) -> Result<(Vec<PlannedPair>, String), Error> {
        let shell = |line: &str| CommandSpec::new(["sh", "-c", line]);
        if let (Some(base), Some(head)) = (&args.base, &args.head) {
            if !request.command.is_empty() || !request.benches.is_empty() {
                bail!("--base/--head cannot be combined with a command after -- or --bench");
            }
            let name = request.name.clone().unwrap_or_else(|| "ab".to_owned());
            return Ok((
                vec![PlannedPair {
                    name,
                    base: shell(base),
                    head: shell(head),
                }],
                format!("head `{head}` compared with base `{base}` in paired rounds"),
            ));
        }
        if let Some(tree) = worktree {
            let heading = format!(
                "this checkout compared with {} ({}) in paired rounds",
                tree.rev, tree.commit
            );
            return Ok((self.tree_pairs(request, &tree.path, "--base-ref")?, heading));
        }
        if !request.command.is_empty() {
            bail!("a command after -- needs --base-ref REV (or give --base and --head commands)");
        }
        let pairs = self.configured_pairs(request, |bench| {
            let (base, head) = (bench.base.as_ref()?, bench.head.as_ref()?);
            let config_dir = self.config.base_dir().unwrap_or(&self.cwd);
            let dir = bench
                .cwd
                .as_ref()
                .map_or_else(|| config_dir.to_owned(), |d| config_dir.join(d));
            Some((
                Self::bench_spec(bench, base, dir.clone()),
                Self::bench_spec(bench, head, dir),
            ))
        })?;
        if pairs.is_empty() {
            bail!(
                "nothing to compare: give --base and --head, or --base-ref REV with a command, or [[bench]] entries with base and head in benchkeep.toml"
            );
        }
        let heading = format!(
            "{} benchmark(s), base and head in paired rounds",
            pairs.len()
        );
        Ok((pairs, heading))
    }

    /// The same benchmarks in two trees: the base checked out at `base_root`, the head in this
    /// checkout. The command after `--`, or each configured benchmark's own command; `how`
    /// names the option in errors (`--base-ref`, `--pr`).
    pub(crate) fn tree_pairs(
        &self,
        request: &PairedRequest,
        base_root: &Path,
        how: &str,
    ) -> Result<Vec<PlannedPair>, Error> {
        let repo_root = self.repo_root.as_deref();
        if !request.command.is_empty() {
            let words = command_words(
                &request.command,
                request.shell.then_some("sh"),
                &request.benches,
            )?;
            let with_cwd = |dir: PathBuf| {
                let mut spec = CommandSpec::new(words.clone());
                spec.cwd = Some(dir);
                spec
            };
            let pairs = vec![PlannedPair {
                name: request
                    .name
                    .clone()
                    .unwrap_or_else(|| request.command.join(" ")),
                base: with_cwd(mirror(base_root, &self.cwd, repo_root)),
                head: with_cwd(self.cwd.clone()),
            }];
            refuse_head_paths(&pairs, repo_root, base_root, how)?;
            return Ok(pairs);
        }
        // Each tree runs the benchmark's own command; base/head benchmarks are for `ab`
        // without --base-ref.
        let config_dir = self.config.base_dir().unwrap_or(&self.cwd);
        let pairs = self.configured_pairs(request, |bench| {
            let command = bench.command.as_ref()?;
            let dir = |root: &Path| {
                bench
                    .cwd
                    .as_ref()
                    .map_or_else(|| root.to_owned(), |d| root.join(d))
            };
            let base_root = mirror(base_root, config_dir, repo_root);
            Some((
                Self::bench_spec(bench, command, dir(&base_root)),
                Self::bench_spec(bench, command, dir(config_dir)),
            ))
        })?;
        if pairs.is_empty() {
            bail!(
                "nothing to compare: {how} needs a command after -- or [[bench]] entries with a command in benchkeep.toml"
            );
        }
        refuse_head_paths(&pairs, repo_root, base_root, how)?;
        Ok(pairs)
    }

    fn configured_pairs(
        &self,
        request: &PairedRequest,
        sides: impl Fn(&BenchConfig) -> Option<(CommandSpec, CommandSpec)>,
    ) -> Result<Vec<PlannedPair>, Error> {
        for wanted in &request.benches {
            if !self.config.bench.iter().any(|b| &b.name == wanted) {
                bail!("no [[bench]] named {wanted:?} in benchkeep.toml");
            }
        }
        if request.name.is_some() {
            bail!(
                "--name names a command; configured benchmarks take their names from benchkeep.toml"
            );
        }
        Ok(self
            .config
            .bench
            .iter()
            .filter(|b| request.benches.is_empty() || request.benches.contains(&b.name))
            .filter_map(|bench| {
                let (base, head) = sides(bench)?;
                Some(PlannedPair {
                    name: bench.name.clone(),
                    base,
                    head,
                })
            })
            .collect())
    }

    fn bench_spec(bench: &BenchConfig, command: &CommandLine, dir: PathBuf) -> CommandSpec {
        let mut spec = CommandSpec::new(command.argv());
        spec.cwd = Some(dir);
        spec.env = bench
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        spec
    }

    /// Checks out `rev` in a temporary worktree and builds it (and this checkout) there.
    fn prepare_base_ref(&self, rev: &str, request: &PairedRequest) -> Result<Worktree, Error> {
        let root = self.repo_root.clone().ok_or_else(|| {
            Error::Invalid("--base-ref needs a git repository; none found here".into())
        })?;
        let tree = Worktree::add(&root, rev)?;
        self.build_both(request, &tree.path, &root)?;
        Ok(tree)
    }

    /// Runs the build command (`--build`, else `[ab] build`) in the base tree, then in the
    /// head's; without one, says that the trees are measured as they are.
    pub(crate) fn build_both(
        &self,
        request: &PairedRequest,
        base: &Path,
        head: &Path,
    ) -> Result<(), Error> {
        let build = request
            .build
            .as_ref()
            .map(|line| CommandLine::Shell(line.clone()))
            .or_else(|| self.config.ab.build.clone());
        let Some(build) = build else {
            self.notice(
                "no build command ([ab] build or --build): measuring the trees as checked out",
            );
            return Ok(());
        };
        for (what, dir) in [("base", base), ("head", head)] {
            self.notice(&format!("building the {what} in {}", dir.display()));
            build_in(&build, dir).with_context(|| format!("cannot build the {what}"))?;
        }
        Ok(())
    }
}

fn build_in(build: &CommandLine, dir: &Path) -> Result<(), Error> {
    let argv = build.argv();
    // Build output is diagnostics, not results: it goes to stderr.
    let status = Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::io::stderr())
        .status()
        .with_context(|| format!("cannot start {}", argv.join(" ")))?;
    if !status.success() {
        bail!(
            "`{}` failed in {} ({status})",
            argv.join(" "),
            dir.display()
        );
    }
    Ok(())
}

/// The directory in the base tree at `tree` that corresponds to `dir` in the current checkout.
fn mirror(tree: &Path, dir: &Path, repo_root: Option<&Path>) -> PathBuf {
    repo_root
        .and_then(|root| dir.strip_prefix(root).ok())
        .map_or_else(|| tree.to_owned(), |relative| tree.join(relative))
}

/// A detached `git worktree` of the base revision, removed when dropped.
struct Worktree {
    repo: PathBuf,
    path: PathBuf,
    rev: String,
    commit: String,
    _dir: tempfile::TempDir,
}

impl Worktree {
    fn add(repo: &Path, rev: &str) -> Result<Self, Error> {
        if rev.starts_with('-') {
            bail!("--base-ref {rev:?} is not a revision");
        }
        let dir = tempfile::Builder::new()
            .prefix("benchkeep-base-")
            .tempdir()
            .context("cannot create a directory for the base worktree")?;
        let path = dir.path().join("base");
        add_worktree(repo, &path, rev, true)
            .with_context(|| format!("cannot check out --base-ref {rev:?}"))?;
        let commit = git(&path, &["rev-parse", "--short", "HEAD"]).unwrap_or_default();
        Ok(Worktree {
            repo: repo.to_owned(),
            path,
            rev: rev.to_owned(),
            commit,
            _dir: dir,
        })
    }
}

impl Drop for Worktree {
    fn drop(&mut self) {
        // Best effort: the temporary directory goes anyway; this also drops git's bookkeeping.
        remove_worktree(&self.repo, &self.path);
    }
}

/// Refuses a base command that names a path inside the head's checkout by its absolute path
/// (`$PWD/bench.sh`, `${{ github.workspace }}/target/release/app`): the base side would run the
/// head's file, so both sides would measure the same program and any regression would pass.
/// Relative paths resolve in each side's own tree.
fn refuse_head_paths(
    pairs: &[PlannedPair],
    repo_root: Option<&Path>,
    base_root: &Path,
    how: &str,
) -> Result<(), Error> {
    let Some(root) = repo_root else {
        return Ok(());
    };
    let (roots, bases) = (spellings(root), spellings(base_root));
    for pair in pairs {
        for word in &pair.base.argv {
            let mut text = word.clone();
            for base in &bases {
                text = text.replace(&*base.to_string_lossy(), "");
            }
            if let Some(root) = roots
                .iter()
                .find(|r| names_inside(&text, &r.to_string_lossy()))
            {
                bail!(
                    "{how}: {:?} names {word:?}, inside this checkout ({}) by its absolute path, so the base side would run the head's files and compare them with themselves; use a path relative to the repository (e.g. ./bench.sh), which each side resolves in its own tree",
                    pair.name,
                    root.display()
                );
            }
        }
    }
    Ok(())
}

/// `path` as given and, where it differs, resolved through symbolic links: a shell word may
/// use either (`$PWD` keeps the links, git's top level resolves them).
fn spellings(path: &Path) -> Vec<PathBuf> {
    let mut both = vec![path.to_path_buf()];
    if let Ok(canonical) = path.canonicalize()
        && canonical != path
    {
        both.push(canonical);
    }
    both
}

/// Whether `text` contains the directory `dir` as a whole path component (followed by `/`, the
/// end, or a character that cannot continue a file name in a shell word).
fn names_inside(text: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    if dir.is_empty() {
        return false;
    }
    text.match_indices(dir).any(|(at, _)| {
        text[at + dir.len()..]
            .chars()
            .next()
            .is_none_or(|c| c == '/' || c.is_whitespace() || "'\";|&)".contains(c))
    })
}

#[cfg(test)]
mod path_tests {
    use super::names_inside;

    #[test]
    fn a_directory_is_named_only_as_a_whole_component() {
        assert!(names_inside("/w/repo/bench.sh", "/w/repo"));
        assert!(names_inside("sh '/w/repo'", "/w/repo/"));
        assert!(names_inside("cd /w/repo && ./x", "/w/repo"));
        assert!(!names_inside("/w/repo2/bench.sh", "/w/repo"));
        assert!(!names_inside("./bench.sh", "/w/repo"));
        assert!(!names_inside("anything", ""));
    }
}
