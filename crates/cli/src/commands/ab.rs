//! `benchkeep ab`: paired A/B comparison on this machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, anyhow, bail};
use benchkeep_core::compare::{self, Method};
use benchkeep_core::model::Benchmark;
use benchkeep_runner::command::{self as runner, CommandSpec, PairedOptions, RunCount};

use super::{
    App, Bar, Outcome, entropy, note_confirmations, regressed_benchmarks, run_error, seconds,
};
use crate::args::AbArgs;
use crate::config::CommandLine;
use crate::report;

/// Rounds per paired benchmark unless configured: enough for the exact signed-rank test to
/// resolve p-values far below 0.05, and the detection targets in docs/DETECTION.md.
const DEFAULT_ROUNDS: u32 = 30;
/// Smallest change that counts in paired mode, in percent. Paired rounds on one machine repeat
/// within about 1%, so 2% separates real changes from noise (see docs/DETECTION.md).
const DEFAULT_THRESHOLD: f64 = 2.0;

/// A benchmark measured on both sides.
struct PlannedPair {
    name: String,
    base: CommandSpec,
    head: CommandSpec,
}

impl App {
    pub(super) fn ab(&self, args: &AbArgs) -> Result<Outcome> {
        let mut config = self.compare_config(&args.compare)?;
        config.method = Method::Paired;
        let threshold = args
            .compare
            .threshold
            .or(self.config.ab.threshold)
            .unwrap_or(DEFAULT_THRESHOLD);
        if !(threshold.is_finite() && threshold > 0.0) {
            bail!("threshold must be a positive percentage, not {threshold}");
        }
        config.threshold = threshold / 100.0;
        let rounds = args
            .rounds
            .or(self.config.ab.rounds)
            .unwrap_or(DEFAULT_ROUNDS);
        if rounds < 2 {
            bail!("rounds must be at least 2, not {rounds}");
        }
        let options = PairedOptions {
            rounds,
            warmup: args.warmup.or(self.config.ab.warmup).unwrap_or(1),
            timeout: args
                .timeout
                .or(self.config.run.timeout)
                .map(|t| seconds(t, "timeout"))
                .transpose()?,
            output: if args.show_output {
                runner::OutputMode::Inherit
            } else {
                runner::OutputMode::Discard
            },
            seed: args.seed.unwrap_or_else(entropy),
        };
        self.watch_signals()?;
        let worktree = match &args.base_ref {
            Some(rev) => Some(self.prepare_base_ref(rev, args)?),
            None => None,
        };
        let (pairs, heading) = self.planned_pairs(args, worktree.as_ref())?;
        let mut base: Vec<Benchmark> = Vec::new();
        let mut head: Vec<Benchmark> = Vec::new();
        for pair in &pairs {
            let (b, h) = self.measure_pair(pair, &options)?;
            base.push(b);
            head.push(h);
        }
        config.policies = self.policies_for(&base, &head)?;
        let mut comparison = compare::compare(&base, &head, &config);
        if args.confirm {
            let suspects = regressed_benchmarks(&comparison);
            if !suspects.is_empty() {
                let first = comparison.clone();
                for name in &suspects {
                    let Some(index) = pairs.iter().position(|p| &p.name == name) else {
                        continue;
                    };
                    self.notice(&format!(
                        "{name}: looks regressed; running {rounds} more rounds to confirm"
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
                comparison = compare::compare(&base, &head, &config);
                note_confirmations(
                    &first,
                    &mut comparison,
                    &suspects,
                    &format!("{rounds} more rounds"),
                );
            }
        }
        let passed = comparison.passes(&config);
        let context = report::Context {
            subject: heading.clone(),
            heading: Some(heading),
            fail_on_inconclusive: config.fail_on_inconclusive,
            ..report::Context::default()
        };
        self.publish(&comparison, &context, passed, &args.compare)?;
        drop(worktree);
        Ok(if passed {
            Outcome::Passed
        } else {
            Outcome::Regressed
        })
    }

    fn measure_pair(
        &self,
        pair: &PlannedPair,
        options: &PairedOptions,
    ) -> Result<(Benchmark, Benchmark)> {
        let show_progress = !self.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
        let mut progress = Bar::new(show_progress, &pair.name, RunCount::Fixed(options.rounds));
        let measured = runner::measure_paired(
            &pair.base,
            &pair.head,
            options,
            &self.interrupt,
            &mut progress,
        );
        progress.finish();
        let measured = measured.map_err(|e| run_error(e, &pair.name))?;
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
        args: &AbArgs,
        worktree: Option<&Worktree>,
    ) -> Result<(Vec<PlannedPair>, String)> {
        let shell = |line: &str| CommandSpec::new(["sh", "-c", line]);
        if let (Some(base), Some(head)) = (&args.base, &args.head) {
            if !args.command.is_empty() || !args.benches.is_empty() {
                bail!("--base/--head cannot be combined with a command after -- or --bench");
            }
            let name = args.name.clone().unwrap_or_else(|| "ab".to_owned());
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
            let head_dir = &self.cwd;
            let base_dir = tree.mirror(head_dir, self.repo_root.as_deref());
            let heading = format!(
                "this checkout compared with {} ({}) in paired rounds",
                tree.rev, tree.commit
            );
            if !args.command.is_empty() {
                if !args.benches.is_empty() {
                    bail!(
                        "--bench selects configured benchmarks; it cannot be combined with a command after --"
                    );
                }
                let words = args.command.clone();
                let with_cwd = |dir: &Path| {
                    let mut spec = CommandSpec::new(words.clone());
                    spec.cwd = Some(dir.to_owned());
                    spec
                };
                return Ok((
                    vec![PlannedPair {
                        name: args.name.clone().unwrap_or_else(|| words.join(" ")),
                        base: with_cwd(&base_dir),
                        head: with_cwd(head_dir),
                    }],
                    heading,
                ));
            }
            // Each tree runs the benchmark's own command; base/head benchmarks are for `ab`
            // without --base-ref.
            let pairs = self.configured_pairs(args, |bench| {
                let command = bench.command.as_ref()?;
                let config_dir = self.config.base_dir().unwrap_or(&self.cwd);
                let dir = |root: &Path| {
                    bench
                        .cwd
                        .as_ref()
                        .map_or_else(|| root.to_owned(), |d| root.join(d))
                };
                let head_root = config_dir.to_owned();
                let base_root = tree.mirror(config_dir, self.repo_root.as_deref());
                Some((
                    Self::bench_spec(bench, command, dir(&base_root)),
                    Self::bench_spec(bench, command, dir(&head_root)),
                ))
            })?;
            if pairs.is_empty() {
                bail!(
                    "nothing to compare: --base-ref needs a command after -- or [[bench]] entries with a command in benchkeep.toml"
                );
            }
            return Ok((pairs, heading));
        }
        if !args.command.is_empty() {
            bail!("a command after -- needs --base-ref REV (or give --base and --head commands)");
        }
        let pairs = self.configured_pairs(args, |bench| {
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

    fn configured_pairs(
        &self,
        args: &AbArgs,
        sides: impl Fn(&crate::config::BenchConfig) -> Option<(CommandSpec, CommandSpec)>,
    ) -> Result<Vec<PlannedPair>> {
        for wanted in &args.benches {
            if !self.config.bench.iter().any(|b| &b.name == wanted) {
                bail!("no [[bench]] named {wanted:?} in benchkeep.toml");
            }
        }
        if args.name.is_some() {
            bail!(
                "--name names a command; configured benchmarks take their names from benchkeep.toml"
            );
        }
        Ok(self
            .config
            .bench
            .iter()
            .filter(|b| args.benches.is_empty() || args.benches.contains(&b.name))
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

    fn bench_spec(
        bench: &crate::config::BenchConfig,
        command: &CommandLine,
        dir: PathBuf,
    ) -> CommandSpec {
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
    fn prepare_base_ref(&self, rev: &str, args: &AbArgs) -> Result<Worktree> {
        let root = self
            .repo_root
            .clone()
            .ok_or_else(|| anyhow!("--base-ref needs a git repository; none found here"))?;
        let tree = Worktree::add(&root, rev)?;
        let build = args
            .build
            .as_ref()
            .map(|line| CommandLine::Shell(line.clone()))
            .or_else(|| self.config.ab.build.clone());
        if let Some(build) = build {
            for (what, dir) in [("base", tree.path.as_path()), ("head", root.as_path())] {
                self.notice(&format!("building the {what} in {}", dir.display()));
                build_in(&build, dir).with_context(|| format!("cannot build the {what}"))?;
            }
        } else {
            self.notice(
                "no build command ([ab] build or --build): measuring the trees as checked out",
            );
        }
        Ok(tree)
    }
}

fn append_samples(into: &mut Benchmark, more: Benchmark) {
    for (metric, extra) in into.metrics.iter_mut().zip(more.metrics) {
        metric.samples.extend(extra.samples);
    }
}

fn build_in(build: &CommandLine, dir: &Path) -> Result<()> {
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

/// A detached `git worktree` of the base revision, removed when dropped.
struct Worktree {
    repo: PathBuf,
    path: PathBuf,
    rev: String,
    commit: String,
    _dir: tempfile::TempDir,
}

impl Worktree {
    fn add(repo: &Path, rev: &str) -> Result<Self> {
        if rev.starts_with('-') {
            bail!("--base-ref {rev:?} is not a revision");
        }
        let dir = tempfile::Builder::new()
            .prefix("benchkeep-base-")
            .tempdir()
            .context("cannot create a directory for the base worktree")?;
        let path = dir.path().join("base");
        let output = Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(["worktree", "add", "--detach", "--quiet"])
            .arg(&path)
            .arg(rev)
            .stdin(Stdio::null())
            .output()
            .context("cannot run git")?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let first = stderr
                .lines()
                .find(|l| l.starts_with("fatal:"))
                .or_else(|| stderr.lines().next())
                .unwrap_or("git worktree add failed");
            bail!("cannot check out --base-ref {rev:?}: {first}");
        }
        let commit = Command::new("git")
            .arg("-C")
            .arg(&path)
            .args(["rev-parse", "--short", "HEAD"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        Ok(Worktree {
            repo: repo.to_owned(),
            path,
            rev: rev.to_owned(),
            commit,
            _dir: dir,
        })
    }

    /// The directory in the base tree that corresponds to `dir` in the current checkout.
    fn mirror(&self, dir: &Path, repo_root: Option<&Path>) -> PathBuf {
        repo_root
            .and_then(|root| dir.strip_prefix(root).ok())
            .map_or_else(|| self.path.clone(), |relative| self.path.join(relative))
    }
}

impl Drop for Worktree {
    fn drop(&mut self) {
        // Best effort: the temporary directory goes anyway; this also drops git's bookkeeping.
        let _ = Command::new("git")
            .arg("-C")
            .arg(&self.repo)
            .args(["worktree", "remove", "--force"])
            .arg(&self.path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
