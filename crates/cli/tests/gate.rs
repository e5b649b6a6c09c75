//! End-to-end tests of a gate that fails closed: every way to "pass" must be earned by a
//! measurement. Deterministic inputs only (run files with seeded samples), so a busy machine
//! cannot change a verdict.

mod common;

use common::{Sandbox, code, main_run, stderr, stdout};

#[test]
fn a_benchmark_missing_from_the_run_fails_the_gate_unless_accepted() {
    let sandbox = Sandbox::new();
    let base = sandbox.write_run(
        "base.json",
        &main_run(1, &[("parse", 1e6), ("render", 2e6)]),
    );
    let head = sandbox.write_run("head.json", &main_run(2, &[("parse", 1e6)]));
    let out = sandbox.run(&["compare", &base, &head]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("FAIL: 1 unchanged, 1 missing; failing: render missing"),
        "{}",
        stdout(&out)
    );
    let github = sandbox.run(&["compare", "--format", "github", &base, &head]);
    assert!(
        stdout(&github).contains("::error title=benchkeep%3A render missing::"),
        "{}",
        stdout(&github)
    );
    let allowed = sandbox.run(&["compare", "--allow-missing", &base, &head]);
    assert_eq!(code(&allowed), 0, "{}", stdout(&allowed));
    assert!(
        stdout(&allowed)
            .contains("render wall_time: in the baseline but not in this run (allowed)")
    );
    // A policy can accept one benchmark's absence; `fail_on_inconclusive` does not hide it.
    std::fs::write(
        sandbox.path().join("benchkeep.toml"),
        "[[policy]]\nname = \"render\"\nallow_missing = true\n",
    )
    .unwrap();
    let by_policy = sandbox.run(&["compare", &base, &head]);
    assert_eq!(code(&by_policy), 0, "{}", stdout(&by_policy));
    std::fs::write(
        sandbox.path().join("benchkeep.toml"),
        "[compare]\nfail_on_inconclusive = true\n",
    )
    .unwrap();
    assert_eq!(code(&sandbox.run(&["compare", &base, &head])), 1);
}

#[test]
fn a_run_that_measured_nothing_is_refused_and_nothing_is_recorded() {
    let sandbox = Sandbox::new();
    let base = sandbox.write_run("base.json", &main_run(1, &[("parse", 1e6)]));
    sandbox.run(&["check", "--run", &base]);
    let recorded = sandbox.run_files().len();
    let empty = sandbox.write_run("empty.json", &main_run(2, &[]));
    let mut no_metrics = main_run(3, &[("parse", 1e6), ("render", 2e6)]);
    no_metrics.benchmarks[1].metrics.clear();
    let no_metrics = sandbox.write_run("no-metrics.json", &no_metrics);
    let mut no_samples = main_run(4, &[("parse", 1e6)]);
    no_samples.benchmarks[0].metrics[0].samples.clear();
    let no_samples = sandbox.write_run("no-samples.json", &no_samples);
    for (file, needle) in [
        (&empty, "run file empty.json: it has no benchmarks"),
        (&no_metrics, "benchmark \"render\" has no metrics"),
        (
            &no_samples,
            "metric \"wall_time\" of benchmark \"parse\" has no samples",
        ),
    ] {
        for args in [vec!["check", "--run", file], vec!["compare", &base, file]] {
            let out = sandbox.run(&args);
            assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
            assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
        }
    }
    assert_eq!(
        sandbox.run_files().len(),
        recorded,
        "a refused run was recorded"
    );
    let baseline = sandbox.run(&["baseline", "show", "--branch", "main", "--platform", "test"]);
    assert!(
        stdout(&baseline).contains("parse "),
        "{}",
        stdout(&baseline)
    );
}

#[test]
fn fail_on_turns_smaller_regressions_into_warnings_in_every_format() {
    let sandbox = Sandbox::new();
    let base = sandbox.write_run("base.json", &main_run(1, &[("parse", 1e6)]));
    let minor = sandbox.write_run("minor.json", &main_run(2, &[("parse", 1.3e6)]));
    let critical = sandbox.write_run("critical.json", &main_run(3, &[("parse", 2.5e6)]));
    assert_eq!(code(&sandbox.run(&["compare", &base, &minor])), 1);
    let out = sandbox.run(&["compare", "--fail-on", "moderate", &base, &minor]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("1 regression below fail_on (warnings)"),
        "{}",
        stdout(&out)
    );
    let github = sandbox.run(&[
        "compare",
        "--fail-on",
        "moderate",
        "--format",
        "github",
        &base,
        &minor,
    ]);
    assert!(
        stdout(&github).contains("::warning title=benchkeep%3A parse regressed::"),
        "{}",
        stdout(&github)
    );
    let junit = sandbox.run(&[
        "compare",
        "--fail-on",
        "moderate",
        "--format",
        "junit",
        &base,
        &minor,
    ]);
    assert!(
        stdout(&junit).contains("failures=\"0\""),
        "{}",
        stdout(&junit)
    );
    assert_eq!(
        code(&sandbox.run(&["compare", "--fail-on", "moderate", &base, &critical])),
        1
    );
    std::fs::write(
        sandbox.path().join("benchkeep.toml"),
        "[compare]\nfail_on = \"critical\"\n",
    )
    .unwrap();
    assert_eq!(code(&sandbox.run(&["compare", &base, &minor])), 0);
    let typo = sandbox.run(&["compare", "--fail-on", "major", &base, &minor]);
    assert_eq!(code(&typo), 2);
    assert!(
        stderr(&typo).contains("minor, moderate or critical"),
        "{}",
        stderr(&typo)
    );
}

#[test]
fn absolute_limits_fail_whatever_the_baseline_says_from_the_first_run_on() {
    let sandbox = Sandbox::new();
    std::fs::write(
        sandbox.path().join("benchkeep.toml"),
        "[[policy]]\nname = \"parse\"\nmax = \"1.5ms\"\n",
    )
    .unwrap();
    let slow = sandbox.write_run("slow.json", &main_run(1, &[("parse", 2e6)]));
    // No baseline yet: the limit still holds, and the slow run does not become the baseline.
    let first = sandbox.run(&["check", "--run", &slow]);
    assert_eq!(code(&first), 1, "{}{}", stdout(&first), stderr(&first));
    assert!(
        stdout(&first).contains("is above max 1.500 ms: fails the gate"),
        "{}",
        stdout(&first)
    );
    assert!(!sandbox.store().join("baselines").exists() || sandbox.baseline_files().is_empty());
    // It is recorded as a run that failed its gate, so no later pooling takes it.
    let recorded: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sandbox.run_files()[0]).unwrap()).unwrap();
    assert_eq!(recorded["passed"], false);
    let fast = sandbox.write_run("fast.json", &main_run(2, &[("parse", 1e6)]));
    assert_eq!(code(&sandbox.run(&["check", "--run", &fast])), 0);
    // Unchanged against a slow baseline is still beyond the limit.
    let out = sandbox.run(&["compare", &slow, &slow]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("failing: parse wall_time above max 1.500 ms"),
        "{}",
        stdout(&out)
    );
    // A limit in a unit nothing measured is refused, not ignored.
    std::fs::write(
        sandbox.path().join("benchkeep.toml"),
        "[[policy]]\nname = \"parse\"\nmax = \"512MiB\"\n",
    )
    .unwrap();
    let out = sandbox.run(&["compare", &fast, &fast]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(
        stderr(&out)
            .contains("its [[policy]] sets max 512 MiB, but it measured no metric in that unit"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_runner_measures_as_many_runs_as_a_verdict_needs() {
    let sandbox = Sandbox::new();
    std::fs::write(
        sandbox.path().join("benchkeep.toml"),
        "[compare]\nmin_samples = 4\n",
    )
    .unwrap();
    let out = sandbox.run(&[
        "run",
        "--runs",
        "2",
        "--no-record",
        "--out",
        "run.json",
        "--name",
        "t",
        "--",
        "true",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("t: measuring 4 runs, not 2: [compare] min_samples needs 4"),
        "{}",
        stderr(&out)
    );
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sandbox.path().join("run.json")).unwrap()).unwrap();
    assert_eq!(
        run["benchmarks"][0]["metrics"][0]["samples"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

/// The library's gate (`benchkeep_engine::gate::compare_benchmarks`) and `benchkeep compare`
/// give the same verdict and exit code on the same inputs and configuration.
#[test]
fn the_library_runs_the_same_gate_as_the_cli() {
    use benchkeep_engine::config::Config;
    use benchkeep_engine::gate;
    use benchkeep_engine::settings::CompareFlags;
    let sandbox = Sandbox::new();
    let config_text =
        "[compare]\nfail_on = \"moderate\"\n[[policy]]\nname = \"render\"\nmax = \"2.5ms\"\n";
    std::fs::write(sandbox.path().join("benchkeep.toml"), config_text).unwrap();
    let config = Config::parse(config_text).unwrap();
    let base = main_run(1, &[("parse", 1e6), ("render", 2e6), ("gone", 1e6)]);
    let cases = [
        (
            "unchanged",
            main_run(2, &[("parse", 1e6), ("render", 2e6), ("gone", 1e6)]),
        ),
        (
            "minor",
            main_run(3, &[("parse", 1.3e6), ("render", 2e6), ("gone", 1e6)]),
        ),
        (
            "critical",
            main_run(4, &[("parse", 2.5e6), ("render", 2e6), ("gone", 1e6)]),
        ),
        ("missing", main_run(5, &[("parse", 1e6), ("render", 2e6)])),
        (
            "limit",
            main_run(6, &[("parse", 1e6), ("render", 2.6e6), ("gone", 1e6)]),
        ),
    ];
    let base_file = sandbox.write_run("base.json", &base);
    let mut codes = Vec::new();
    for (name, head) in &cases {
        let head_file = sandbox.write_run(&format!("{name}.json"), head);
        let cli = sandbox.run(&["compare", &base_file, &head_file]);
        let library = gate::compare_benchmarks(
            &config,
            &CompareFlags::default(),
            &base.benchmarks,
            &head.benchmarks,
        )
        .unwrap();
        assert_eq!(
            code(&cli),
            i32::from(library.exit_code()),
            "{name}: {}",
            stdout(&cli)
        );
        codes.push((*name, code(&cli)));
    }
    assert_eq!(
        codes,
        [
            ("unchanged", 0),
            ("minor", 0),
            ("critical", 1),
            ("missing", 1),
            ("limit", 1)
        ]
    );
}
