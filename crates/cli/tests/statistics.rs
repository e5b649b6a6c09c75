//! End-to-end tests of the statistics features: paired `ab`, history-aware `check`, policies,
//! confirmation re-runs, instruction counts and `trend`.

use benchkeep_core::key::BaselineKey;
use benchkeep_core::model::{Benchmark, Direction, Fingerprint, GitInfo, Metric, Run, RunId, Unit};
use benchkeep_core::stats::Rng;
use benchkeep_core::store::encode_run;
use serde_json::Value;

mod common;

use common::{Sandbox, code, stderr, stdout};

/// Tests whose verdicts depend on timings run one at a time: in parallel they would measure each
/// other. Sleeps rather than busy loops keep them insensitive to the other test binaries' load.
static TIMING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn timing() -> std::sync::MutexGuard<'static, ()> {
    TIMING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn json(output: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(output)).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            stdout(output),
            stderr(output)
        )
    })
}

fn wall_time(doc: &Value) -> &Value {
    doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["metric"] == "wall_time")
        .expect("a wall_time entry")
}

/// A head twice as slow as its base: regressed, with an interval, q-value and detectable effect
/// in the JSON document. The effect is far beyond any machine's noise: verdicts on small effects
/// are the seeded tests' business (crates/core/tests/verdicts.rs), so this one holds on a busy
/// CI runner too.
#[test]
fn ab_reports_a_slower_head_with_its_interval() {
    let _serial = timing();
    let sandbox = Sandbox::new();
    let out = sandbox.run(&[
        "ab",
        "--base",
        "sleep 0.05",
        "--head",
        "sleep 0.1",
        "--rounds",
        "20",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    let doc = json(&out);
    let entry = wall_time(&doc);
    assert_eq!(entry["verdict"], "regressed", "{entry}");
    assert_eq!(entry["method"], "paired");
    let (lo, hi) = (
        entry["interval"][0].as_f64().unwrap(),
        entry["interval"][1].as_f64().unwrap(),
    );
    assert!(lo > 0.3 && lo <= hi && hi < 2.0, "{entry}");
    assert!(entry["q_value"].as_f64().unwrap() < 0.05);
    assert!(entry["detectable"].as_f64().unwrap() > 0.0);
    assert!(doc["heading"].as_str().unwrap().contains("paired rounds"));
    // Nothing is recorded by a paired comparison.
    assert!(sandbox.run_files().is_empty());
}

#[test]
fn ab_on_identical_commands_passes_and_says_what_it_could_rule_out() {
    let _serial = timing();
    let sandbox = Sandbox::new();
    let out = sandbox.run(&[
        "ab",
        "--base",
        "sleep 0.02",
        "--head",
        "sleep 0.02",
        "--rounds",
        "20",
        // Wide enough that a busy machine's scheduling cannot make identical commands differ
        // by that much: the test is about the pass and its wording, not about resolution.
        "--threshold",
        "25",
    ]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let report = stdout(&out);
    let row = report
        .lines()
        .find(|l| l.starts_with("ab ") && l.contains("wall_time"))
        .unwrap();
    assert!(
        row.contains("unchanged") || row.contains("inconclusive"),
        "{report}"
    );
    assert!(report.contains("method: paired, 20 rounds"), "{report}");
    assert!(report.contains("PASS"), "{report}");
}

/// An inconclusive benchmark gets more rounds, batch after batch, until the round limit, and
/// says so. The outcome is certain on any machine: at a threshold of 0.001% no interval over
/// `sleep` timings is narrow enough to say "unchanged", and at alpha = 1e-12 no test on 9 rounds
/// is significant (a busy machine can shift timings a few percent between jobs and even within
/// one; at 0.0001 a clean-clone CI run once called such a shift regressed).
#[test]
fn ab_measures_inconclusive_benchmarks_again_up_to_the_round_limit() {
    let _serial = timing();
    let sandbox = Sandbox::new();
    let out = sandbox.run(&[
        "ab",
        "--base",
        "sleep 0.01",
        "--head",
        "sleep 0.01",
        "--rounds",
        "3",
        "--max-rounds",
        "9",
        "--threshold",
        "0.001",
        "--alpha",
        "1e-12",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("measuring 3 more (look 2 of at most 3)"),
        "{err}"
    );
    assert!(err.contains("(look 3 of at most 3)"), "{err}");
    let entry = wall_time(&json(&out)).clone();
    assert_eq!(entry["verdict"], "inconclusive", "{entry}");
    assert_eq!(entry["current"]["n"], 9, "{entry}");
    let notes = entry["notes"].to_string();
    assert!(
        notes.contains("stopped at the round limit after 9 samples (look 3 of at most 3)"),
        "{notes}"
    );

    // --max-rounds equal to --rounds: one look, the whole alpha, no more rounds.
    let once = sandbox.run(&[
        "ab",
        "--base",
        "sleep 0.01",
        "--head",
        "sleep 0.01",
        "--rounds",
        "3",
        "--max-rounds",
        "3",
        "--threshold",
        "0.001",
        "--format",
        "json",
    ]);
    assert!(!stderr(&once).contains("more (look"), "{}", stderr(&once));
    let entry = wall_time(&json(&once)).clone();
    assert_eq!(entry["current"]["n"], 3, "{entry}");
    assert!(
        (entry["confidence"].as_f64().unwrap() - 0.95).abs() < 1e-9,
        "{entry}"
    );

    let bad = sandbox.run(&[
        "ab",
        "--base",
        "true",
        "--head",
        "true",
        "--rounds",
        "10",
        "--max-rounds",
        "5",
    ]);
    assert_eq!(code(&bad), 2);
    assert!(stderr(&bad).contains("max-rounds (5) must be at least rounds (10)"));
}

/// `check` measures an inconclusive benchmark again, up to --max-looks, and records every
/// sample it took. Certain on any machine, as above: no interval over `sleep` timings is within
/// ±0.001%, and no test on 3 and 9 samples is significant at alpha = 1e-12 (two jobs of one
/// command differed by 2.7%, p = 1.4e-6, in a clean-clone CI run beside other work).
#[test]
fn check_measures_inconclusive_benchmarks_again_and_records_every_sample() {
    let _serial = timing();
    let sandbox = Sandbox::new();
    let args = [
        "check",
        "--runs",
        "3",
        "--max-looks",
        "3",
        "--threshold",
        "0.001",
        "--alpha",
        "1e-12",
        "--name",
        "nap",
        "--",
        "sleep",
        "0.01",
    ];
    assert_eq!(code(&sandbox.run(&args)), 0, "the first check bootstraps");
    let out = sandbox.run(&args);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("nap: inconclusive after 3 runs; measuring it again (look 2 of at most 3)"),
        "{err}"
    );
    assert!(
        stdout(&out).contains("stopped at the round limit after 9 samples"),
        "{}",
        stdout(&out)
    );
    let newest = sandbox
        .run_files()
        .into_iter()
        .map(|path| serde_json::from_slice::<Value>(&std::fs::read(path).unwrap()).unwrap())
        .find(|run| {
            run["benchmarks"][0]["metrics"][0]["samples"]
                .as_array()
                .unwrap()
                .len()
                == 9
        });
    assert!(newest.is_some(), "the recorded run holds all 9 samples");
}

#[test]
fn ab_confirms_a_regression_with_more_rounds() {
    let _serial = timing();
    let sandbox = Sandbox::new();
    let out = sandbox.run(&[
        "ab",
        "--base",
        "sleep 0.02",
        "--head",
        "sleep 0.03",
        "--rounds",
        "10",
        "--confirm",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    let doc = json(&out);
    let entry = wall_time(&doc);
    assert_eq!(
        entry["current"]["n"], 20,
        "10 rounds, then 10 more: {entry}"
    );
    assert_eq!(
        entry["notes"][0], "confirmed: 10 more rounds, still regressed",
        "{entry}"
    );
    assert!(stderr(&out).contains("running 10 more rounds to confirm"));
}

#[test]
fn ab_runs_configured_base_and_head_benchmarks() {
    let _serial = timing();
    let sandbox = Sandbox::new();
    std::fs::write(
        sandbox.path().join("benchkeep.toml"),
        r#"
            [ab]
            rounds = 8
            max_rounds = 8
            threshold = 40
            [[bench]]
            name = "loop"
            base = "sleep 0.02"
            head = "sleep 0.02"
            "#,
    )
    .unwrap();
    // A threshold no busy machine's noise reaches between two identical sleeps: this test is
    // about the configuration being used, not about noise.
    let out = sandbox.run(&["ab", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let doc = json(&out);
    let entry = wall_time(&doc);
    assert_eq!(entry["benchmark"], "loop");
    assert_eq!(entry["current"]["n"], 8);
    assert!((entry["threshold"].as_f64().unwrap() - 0.40).abs() < 1e-12);
    // `run` has nothing to measure in a file of base/head benchmarks, and says why.
    let run = sandbox.run(&["run"]);
    assert_eq!(code(&run), 2);
    assert!(stderr(&run).contains("benchkeep ab"), "{}", stderr(&run));
}

#[test]
fn ab_refuses_bad_input_with_exit_2() {
    let sandbox = Sandbox::new();
    for (args, needle) in [
        (vec!["ab"], "nothing to compare"),
        (vec!["ab", "--", "true"], "needs --base-ref"),
        (
            vec!["ab", "--base", "true", "--head", "true", "--rounds", "1"],
            "at least 2",
        ),
        (
            vec!["ab", "--base", "true", "--head", "exit 3", "--rounds", "3"],
            "exit code 3",
        ),
        (
            vec!["ab", "--base-ref", "main", "--", "true"],
            "needs a git repository",
        ),
    ] {
        let out = sandbox.run(&args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
}

/// A run of key main@test with one benchmark whose samples centre on `center`.
fn synthetic_run(index: usize, center: f64, spread: f64) -> Run {
    let at =
        jiff::Timestamp::from_second(1_800_000_000 + i64::try_from(index).unwrap() * 3600).unwrap();
    let key = BaselineKey::new("main", "test").unwrap();
    let mut run = Run::new(
        RunId::new(at, index as u64),
        at,
        key,
        Fingerprint::default(),
    );
    run.git = Some(GitInfo {
        commit: Some(format!("c0ffee{index:02}")),
        ..GitInfo::default()
    });
    let mut rng = Rng::seed_from_u64(index as u64);
    run.benchmarks.push(Benchmark {
        params: std::collections::BTreeMap::new(),
        name: "parse".into(),
        command: None,
        metrics: vec![Metric {
            name: "wall_time".into(),
            unit: Unit::nanoseconds(),
            direction: Direction::LowerIsBetter,
            samples: (0..20)
                .map(|_| center * (1.0 + spread * (rng.unit_f64() - 0.5)))
                .collect(),
            summary: None,
        }],
    });
    run
}

/// Writes runs to files and records them (and a baseline of them) with `baseline set --from`.
fn record(sandbox: &Sandbox, runs: &[Run]) {
    let mut args = vec!["baseline".to_owned(), "set".to_owned()];
    for run in runs {
        let path = sandbox.path().join(format!("{}.json", run.id));
        std::fs::write(&path, encode_run(run)).unwrap();
        args.push("--from".into());
        args.push(path.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = sandbox.run(&args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn check_uses_the_history_of_a_pooled_baseline_and_says_when_it_cannot() {
    let sandbox = Sandbox::new();
    // Ten past jobs whose machines differed by ±4%.
    let mut rng = Rng::seed_from_u64(11);
    let history: Vec<Run> = (0..10)
        .map(|i| synthetic_run(i, 1e7 * (1.0 + 0.08 * (rng.unit_f64() - 0.5)), 0.01))
        .collect();
    record(&sandbox, &history);
    let current = synthetic_run(50, 1.03e7, 0.01);
    let path = sandbox.path().join("current.json");
    std::fs::write(&path, encode_run(&current)).unwrap();
    let args = [
        "check",
        "--run",
        path.to_str().unwrap(),
        "--no-record",
        "--format",
        "json",
    ];
    let out = sandbox.run(&args);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let doc = json(&out);
    let entry = wall_time(&doc);
    assert_eq!(entry["method"], "history", "{entry}");
    assert_eq!(
        doc["method"], "history",
        "the document says the method its entries used"
    );
    assert_eq!(entry["history"]["jobs"], 10);
    assert!(entry["history"]["between_jobs"].as_f64().unwrap() > 0.01);
    // The baseline value shown is the one the change is measured from: the typical past job.
    let (baseline, current, change) = (
        entry["baseline"]["centre"].as_f64().unwrap(),
        entry["current"]["centre"].as_f64().unwrap(),
        entry["change"].as_f64().unwrap(),
    );
    assert!((current / baseline - 1.0 - change).abs() < 1e-9, "{entry}");
    assert_ne!(
        entry["verdict"], "regressed",
        "3% inside ±4% machine noise: {entry}"
    );

    // A baseline of one job: the v1 engine, with the cross-job noise stated as unknown.
    record(&sandbox, &history[..1]);
    let out = sandbox.run(&args);
    let doc = json(&out);
    let entry = wall_time(&doc);
    assert_eq!(entry["method"], "median-bootstrap");
    assert!(
        entry["notes"][0]
            .as_str()
            .unwrap()
            .contains("job-to-job noise unknown"),
        "{entry}"
    );
}

/// A job whose machine ran 25% slower than any of the baseline's (by its speed probe) and whose
/// benchmark is 25% slower too: the machine explains it, so not a regression, and the entry says
/// why; `--speed-probe ignore` calls it a regression, as benchkeep did before the probe.
#[test]
fn check_widens_a_history_verdict_by_the_machine_the_probe_saw() {
    use benchkeep_core::model::SpeedProbe;
    let sandbox = Sandbox::new();
    let probed = |mut run: Run, ns: f64| {
        run.probe = Some(SpeedProbe {
            version: 1,
            samples: vec![ns, ns * 1.001, ns * 0.999],
        });
        run
    };
    // A quiet history: jobs within ±0.4%, machines within ±0.5%.
    let history: Vec<Run> = (0..10)
        .map(|i| {
            let wobble = f64::from(u8::try_from(i).unwrap()) / 10.0 - 0.5;
            probed(
                synthetic_run(i, 1e7 * (1.0 + 0.008 * wobble), 0.01),
                5e6 * (1.0 + 0.01 * wobble),
            )
        })
        .collect();
    record(&sandbox, &history);
    let current = probed(synthetic_run(50, 1.25e7, 0.01), 6.25e6);
    let path = sandbox.path().join("current.json");
    std::fs::write(&path, encode_run(&current)).unwrap();
    let check = |extra: &[&str]| {
        let mut args = vec![
            "check",
            "--run",
            path.to_str().unwrap(),
            "--no-record",
            "--format",
            "json",
        ];
        args.extend(extra);
        sandbox.run(&args)
    };
    let out = check(&[]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let entry = wall_time(&json(&out)).clone();
    assert_eq!(entry["method"], "history", "{entry}");
    assert_ne!(entry["verdict"], "regressed", "{entry}");
    assert!(
        (entry["history"]["machine"].as_f64().unwrap() - 0.25).abs() < 0.01,
        "{entry}"
    );
    assert!(
        entry["notes"]
            .to_string()
            .contains("the machine ran 25.1% slower"),
        "{entry}"
    );

    let ignored = check(&["--speed-probe", "ignore"]);
    assert_eq!(code(&ignored), 1, "{}", stdout(&ignored));
    assert_eq!(wall_time(&json(&ignored))["verdict"], "regressed");
}

#[test]
fn policies_set_thresholds_by_name_and_glob() {
    let sandbox = Sandbox::new();
    std::fs::write(
        sandbox.path().join("benchkeep.toml"),
        r#"
        [[policy]]
        name = "pa*"
        threshold = 40
        [[policy]]
        name = "render"
        threshold = 1
        "#,
    )
    .unwrap();
    record(&sandbox, &[synthetic_run(1, 1e7, 0.01)]);
    // +20%: a regression at the default threshold, but not under the "pa*" policy's 40%.
    let current = synthetic_run(2, 1.2e7, 0.01);
    let path = sandbox.path().join("current.json");
    std::fs::write(&path, encode_run(&current)).unwrap();
    let out = sandbox.run(&[
        "check",
        "--run",
        path.to_str().unwrap(),
        "--no-record",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let entry = wall_time(&json(&out)).clone();
    assert!((entry["threshold"].as_f64().unwrap() - 0.4).abs() < 1e-12);
    assert_eq!(entry["verdict"], "unchanged", "{entry}");

    std::fs::write(
        sandbox.path().join("benchkeep.toml"),
        "[[policy]]\nname = \"pa*\"\nthreshhold = 40\n",
    )
    .unwrap();
    let out = sandbox.run(&["check", "--run", path.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("threshhold"), "{}", stderr(&out));
}

/// A gate that names a metric nobody measured has no evidence, so it refuses (exit 2, naming
/// the benchmark and what it did measure) instead of passing a +30% regression: a typo on the
/// command line, a typo in a policy, and a policy asking for instructions a run lacks.
#[test]
fn a_gate_on_an_unmeasured_metric_refuses_instead_of_passing() {
    let sandbox = Sandbox::new();
    let write = |name: &str, run: &Run| {
        let path = sandbox.path().join(name);
        std::fs::write(&path, encode_run(run)).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let base = write("base.json", &synthetic_run(1, 1e7, 0.01));
    let slower = write("slower.json", &synthetic_run(2, 1.3e7, 0.01));
    let plain = sandbox.run(&["compare", &base, &slower]);
    assert_eq!(code(&plain), 1, "{}", stdout(&plain));

    let typo = sandbox.run(&["compare", &base, &slower, "--gate-metric", "walltime"]);
    assert_eq!(code(&typo), 2, "{}", stdout(&typo));
    assert!(
        stderr(&typo).contains("its gate names walltime"),
        "{}",
        stderr(&typo)
    );
    assert!(
        stderr(&typo).contains("it has wall_time"),
        "{}",
        stderr(&typo)
    );

    for policy in ["metric = \"walltime\"", "metric = \"instructions\""] {
        std::fs::write(
            sandbox.path().join("benchkeep.toml"),
            format!("[[policy]]\nname = \"pa*\"\n{policy}\n"),
        )
        .unwrap();
        let out = sandbox.run(&["compare", &base, &slower]);
        assert_eq!(code(&out), 2, "{policy}: {}", stdout(&out));
        assert!(stderr(&out).contains("[[policy]]"), "{}", stderr(&out));
    }

    // A second, unmeasured metric beside a measured one still gates on the measured one.
    std::fs::remove_file(sandbox.path().join("benchkeep.toml")).unwrap();
    let both = sandbox.run(&[
        "compare",
        &base,
        &slower,
        "--gate-metric",
        "wall_time,peakrss",
    ]);
    assert_eq!(code(&both), 1, "{}", stdout(&both));
    assert!(
        stderr(&both).contains("no benchmark measured it"),
        "{}",
        stderr(&both)
    );
}

#[test]
fn check_confirm_remeasures_a_suspect_and_reports_it_not_confirmed() {
    let _serial = timing();
    let sandbox = Sandbox::new();
    // Slow for executions 20 to 28 only: one warm-up and 8 measured runs of the second check.
    // The slow phase is ten times slower and the threshold 100%, so that neither a loaded CI
    // machine's noisy baseline hides the suspect nor its noise makes the re-measurement look
    // regressed: the test is about the confirmation path, not about detecting small changes.
    let flaky = "n=$(cat count); n=$((n+1)); echo $n > count; \
                 if [ $n -ge 20 ] && [ $n -le 28 ]; then sleep 0.2; else sleep 0.02; fi";
    std::fs::write(sandbox.path().join("count"), "0").unwrap();
    std::fs::write(
        sandbox.path().join("benchkeep.toml"),
        "[[policy]]\nname = \"nap\"\nthreshold = 100\n",
    )
    .unwrap();
    let base = sandbox.run(&[
        "check", "--name", "nap", "--runs", "8", "--shell", "--", flaky,
    ]);
    assert_eq!(code(&base), 0, "{}", stderr(&base));
    std::fs::write(sandbox.path().join("count"), "19").unwrap();
    let out = sandbox.run(&[
        "check",
        "--name",
        "nap",
        "--runs",
        "8",
        "--confirm",
        "--shell",
        "--format",
        "json",
        "--",
        flaky,
    ]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let doc = json(&out);
    let entry = wall_time(&doc);
    let notes = entry["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n
            .as_str()
            .unwrap()
            .starts_with("not confirmed: looked regressed, measured again: ")),
        "{entry}"
    );
    // The re-measurement is as fast as the baseline: unchanged, or inconclusive when this
    // machine's noise widens the interval past the threshold, but never a regression.
    assert_ne!(entry["verdict"], "regressed", "{entry}");
    assert!(
        stderr(&out).contains("measuring it again"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn run_counts_instructions_with_callgrind_when_asked() {
    // Not timing-sensitive itself, but callgrind keeps a core busy for seconds: running beside the
    // timing tests it would be the noise they are not meant to measure.
    let _serial = timing();
    let sandbox = Sandbox::new();
    let out = sandbox.run(&[
        "run",
        "--runs",
        "2",
        "--instructions",
        "--out",
        "run.json",
        "--no-record",
        "--",
        "true",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let run: Value =
        serde_json::from_slice(&std::fs::read(sandbox.path().join("run.json")).unwrap()).unwrap();
    let metric = run["benchmarks"][0]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "instructions")
        .expect("an instructions metric");
    assert_eq!(metric["unit"], "instructions");
    let samples = metric["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 5);
    assert!(samples.iter().all(|s| s.as_f64().unwrap() > 1000.0));
}

#[test]
fn trend_finds_an_injected_step_with_the_commits_around_it_and_none_in_flat_noise() {
    let sandbox = Sandbox::new();
    // 20 jobs at 10 ms, then 15 at 11.5 ms (+15%), each job ±3% from the last.
    let mut rng = Rng::seed_from_u64(3);
    let runs: Vec<Run> = (0..35)
        .map(|i| {
            let level = if i < 20 { 1e7 } else { 1.15e7 };
            synthetic_run(i, level * (1.0 + 0.06 * (rng.unit_f64() - 0.5)), 0.01)
        })
        .collect();
    record(&sandbox, &runs);
    let out = sandbox.run(&["trend", "--branch", "main", "--platform", "test"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let report = stdout(&out);
    assert!(
        report.contains("parse wall_time: 35 job(s), 1 change point(s)"),
        "{report}"
    );
    // The step sits between job 20 (index 19) and job 21 (index 20).
    assert!(
        report.contains("between c0ffee19") && report.contains("and c0ffee20"),
        "{report}"
    );
    let failing = sandbox.run(&[
        "trend",
        "parse",
        "--branch",
        "main",
        "--platform",
        "test",
        "--fail-on-change",
        "--format",
        "json",
    ]);
    assert_eq!(code(&failing), 1);
    let doc = json(&failing);
    assert_eq!(doc["series"][0]["change_points"][0]["index"], 20);

    let flat = Sandbox::new();
    let runs: Vec<Run> = (0..35)
        .map(|i| synthetic_run(i, 1e7 * (1.0 + 0.06 * (rng.unit_f64() - 0.5)), 0.01))
        .collect();
    record(&flat, &runs);
    let out = flat.run(&[
        "trend",
        "--branch",
        "main",
        "--platform",
        "test",
        "--fail-on-change",
    ]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("0 change point(s)"),
        "{}",
        stdout(&out)
    );
    let none = flat.run(&[
        "trend",
        "nothing*",
        "--branch",
        "main",
        "--platform",
        "test",
    ]);
    assert_eq!(code(&none), 2);
    assert!(stderr(&none).contains("no history"), "{}", stderr(&none));
}
