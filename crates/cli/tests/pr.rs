//! End-to-end tests of `check --pr` against real, hermetic git repositories: an upstream with
//! a `main` branch and clones that carry a pull request, as CI checks them out.
//!
//! The effects are huge on purpose (`sleep 0.01` against `sleep 0.05`, 5x): these tests run on
//! busy machines, and they test the flow, not the statistics' resolution.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{Sandbox, code, git, stderr, stdout};

/// An upstream repository whose `main` has `bench.sh` (sleeping `seconds`), and the commit.
fn upstream(sandbox: &Sandbox, seconds: &str) -> (PathBuf, String) {
    let up = sandbox.path().join("up");
    std::fs::create_dir(&up).unwrap();
    git(&up, &["init", "-q", "-b", "main"]);
    std::fs::write(up.join("bench.sh"), format!("sleep {seconds}\n")).unwrap();
    // Build outputs stay out of `git status`; target/ deliberately is not listed, so the
    // test sees whether check --pr keeps its worktrees out of the status by itself.
    std::fs::write(up.join(".gitignore"), "built.log\n").unwrap();
    git(&up, &["add", "."]);
    git(&up, &["commit", "-q", "-m", "base"]);
    let commit = git(&up, &["rev-parse", "HEAD"]);
    (up, commit)
}

/// A clone of `from` on a new branch `feature`, with `bench.sh` sleeping `seconds`.
fn pull_request(from: &Path, to: &Path, seconds: &str) -> String {
    git(
        to.parent().unwrap(),
        &["clone", "-q", from.to_str().unwrap(), to.to_str().unwrap()],
    );
    git(to, &["checkout", "-q", "-b", "feature"]);
    std::fs::write(to.join("bench.sh"), format!("sleep {seconds}\n")).unwrap();
    std::fs::write(to.join("README"), "a change\n").unwrap();
    git(to, &["add", "."]);
    git(to, &["commit", "-q", "-m", "the pull request"]);
    git(to, &["rev-parse", "HEAD"])
}

/// `benchkeep ARGS` in `repo`, with no git configuration but the repository's and `env` set.
fn benchkeep(sandbox: &Sandbox, repo: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = sandbox.command(args);
    command
        .current_dir(repo)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(output), stderr(output)))
}

/// Exit code 2, with every one of `needles` in the error.
fn assert_refused(output: &Output, needles: &[&str]) {
    assert_eq!(code(output), 2, "{}", stderr(output));
    for needle in needles {
        assert!(
            stderr(output).contains(needle),
            "{needle:?}: {}",
            stderr(output)
        );
    }
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .count()
}

#[test]
fn a_slower_pull_request_fails_against_its_merge_base_in_a_reused_worktree() {
    let sandbox = Sandbox::new();
    let (up, fork) = upstream(&sandbox, "0.01");
    let repo = sandbox.path().join("pr");
    let head = pull_request(&up, &repo, "0.05");
    // main moves on after the fork; the base is still the fork point, not main's tip.
    std::fs::write(up.join("NEWS"), "later\n").unwrap();
    git(&up, &["add", "NEWS"]);
    git(&up, &["commit", "-q", "-m", "later on main"]);
    git(&repo, &["fetch", "-q", "origin"]);

    let github = [("GITHUB_BASE_REF", "main")];
    let markdown = sandbox.path().join("comment.md");
    let markdown_arg = format!("markdown={}", markdown.display());
    let check = |format: &str| {
        benchkeep(
            &sandbox,
            &repo,
            &github,
            &[
                "check",
                "--pr",
                "--rounds",
                "12",
                "--build",
                "echo built >> built.log",
                "--format",
                format,
                "--report",
                &markdown_arg,
                "--",
                "sh",
                "bench.sh",
            ],
        )
    };
    let first = check("json");
    assert_eq!(code(&first), 1, "{}\n{}", stdout(&first), stderr(&first));
    let verdict = json(&first);
    let entry = &verdict["entries"][0];
    assert_eq!(entry["benchmark"], "sh bench.sh");
    assert_eq!(entry["verdict"], "regressed", "{entry}");
    assert!(
        entry["method"].as_str().unwrap().starts_with("paired"),
        "{entry}"
    );
    assert_eq!(verdict["baseline_commits"], serde_json::json!([fork]));
    assert_eq!(verdict["current_commit"], head.as_str());
    let heading = verdict["heading"].as_str().unwrap();
    assert!(
        heading.contains(&fork[..12]) && heading.contains(&head[..12]),
        "{heading}"
    );
    assert!(heading.contains("the merge-base with main"), "{heading}");
    assert!(
        stderr(&first).contains("checked out the base"),
        "{}",
        stderr(&first)
    );
    let tree = repo.join("target/benchkeep-base").join(&fork[..12]);
    assert_eq!(lines(&tree.join("built.log")), 1, "the base was built");
    assert_eq!(lines(&repo.join("built.log")), 1, "the head was built");
    let comment = std::fs::read_to_string(&markdown).unwrap();
    assert!(comment.contains("nothing recorded"), "{comment}");

    // Again: the same worktree, with its build output, serves the same base.
    let second = check("text");
    assert_eq!(code(&second), 1, "{}\n{}", stdout(&second), stderr(&second));
    assert!(
        stderr(&second).contains("reusing the base worktree"),
        "{}",
        stderr(&second)
    );
    assert_eq!(lines(&tree.join("built.log")), 2, "the worktree was kept");
    let text = stdout(&second);
    assert!(
        text.contains("sh bench.sh") && text.contains("regressed"),
        "{text}"
    );
    assert!(text.contains("nothing recorded"), "{text}");

    // Nothing was stored, and the user's checkout is as it was.
    assert!(!repo.join(".benchkeep").exists(), "a store was written");
    assert_eq!(git(&repo, &["rev-parse", "HEAD"]), head);
    assert_eq!(git(&repo, &["symbolic-ref", "--short", "HEAD"]), "feature");
    assert_eq!(
        git(&repo, &["status", "--porcelain"]),
        "",
        "the checkout changed"
    );
}

#[test]
fn no_base_exits_2_saying_what_was_tried() {
    let sandbox = Sandbox::new();
    let (up, _) = upstream(&sandbox, "0.01");
    let repo = sandbox.path().join("pr");
    pull_request(&up, &repo, "0.01");
    // Not a pull request (no base branch in the environment).
    let no_branch = benchkeep(&sandbox, &repo, &[], &["check", "--pr", "--", "true"]);
    assert_refused(
        &no_branch,
        &[
            "GITHUB_BASE_REF",
            "CI_MERGE_REQUEST_TARGET_BRANCH_NAME",
            "--pr REV",
        ],
    );
    // A shallow clone of the pull request alone, as `actions/checkout` makes by default: the
    // base branch and the history are not there.
    let shallow = sandbox.path().join("shallow");
    git(
        sandbox.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            "--branch",
            "feature",
            &format!("file://{}", repo.display()),
            shallow.to_str().unwrap(),
        ],
    );
    let unfetched = benchkeep(
        &sandbox,
        &shallow,
        &[("GITHUB_BASE_REF", "main")],
        &["check", "--pr", "--", "true"],
    );
    assert_refused(
        &unfetched,
        &[
            "no merge-base of HEAD with origin/main or main",
            "GITHUB_BASE_REF",
            "fetch-depth: 0",
        ],
    );
    let bad_rev = benchkeep(
        &sandbox,
        &repo,
        &[],
        &["check", "--pr", "nope", "--", "true"],
    );
    assert_refused(&bad_rev, &["check --pr nope: no such commit"]);
    // `$PWD/bench.sh` would run the head's script on both sides: a regression would pass.
    let script = repo.join("bench.sh");
    for args in [
        vec!["check", "--pr", "--", script.to_str().unwrap()],
        vec![
            "check",
            "--pr",
            "--shell",
            "--",
            &format!("sh {}", script.display()),
        ],
    ] {
        let absolute = benchkeep(&sandbox, &repo, &[("GITHUB_BASE_REF", "main")], &args);
        assert_refused(
            &absolute,
            &["inside this checkout", "relative to the repository"],
        );
    }
    assert!(!repo.join(".benchkeep").exists());
    assert!(!repo.join("target").exists(), "refused before the checkout");
}

#[test]
fn an_unchanged_pull_request_passes_and_a_cached_base_is_reattached_in_a_new_clone() {
    let sandbox = Sandbox::new();
    let (up, fork) = upstream(&sandbox, "0.02");
    let first_clone = sandbox.path().join("first");
    pull_request(&up, &first_clone, "0.02");
    let override_base = [("BENCHKEEP_BASE_BRANCH", "main")];
    // The benchmark did not change. A threshold far above what a busy machine does to `sleep`
    // makes "does not fail" a property of the flow, not of the machine's load.
    let args = [
        "check",
        "--pr",
        "--rounds",
        "6",
        "--threshold",
        "20",
        "--build",
        "echo built >> built.log",
        "--format",
        "json",
        "--",
        "sh",
        "bench.sh",
    ];
    let first = benchkeep(&sandbox, &first_clone, &override_base, &args);
    assert_eq!(code(&first), 0, "{}\n{}", stdout(&first), stderr(&first));
    assert_ne!(json(&first)["entries"][0]["verdict"], "regressed");

    // A CI job on a new machine: a fresh clone, with the worktree directory restored from a
    // cache but not git's bookkeeping for it (the old clone is gone). Someone also edited a
    // tracked file in it; the base must be measured as committed.
    let clone = sandbox.path().join("second");
    git(
        sandbox.path(),
        &[
            "clone",
            "-q",
            first_clone.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    let cached = clone.join("target/benchkeep-base");
    std::fs::create_dir_all(clone.join("target")).unwrap();
    std::fs::rename(first_clone.join("target/benchkeep-base"), &cached).unwrap();
    std::fs::remove_dir_all(&first_clone).unwrap();
    let tree = cached.join(&fork[..12]);
    std::fs::write(tree.join("bench.sh"), "sleep 3\n").unwrap();

    let second = benchkeep(&sandbox, &clone, &override_base, &args);
    assert_eq!(code(&second), 0, "{}\n{}", stdout(&second), stderr(&second));
    assert!(
        stderr(&second).contains("reattached the cached base worktree"),
        "{}",
        stderr(&second)
    );
    assert_eq!(
        lines(&tree.join("built.log")),
        2,
        "the cached build output survived"
    );
    assert_eq!(
        std::fs::read_to_string(tree.join("bench.sh")).unwrap(),
        "sleep 0.02\n",
        "the tracked file was restored"
    );
    assert_eq!(git(&tree, &["rev-parse", "HEAD"]), fork);
    assert!(
        git(&clone, &["worktree", "list"]).contains(&fork[..7]),
        "the clone knows the worktree"
    );
    assert_eq!(git(&clone, &["status", "--porcelain"]), "");
    assert!(!clone.join(".benchkeep").exists(), "a store was written");
}
