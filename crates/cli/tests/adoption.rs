//! End-to-end tests of what meets teams where they are: importing other harnesses' output
//! (real criterion and hyperfine results through `import` and `check`), the CI flow (a pull
//! request against its base branch and merge-base, promotion on the main branch, environment
//! changes), and the reports CI systems read.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Sandbox, code, git, stderr, stdout};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../import/tests/fixtures/import")
}

/// A custom-format result file in the sandbox (`common::custom_result`).
fn custom(sandbox: &Sandbox, file: &str, benches: &[(&str, f64)]) -> String {
    common::custom_result(sandbox.path(), file, benches)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn real_criterion_results_gate_through_import_and_check() {
    let sandbox = Sandbox::new();
    let fast = fixtures().join("criterion/fast");
    let slow = fixtures().join("criterion/slow");
    let fast = fast.to_str().unwrap();
    let slow = slow.to_str().unwrap();
    let import = sandbox.run(&["import", "--format", "criterion", fast, "--branch", "main"]);
    assert_eq!(code(&import), 0, "{}", stderr(&import));
    assert!(
        stdout(&import).contains("parse/10000"),
        "{}",
        stdout(&import)
    );
    let set = sandbox.run(&["baseline", "set", "--branch", "main"]);
    assert_eq!(code(&set), 0, "{}", stderr(&set));

    let same = sandbox.run(&["check", "--import", "criterion", fast, "--branch", "main"]);
    assert_eq!(code(&same), 0, "{}{}", stdout(&same), stderr(&same));

    // SLOW=1 made the parse benchmarks about 35% slower in the real criterion run.
    let check = sandbox.run(&[
        "check",
        "--import",
        "criterion",
        slow,
        "--branch",
        "main",
        "--format",
        "json",
    ]);
    assert_eq!(code(&check), 1, "{}{}", stdout(&check), stderr(&check));
    let verdict = json(&stdout(&check));
    let regressed: Vec<&str> = verdict["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["verdict"] == "regressed")
        .map(|e| e["benchmark"].as_str().unwrap())
        .collect();
    assert!(
        regressed.contains(&"parse/1000") && regressed.contains(&"parse/10000"),
        "{regressed:?}"
    );
}

#[test]
fn real_cargo_criterion_messages_import_from_stdin() {
    let sandbox = Sandbox::new();
    let messages = std::fs::read(fixtures().join("criterion/messages.json")).unwrap();
    let mut child = sandbox
        .command(&[
            "import",
            "-f",
            "criterion",
            "-",
            "--no-record",
            "--out",
            "run.json",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &messages).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let run = json(&std::fs::read_to_string(sandbox.path().join("run.json")).unwrap());
    assert_eq!(run["benchmarks"].as_array().unwrap().len(), 3);
    assert_eq!(run["labels"]["import.format"], "criterion");
    assert!(!sandbox.store().exists(), "--no-record wrote nothing");
}

/// Runs the real hyperfine on two commands and returns its export.
fn hyperfine(sandbox: &Sandbox, file: &str, command: &str) -> Option<String> {
    let path = sandbox.path().join(file);
    let status = Command::new("hyperfine")
        .args([
            "--runs",
            "15",
            "--warmup",
            "2",
            "-N",
            "--style",
            "none",
            "--export-json",
        ])
        .arg(&path)
        .arg(command)
        .output();
    match status {
        Ok(out) if out.status.success() => Some(path.display().to_string()),
        Ok(out) => panic!("hyperfine failed: {}", String::from_utf8_lossy(&out.stderr)),
        Err(e) if std::env::var_os("BENCHKEEP_REQUIRE_TOOLS").is_some() => {
            panic!("hyperfine cannot run ({e}), and scripts/test.sh expects it: it installs it")
        }
        Err(_) => {
            eprintln!("hyperfine is not installed: skipping (CI installs it and fails without it)");
            None
        }
    }
}

#[test]
fn real_hyperfine_results_gate_through_import_and_check() {
    let sandbox = Sandbox::new();
    let Some(base) = hyperfine(&sandbox, "base.json", "sleep 0.02") else {
        return;
    };
    let head = hyperfine(&sandbox, "head.json", "sleep 0.02").unwrap();
    // hyperfine names results by command: name the slower command like the baseline's, as a
    // team does when the same benchmark got slower.
    let slow = hyperfine(&sandbox, "slow.json", "sleep 0.08").unwrap();
    let renamed = std::fs::read_to_string(&slow)
        .unwrap()
        .replace("sleep 0.08", "sleep 0.02");
    std::fs::write(&slow, renamed).unwrap();

    let first = sandbox.run(&["check", "--import", "hyperfine", &base, "--branch", "main"]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    assert!(stderr(&first).contains("this run is now the baseline"));
    let same = sandbox.run(&[
        "check",
        "--import",
        "hyperfine",
        &head,
        "--branch",
        "main",
        "--threshold",
        "50",
    ]);
    assert_eq!(code(&same), 0, "{}{}", stdout(&same), stderr(&same));
    let slower = sandbox.run(&["check", "--import", "hyperfine", &slow, "--branch", "main"]);
    assert_eq!(code(&slower), 1, "{}{}", stdout(&slower), stderr(&slower));
    assert!(stdout(&slower).contains("regressed"), "{}", stdout(&slower));
}

#[test]
fn malformed_imports_exit_2_with_one_line_and_record_nothing() {
    let sandbox = Sandbox::new();
    let cases: [(&str, &[u8], &str); 9] = [
        (
            "hyperfine",
            b"{\"results\": [{\"command\": \"x\", \"mean\": ",
            "line 1, column",
        ),
        // Failed, thrown and cut-off benchmarks: a gate must not pass on them.
        (
            "hyperfine",
            b"{\"results\": [{\"command\": \"x\", \"mean\": 0.001, \"times\": [0.001], \"exit_codes\": [1]}]}",
            "failed in 1 of 1 runs",
        ),
        (
            "libtest",
            b"test a ... bench: 10 ns/iter (+/- 1)\ntest b ... FAILED\n",
            "benchmark \"b\" failed",
        ),
        (
            "go",
            b"BenchmarkA-2 10 5 ns/op\nBenchmarkB-2 10",
            "expected value-unit pairs",
        ),
        (
            "benchmarkjs",
            b"a x 10 ops/sec \xc2\xb11.0% (9 runs sampled)\nb: name: Error, message: boom\n",
            "a benchmark threw",
        ),
        ("google-benchmark", b"", "the input is empty"),
        (
            "go",
            b"PASS\nok  example.com/x 0.1s\n",
            "no benchmark results found",
        ),
        ("catch2", b"<Catch2TestRun><TestCase>", "not XML"),
        ("pytest-benchmark", b"[1, 2, 3]", "not a JSON object"),
    ];
    for (format, bytes, expected) in cases {
        let file = sandbox.path().join(format!("{format}.out"));
        std::fs::write(&file, bytes).unwrap();
        let file = file.display().to_string();
        for args in [
            vec!["import", "--format", format, file.as_str()],
            vec!["check", "--import", format, file.as_str()],
        ] {
            let output = sandbox.run(&args);
            assert_eq!(code(&output), 2, "{args:?}: {}", stderr(&output));
            let err = stderr(&output);
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
            assert!(
                err.contains(&file) && err.contains(expected),
                "{args:?}: {err}"
            );
        }
    }
    let unknown = sandbox.run(&["import", "--format", "nunit", "x.xml"]);
    assert_eq!(code(&unknown), 2);
    assert!(stderr(&unknown).contains("unknown import format \"nunit\""));
    assert!(sandbox.run_files().is_empty(), "nothing was recorded");
}

#[test]
fn pull_requests_compare_with_the_base_branch_and_promotion_only_happens_there() {
    let sandbox = Sandbox::new();
    let main_run = custom(
        &sandbox,
        "main.json",
        &[("parse", 1000.0), ("render", 500.0)],
    );
    // Outside CI, promotion needs an explicit --promote.
    let promote = ["--promote-on", "main", "--promote"];
    let first = sandbox.run(
        &[
            &["check", "--import", "custom", &main_run, "--branch", "main"][..],
            &promote,
        ]
        .concat(),
    );
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let again = sandbox.run(
        &[
            &["check", "--import", "custom", &main_run, "--branch", "main"][..],
            &promote,
        ]
        .concat(),
    );
    assert_eq!(code(&again), 0, "{}{}", stdout(&again), stderr(&again));
    assert!(
        stderr(&again).contains("promoted run"),
        "{}",
        stderr(&again)
    );
    let show = sandbox.run(&["baseline", "show", "--branch", "main", "--json"]);
    assert_eq!(json(&stdout(&show))["sources"].as_array().unwrap().len(), 2);

    // A pull request: slower parse, compared with main's baseline, never promoted.
    let pr_run = custom(&sandbox, "pr.json", &[("parse", 1300.0), ("render", 500.0)]);
    let pr = sandbox.run(
        &[
            &[
                "check",
                "--import",
                "custom",
                &pr_run,
                "--branch",
                "feature",
                "--baseline-branch",
                "main",
                "--format",
                "json",
            ][..],
            &promote,
        ]
        .concat(),
    );
    assert_eq!(code(&pr), 1, "{}{}", stdout(&pr), stderr(&pr));
    let verdict = json(&stdout(&pr));
    assert_eq!(verdict["counts"]["regressed"], 1);
    assert_eq!(verdict["baseline_runs"].as_array().unwrap().len(), 2);
    let show = sandbox.run(&["baseline", "show", "--branch", "main", "--json"]);
    assert_eq!(
        json(&stdout(&show))["sources"].as_array().unwrap().len(),
        2,
        "main untouched"
    );
    let feature = sandbox.run(&["baseline", "show", "--branch", "feature"]);
    assert_eq!(
        code(&feature),
        2,
        "the PR's run made no baseline: {}",
        stdout(&feature)
    );
    assert_eq!(
        sandbox.run_files().len(),
        3,
        "every run is recorded under its own key"
    );

    // A feature branch that passes is not promoted either.
    let ok = custom(&sandbox, "ok.json", &[("parse", 1000.0), ("render", 500.0)]);
    let pass = sandbox.run(
        &[
            &[
                "check",
                "--import",
                "custom",
                &ok,
                "--branch",
                "feature",
                "--baseline-branch",
                "main",
            ][..],
            &promote,
        ]
        .concat(),
    );
    assert_eq!(code(&pass), 0, "{}", stderr(&pass));
    assert!(!stderr(&pass).contains("promoted"), "{}", stderr(&pass));
}

#[test]
fn concurrent_promotions_are_never_lost() {
    let sandbox = Sandbox::new();
    let file = custom(&sandbox, "r.json", &[("parse", 1000.0)]);
    std::fs::write(
        sandbox.path().join("benchkeep.toml"),
        "[compare]\npromote_on = \"main\"\npromote_keep = 100\n",
    )
    .unwrap();
    let first = sandbox.run(&[
        "check",
        "--import",
        "custom",
        &file,
        "--branch",
        "main",
        "--promote",
    ]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let jobs: Vec<std::process::Child> = (0..8)
        .map(|_| {
            sandbox
                .command(&[
                    "check",
                    "--import",
                    "custom",
                    &file,
                    "--branch",
                    "main",
                    "--threshold",
                    "50",
                    "--promote",
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for job in jobs {
        let out = job.wait_with_output().unwrap();
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let show = sandbox.run(&["baseline", "show", "--branch", "main", "--json"]);
    assert_eq!(
        json(&stdout(&show))["sources"].as_array().unwrap().len(),
        9,
        "1 + 8 promotions"
    );
}

#[test]
fn merge_base_picks_the_runs_recorded_at_the_fork_point() {
    let sandbox = Sandbox::new();
    let repo = sandbox.path();
    git(repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join(".gitignore"), ".benchkeep/\n*.json\n").unwrap();
    git(repo, &["add", ".gitignore"]);
    git(repo, &["commit", "-q", "-m", "a"]);
    let fork = git(repo, &["rev-parse", "HEAD"]);
    let at_fork = custom(&sandbox, "fork.json", &[("parse", 1000.0)]);
    let record = |file: &str| {
        let out = sandbox.run(&[
            "check",
            "--import",
            "custom",
            file,
            "--promote-on",
            "main",
            "--promote",
        ]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    };
    record(&at_fork);
    // main moves on and gets 40% slower; its baseline follows.
    std::fs::write(repo.join("later"), "x").unwrap();
    git(repo, &["add", "later"]);
    git(repo, &["commit", "-q", "-m", "b"]);
    let later = custom(&sandbox, "later.json", &[("parse", 1400.0)]);
    for _ in 0..2 {
        let out = sandbox.run(&[
            "check",
            "--import",
            "custom",
            &later,
            "--threshold",
            "80",
            "--promote-on",
            "main",
            "--promote",
        ]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    // A branch from the fork point, as fast as the fork: against main's current baseline it
    // looks faster; against the merge-base it is unchanged.
    git(repo, &["checkout", "-q", "-b", "feature", &fork]);
    let feature = custom(&sandbox, "feature.json", &[("parse", 1000.0)]);
    let plain = sandbox.run(&[
        "check",
        "--import",
        "custom",
        &feature,
        "--baseline-branch",
        "main",
        "--format",
        "json",
        "--no-record",
    ]);
    assert_eq!(
        json(&stdout(&plain))["counts"]["improved"],
        1,
        "{}",
        stdout(&plain)
    );
    let merge_base = sandbox.run(&[
        "check",
        "--import",
        "custom",
        &feature,
        "--baseline-branch",
        "main",
        "--merge-base",
        "--format",
        "json",
        "--no-record",
    ]);
    assert_eq!(code(&merge_base), 0, "{}", stderr(&merge_base));
    let verdict = json(&stdout(&merge_base));
    assert_eq!(verdict["counts"]["unchanged"], 1, "{}", stdout(&merge_base));
    assert_eq!(verdict["baseline_runs"].as_array().unwrap().len(), 1);
    assert!(stderr(&merge_base).contains(&format!("recorded at the merge-base {}", &fork[..12])));
    // Without a branch to merge into, --merge-base says what it needs.
    let bare = sandbox.run(&[
        "check",
        "--import",
        "custom",
        &feature,
        "--merge-base",
        "--no-record",
    ]);
    assert_eq!(code(&bare), 2);
    assert!(stderr(&bare).contains("--merge-base needs the branch to merge into"));
}

#[test]
fn an_environment_change_warns_or_refuses_and_names_the_fields() {
    let sandbox = Sandbox::new();
    let file = custom(&sandbox, "r.json", &[("parse", 1000.0)]);
    let first = sandbox
        .command(&["check", "--import", "custom", &file, "--branch", "main"])
        .env("BENCHKEEP_TOOLCHAIN", "rustc 1.94.0")
        .output()
        .unwrap();
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let slower = custom(&sandbox, "slow.json", &[("parse", 1500.0)]);
    let check = |policy: &str, file: &str| {
        sandbox
            .command(&[
                "check",
                "--import",
                "custom",
                file,
                "--branch",
                "main",
                "--no-record",
                "--environment",
                policy,
            ])
            .env("BENCHKEEP_TOOLCHAIN", "rustc 1.95.0")
            .output()
            .unwrap()
    };
    let warned = check("warn", &slower);
    assert_eq!(code(&warned), 1, "warn still compares");
    assert!(
        stdout(&warned).contains("warning: environment changed since the baseline (toolchain: rustc 1.94.0 -> rustc 1.95.0)"),
        "{}",
        stdout(&warned)
    );
    let refused = check("refuse", &slower);
    assert_eq!(
        code(&refused),
        0,
        "refused: inconclusive, which passes by default"
    );
    assert!(
        stdout(&refused).contains("inconclusive"),
        "{}",
        stdout(&refused)
    );
    let strict = sandbox
        .command(&[
            "check",
            "--import",
            "custom",
            &slower,
            "--branch",
            "main",
            "--no-record",
            "--environment",
            "refuse",
            "--fail-on-inconclusive",
        ])
        .env("BENCHKEEP_TOOLCHAIN", "rustc 1.95.0")
        .output()
        .unwrap();
    assert_eq!(code(&strict), 1);
    let ignored = check("ignore", &slower);
    assert!(!stdout(&ignored).contains("environment changed"));
}

#[test]
fn github_format_writes_annotations_summary_and_outputs_and_reports_go_to_files() {
    let sandbox = Sandbox::new();
    let base = custom(
        &sandbox,
        "base.json",
        &[("parse", 1000.0), ("render", 500.0)],
    );
    let head = custom(
        &sandbox,
        "head.json",
        &[("parse", 1500.0), ("render", 500.0)],
    );
    let first = sandbox.run(&[
        "check",
        "--import",
        "custom",
        &base,
        "--branch",
        "main",
        "--report",
        "junit=first.xml",
        "--report",
        "markdown=first.md",
    ]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    // No baseline yet: the reports CI steps read still appear, saying so.
    let first_md = std::fs::read_to_string(sandbox.path().join("first.md")).unwrap();
    assert!(
        first_md.contains("no baseline yet: this run is now the baseline"),
        "{first_md}"
    );
    assert!(first_md.contains("2 new"), "{first_md}");
    let first_xml = std::fs::read_to_string(sandbox.path().join("first.xml")).unwrap();
    assert!(first_xml.contains("failures=\"0\""), "{first_xml}");
    let summary = sandbox.path().join("summary.md");
    let outputs = sandbox.path().join("outputs");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let check = sandbox
        .command(&[
            "check",
            "--import",
            "custom",
            &head,
            "--branch",
            "main",
            "--format",
            "github",
            "--report",
            "junit=report.xml",
            "--report",
            "markdown=comment.md",
            "--report",
            "csv=r.csv",
            "--report",
            "alert=alert.md",
            "--report",
            "json=verdict.json",
        ])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_RUN_ID", "42")
        .output()
        .unwrap();
    assert_eq!(code(&check), 1, "{}", stderr(&check));
    let out = stdout(&check);
    assert!(out.lines().all(|l| l.starts_with("::")), "{out}");
    assert!(
        out.contains("::error title=benchkeep%3A parse regressed::parse value: +50.0%25 moderate"),
        "{out}"
    );
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary.starts_with("earlier step\n<!-- benchkeep-report: main@"),
        "appended: {summary}"
    );
    let outputs = std::fs::read_to_string(&outputs).unwrap();
    assert!(
        outputs.starts_with("verdict=fail\nregressions=1\nalert=true\nsummary<<"),
        "{outputs}"
    );
    let read = |name: &str| std::fs::read_to_string(sandbox.path().join(name)).unwrap();
    assert!(read("report.xml").contains("<failure type=\"regressed\""));
    assert!(read("comment.md").contains("[job](https://github.com/o/r/actions/runs/42)"));
    assert_eq!(read("r.csv").lines().count(), 3);
    assert!(read("alert.md").starts_with("Performance regression in main@"));
    assert_eq!(json(&read("verdict.json"))["alert"], true);

    let bad = sandbox.run(&["check", "--import", "custom", &head, "--report", "junit"]);
    assert_eq!(code(&bad), 2);
    assert!(
        stderr(&bad).contains("is not FORMAT=FILE"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn ci_metadata_is_recorded_in_the_run() {
    let sandbox = Sandbox::new();
    let file = custom(&sandbox, "r.json", &[("parse", 1000.0)]);
    let out = sandbox
        .command(&[
            "import",
            "-f",
            "custom",
            &file,
            "--no-record",
            "--out",
            "run.json",
        ])
        .env("GITLAB_CI", "true")
        .env("CI_MERGE_REQUEST_IID", "17")
        .env("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature")
        .env("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main")
        .env("CI_COMMIT_SHA", "abc123")
        .env("CI_JOB_URL", "https://gitlab.example/j/1")
        .env("CI_RUNNER_DESCRIPTION", "runner-3")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let run = json(&std::fs::read_to_string(sandbox.path().join("run.json")).unwrap());
    assert_eq!(run["schema"]["minor"], 5);
    assert_eq!(run["key"]["branch"], "feature");
    let ci = &run["ci"];
    assert_eq!(
        (ci["provider"].as_str(), ci["pull_request"].as_u64()),
        (Some("gitlab"), Some(17))
    );
    assert_eq!(ci["base_branch"], "main");
    assert_eq!(ci["commit"], "abc123");
    assert_eq!(ci["runner"], "runner-3");
}

#[test]
fn completions_man_page_and_init_work_from_the_binary() {
    let sandbox = Sandbox::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = sandbox.run(&["completions", shell]);
        assert_eq!(code(&out), 0);
        assert!(stdout(&out).contains("benchkeep"), "{shell}");
        assert!(
            stdout(&out).contains("merge-base"),
            "{shell}: completes the new options"
        );
    }
    let man = sandbox.run(&["man"]);
    assert!(
        stdout(&man).starts_with(".ie \\n(.g .ds Aq"),
        "{}",
        &stdout(&man)[..80]
    );
    assert!(stdout(&man).contains(".TH benchkeep 1"));
    let init = sandbox.run(&["init", "--ci", "gitlab", "--store", "s3"]);
    assert_eq!(code(&init), 0, "{}", stderr(&init));
    assert!(
        sandbox
            .path()
            .join(".gitlab/benchkeep.gitlab-ci.yml")
            .is_file()
    );
    // The written configuration is what benchkeep itself reads.
    let show = sandbox.run(&["baseline", "list"]);
    assert_eq!(
        code(&show),
        2,
        "s3://CHANGE-ME-bucket is not reachable, but the config parsed"
    );
    assert!(
        !stderr(&show).contains("invalid configuration"),
        "{}",
        stderr(&show)
    );
    let again = sandbox.run(&["init"]);
    assert_eq!(code(&again), 2);
    assert!(stderr(&again).contains("exists; nothing was written"));
}

/// A new user's first steps: `init` (the fs store), point the example at a command, `check`
/// twice. The store directory does not exist in a fresh clone; the first check creates it.
/// The README's flow with `init`, for every store: the first and the second `check` pass
/// without editing anything `init` wrote (the bug: the fs store's first check exited 2 on a
/// `file://.benchkeep` that did not exist yet).
#[test]
fn init_then_two_checks_pass_for_every_store_without_edits() {
    let mut stores = vec!["fs".to_owned()];
    if cfg!(feature = "git") {
        stores.push("git".to_owned());
    }
    match std::env::var("BENCHKEEP_S3_TEST_ENDPOINT") {
        Ok(endpoint) if cfg!(feature = "s3") => {
            let bucket = std::env::var("BENCHKEEP_S3_TEST_BUCKET").unwrap();
            let prefix = format!("init-{}", std::process::id());
            stores.push(format!(
                "s3://{bucket}/{prefix}?endpoint={endpoint}&allow_http=true"
            ));
        }
        _ => assert!(
            !cfg!(feature = "s3") || std::env::var("BENCHKEEP_REQUIRE_S3").as_deref() != Ok("1"),
            "BENCHKEEP_REQUIRE_S3=1 but BENCHKEEP_S3_TEST_ENDPOINT is not set"
        ),
    }
    for store in &stores {
        let sandbox = Sandbox::new();
        git(sandbox.path(), &["init", "-q", "-b", "main"]);
        let init = sandbox.run(&[
            "init", "--store", store, "--ci", "github", "--bench", "true",
        ]);
        assert_eq!(code(&init), 0, "{store}: {}", stderr(&init));
        git(sandbox.path(), &["add", "-A"]);
        git(sandbox.path(), &["commit", "-q", "-m", "benchkeep"]);
        // Outside CI, a baseline is made only on request (--promote); the threshold keeps
        // machine noise out of a test about set-up.
        let check = ["check", "--runs", "5", "--threshold", "1000", "--promote"];
        let first = sandbox.run(&check);
        assert_eq!(code(&first), 0, "{store}: {}", stderr(&first));
        assert!(
            stderr(&first).contains("this run is now the baseline"),
            "{store}: {}",
            stderr(&first)
        );
        let second = sandbox.run(&check);
        assert_eq!(code(&second), 0, "{store}: {}", stderr(&second));
        // Compared with the baseline the first check made (unchanged, or inconclusive on a
        // busy machine: either passes).
        assert!(
            stdout(&second).contains("PASS: 1 ") && !stderr(&second).contains("no baseline"),
            "{store}: {}{}",
            stdout(&second),
            stderr(&second)
        );
    }
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    let sandbox = Sandbox::new();
    let base = custom(&sandbox, "base.json", &[("parse", 1000.0)]);
    let head = custom(&sandbox, "head.json", &[("parse", 1500.0)]);
    assert_eq!(
        code(&sandbox.run(&["check", "--import", "custom", &base])),
        0
    );
    let args = ["check", "--import", "custom", head.as_str(), "--no-record"];
    let always = sandbox.run(&[&["--color", "always"][..], &args].concat());
    assert!(stdout(&always).contains("\x1b[31m"), "{}", stdout(&always));
    let piped = sandbox.run(&args);
    assert!(!stdout(&piped).contains('\x1b'), "auto is off in a pipe");
    let no_color = sandbox
        .command(&args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!stdout(&no_color).contains('\x1b'));
}

#[test]
fn duplicate_entries_are_refused_unless_merged() {
    let sandbox = Sandbox::new();
    let file = sandbox.path().join("dup.json");
    std::fs::write(
        &file,
        r#"{"benchmarks": [{"name": "parse", "unit": "ns", "samples": [1000, 1001]}, {"name": "parse", "unit": "ns", "samples": [9000, 9001]}]}"#,
    )
    .unwrap();
    let file = file.display().to_string();
    let refused = sandbox.run(&["check", "--import", "custom", &file]);
    assert_eq!(code(&refused), 2, "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("appears twice")
            && stderr(&refused).contains("--merge-duplicates"),
        "{}",
        stderr(&refused)
    );
    assert!(sandbox.run_files().is_empty(), "nothing was recorded");
    let merged = sandbox.run(&[
        "import",
        "-f",
        "custom",
        &file,
        "--merge-duplicates",
        "--no-record",
        "--out",
        "m.json",
    ]);
    assert_eq!(code(&merged), 0, "{}", stderr(&merged));
    let run = json(&std::fs::read_to_string(sandbox.path().join("m.json")).unwrap());
    assert_eq!(
        run["benchmarks"][0]["metrics"][0]["samples"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}
