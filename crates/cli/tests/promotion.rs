//! Promotion that cannot pollute or lose, on the default file store: which runs may promote
//! (CI push events from clean trees, or an explicit `--promote`), and the races of the issue
//! "The gate as a library" (promotions while `prune` runs, racing bootstraps). The same races
//! run against the git store (`git_store.rs`) and S3 (`s3_store.rs`).

use std::path::Path;
use std::process::Command;

mod common;

use common::{Sandbox, code, git, stderr, stdout};

fn in_sandbox(sandbox: &Sandbox) -> impl Fn(&Path, &[&str]) -> Command + Sync + '_ {
    move |dir: &Path, args: &[&str]| {
        let mut command = sandbox.command(args);
        command.current_dir(dir);
        command
    }
}

#[test]
fn eighty_promotions_while_prune_runs_all_land_and_keep_their_runs() {
    let sandbox = Sandbox::new();
    std::fs::write(
        sandbox.path().join("benchkeep.toml"),
        "[compare]\npromote_keep = 100\n",
    )
    .unwrap();
    let files = tempfile::tempdir().unwrap();
    let store = format!("file://{}", sandbox.path().join("store").display());
    std::fs::create_dir(sandbox.path().join("store")).unwrap();
    let race = common::promotion_race(
        &[sandbox.path().to_owned()],
        files.path(),
        &store,
        8,
        10,
        &in_sandbox(&sandbox),
    );
    assert!(race.prunes >= 2, "prune ran {} times", race.prunes);
    assert_eq!(race.promoted, 80, "promotions that said so");
    assert_eq!(race.sources.len(), 81, "1 + 80 runs in the baseline");
    assert!(
        race.lost.is_empty(),
        "runs a baseline names were deleted: {:?}",
        race.lost
    );
}

#[test]
fn racing_bootstraps_all_join_the_baseline() {
    let sandbox = Sandbox::new();
    let files = tempfile::tempdir().unwrap();
    let (passed, sources) = common::bootstrap_race(
        &[sandbox.path().to_owned()],
        files.path(),
        &format!("file://{}", sandbox.path().display()),
        8,
        &in_sandbox(&sandbox),
    );
    assert_eq!(
        (passed, sources),
        (8, 8),
        "every bootstrapping run is in the baseline"
    );
}

/// A git repository with one clean commit on main.
fn repo(sandbox: &Sandbox) {
    let dir = sandbox.path();
    git(dir, &["init", "-q", "-b", "main"]);
    std::fs::write(dir.join(".gitignore"), ".benchkeep/\n*.json\n").unwrap();
    git(dir, &["add", ".gitignore"]);
    git(dir, &["commit", "-q", "-m", "a"]);
}

fn imported(sandbox: &Sandbox, ns: f64) -> String {
    let path = sandbox.path().join(format!("r{ns}.json"));
    std::fs::write(
        &path,
        format!(r#"{{"benchmarks": [{{"name": "parse", "unit": "ns", "samples": [{ns}, {ns}, {ns}, {ns}, {ns}]}}]}}"#),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn only_clean_passing_pushes_to_the_branch_promote() {
    let sandbox = Sandbox::new();
    repo(&sandbox);
    std::fs::write(
        sandbox.path().join("benchkeep.toml"),
        "[compare]\npromote_on = \"main\"\n",
    )
    .unwrap();
    let file = imported(&sandbox, 1000.0);
    let check = |env: &[(&str, &str)], extra: &[&str]| {
        let mut command =
            sandbox.command(&[&["check", "--import", "custom", &file][..], extra].concat());
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().unwrap()
    };
    // A local run on main makes no baseline of main without --promote.
    let local = check(&[], &[]);
    assert_eq!(code(&local), 0, "{}", stderr(&local));
    assert!(
        stderr(&local).contains(
            "none created from this run: not in CI: a local run promotes only with --promote"
        ),
        "{}",
        stderr(&local)
    );
    let sources = |sandbox: &Sandbox| {
        let out = sandbox.run(&["baseline", "show", "--branch", "main", "--json"]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .map_or(0, |b| b["sources"].as_array().map_or(0, Vec::len))
    };
    assert_eq!(sources(&sandbox), 0);
    // A push to main in CI creates it, and the next push promotes.
    let push = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REF", "refs/heads/main"),
        ("GITHUB_REF_NAME", "main"),
    ];
    for _ in 0..2 {
        let out = check(&push, &[]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    assert_eq!(sources(&sandbox), 2);
    // A pull request's job keyed to main by --branch main never promotes, even with --promote.
    let pull_request = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REF", "refs/pull/5/merge"),
        ("GITHUB_HEAD_REF", "feature"),
        ("GITHUB_BASE_REF", "main"),
    ];
    let pr = check(&pull_request, &["--branch", "main", "--promote"]);
    assert_eq!(code(&pr), 0, "{}", stderr(&pr));
    assert!(
        stderr(&pr).contains(
            "the run was made for pull request #5, and a pull-request job never promotes"
        ),
        "{}",
        stderr(&pr)
    );
    // Uncommitted changes never promote, whatever the user vouches for.
    std::fs::write(sandbox.path().join("tracked"), "x").unwrap();
    git(sandbox.path(), &["add", "tracked"]);
    let dirty = check(&push, &["--promote"]);
    assert!(
        stderr(&dirty).contains("the work tree had uncommitted changes"),
        "{}",
        stderr(&dirty)
    );
    git(sandbox.path(), &["commit", "-q", "-m", "b"]);
    // A failing run is never promoted.
    let slow = imported(&sandbox, 3000.0);
    let failed = sandbox
        .command(&["check", "--import", "custom", &slow])
        .envs(push)
        .output()
        .unwrap();
    assert_eq!(code(&failed), 1);
    assert_eq!(sources(&sandbox), 2, "only the two clean passing pushes");
    // An explicit --promote locally works from a clean tree.
    let vouched = check(&[], &["--promote"]);
    assert!(
        stderr(&vouched).contains("promoted run"),
        "{}",
        stderr(&vouched)
    );
    assert_eq!(sources(&sandbox), 3);
}

#[test]
fn merge_base_pools_only_runs_that_passed_from_clean_trees() {
    let sandbox = Sandbox::new();
    repo(&sandbox);
    let fast = imported(&sandbox, 1000.0);
    let slow = imported(&sandbox, 3000.0);
    let check = |file: &str, extra: &[&str]| {
        sandbox
            .command(
                &[
                    &["check", "--import", "custom", file, "--promote-on", "main"][..],
                    extra,
                ]
                .concat(),
            )
            .output()
            .unwrap()
    };
    assert_eq!(code(&check(&fast, &["--promote"])), 0);
    // At the same commit: a run that failed main's gate, and one of a dirty tree.
    assert_eq!(code(&check(&slow, &[])), 1);
    std::fs::write(sandbox.path().join("tracked"), "x").unwrap();
    git(sandbox.path(), &["add", "tracked"]);
    assert_eq!(code(&check(&fast, &["--threshold", "500"])), 0);
    git(sandbox.path(), &["reset", "-q", "--hard"]);
    git(sandbox.path(), &["checkout", "-q", "-b", "feature"]);
    let out = sandbox.run(&[
        "check",
        "--import",
        "custom",
        &fast,
        "--merge-base",
        "--baseline-branch",
        "main",
        "--no-record",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("comparing with 1 run(s) of main@"),
        "the failed and the dirty run are left out: {}",
        stderr(&out)
    );
}

#[test]
fn this_jobs_pull_request_decides_not_the_run_files_or_a_missing_ci_variable() {
    let sandbox = Sandbox::new();
    repo(&sandbox);
    std::fs::write(
        sandbox.path().join("benchkeep.toml"),
        "[compare]\npromote_on = \"main\"\n",
    )
    .unwrap();
    let file = imported(&sandbox, 1000.0);
    // A run file made by a push job on main (its CI information says so).
    let push = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REF", "refs/heads/main"),
        ("GITHUB_REF_NAME", "main"),
    ];
    let made = sandbox
        .command(&[
            "import",
            "-f",
            "custom",
            &file,
            "--no-record",
            "--out",
            "push.json",
        ])
        .envs(push)
        .output()
        .unwrap();
    assert_eq!(code(&made), 0, "{}", stderr(&made));
    // Checked in a pull request's job, it does not promote, even with --promote.
    let pr = sandbox
        .command(&["check", "--run", "push.json", "--promote"])
        .envs([
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REF", "refs/pull/3/merge"),
            ("GITHUB_BASE_REF", "main"),
            ("GITHUB_HEAD_REF", "feature"),
        ])
        .output()
        .unwrap();
    assert!(
        stderr(&pr).contains("made for pull request #3"),
        "{}",
        stderr(&pr)
    );
    // Checked on a laptop, it needs --promote like any local run.
    let local = sandbox.run(&["check", "--run", "push.json"]);
    assert!(stderr(&local).contains("not in CI"), "{}", stderr(&local));
    // A pull request's variable alone, with no CI detected, is a pull request's job.
    for marker in [("BENCHKEEP_PR", "12"), ("CI_MERGE_REQUEST_IID", "4")] {
        let out = sandbox
            .command(&["check", "--import", "custom", &file, "--promote"])
            .env(marker.0, marker.1)
            .output()
            .unwrap();
        assert!(
            stderr(&out).contains("pull request"),
            "{marker:?}: {}",
            stderr(&out)
        );
    }
    let show = sandbox.run(&["baseline", "show", "--branch", "main"]);
    assert_eq!(code(&show), 2, "no baseline of main: {}", stdout(&show));
}
