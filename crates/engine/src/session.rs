//! A session: where benchkeep runs (directory, repository, configuration, store) and how it
//! talks to whoever started it ([`Events`]). Every command of the engine is a method of
//! [`Session`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use benchkeep_core::compare::{self, CompareConfig};
use benchkeep_core::key::BaselineKey;
use benchkeep_core::model::Benchmark;
use benchkeep_core::store::Store;
use benchkeep_runner::command::{Interrupt, NoProgress, Progress, RunCount};
use benchkeep_runner::environment;

use crate::config::Config;
use crate::settings::{self, CompareFlags};
use crate::stores::{self, UrlOrigin};
use crate::{Error, gate};

/// What a session tells its user while it works. The binary prints notices on stderr (unless
/// `--quiet`), details with `--verbose`, and progress bars on a terminal; a library user may
/// collect them, or use [`Silent`].
pub trait Events {
    /// Something the user should read: a warning, what was recorded or promoted, why not.
    fn notice(&self, text: &str);
    /// Something only a curious user wants (`--verbose`): where settings came from.
    fn detail(&self, text: &str);
    /// Measuring is about to start, stoppable through `interrupt` (the binary installs its
    /// signal handlers here, so that Ctrl-C before any measurement still ends the process).
    fn measuring(&self, interrupt: &Interrupt) {
        let _ = interrupt;
    }
    /// A progress display for measuring benchmark `name`.
    fn progress(&self, name: &str, runs: RunCount) -> Box<dyn Progress> {
        let _ = (name, runs);
        Box::new(NoProgress)
    }
}

/// Shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Events for Silent {
    fn notice(&self, _text: &str) {}
    fn detail(&self, _text: &str) {}
}

/// Where a session works.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SessionOptions {
    /// The working directory; the process's current directory when `None`.
    pub cwd: Option<PathBuf>,
    /// The configuration file (`--config`); found from the working directory up to the
    /// repository root when `None`.
    pub config: Option<PathBuf>,
    /// The store URL (`--store`, `BENCHKEEP_STORE`); the configuration's `store`, else the
    /// default `.benchkeep/`, when `None`.
    pub store: Option<String>,
    /// The flag that interrupts this session (wired to signal handlers by the caller); a
    /// fresh one when `None`.
    pub interrupt: Option<Interrupt>,
}

impl SessionOptions {
    /// Options for working in `cwd` with its configuration and store.
    #[must_use]
    pub fn in_dir(cwd: impl Into<PathBuf>) -> Self {
        SessionOptions {
            cwd: Some(cwd.into()),
            ..SessionOptions::default()
        }
    }
}

/// The engine at work in one directory: its configuration and store, an async runtime for the
/// stores, the interrupt flag measurements watch, and the [`Events`] it reports to.
pub struct Session {
    pub(crate) cwd: PathBuf,
    pub(crate) repo_root: Option<PathBuf>,
    pub(crate) config: Config,
    pub(crate) store_url: Option<String>,
    runtime: tokio::runtime::Runtime,
    pub(crate) interrupt: Interrupt,
    pub(crate) events: Box<dyn Events>,
    /// Shells measured for their start-up ([`crate::shell`]), by program.
    pub(crate) shell_startups:
        std::sync::Mutex<std::collections::BTreeMap<String, crate::shell::ShellStartup>>,
    /// What measuring found that a verdict's reader must know (`--check-output`), taken by
    /// the next verdict.
    pub(crate) measurement_warnings: std::sync::Mutex<Vec<String>>,
    /// With `--ignore-failure`: each benchmark's measured exit codes, for the exports.
    pub(crate) exit_codes: std::sync::Mutex<std::collections::BTreeMap<String, Vec<Option<i32>>>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("cwd", &self.cwd)
            .field("config", &self.config.path)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Opens a session: reads the configuration (validated), finds the repository root.
    ///
    /// # Errors
    ///
    /// An unreadable or invalid configuration; no working directory; no async runtime.
    pub fn new(options: SessionOptions, events: Box<dyn Events>) -> Result<Self, Error> {
        let cwd = match options.cwd {
            Some(cwd) => cwd,
            None => std::env::current_dir().map_err(|source| Error::Io {
                context: "cannot read the current directory".into(),
                source,
            })?,
        };
        let repo_root = environment::git_toplevel(&cwd);
        let config = Config::load(options.config.as_deref(), &cwd, repo_root.as_deref())?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| Error::Io {
                context: "cannot start the async runtime".into(),
                source,
            })?;
        events.detail(&match &config.path {
            Some(path) => format!("config: {}", path.display()),
            None => "config: none found (defaults)".to_owned(),
        });
        Ok(Session {
            cwd,
            repo_root,
            config,
            store_url: options.store,
            runtime,
            interrupt: options.interrupt.unwrap_or_default(),
            events,
            shell_startups: std::sync::Mutex::default(),
            measurement_warnings: std::sync::Mutex::default(),
            exit_codes: std::sync::Mutex::default(),
        })
    }

    /// The configuration in force.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// `path` as this session sees it: relative paths (run files, imports, `--out`) are
    /// relative to its working directory, not the process's.
    #[must_use]
    pub fn path(&self, path: &Path) -> PathBuf {
        self.cwd.join(path)
    }

    /// Where this session reports what it does.
    #[must_use]
    pub fn events(&self) -> &dyn Events {
        self.events.as_ref()
    }

    /// The working directory.
    #[must_use]
    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// The flag that stops measurements: set it (from a signal handler, say) and the running
    /// command is killed and the operation ends with [`Error::Interrupted`].
    #[must_use]
    pub fn interrupt(&self) -> &Interrupt {
        &self.interrupt
    }

    /// Opens the store: `--store`, else the configuration's `store` (relative to the file),
    /// else `.benchkeep/` at the repository root.
    ///
    /// # Errors
    ///
    /// A malformed or unsupported URL, a missing directory, an unreachable store.
    pub fn store(&self) -> Result<Box<dyn Store>, Error> {
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

    /// Runs a store's future to completion.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    pub(crate) fn notice(&self, text: &str) {
        self.events.notice(text);
    }

    pub(crate) fn detail(&self, text: &str) {
        self.events.detail(text);
    }

    /// The comparison settings of the configuration with `flags` on top.
    ///
    /// # Errors
    ///
    /// A setting out of range, naming it.
    pub fn compare_config(&self, flags: &CompareFlags) -> Result<CompareConfig, Error> {
        Ok(settings::compare_config(&self.config, flags)?)
    }

    /// The `[[policy]]` that applies to each benchmark on either side of a comparison.
    pub(crate) fn policies_for(
        &self,
        baseline: &[Benchmark],
        current: &[Benchmark],
    ) -> Result<BTreeMap<String, compare::Policy>, Error> {
        let names: Vec<&str> = baseline
            .iter()
            .chain(current)
            .map(|b| b.name.as_str())
            .collect();
        for warning in crate::limits_not_applied(&self.config.policy, &names) {
            self.notice(&format!("warning: {warning}"));
        }
        Ok(crate::resolve_policies(
            &self.config.policy,
            names.iter().copied(),
        )?)
    }

    /// Whether `comparison` passes the gate under `config`, the one place every gating command
    /// asks; settles each entry's effect on the gate, which the reports then show. First
    /// refuses a gate that has no evidence for something it was asked to judge: a benchmark
    /// whose gate names only metrics it did not measure, a gate metric no benchmark measured,
    /// or a policy limit on a unit none of its benchmark's metrics has. A pass there would be
    /// earned by nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Unjudged`] naming what the gate could not judge.
    pub fn gate_passes(
        &self,
        comparison: &mut compare::Comparison,
        config: &CompareConfig,
    ) -> Result<bool, Error> {
        for warning in gate::judge(comparison, config)? {
            self.notice(&format!("warning: {warning}"));
        }
        Ok(gate::passes(comparison))
    }

    /// The key of `branch` and `platform` overrides, else the configuration's, else git's
    /// branch and the machine's platform.
    pub(crate) fn resolve_key(
        &self,
        key: &KeyOverrides,
        git_branch: Option<&str>,
        default_platform: &str,
    ) -> Result<BaselineKey, Error> {
        let branch = key
            .branch
            .clone()
            .or_else(|| self.config.branch.clone())
            .or_else(|| git_branch.map(str::to_owned))
            .unwrap_or_else(|| "default".to_owned());
        let platform = key
            .platform
            .clone()
            .or_else(|| self.config.platform.clone())
            .unwrap_or_else(|| default_platform.to_owned());
        BaselineKey::new(branch, platform).map_err(|e| Error::Invalid(e.to_string()))
    }

    /// The key of this checkout and machine, unless `key` overrides it.
    ///
    /// # Errors
    ///
    /// An invalid branch or platform name.
    pub fn current_key(&self, key: &KeyOverrides) -> Result<BaselineKey, Error> {
        let env = |name: &str| std::env::var(name).ok();
        let git = environment::git_info_in(&self.cwd, Some(self.repo_root.is_some()), &env);
        self.resolve_key(
            key,
            git.as_ref().and_then(|g| g.branch.as_deref()),
            &environment::fingerprint().platform_key(),
        )
    }

    /// The git store's options, for operations only a git store has.
    #[cfg(feature = "git")]
    pub(crate) fn git_options(&self) -> Result<benchkeep_store_git::GitOptions, Error> {
        let url = self
            .store_url
            .as_deref()
            .or(self.config.store.as_deref())
            .filter(|u| u.starts_with("git:"))
            .ok_or_else(|| {
                Error::Invalid(
                    "--squash-history applies to git stores only (--store git:...)".into(),
                )
            })?;
        let base = match (&self.store_url, self.config.base_dir()) {
            (None, Some(dir)) => dir.to_owned(),
            _ => self.cwd.clone(),
        };
        benchkeep_store_git::GitOptions::from_url(&url["git:".len()..], &base)
            .map_err(|e| Error::store("cannot open the git store", e))
    }
}

/// `--branch` and `--platform`: the parts of the key to set instead of git's branch and the
/// machine's platform.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct KeyOverrides {
    /// The branch part of the key.
    pub branch: Option<String>,
    /// The platform part of the key.
    pub platform: Option<String>,
}

impl KeyOverrides {
    /// Overrides of both parts.
    #[must_use]
    pub fn new(branch: Option<String>, platform: Option<String>) -> Self {
        KeyOverrides { branch, platform }
    }
}
