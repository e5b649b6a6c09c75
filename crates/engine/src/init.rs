//! `benchkeep init`: a commented `benchkeep.toml` and, on request, a CI job for the chosen
//! store.
//!
//! An existing configuration is the user's: `init --ci` writes a job for it without touching it,
//! and `init --force` rewrites it only with the store it already names, so runs and baselines
//! are never left behind in a store nothing reads any more.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::config::{CONFIG_FILE, CommandLine};
use crate::{Context as _, Error, bail};

mod workflows;

pub use workflows::{ACTION, ACTION_REF, github_workflow, gitlab_job};

/// CI systems `init` writes a job for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CiSystem {
    /// `.github/workflows/benchkeep.yml`.
    Github,
    /// `.gitlab/benchkeep.gitlab-ci.yml`, to `include:` from `.gitlab-ci.yml`.
    Gitlab,
}

/// `benchkeep init`: what to write where.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct InitRequest {
    /// `fs`, `git`, `s3`, or a store URL (`file://PATH`, `git:BRANCH`, `s3://BUCKET/PREFIX`);
    /// `None`: the existing configuration's store, else `fs`.
    pub store: Option<String>,
    /// Also a CI job.
    pub ci: Option<CiSystem>,
    /// The branch whose runs become the baseline; `None`: the existing configuration's
    /// `promote_on`, else `main`.
    pub main_branch: Option<String>,
    /// The `[[bench]]` command.
    pub bench: Option<String>,
    /// How to build the project before measuring (`[ab] build`, and the CI job's build step).
    pub build: Option<String>,
    /// Overwrite existing files (an existing configuration keeps its store).
    pub force: bool,
    /// Where (the working directory by default).
    pub dir: Option<PathBuf>,
}

impl InitRequest {
    /// The defaults of `benchkeep init`: the existing configuration's store or fs, no CI job,
    /// `main`.
    #[must_use]
    pub fn new() -> Self {
        InitRequest::default()
    }
}

/// The stores `init` knows how to set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreKind {
    /// `.benchkeep/`.
    Fs,
    /// An orphan branch of the repository.
    Git,
    /// An S3 bucket.
    S3,
}

impl StoreKind {
    /// `fs`, `git` or `s3`.
    ///
    /// # Errors
    ///
    /// Any other word.
    pub fn parse(text: &str) -> Result<Self, Error> {
        match text {
            "fs" | "file" => Ok(StoreKind::Fs),
            "git" => Ok(StoreKind::Git),
            "s3" => Ok(StoreKind::S3),
            other => bail!(
                "--store {other:?}: expected fs, git, s3 or a store URL (file://PATH, git:BRANCH, s3://BUCKET/PREFIX)"
            ),
        }
    }

    /// The kind of store a URL names (`file://`, `git:`, `s3://`), as `stores::open` reads it.
    #[must_use]
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("file://") {
            Some(StoreKind::Fs)
        } else if url.starts_with("git:") {
            Some(StoreKind::Git)
        } else if url.starts_with("s3://") {
            Some(StoreKind::S3)
        } else {
            None
        }
    }

    fn default_url(self) -> Option<&'static str> {
        match self {
            // The default directory is created on first use; an explicit file:// URL must
            // exist, and a fresh clone (or a CI cache miss) has no `.benchkeep/` yet.
            StoreKind::Fs => None,
            StoreKind::Git => Some("git:benchkeep-data"),
            StoreKind::S3 => Some("s3://CHANGE-ME-bucket/benchkeep"),
        }
    }
}

/// A store as `init` writes it: its kind and the URL of the `store` key (`None`: the default
/// `.benchkeep/`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct StoreChoice {
    kind: StoreKind,
    url: Option<String>,
}

impl StoreChoice {
    fn parse(text: &str) -> Result<Self, Error> {
        if let Some(kind) = StoreKind::of_url(text) {
            return Ok(StoreChoice {
                kind,
                url: Some(text.to_owned()),
            });
        }
        let kind = StoreKind::parse(text)?;
        Ok(StoreChoice {
            kind,
            url: kind.default_url().map(str::to_owned),
        })
    }

    /// The store a configuration names (none: the default `.benchkeep/`).
    fn of_config(url: Option<&str>, path: &Path) -> Result<Self, Error> {
        let Some(url) = url else {
            return Ok(StoreChoice {
                kind: StoreKind::Fs,
                url: None,
            });
        };
        let Some(kind) = StoreKind::of_url(url) else {
            bail!(
                "{}: store {url:?} is not a store URL (file://PATH, git:BRANCH, s3://BUCKET/PREFIX)",
                path.display()
            );
        };
        Ok(StoreChoice {
            kind,
            url: Some(url.to_owned()),
        })
    }

    /// Whether `requested` (from `--store`) asks for this store: a bare kind matches any URL of
    /// that kind.
    fn is_asked_by(&self, requested: &str) -> bool {
        match StoreKind::of_url(requested) {
            Some(_) => self.url.as_deref() == Some(requested),
            None => StoreKind::parse(requested).is_ok_and(|kind| kind == self.kind),
        }
    }

    fn describe(&self) -> String {
        self.url
            .clone()
            .unwrap_or_else(|| ".benchkeep/ (the default)".to_owned())
    }
}

/// What `init` learnt from a `benchkeep.toml` that is already there.
struct Existing {
    store: StoreChoice,
    main_branch: Option<String>,
    build: Option<String>,
}

/// Reads the configuration `init` found. Only its `store`, `promote_on` and `[ab] build` matter
/// here, and they are read from the TOML table so that a file with a key this version refuses
/// still keeps its store.
fn read_existing(path: &Path) -> Result<Option<Existing>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read {}", path.display()));
        }
    };
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        Error::Invalid(format!(
            "{} is not valid TOML ({}); nothing was written",
            path.display(),
            e.message()
        ))
    })?;
    let text_at = |section: Option<&str>, key: &str| {
        let table = match section {
            Some(name) => table.get(name)?.as_table()?,
            None => &table,
        };
        table.get(key)
    };
    let store = StoreChoice::of_config(text_at(None, "store").and_then(|v| v.as_str()), path)?;
    let main_branch = text_at(Some("compare"), "promote_on")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let build = match text_at(Some("ab"), "build") {
        None => None,
        Some(value) => {
            let line: CommandLine = value.clone().try_into().map_err(|_| {
                Error::Invalid(format!(
                    "{}: [ab] build must be a string or a list of strings",
                    path.display()
                ))
            })?;
            Some(line.shell_line())
        }
    };
    Ok(Some(Existing {
        store,
        main_branch,
        build,
    }))
}

/// `benchkeep init`: a commented `benchkeep.toml` for the chosen store and, on request, a CI
/// job. Returns what was written and the next steps, for people.
///
/// - With `ci` and an existing `benchkeep.toml`, the configuration is kept as it is and the job
///   is written for its store, main branch and build command.
/// - Without `ci`, an existing configuration is rewritten only with `force`, and keeps its
///   store: a `--store` naming another is refused, since the runs and baselines already
///   recorded would be left behind.
/// - Existing CI files are overwritten only with `force`.
///
/// # Errors
///
/// An unknown store, an invalid branch name, an existing file without `force`, a store change,
/// a file that cannot be written.
pub fn init(args: &InitRequest, cwd: &Path) -> Result<String, Error> {
    let dir = args.dir.clone().unwrap_or_else(|| cwd.to_owned());
    let config_path = dir.join(CONFIG_FILE);
    let existing = read_existing(&config_path)?;
    let store = match (&existing, args.store.as_deref()) {
        (Some(existing), Some(requested)) if !existing.store.is_asked_by(requested) => bail!(
            "{} keeps its runs and baselines in {}; --store {requested} would leave them behind: \
             change `store` in it by hand (docs/config.md), or leave --store out",
            config_path.display(),
            existing.store.describe()
        ),
        (Some(existing), _) => existing.store.clone(),
        (None, Some(requested)) => StoreChoice::parse(requested)?,
        (None, None) => StoreChoice::parse("fs")?,
    };
    let main = args
        .main_branch
        .clone()
        .or_else(|| existing.as_ref().and_then(|e| e.main_branch.clone()))
        .unwrap_or_else(|| "main".to_owned());
    if main.is_empty() || main.starts_with('-') || main.contains(char::is_whitespace) {
        bail!("--main-branch {main:?} is not a branch name");
    }
    let build = args
        .build
        .clone()
        .or_else(|| existing.as_ref().and_then(|e| e.build.clone()));

    let mut files: Vec<(PathBuf, String)> = Vec::new();
    let keep_config = existing.is_some() && args.ci.is_some();
    if keep_config {
        // The job is written for the configuration; what would have gone into it is refused
        // rather than dropped.
        for (flag, given) in [
            ("--bench", args.bench.is_some()),
            ("--build", args.build.is_some()),
        ] {
            if given {
                bail!(
                    "{} exists and `init --ci` keeps it as it is, so {flag} would be ignored: \
                     edit the file, or run `init --force` without --ci to rewrite it",
                    config_path.display()
                );
            }
        }
    } else {
        if existing.is_some() && !args.force {
            bail!(
                "{} exists; nothing was written (--ci github|gitlab adds a CI job for it, \
                 --force rewrites it with the same store)",
                config_path.display()
            );
        }
        files.push((
            config_path.clone(),
            config_text(&store, &main, args.bench.as_deref(), build.as_deref()),
        ));
    }
    match args.ci {
        Some(CiSystem::Github) => files.push((
            dir.join(".github/workflows/benchkeep.yml"),
            github_workflow(store.kind, &main, build.as_deref()),
        )),
        Some(CiSystem::Gitlab) => files.push((
            dir.join(".gitlab/benchkeep.gitlab-ci.yml"),
            gitlab_job(store.kind, &main, build.as_deref()),
        )),
        None => {}
    }
    if !args.force
        && let Some((existing, _)) = files.iter().find(|(path, _)| path.exists())
    {
        bail!(
            "{} exists; nothing was written (use --force to overwrite)",
            existing.display()
        );
    }
    let mut report = String::new();
    if keep_config {
        let _ = writeln!(
            report,
            "kept {} (store {}, main branch {main})",
            config_path.display(),
            store.describe()
        );
    }
    for (path, text) in &files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
        let _ = writeln!(report, "wrote {}", path.display());
    }
    report.push_str(&next_steps(&store, args.ci, keep_config));
    Ok(report)
}

fn config_text(
    store: &StoreChoice,
    main: &str,
    bench: Option<&str>,
    build: Option<&str>,
) -> String {
    let store_comment = match store.kind {
        StoreKind::Fs => {
            "# Runs and baselines in a directory of this repository (commit it, or cache it in CI)."
        }
        StoreKind::Git => {
            "# Runs and baselines on an orphan branch of this repository, pushed to `origin`\n# (docs/stores/git.md). No service needed; CI needs permission to push."
        }
        StoreKind::S3 => {
            "# Runs and baselines in S3-compatible object storage shared by every runner\n# (docs/stores/s3.md). Credentials come from the usual AWS_* variables."
        }
    };
    let store_line = match &store.url {
        Some(url) => format!("store = {}", toml_string(url)),
        None => "# store: none set, so runs go to .benchkeep/ at the repository root (created on\n# first use); \"git:benchkeep-data\" keeps them on a branch, \"s3://BUCKET/PREFIX\" in S3".to_owned(),
    };
    let command = bench.map_or_else(
        || "\"./target/release/my-program --input data/sample\"  # CHANGE ME".to_owned(),
        toml_string,
    );
    let build_line = build.map_or_else(
        || "# build = \"cargo build --release\"  # how to build the project: check --pr runs it in the base's\n#                                   # worktree and here; the CI job runs it before measuring".to_owned(),
        |build| format!("build = {}  # check --pr runs it in the base's worktree and here; CI before measuring", toml_string(build)),
    );
    format!(
        r#"# benchkeep configuration (docs/config.md has every key). Every key is optional; unknown keys
# are errors, so a typo cannot silently change a gate.

{store_comment}
{store_line}

[run]
# warmup = 1        # unmeasured runs before measuring
# min_time = 1.0    # seconds of measurement per benchmark, at least min_runs runs
# min_runs = 10
# timeout = 60      # seconds before a run's whole process group is killed

[compare]
threshold = 5               # smallest change that counts, in percent
# fail_on_inconclusive = false
# fail_on = "minor"         # least severity that fails: "minor" (every regression), "moderate", "critical"
# allow_missing = false     # a benchmark missing from a run fails the gate
# max_age_days = 30         # warn when the baseline is older (0: never)
# gate = "primary"          # or "all", or ["wall_time", "peak_rss"]
promote_on = {main_value}        # a passing check on {main} adds its run to {main}'s baseline
# promote_keep = 10         # runs a promoted baseline keeps
# environment = "warn"      # machine differs from the baseline's: "warn", "refuse" or "ignore"

[ab]
# Pull requests (`check --pr`) measure their base and head in paired rounds.
{build_line}

[[bench]]
name = "example"
command = {command}

# Per-benchmark rules, by exact name or glob; the most specific wins.
# [[policy]]
# name = "io_*"
# threshold = 15
# max = "250ms"             # an absolute limit, whatever the baseline ("512MiB", min = "1000/s")
"#,
        main_value = toml_string(main),
    )
}

/// A TOML basic string: Rust's `{:?}` escapes are not all TOML's (`\u{7f}`), so this writes
/// the value through the TOML serializer.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

fn next_steps(store: &StoreChoice, ci: Option<CiSystem>, kept_config: bool) -> String {
    let mut text = String::new();
    if !kept_config {
        text.push_str(
            "next: edit the [[bench]] command in benchkeep.toml, then run `benchkeep check`\n",
        );
    }
    text.push_str(
        "next: on the main branch, `benchkeep check --promote` makes the local baseline (in CI, pushes to main make it)\n",
    );
    if store.kind == StoreKind::S3
        && store
            .url
            .as_deref()
            .is_none_or(|url| url.contains("CHANGE-ME"))
    {
        text.push_str(
            "next: set the bucket in `store` and the AWS_* credentials (docs/stores/s3.md)\n",
        );
    }
    match ci {
        Some(CiSystem::Gitlab) => text.push_str(
            "next: add `include: .gitlab/benchkeep.gitlab-ci.yml` to .gitlab-ci.yml, and a pipeline schedule for the weekly trend\n",
        ),
        Some(CiSystem::Github) if store.kind == StoreKind::S3 => text.push_str(
            "next: add the repository secrets BENCHKEEP_AWS_ACCESS_KEY_ID and BENCHKEEP_AWS_SECRET_ACCESS_KEY\n",
        ),
        _ => {}
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn choice(text: &str) -> StoreChoice {
        StoreChoice::parse(text).unwrap()
    }

    #[test]
    fn every_generated_configuration_is_valid() {
        for store in [
            "fs",
            "git",
            "s3",
            "s3://team-bench/ci?region=eu-west-1",
            "git:perf-data",
        ] {
            for bench in [None, Some("cargo bench --bench \"x\"")] {
                for build in [None, Some("cargo build --release")] {
                    let store = choice(store);
                    let text = config_text(&store, "main", bench, build);
                    let config =
                        Config::parse(&text).unwrap_or_else(|e| panic!("{store:?}: {e:#}\n{text}"));
                    // The fs store is the default, created on first use: no URL to exist first.
                    assert_eq!(config.store, store.url);
                    assert_eq!(config.compare.promote_on.as_deref(), Some("main"));
                    assert_eq!(config.bench.len(), 1);
                    assert_eq!(config.ab.build.map(|b| b.shell_line()).as_deref(), build);
                }
            }
        }
    }

    /// docs/ci.md shows exactly what `init` writes, so the two cannot drift apart.
    #[test]
    fn the_ci_guide_shows_the_generated_jobs_verbatim() {
        let guide =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/ci.md"))
                .unwrap();
        for store in [StoreKind::Fs, StoreKind::Git, StoreKind::S3] {
            for (ci, text) in [
                (
                    "github",
                    github_workflow(store, "main", Some("cargo build --release")),
                ),
                (
                    "gitlab",
                    gitlab_job(store, "main", Some("cargo build --release")),
                ),
            ] {
                assert!(
                    guide.contains(&format!("```yaml\n{text}```")),
                    "docs/ci.md lacks the {ci} job for {store:?}: regenerate it with \
                     `benchkeep init --ci {ci} --build 'cargo build --release'`"
                );
            }
        }
    }

    fn request(dir: &Path) -> InitRequest {
        InitRequest {
            dir: Some(dir.to_owned()),
            ..InitRequest::new()
        }
    }

    fn read(path: PathBuf) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn init_writes_files_and_never_overwrites_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let args = |force| InitRequest {
            store: Some("git".into()),
            ci: Some(CiSystem::Github),
            bench: Some("make bench".into()),
            force,
            ..request(dir.path())
        };
        init(&args(false), dir.path()).unwrap();
        let config = read(dir.path().join("benchkeep.toml"));
        assert!(config.contains("store = \"git:benchkeep-data\""));
        assert!(config.contains("command = \"make bench\""));
        assert!(dir.path().join(".github/workflows/benchkeep.yml").is_file());
        // A second `init` writes nothing: not the configuration, not the job.
        let error = init(
            &InitRequest {
                ci: None,
                bench: None,
                ..args(false)
            },
            dir.path(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("benchkeep.toml exists; nothing was written"),
            "{error}"
        );
        let error = init(
            &InitRequest {
                bench: None,
                ..args(false)
            },
            dir.path(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("benchkeep.yml exists; nothing was written"),
            "{error}"
        );
        let bad = InitRequest {
            store: Some("ftp".into()),
            dir: Some(dir.path().join("elsewhere")),
            ..args(true)
        };
        let error = init(&bad, dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("expected fs, git, s3 or a store URL"),
            "{error}"
        );
    }

    /// `init --ci` next to an existing configuration writes the job for it and leaves it as
    /// it is; `--force` never switches its store (the bug: `init --ci gitlab --force` rewrote
    /// an edited git-store configuration as an fs one).
    #[test]
    fn an_existing_configuration_is_kept_and_its_store_never_changes() {
        let dir = tempfile::tempdir().unwrap();
        let mine = "store = \"git:perf\"\n[compare]\npromote_on = \"trunk\"\n[ab]\nbuild = [\"make\", \"all files\"]\n[[bench]]\nname = \"edited\"\ncommand = \"./bench --edited\"\n";
        std::fs::write(dir.path().join("benchkeep.toml"), mine).unwrap();
        for ci in [CiSystem::Gitlab, CiSystem::Github] {
            for force in [false, true] {
                let report = init(
                    &InitRequest {
                        ci: Some(ci),
                        force,
                        ..request(dir.path())
                    },
                    dir.path(),
                )
                .unwrap();
                assert!(report.contains("kept"), "{report}");
                assert_eq!(read(dir.path().join("benchkeep.toml")), mine);
            }
        }
        let gitlab = read(dir.path().join(".gitlab/benchkeep.gitlab-ci.yml"));
        assert!(gitlab.contains("--promote-on trunk"), "{gitlab}");
        assert!(
            gitlab.contains("BENCHKEEP_PUSH_TOKEN"),
            "the git store's push:\n{gitlab}"
        );
        assert!(
            gitlab.contains("        make 'all files'\n"),
            "the build step:\n{gitlab}"
        );
        let github = read(dir.path().join(".github/workflows/benchkeep.yml"));
        assert!(github.contains("contents: write"), "{github}");
        assert!(github.contains("refs/heads/trunk"), "{github}");

        // Another store is refused, with or without --force, and nothing is written.
        for (store, force) in [("fs", true), ("s3", false), ("git:other", true)] {
            let error = init(
                &InitRequest {
                    store: Some(store.into()),
                    force,
                    ..request(dir.path())
                },
                dir.path(),
            )
            .unwrap_err()
            .to_string();
            assert!(
                error.contains("keeps its runs and baselines in git:perf")
                    && error.contains("would leave them behind"),
                "{error}"
            );
            assert_eq!(read(dir.path().join("benchkeep.toml")), mine);
        }
        // --bench with --ci would be dropped: refused.
        let error = init(
            &InitRequest {
                ci: Some(CiSystem::Github),
                bench: Some("x".into()),
                force: true,
                ..request(dir.path())
            },
            dir.path(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("--bench would be ignored"), "{error}");

        // --force without --ci rewrites it with the same store, main branch and build.
        init(
            &InitRequest {
                store: Some("git".into()),
                force: true,
                ..request(dir.path())
            },
            dir.path(),
        )
        .unwrap();
        let config = Config::parse(&read(dir.path().join("benchkeep.toml"))).unwrap();
        assert_eq!(config.store.as_deref(), Some("git:perf"));
        assert_eq!(config.compare.promote_on.as_deref(), Some("trunk"));
        assert_eq!(
            config.ab.build.map(|b| b.shell_line()).as_deref(),
            Some("make 'all files'")
        );
    }

    #[test]
    fn a_store_url_is_written_as_given() {
        let dir = tempfile::tempdir().unwrap();
        let url = "s3://team-bench/ci?endpoint=http://127.0.0.1:9000&allow_http=true";
        let report = init(
            &InitRequest {
                store: Some(url.into()),
                ci: Some(CiSystem::Github),
                ..request(dir.path())
            },
            dir.path(),
        )
        .unwrap();
        assert!(!report.contains("set the bucket"), "{report}");
        let config = Config::parse(&read(dir.path().join("benchkeep.toml"))).unwrap();
        assert_eq!(config.store.as_deref(), Some(url));
        assert!(
            read(dir.path().join(".github/workflows/benchkeep.yml")).contains("AWS_ACCESS_KEY_ID")
        );
    }

    #[test]
    fn an_unreadable_configuration_is_named_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("benchkeep.toml"), "store = [").unwrap();
        let error = init(
            &InitRequest {
                ci: Some(CiSystem::Github),
                force: true,
                ..request(dir.path())
            },
            dir.path(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("benchkeep.toml is not valid TOML"),
            "{error}"
        );
        assert_eq!(read(dir.path().join("benchkeep.toml")), "store = [");
        assert!(!dir.path().join(".github").exists());
    }
}
