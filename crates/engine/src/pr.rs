//! `benchkeep check --pr`: a pull request measured against its base in paired rounds, in one
//! job, on one machine.
//!
//! The stored flow compares this job's samples with samples other jobs stored on other
//! machines at other hours, and so can mistake machine drift for a code change. Here the base
//! (the merge-base, or a given revision) is built in a cached worktree and both sides run with
//! `ab`'s engine, round by round in random order. Nothing goes into the store: a paired
//! verdict says "slower than its base, here, now", which is no baseline for anyone else.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::{Context as _, Error, bail};
use benchkeep_runner::environment;

use benchkeep_report::{Context, VerdictDocument};

use crate::ab::PairedRequest;
use crate::git::{add_worktree, git, git_os, remove_worktree};
use crate::session::{KeyOverrides, Session};

/// Base worktrees kept unless `[pr] keep` says otherwise: the current base and a couple of
/// recent ones, so switching between pull requests rebuilds nothing, yet disk use stays bounded.
const DEFAULT_KEEP: usize = 3;

/// Hex digits of a commit in worktree names and headings: unique in practice, and the same in
/// every clone (unlike `git rev-parse --short`, whose length grows with the repository), so a
/// cached directory is found again by name.
const SHORT: usize = 12;

/// The commit `--pr` compares with, and how it was found (for the heading and messages).
struct PrBase {
    commit: String,
    described: String,
}

impl Session {
    /// `check --pr [REV]`: build the base (REV, else the merge-base with the pull request's
    /// base branch) in a cached worktree and this checkout, measure them in paired rounds, and
    /// judge like `check`. Nothing is recorded.
    ///
    /// # Errors
    ///
    /// Not a git repository, no base found, invalid settings, a failing build or command,
    /// [`Error::Interrupted`].
    pub fn check_pr(
        &self,
        request: &PairedRequest,
        key: &KeyOverrides,
        rev: Option<&str>,
    ) -> Result<VerdictDocument, Error> {
        // Everything that can be refused is refused before the (possibly long) build.
        let (mut config, options, adaptive) = self.paired_settings(request)?;
        let root = self.repo_root.clone().ok_or_else(|| {
            Error::Invalid("check --pr needs a git repository; none found here".into())
        })?;
        let base = pr_base(&root, rev)?;
        let cache = self.base_cache(&root);
        let tree = cache.dir.join(short(&base.commit));
        let pairs = self.tree_pairs(request, &tree, "--pr")?;
        let key = self.current_key(key)?;
        self.events.measuring(&self.interrupt);

        match cache.checkout(&root, &base.commit)? {
            Checkout::Reused => self.notice(&format!(
                "reusing the base worktree {} ({})",
                tree.display(),
                base.described
            )),
            Checkout::Adopted => self.notice(&format!(
                "reattached the cached base worktree {} to this repository ({})",
                tree.display(),
                base.described
            )),
            Checkout::Added => self.notice(&format!(
                "checked out the base in {} ({})",
                tree.display(),
                base.described
            )),
        }
        for removed in cache.prune(&root, &tree) {
            self.detail(&format!(
                "removed the old base worktree {}",
                removed.display()
            ));
        }
        self.build_both(request, &tree, &root)?;
        let comparison =
            self.paired_comparison(&pairs, &options, &adaptive, &mut config, request.confirm)?;

        let env = |name: &str| std::env::var(name).ok();
        let git = environment::git_info_in(&self.cwd, Some(self.repo_root.is_some()), &env);
        let head = git.as_ref().and_then(|g| g.commit.clone());
        let dirty = if git.as_ref().and_then(|g| g.dirty) == Some(true) {
            " with uncommitted changes"
        } else {
            ""
        };
        // Markdown cuts a heading at 120 characters: what matters most comes first.
        let heading = format!(
            "paired in this job, nothing recorded: HEAD {}{dirty} against base {} ({})",
            head.as_deref().map_or("(no commit)", short),
            short(&base.commit),
            base.described,
        );
        let context = Context {
            // The key, not the commits: the sticky comment's marker must survive new pushes.
            subject: key.to_string(),
            heading: Some(heading),
            current_commit: head,
            baseline_commits: vec![base.commit],
            job_url: environment::ci_info(&env).and_then(|c| c.url),
            ..Context::default()
        };
        self.judge_paired(comparison, context, &config)
    }

    /// `[pr] worktree_dir` (relative to the configuration file), else `target/benchkeep-base`
    /// at the repository root, where build trees usually go and are already ignored or cached.
    fn base_cache(&self, root: &Path) -> BaseCache {
        let dir = match &self.config.pr.worktree_dir {
            Some(dir) => self.config.base_dir().unwrap_or(root).join(dir),
            None => root.join("target").join("benchkeep-base"),
        };
        BaseCache {
            dir,
            keep: self.config.pr.keep.unwrap_or(DEFAULT_KEEP).max(1),
        }
    }
}

/// The base of `--pr`: REV as given, else the merge-base of HEAD with the pull request's base
/// branch from CI (`origin/BRANCH`, then `BRANCH`). The errors say what was tried and what
/// usually fixes it.
fn pr_base(root: &Path, rev: Option<&str>) -> Result<PrBase, Error> {
    if let Some(rev) = rev {
        if rev.is_empty() || rev.starts_with('-') {
            bail!("--pr {rev:?} is not a revision");
        }
        let commit = git(
            root,
            &["rev-parse", "--verify", &format!("{rev}^{{commit}}")],
        )
        .map_err(|e| {
            Error::Invalid(format!(
                "check --pr {rev}: no such commit here ({e}); in CI, fetch the history (actions/checkout with fetch-depth: 0, GitLab GIT_DEPTH: 0)"
            ))
        })?;
        return Ok(PrBase {
            commit,
            described: rev.to_owned(),
        });
    }
    let env = |name: &str| std::env::var(name).ok();
    let Some((variable, branch)) = environment::base_branch(&env) else {
        bail!(
            "check --pr: no pull-request base branch: {} are all unset or empty (not a pull request?); give the base as `--pr REV` (e.g. --pr origin/main), or set BENCHKEEP_BASE_BRANCH",
            environment::BASE_BRANCH_VARIABLES.join(", ")
        );
    };
    let Some(commit) = environment::merge_base(root, &branch) else {
        bail!(
            "check --pr: git found no merge-base of HEAD with origin/{branch} or {branch} (the base branch, from {variable}); a shallow or single-branch clone? Fetch the history and the base branch: actions/checkout with fetch-depth: 0, GitLab GIT_DEPTH: 0"
        );
    };
    Ok(PrBase {
        commit,
        described: format!("the merge-base with {branch}"),
    })
}

fn short(commit: &str) -> &str {
    commit.get(..SHORT).unwrap_or(commit)
}

/// How [`BaseCache::checkout`] got its worktree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checkout {
    /// It was already this repository's worktree (at that commit after a forced checkout).
    Reused,
    /// The directory was there without git's bookkeeping (restored by a CI cache into a fresh
    /// clone): it was attached to this repository, keeping its build outputs.
    Adopted,
    /// A new worktree.
    Added,
}

/// The directory of base worktrees: one per base commit, named by its first [`SHORT`] hex
/// digits, kept across runs so base builds are incremental; the newest `keep` survive.
struct BaseCache {
    dir: PathBuf,
    keep: usize,
}

impl BaseCache {
    /// Makes `dir/<short commit>` a detached worktree of `repo` at `commit`, with its tracked
    /// files as committed and its untracked files (build outputs) left alone. The user's own
    /// HEAD, index and work tree are never touched: every command runs in the base worktree or
    /// only adds git's bookkeeping for it.
    fn checkout(&self, repo: &Path, commit: &str) -> Result<Checkout, Error> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let ignore = self.dir.join(".gitignore");
        if !ignore.exists() {
            // The directory usually sits inside the repository: keep it out of `git status`.
            std::fs::write(&ignore, "# benchkeep check --pr: base worktrees\n*\n")
                .with_context(|| format!("cannot write {}", ignore.display()))?;
        }
        let path = self.dir.join(short(commit));
        let how = if !path.exists() {
            add_worktree(repo, &path, commit, true).context("cannot check out the base")?;
            Checkout::Added
        } else if same_repository(repo, &path) {
            Checkout::Reused
        } else {
            self.adopt(repo, &path, commit)?;
            Checkout::Adopted
        };
        if how != Checkout::Added {
            // A reused tree may have been moved or edited since; force it back to the commit.
            // Files whose contents match are not rewritten, so builds stay incremental.
            git(
                &path,
                &["checkout", "--quiet", "--force", "--detach", commit],
            )
            .context("cannot reset the base worktree to its commit")?;
        }
        // Pruning keeps the most recently used trees: mark this one as used now.
        if let Ok(dir) = std::fs::File::open(&path) {
            let _ = dir.set_modified(SystemTime::now());
        }
        Ok(how)
    }

    /// Attaches `path`, a directory this repository does not know as a worktree (a CI cache
    /// restored it into a fresh clone), to a new worktree entry at `commit`: git's new `.git`
    /// link replaces the stale one, and the index is rebuilt from the commit and refreshed
    /// against the files there, so only files that differ are rewritten afterwards.
    fn adopt(&self, repo: &Path, path: &Path, commit: &str) -> Result<(), Error> {
        let link = path.join(".git");
        if link.is_dir() {
            bail!(
                "{} is a repository of its own, not a base worktree; remove it or set [pr] worktree_dir",
                path.display()
            );
        }
        let fresh = self.dir.join(format!("{}.new", short(commit)));
        if fresh.exists() {
            // Left by an interrupted adoption; it never holds anything but a `.git` link.
            remove_worktree(repo, &fresh);
        }
        add_worktree(repo, &fresh, commit, false)
            .context("cannot register the cached base worktree")?;
        std::fs::rename(fresh.join(".git"), &link)
            .and_then(|()| std::fs::remove_dir(&fresh))
            .with_context(|| format!("cannot move git's link into {}", path.display()))?;
        git_os(
            repo,
            &[
                OsStr::new("worktree"),
                OsStr::new("repair"),
                path.as_os_str(),
            ],
        )
        .context("cannot repair the cached base worktree")?;
        git(path, &["reset", "--quiet"]).context("cannot read the base commit into its index")?;
        // Exits 1 when files differ, which the forced checkout then fixes; not an error.
        let _ = git(path, &["update-index", "-q", "--refresh"]);
        Ok(())
    }

    /// Removes the base worktrees beyond the newest `keep` (by last use), never `current`.
    /// Only directories named like ours are candidates, so a misdirected `[pr] worktree_dir`
    /// cannot cost anyone their files. Returns what was removed; failures are left for next time.
    fn prune(&self, repo: &Path, current: &Path) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut trees: Vec<(SystemTime, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.len() == SHORT && name.bytes().all(|b| b.is_ascii_hexdigit())
            })
            .map(|e| e.path())
            .filter(|p| p != current && p.is_dir())
            .map(|p| {
                let used = std::fs::metadata(&p)
                    .and_then(|m| m.modified())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                (used, p)
            })
            .collect();
        trees.sort_by_key(|(used, _)| std::cmp::Reverse(*used));
        trees
            .into_iter()
            .skip(self.keep - 1)
            .filter_map(|(_, path)| remove_worktree(repo, &path).then_some(path))
            .collect()
    }
}

/// Whether `path` is a worktree of `repo` (the same common git directory).
fn same_repository(repo: &Path, path: &Path) -> bool {
    // Relative to `dir` when git prints it relative (`--path-format` needs git 2.31).
    let common = |dir: &Path| {
        git(dir, &["rev-parse", "--git-common-dir"])
            .ok()
            .and_then(|p| std::fs::canonicalize(dir.join(p)).ok())
    };
    // A tree restored without its link, or linked elsewhere, resolves to a different (or no)
    // repository: `rev-parse` would then find the enclosing one, so check the link exists.
    path.join(".git").is_file() && common(path).is_some() && common(path) == common(repo)
}
