//! End-to-end tests of `benchkeep suite`: it records an ordinary run that `check` gates on, and a
//! change of plan shows in the report.

use serde_json::Value;

mod common;

use common::{Sandbox, code, stderr, stdout};

/// The two workloads that stay fast in an unoptimized test build.
const WORKLOADS: [&str; 4] = [
    "--workload",
    "fast_function",
    "--workload",
    "mixed_workload",
];

fn suite(sandbox: &Sandbox, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["suite", "--quick"];
    args.extend(WORKLOADS);
    args.extend(extra);
    sandbox.run(&args)
}

#[test]
fn suite_records_a_run_with_the_plan_and_check_reports_a_change_of_plan() {
    let sandbox = Sandbox::new();
    let out = suite(&sandbox, &["--out", "suite.json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let table = stdout(&out);
    for expected in [
        "fast_function",
        "mixed_workload",
        "predicted",
        "measured",
        "mean accuracy",
    ] {
        assert!(table.contains(expected), "{expected} missing from\n{table}");
    }
    assert!(
        stderr(&out).contains("mixed_workload: sweep of"),
        "{}",
        stderr(&out)
    );
    assert_eq!(sandbox.run_files().len(), 1, "the suite records its run");

    let text = std::fs::read_to_string(sandbox.path().join("suite.json")).unwrap();
    let run: Value = serde_json::from_str(&text).unwrap();
    let benchmarks = run["benchmarks"].as_array().unwrap();
    assert_eq!(benchmarks.len(), 2);
    // In the suite's order, whatever the order on the command line.
    let mixed = &benchmarks[0];
    assert_eq!(mixed["name"], "mixed_workload");
    let metrics: Vec<&str> = mixed["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        metrics,
        [
            "speedup",
            "accuracy",
            "wall_time",
            "serial_time",
            "plan_vs_best"
        ]
    );
    assert_eq!(mixed["metrics"][0]["direction"], "higher_is_better");
    assert_eq!(mixed["metrics"][1]["samples"].as_array().unwrap().len(), 7);
    let workers: usize = mixed["params"]["workers"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(workers >= 1);
    assert!(mixed["params"]["chunk_size"].is_string());
    assert!(
        run["labels"]["mixed_workload.predicted_speedup"].is_string(),
        "{}",
        run["labels"]
    );

    check_reports_a_change_of_plan(&sandbox, &run, workers);
}

/// With `run` as the baseline, a run whose plan differs is checked against it.
fn check_reports_a_change_of_plan(sandbox: &Sandbox, run: &Value, workers: usize) {
    let set = sandbox.run(&["baseline", "set", "--from", "suite.json"]);
    assert_eq!(code(&set), 0, "{}", stderr(&set));
    let mut changed = run.clone();
    changed["id"] = Value::from("20300101T000000000Z-000000000001");
    changed["benchmarks"][0]["params"]["workers"] = Value::from((workers + 5).to_string());
    std::fs::write(
        sandbox.path().join("changed.json"),
        serde_json::to_string(&changed).unwrap(),
    )
    .unwrap();
    let check = sandbox.run(&[
        "check",
        "--run",
        "changed.json",
        "--no-record",
        "--format",
        "json",
    ]);
    assert_eq!(code(&check), 0, "{}{}", stdout(&check), stderr(&check));
    let verdict: Value = serde_json::from_str(&stdout(&check)).unwrap();
    let entry = verdict["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["benchmark"] == "mixed_workload")
        .unwrap();
    assert_eq!(entry["metric"], "speedup");
    let expected = format!("parameters changed: workers {workers} → {}", workers + 5);
    let notes = |entry: &Value| -> Vec<String> {
        entry["notes"]
            .as_array()
            .map(|n| n.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    };
    assert!(notes(entry).contains(&expected), "{entry}");
    let fast = verdict["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["benchmark"] == "fast_function")
        .unwrap();
    assert!(
        !notes(fast)
            .iter()
            .any(|n| n.starts_with("parameters changed")),
        "{fast}"
    );
    let text_report = sandbox.run(&["check", "--run", "changed.json", "--no-record"]);
    assert!(
        stdout(&text_report).contains(&expected),
        "{}",
        stdout(&text_report)
    );
}

#[test]
fn an_unknown_workload_is_a_usage_error_naming_it() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(&["suite", "--quick", "--workload", "cpu_intensiv"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("no workload named \"cpu_intensiv\""),
        "{}",
        stderr(&out)
    );
    assert!(sandbox.run_files().is_empty());
}
