//! Helpers shared by the end-to-end tests: a sandbox directory with a clean environment.
// Each test binary uses a different subset of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_benchkeep");

/// A fresh directory outside any git repository, with a clean environment.
pub(crate) struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub(crate) fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .current_dir(self.path())
            .env_remove("BENCHKEEP_STORE")
            .env_remove("BENCHKEEP_CONFIG")
            .env_remove("BENCHKEEP_BRANCH")
            .env_remove("BENCHKEEP_PLATFORM")
            .env("GIT_CEILING_DIRECTORIES", self.path().parent().unwrap());
        for ci in [
            "CI",
            "GITHUB_ACTIONS",
            "GITHUB_REF",
            "GITHUB_REF_NAME",
            "GITHUB_HEAD_REF",
            "GITHUB_BASE_REF",
            "GITHUB_STEP_SUMMARY",
            "GITHUB_OUTPUT",
            "GITLAB_CI",
            "CI_COMMIT_REF_NAME",
            "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
            "BENCHKEEP_PR",
            "BENCHKEEP_BASE_BRANCH",
            "BENCHKEEP_TOOLCHAIN",
            "NO_COLOR",
        ] {
            command.env_remove(ci);
        }
        command
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    pub(crate) fn store(&self) -> PathBuf {
        self.path().join(".benchkeep")
    }

    /// The baseline files of the default store.
    pub(crate) fn baseline_files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.store().join("baselines"))
            .expect("the store has a baselines directory")
            .map(|e| e.unwrap().path())
            .collect()
    }

    pub(crate) fn run_files(&self) -> Vec<PathBuf> {
        let runs = self.store().join("runs");
        let Ok(keys) = std::fs::read_dir(runs) else {
            return Vec::new();
        };
        keys.flat_map(|k| std::fs::read_dir(k.unwrap().path()).unwrap())
            .map(|e| e.unwrap().path())
            .collect()
    }
}

/// Runs git in `dir` with no global or system configuration and a fixed identity and date, so
/// commit hashes are the same on every run; panics with
/// git's stderr when it fails; returns its trimmed stdout.
pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .env("GIT_AUTHOR_DATE", "2026-01-01T12:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T12:00:00Z")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub(crate) fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
