//! End-to-end tests of a baseline's lifecycle: delete, replace an unreadable one, accept an
//! intentional slowdown, its history, and the warning for a stale baseline. Deterministic run
//! files only.

mod common;

use common::{Sandbox, code, main_run, stderr, stdout};

/// A run of main@test with one benchmark near `ns`, measured at commit `c0ffee<index>`, in
/// `run-<index>.json`.
fn run_file(sandbox: &Sandbox, index: u64, ns: f64) -> String {
    sandbox.write_run(
        &format!("run-{index}.json"),
        &main_run(index, &[("parse", ns)]),
    )
}

const KEY: [&str; 4] = ["--branch", "main", "--platform", "test"];

#[test]
fn an_accepted_slowdown_becomes_the_baseline_with_its_reason_and_history() {
    let sandbox = Sandbox::new();
    let fast = run_file(&sandbox, 1, 1e6);
    assert_eq!(code(&sandbox.run(&["check", "--run", &fast])), 0);
    let slow = run_file(&sandbox, 2, 1.4e6);
    assert_eq!(
        code(&sandbox.run(&["check", "--run", &slow])),
        1,
        "a +40% regression"
    );
    let no_reason = sandbox.run(
        &[
            &["baseline", "accept", "--from", &slow, "--reason", " "][..],
            &KEY,
        ]
        .concat(),
    );
    assert_eq!(code(&no_reason), 2);
    let accept = sandbox.run(
        &[
            &[
                "baseline",
                "accept",
                "--from",
                &slow,
                "--reason",
                "correctness fix #12",
            ][..],
            &KEY,
        ]
        .concat(),
    );
    assert_eq!(code(&accept), 0, "{}", stderr(&accept));
    assert!(
        stdout(&accept).contains("now accepts run")
            && stdout(&accept).contains("(commit c0ffee02)"),
        "{}",
        stdout(&accept)
    );
    // The next run as slow as the accepted one passes, and the report says why.
    let again = run_file(&sandbox, 3, 1.4e6);
    let out = sandbox.run(&["check", "--run", &again, "--format", "markdown"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("accepted a slowdown on")
            && stdout(&out).contains("correctness fix \\#"),
        "{}",
        stdout(&out)
    );
    let history = sandbox.run(&[&["baseline", "history"][..], &KEY].concat());
    assert_eq!(code(&history), 0, "{}", stderr(&history));
    let history_text = stdout(&history);
    let lines: Vec<&str> = history_text.lines().skip(1).collect();
    assert_eq!(lines.len(), 2, "{history_text}");
    assert!(
        lines[0].contains("accepted") && lines[0].contains("reason: correctness fix #12"),
        "{history_text}"
    );
    assert!(
        lines[1].contains("created") && lines[1].contains("commit c0ffee01"),
        "{history_text}"
    );
    let json = sandbox.run(&[&["baseline", "history", "--json"][..], &KEY].concat());
    let changes: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(changes[1]["action"], "accepted");
}

#[test]
fn an_unreadable_baseline_is_replaced_only_with_force_and_said_so() {
    let sandbox = Sandbox::new();
    let fast = run_file(&sandbox, 1, 1e6);
    assert_eq!(code(&sandbox.run(&["check", "--run", &fast])), 0);
    let file = sandbox.baseline_files().pop().unwrap();
    std::fs::write(
        &file,
        b"{\"schema\": {\"major\": 1, \"minor\": 5}, \"kind\": \"base",
    )
    .unwrap();
    let refused = sandbox.run(&[&["baseline", "set", "--from", &fast][..], &KEY].concat());
    assert_eq!(code(&refused), 2, "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("baseline set --force"),
        "{}",
        stderr(&refused)
    );
    let forced =
        sandbox.run(&[&["baseline", "set", "--force", "--from", &fast][..], &KEY].concat());
    assert_eq!(code(&forced), 0, "{}", stderr(&forced));
    assert!(
        stderr(&forced).contains("replacing the baseline of main@test, which cannot be read"),
        "{}",
        stderr(&forced)
    );
    let history = sandbox.run(&[&["baseline", "history"][..], &KEY].concat());
    assert!(
        stdout(&history).contains("replaced"),
        "{}",
        stdout(&history)
    );
    // A readable baseline is replaced by `set` too, and the notice says what it was.
    let set = sandbox.run(&[&["baseline", "set", "--from", &fast][..], &KEY].concat());
    assert!(
        stderr(&set).contains("replacing the baseline of main@test (1 run(s)"),
        "{}",
        stderr(&set)
    );
}

#[test]
fn delete_removes_the_baseline_and_keeps_the_runs() {
    let sandbox = Sandbox::new();
    let fast = run_file(&sandbox, 1, 1e6);
    assert_eq!(code(&sandbox.run(&["check", "--run", &fast])), 0);
    let runs = sandbox.run_files().len();
    let out = sandbox.run(&["baseline", "delete", "main@test"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(sandbox.baseline_files().is_empty());
    assert_eq!(sandbox.run_files().len(), runs);
    let again = sandbox.run(&["baseline", "delete", "main@test"]);
    assert_eq!(code(&again), 2);
    assert!(
        stderr(&again).contains("no baseline for main@test"),
        "{}",
        stderr(&again)
    );
    let bad = sandbox.run(&["baseline", "delete", "main"]);
    assert_eq!(code(&bad), 2);
    assert!(stderr(&bad).contains("BRANCH@PLATFORM"), "{}", stderr(&bad));
}

#[test]
fn a_stale_baseline_is_named_in_the_report() {
    let sandbox = Sandbox::new();
    let fast = run_file(&sandbox, 1, 1e6);
    assert_eq!(code(&sandbox.run(&["check", "--run", &fast])), 0);
    // Age the stored baseline by 90 days.
    let file = sandbox.baseline_files().pop().unwrap();
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let old = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 90);
    doc["updated"] = serde_json::Value::String(old.to_string());
    std::fs::write(&file, serde_json::to_vec(&doc).unwrap()).unwrap();
    let again = run_file(&sandbox, 2, 1e6);
    let out = sandbox.run(&["check", "--run", &again, "--format", "github"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("last updated 90 days ago (max_age_days = 30)"),
        "{}",
        stdout(&out)
    );
    std::fs::write(
        sandbox.path().join("benchkeep.toml"),
        "[compare]\nmax_age_days = 0\n",
    )
    .unwrap();
    let quiet = sandbox.run(&["check", "--run", &again, "--no-record"]);
    assert!(!stdout(&quiet).contains("days ago"), "{}", stdout(&quiet));
}

#[test]
fn set_last_leaves_out_runs_that_failed_measured_changes_or_came_from_pull_requests() {
    let sandbox = Sandbox::new();
    let good = run_file(&sandbox, 1, 1e6);
    assert_eq!(code(&sandbox.run(&["check", "--run", &good])), 0);
    // A run that failed its gate (3x) and a dirty one, both recorded under main.
    let slow = run_file(&sandbox, 2, 3e6);
    assert_eq!(code(&sandbox.run(&["check", "--run", &slow])), 1);
    let dirty_path = sandbox.path().join(run_file(&sandbox, 3, 3e6));
    let mut dirty: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&dirty_path).unwrap()).unwrap();
    dirty["git"]["dirty"] = serde_json::Value::Bool(true);
    std::fs::write(&dirty_path, serde_json::to_vec(&dirty).unwrap()).unwrap();
    let dirty = dirty_path.display().to_string();
    let recorded = sandbox.run(&[&["baseline", "set", "--from", &dirty][..], &KEY].concat());
    assert_eq!(code(&recorded), 0, "{}", stderr(&recorded));
    let set = sandbox.run(&[&["baseline", "set", "--last", "3"][..], &KEY].concat());
    assert_eq!(code(&set), 0, "{}", stderr(&set));
    assert!(
        stderr(&set).contains("left out 2 newer run(s) of main@test that failed their gate"),
        "{}",
        stderr(&set)
    );
    assert!(
        stdout(&set).contains("set from 1 run(s)"),
        "{}",
        stdout(&set)
    );
}

#[test]
fn delete_needs_the_key_said_and_a_limit_that_bounds_nothing_is_warned_about() {
    let sandbox = Sandbox::new();
    let fast = run_file(&sandbox, 1, 1e6);
    assert_eq!(code(&sandbox.run(&["check", "--run", &fast])), 0);
    let bare = sandbox.run(&["baseline", "delete"]);
    assert_eq!(code(&bare), 2);
    assert!(
        stderr(&bare).contains("name the baseline to delete"),
        "{}",
        stderr(&bare)
    );
    assert_eq!(sandbox.baseline_files().len(), 1, "nothing was deleted");
    std::fs::write(
        sandbox.path().join("benchkeep.toml"),
        "[[policy]]\nname = \"prase\"\nmax = \"1ns\"\n",
    )
    .unwrap();
    let again = run_file(&sandbox, 2, 1e6);
    let out = sandbox.run(&["check", "--run", &again, "--no-record"]);
    assert!(
        stderr(&out)
            .contains("warning: [[policy]] \"prase\" sets a limit but matches no benchmark here"),
        "{}",
        stderr(&out)
    );
}
