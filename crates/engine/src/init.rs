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
    /// The configuration file (`--config`), relative to `dir` or the working directory: the
    /// one to keep (with `ci`) or to write. Default: the one `check` would read.
    pub config: Option<PathBuf>,
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
            // What `check` would refuse is refused here, before it is written down (the URL
            // alone: nothing is opened or reached).
            #[cfg(feature = "s3")]
            if let Some(spec) = text.strip_prefix("s3://") {
                benchkeep_store_s3::S3Options::from_url(spec)
                    .map_err(|e| Error::Invalid(format!("--store: {e}")))?;
            }
            if text == "file://" {
                bail!("--store file:// names no directory: use file://PATH");
            }
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

    /// The store to write for: the existing configuration's (a `requested` other one is
    /// refused, since what it holds would be left behind), else `requested`, else fs.
    fn chosen(
        existing: Option<&StoreChoice>,
        requested: Option<&str>,
        config_path: &Path,
    ) -> Result<Self, Error> {
        match (existing, requested) {
            (Some(existing), Some(requested)) if !existing.is_asked_by(requested) => bail!(
                "{} keeps its runs and baselines in {}; --store {requested} would leave them \
                 behind: change `store` in it by hand (docs/config.md), or leave --store out",
                config_path.display(),
                existing.describe()
            ),
            (Some(existing), _) => Ok(existing.clone()),
            (None, Some(requested)) => StoreChoice::parse(requested),
            (None, None) => StoreChoice::parse("fs"),
        }
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

    /// The fs store's directory relative to the repository root (`.benchkeep` by default,
    /// a `file://` path relative to the configuration file), for the CI jobs that cache it.
    /// A directory outside the repository, or one whose name a CI file cannot hold as it is,
    /// is refused.
    fn dir_for_ci(&self, config: &Path, ci_root: &Path) -> Result<Option<String>, Error> {
        if self.kind != StoreKind::Fs {
            return Ok(None);
        }
        let Some(path) = self.url.as_deref().and_then(|u| u.strip_prefix("file://")) else {
            return Ok(Some(".benchkeep".to_owned()));
        };
        let config_dir = config.parent().unwrap_or(Path::new("."));
        let dir = absolute(config_dir).join(path);
        // Normalised by hand: the directory may not exist yet (CI creates it).
        let mut parts: Vec<std::path::Component<'_>> = Vec::new();
        for part in dir.components() {
            match part {
                std::path::Component::ParentDir => {
                    parts.pop();
                }
                std::path::Component::CurDir => {}
                other => parts.push(other),
            }
        }
        let dir: PathBuf = parts.iter().collect();
        let Ok(inside) = dir.strip_prefix(absolute(ci_root)) else {
            bail!(
                "the store {} is outside the repository at {}, where a CI job cannot cache it: \
                 keep it inside, or use the git or s3 store",
                dir.display(),
                ci_root.display()
            );
        };
        let inside = inside.to_string_lossy().into_owned();
        check_ci_path(&inside, "the store directory")?;
        Ok(Some(inside))
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

/// Where `init` reads and writes: the configuration file, and the directory the CI files go
/// under (the repository root, where GitHub and GitLab look for them).
#[derive(Debug)]
struct Places {
    config: PathBuf,
    ci_root: PathBuf,
    /// The configuration's path relative to `ci_root`, when a CI job at the root would not find
    /// it by itself (anything but `ROOT/benchkeep.toml`): the jobs set `BENCHKEEP_CONFIG`.
    config_for_ci: Option<String>,
}

/// The configuration `check` would read (`--config`, else `benchkeep.toml` in `cwd`, else at the
/// repository root), or where a new one goes (`cwd`); the CI files go to the repository root
/// (or `--dir`, or `cwd` outside a repository).
fn places(args: &InitRequest, cwd: &Path) -> Result<Places, Error> {
    // From the nearest directory that exists: `--dir` may name one init is about to create.
    let toplevel = |dir: &Path| {
        dir.ancestors()
            .find(|d| d.is_dir())
            .and_then(benchkeep_runner::environment::git_toplevel)
    };
    let (config, ci_root) = if let Some(dir) = &args.dir {
        let config = args
            .config
            .as_ref()
            .map_or_else(|| dir.join(CONFIG_FILE), |c| dir.join(c));
        (config, toplevel(dir).unwrap_or_else(|| dir.clone()))
    } else {
        let root = toplevel(cwd);
        let config = if let Some(config) = &args.config {
            cwd.join(config)
        } else {
            let here = cwd.join(CONFIG_FILE);
            match root.as_ref().map(|r| r.join(CONFIG_FILE)) {
                Some(at_root) if !here.exists() && at_root.exists() => at_root,
                _ => here,
            }
        };
        (config, root.unwrap_or_else(|| cwd.to_owned()))
    };
    let config_dir = config.parent().unwrap_or(Path::new("."));
    let relative = absolute(config_dir)
        .strip_prefix(absolute(&ci_root))
        .map(|dir| dir.join(config.file_name().unwrap_or_default()));
    let config_for_ci = match relative {
        Ok(path) if path == Path::new(CONFIG_FILE) => None,
        Ok(path) => {
            let path = path.to_string_lossy().into_owned();
            if args.ci.is_some() {
                check_ci_path(&path, "the configuration's path")?;
            }
            Some(path)
        }
        // Only a CI job needs to find it from the repository root.
        Err(_) if args.ci.is_none() => None,
        Err(_) => bail!(
            "{} is outside the repository at {}, so a CI job there cannot read it: keep the \
             configuration inside the repository",
            config.display(),
            ci_root.display()
        ),
    };
    Ok(Places {
        config,
        ci_root,
        config_for_ci,
    })
}

/// `path` with symbolic links resolved where it exists (a temporary directory may be reached
/// through one), as given where it does not.
fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// Whether `text` has only letters, digits, `.`, `_`, `-` and `/`: nothing YAML, a shell or a
/// CI system's expressions read more into. Branch names and paths written into CI jobs are
/// held to it, so the jobs write them as they are.
pub(crate) fn is_plain(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
}

/// A path written into a CI file as it is (a cache path, `mkdir -p`, `BENCHKEEP_CONFIG`):
/// letters, digits, `.`, `_`, `-` and `/` only, so that neither YAML nor a shell nor a CI
/// system's expressions can read more into it.
fn check_ci_path(path: &str, what: &str) -> Result<(), Error> {
    let plain = is_plain(path) && !path.starts_with('-');
    if plain {
        Ok(())
    } else {
        bail!(
            "{what} {path:?} has characters init does not write into a CI job (letters, \
             digits, `.`, `_`, `-` and `/`): rename it"
        )
    }
}

/// A branch name that is safe to write into YAML, GitHub expressions and shell lines as it is:
/// git's rules, and no quote, `$`, space or other character those would interpret.
fn check_branch_name(name: &str, source: &str) -> Result<(), Error> {
    let safe = is_plain(name)
        && !name.starts_with(['-', '/', '.'])
        && !name.ends_with(['/', '.'])
        && !Path::new(name)
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("lock"))
        && !name.contains("..")
        && !name.contains("//");
    if safe {
        Ok(())
    } else {
        bail!(
            "{source} {name:?} is not a branch name init can write into a CI job (letters, \
             digits, `.`, `_`, `-` and `/`)"
        )
    }
}

/// The repository's main branch when nothing names it: origin's default branch, else the
/// current branch if it has a usual main-branch name, else `main`. Returns the name and where
/// it came from, for the report.
fn detect_main_branch(repo: &Path) -> (String, &'static str) {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(repo)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .filter(|name| !name.is_empty())
    };
    if let Some(name) = git(&["symbolic-ref", "--short", "refs/remotes/origin/HEAD"])
        .and_then(|full| full.strip_prefix("origin/").map(str::to_owned))
    {
        return (name, "origin's default branch");
    }
    if let Some(name) = git(&["symbolic-ref", "--short", "HEAD"])
        .filter(|name| ["main", "master", "trunk", "develop"].contains(&name.as_str()))
    {
        return (name, "the current branch");
    }
    ("main".to_owned(), "assumed; --main-branch names another")
}

/// The CI file for `ci`, at its place under the repository root.
fn ci_file(ci: CiSystem, job: &workflows::Job<'_>, root: &Path) -> (PathBuf, String) {
    match ci {
        CiSystem::Github => (
            root.join(".github/workflows/benchkeep.yml"),
            workflows::github(job),
        ),
        CiSystem::Gitlab => (
            root.join(".gitlab/benchkeep.gitlab-ci.yml"),
            workflows::gitlab(job),
        ),
    }
}

/// The main branch and where it came from: `--main-branch`, else the configuration's
/// `promote_on`, else the repository's. A `--main-branch` that disagrees with a configuration
/// `init` keeps is refused.
fn main_branch(
    given: Option<&str>,
    in_file: Option<&str>,
    keep_config: bool,
    config_path: &Path,
    repo: &Path,
) -> Result<(String, &'static str), Error> {
    match (given, in_file) {
        (Some(given), Some(file)) if keep_config && given != file => bail!(
            "{} promotes on {file:?}, and `init --ci` keeps it as it is, so --main-branch \
             {given:?} would disagree with it: change `promote_on` in it, or leave \
             --main-branch out",
            config_path.display()
        ),
        (Some(given), _) => Ok((given.to_owned(), "--main-branch")),
        (None, Some(file)) => Ok((file.to_owned(), "promote_on")),
        (None, None) => Ok(detect_main_branch(repo)),
    }
}

/// `benchkeep init`: a commented `benchkeep.toml` for the chosen store and, on request, a CI
/// job. Returns what was written and the next steps, for people.
///
/// - The configuration is the one `check` would read (`config`, else `benchkeep.toml` in the
///   working directory, else at the repository root); a new one goes to the working directory.
///   CI files go to the repository root, and a job whose configuration is elsewhere sets
///   `BENCHKEEP_CONFIG`.
/// - With `ci` and an existing configuration, the configuration is kept as it is and the job is
///   written for its store, main branch and build command.
/// - Without `ci`, an existing configuration is rewritten only with `force`, keeps its store
///   (a `--store` naming another is refused, since the runs and baselines already recorded
///   would be left behind), and is copied to `benchkeep.toml.bak` first.
/// - Existing CI files are overwritten only with `force`. Nothing is written when anything is
///   refused.
///
/// # Errors
///
/// An unknown store, an invalid branch name, an existing file without `force`, a store change,
/// a file that cannot be written.
pub fn init(args: &InitRequest, cwd: &Path) -> Result<String, Error> {
    let places = places(args, cwd)?;
    let config_path = &places.config;
    let existing = read_existing(config_path)?;
    let store = StoreChoice::chosen(
        existing.as_ref().map(|e| &e.store),
        args.store.as_deref(),
        config_path,
    )?;
    let existing_main = existing.as_ref().and_then(|e| e.main_branch.clone());
    let keep_config = existing.is_some() && args.ci.is_some();
    let (main, main_source) = main_branch(
        args.main_branch.as_deref(),
        existing_main.as_deref(),
        keep_config,
        config_path,
        &places.ci_root,
    )?;
    check_branch_name(&main, main_source)?;
    for (flag, value) in [("--bench", &args.bench), ("--build", &args.build)] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            bail!("{flag} is empty: give the command, or leave {flag} out");
        }
    }
    let build = args
        .build
        .clone()
        .or_else(|| existing.as_ref().and_then(|e| e.build.clone()));

    let mut files: Vec<(PathBuf, String)> = Vec::new();
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
        let text = config_text(&store, &main, args.bench.as_deref(), build.as_deref());
        // What init writes, benchkeep must read: a value the file refuses is refused here.
        crate::config::Config::parse(&text).map_err(|e| {
            Error::Invalid(format!("init would write an invalid {CONFIG_FILE}: {e}"))
        })?;
        files.push((config_path.clone(), text));
    }
    if let Some(ci) = args.ci {
        let job = workflows::Job {
            store: store.kind,
            main: &main,
            build: build.as_deref(),
            config: places.config_for_ci.as_deref(),
            store_dir: store.dir_for_ci(config_path, &places.ci_root)?,
        };
        files.push(ci_file(ci, &job, &places.ci_root));
    }
    if !args.force
        && let Some((existing, _)) = files.iter().find(|(path, _)| path.exists())
    {
        bail!(
            "{} exists; nothing was written (use --force to overwrite)",
            existing.display()
        );
    }
    let rewrites_config = existing.is_some() && !keep_config;
    let mut report = String::new();
    if keep_config {
        let _ = writeln!(
            report,
            "kept {} (store {}, main branch {main})",
            config_path.display(),
            store.describe()
        );
    } else if existing.is_none() && args.main_branch.is_none() {
        let _ = writeln!(report, "main branch: {main} ({main_source})");
    }
    write_files(
        &files,
        rewrites_config.then_some(config_path.as_path()),
        &mut report,
    )?;
    // A file:// store must exist before the first check (a typo must not make a fresh empty
    // store); init is where it is asked for, so init makes it.
    if let Some(path) = store.url.as_deref().and_then(|u| u.strip_prefix("file://")) {
        let dir = config_path.parent().unwrap_or(Path::new(".")).join(path);
        if !dir.exists() {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create the store directory {}", dir.display()))?;
            let _ = writeln!(report, "created the store directory {}", dir.display());
        }
    }
    report.push_str(&next_steps(&store, args.ci, keep_config));
    Ok(report)
}

/// Writes `files`, after copying `rewritten` (the configuration being replaced) to
/// `benchkeep.toml.bak`; says what it did in `report`. Every check that can fail on what is
/// there comes before the first write.
fn write_files(
    files: &[(PathBuf, String)],
    rewritten: Option<&Path>,
    report: &mut String,
) -> Result<(), Error> {
    let backup = rewritten.map(|config| config.with_extension("toml.bak"));
    if let Some(backup) = backup.as_ref().filter(|backup| backup.exists()) {
        bail!(
            "{} exists, and init keeps one copy of the configuration it rewrites: move it \
             away first; nothing was written",
            backup.display()
        );
    }
    // Every directory first, so that a file in the way fails before anything is written.
    for (path, _) in files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| {
                format!("cannot create {}; nothing was written", parent.display())
            })?;
        }
    }
    if let (Some(config_path), Some(backup)) = (rewritten, &backup) {
        std::fs::copy(config_path, backup).with_context(|| {
            format!(
                "cannot copy {} to {}",
                config_path.display(),
                backup.display()
            )
        })?;
        let _ = writeln!(
            report,
            "rewrote {} with its store, promote_on and [ab] build; everything else of it \
             ([[bench]], [[policy]], thresholds) is in {}",
            config_path.display(),
            backup.display()
        );
    }
    for (path, text) in files {
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
        let _ = writeln!(report, "wrote {}", path.display());
    }
    Ok(())
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
    if ci.is_some()
        && store.kind == StoreKind::Git
        && store
            .url
            .as_deref()
            .is_some_and(|url| url.contains("remote=none"))
    {
        text.push_str(
            "warning: the store's remote=none keeps runs in the CI job's own clone, which is \
             thrown away: baselines will not persist between jobs (drop remote=none to push \
             them to origin)\n",
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
    fn a_store_url_check_would_refuse_is_refused_by_init() {
        let dir = tempfile::tempdir().unwrap();
        let mut refused = vec![("file://", "names no directory")];
        if cfg!(feature = "s3") {
            refused.extend([
                ("s3://", "names no bucket"),
                ("s3:///prefix", "names no bucket"),
            ]);
        }
        for (store, needle) in refused {
            let error = init(
                &InitRequest {
                    store: Some(store.into()),
                    ..request(dir.path())
                },
                dir.path(),
            )
            .unwrap_err()
            .to_string();
            assert!(error.contains(needle), "{store}: {error}");
        }
        assert!(!dir.path().join("benchkeep.toml").exists());
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

    /// A git repository on `branch` with one commit, git's configuration isolated.
    fn repository(branch: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for args in [
            vec!["init", "-q", "-b", branch],
            vec![
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.invalid",
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                "start",
            ],
        ] {
            let status = std::process::Command::new("git")
                .args(&args)
                .current_dir(dir.path())
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .status()
                .unwrap();
            assert!(status.success(), "git {args:?}");
        }
        dir
    }

    /// In a subdirectory, `init --ci` finds the configuration `check` would read (the root's)
    /// and writes the job at the repository root, where CI looks; a configuration of its own
    /// in a subdirectory gets a job that points at it.
    #[test]
    fn ci_files_go_to_the_repository_root_and_find_the_configuration() {
        let repo = repository("main");
        let root = repo.path();
        let service = root.join("svc");
        std::fs::create_dir(&service).unwrap();
        let mine = "store = \"git:perf\"\n[[bench]]\nname = \"root\"\ncommand = \"true\"\n";
        std::fs::write(root.join("benchkeep.toml"), mine).unwrap();
        let report = init(
            &InitRequest {
                ci: Some(CiSystem::Github),
                ..InitRequest::new()
            },
            &service,
        )
        .unwrap();
        assert!(report.contains("kept"), "{report}");
        assert_eq!(read(root.join("benchkeep.toml")), mine);
        assert!(!service.join("benchkeep.toml").exists());
        let workflow = read(root.join(".github/workflows/benchkeep.yml"));
        assert!(
            workflow.contains("contents: write"),
            "the git store's job:\n{workflow}"
        );
        assert!(!workflow.contains("BENCHKEEP_CONFIG"), "{workflow}");
        assert!(!service.join(".github").exists());

        // --config names another file: the job is written for it, and points at it.
        std::fs::write(service.join("perf.toml"), "store = \"file://../runs\"\n").unwrap();
        init(
            &InitRequest {
                ci: Some(CiSystem::Gitlab),
                config: Some("perf.toml".into()),
                ..InitRequest::new()
            },
            &service,
        )
        .unwrap();
        let job = read(root.join(".gitlab/benchkeep.gitlab-ci.yml"));
        assert!(
            job.contains("    BENCHKEEP_CONFIG: svc/perf.toml\n"),
            "{job}"
        );
        // The file:// store is relative to the configuration: runs/ at the root, created
        // before the check (a cache miss leaves none), and cached.
        assert!(job.contains("paths: [runs/]"), "{job}");
        assert!(job.contains("    - mkdir -p runs "), "{job}");
    }

    #[test]
    fn a_file_store_is_cached_where_it_is_and_created_in_ci() {
        let dir = tempfile::tempdir().unwrap();
        init(
            &InitRequest {
                store: Some("file://bench-store".into()),
                ci: Some(CiSystem::Github),
                ..request(dir.path())
            },
            dir.path(),
        )
        .unwrap();
        let workflow = read(dir.path().join(".github/workflows/benchkeep.yml"));
        assert_eq!(
            workflow.matches("path: bench-store\n").count(),
            2,
            "{workflow}"
        );
        assert!(!workflow.contains("path: .benchkeep"), "{workflow}");
        assert!(
            dir.path().join("bench-store").is_dir(),
            "the first check needs it"
        );
        assert_eq!(
            workflow
                .matches("      - run: mkdir -p bench-store")
                .count(),
            2,
            "{workflow}"
        );
    }

    #[test]
    fn the_main_branch_is_the_repository_s_own() {
        let repo = repository("master");
        let report = init(
            &InitRequest {
                ci: Some(CiSystem::Github),
                ..InitRequest::new()
            },
            repo.path(),
        )
        .unwrap();
        assert!(
            report.contains("main branch: master (the current branch)"),
            "{report}"
        );
        let config = Config::parse(&read(repo.path().join("benchkeep.toml"))).unwrap();
        assert_eq!(config.compare.promote_on.as_deref(), Some("master"));
        let workflow = read(repo.path().join(".github/workflows/benchkeep.yml"));
        assert!(workflow.contains("branches: [\"master\"]"), "{workflow}");

        // With the configuration kept, a --main-branch that disagrees with it is refused.
        let error = init(
            &InitRequest {
                ci: Some(CiSystem::Gitlab),
                main_branch: Some("trunk".into()),
                ..InitRequest::new()
            },
            repo.path(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("promotes on \"master\""), "{error}");
    }

    #[test]
    fn unsafe_or_empty_values_are_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        for (request, needle) in [
            (
                InitRequest {
                    main_branch: Some("it's".into()),
                    ..request(dir.path())
                },
                "not a branch name init can write",
            ),
            (
                InitRequest {
                    main_branch: Some("a..b".into()),
                    ..request(dir.path())
                },
                "not a branch name",
            ),
            (
                InitRequest {
                    build: Some(" ".into()),
                    ..request(dir.path())
                },
                "--build is empty",
            ),
        ] {
            let error = init(&request, dir.path()).unwrap_err().to_string();
            assert!(error.contains(needle), "{error}");
        }
        // A file where a directory must go fails before anything is written.
        std::fs::write(dir.path().join(".github"), "").unwrap();
        let error = init(
            &InitRequest {
                ci: Some(CiSystem::Github),
                ..request(dir.path())
            },
            dir.path(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("nothing was written"), "{error}");
        assert!(!dir.path().join("benchkeep.toml").exists());
    }

    #[test]
    fn force_keeps_a_copy_of_the_configuration_it_rewrites() {
        let dir = tempfile::tempdir().unwrap();
        let mine = "[compare]\nthreshold = 3\n[[bench]]\nname = \"mine\"\ncommand = \"./bench\"\n";
        std::fs::write(dir.path().join("benchkeep.toml"), mine).unwrap();
        let force = InitRequest {
            force: true,
            ..request(dir.path())
        };
        let report = init(&force, dir.path()).unwrap();
        assert!(report.contains("benchkeep.toml.bak"), "{report}");
        assert_eq!(read(dir.path().join("benchkeep.toml.bak")), mine);
        // A second rewrite would lose the first copy: refused.
        std::fs::write(dir.path().join("benchkeep.toml"), mine).unwrap();
        let error = init(&force, dir.path()).unwrap_err().to_string();
        assert!(error.contains("benchkeep.toml.bak exists"), "{error}");
        assert_eq!(read(dir.path().join("benchkeep.toml")), mine);
    }

    /// What a CI job cannot hold or reach is refused before anything is written: a store
    /// outside the repository, a store path YAML or a shell would read more into. Without
    /// `--ci`, a configuration outside the repository is fine.
    #[test]
    fn what_a_ci_job_cannot_use_is_refused() {
        let repo = repository("main");
        let ci = |store: &str| InitRequest {
            store: Some(store.into()),
            ci: Some(CiSystem::Github),
            ..InitRequest::new()
        };
        let error = init(&ci("file://../elsewhere"), repo.path())
            .unwrap_err()
            .to_string();
        assert!(error.contains("outside the repository"), "{error}");
        let error = init(&ci("file://runs: x"), repo.path())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("has characters init does not write"),
            "{error}"
        );
        assert!(!repo.path().join("benchkeep.toml").exists());
        assert!(!repo.path().join(".github").exists());

        let elsewhere = tempfile::tempdir().unwrap();
        let config = elsewhere.path().join("shared.toml");
        init(
            &InitRequest {
                config: Some(config.clone()),
                ..InitRequest::new()
            },
            repo.path(),
        )
        .unwrap();
        assert!(config.is_file());
    }
}
