//! The engine as a library runs the CLI's exact gate: the same runs and configuration give the
//! same verdict, entry by entry, through `benchkeep check` and through `Session::check`.

mod common;

use benchkeep_engine::check::{CheckRequest, RunSource};
use benchkeep_engine::{Outcome, Session, SessionOptions, Silent};
use common::{Sandbox, code, main_run, stderr};
use serde_json::Value;

/// A policy limit, a severity floor and a missing-benchmark rule: the configuration's paths
/// of the gate, not only the statistics.
const CONFIG: &str = r#"
[compare]
threshold = 5
fail_on = "minor"

[[policy]]
name = "render"
max = "3ms"
"#;

/// The entries of a verdict document as comparable rows.
fn rows(document: &Value) -> Vec<(String, String, String, String)> {
    document["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["benchmark"].as_str().unwrap().to_owned(),
                e["metric"].as_str().unwrap().to_owned(),
                e["verdict"].as_str().unwrap().to_owned(),
                e["effect"].as_str().unwrap_or("none").to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_library_gate_and_the_cli_gate_agree_on_the_same_input() {
    let base = main_run(1, &[("parse", 1.0e6), ("render", 2.0e6), ("gone", 5.0e5)]);
    // parse 30% slower, render beyond its 3 ms limit, gone missing: three ways to fail.
    let cases = [
        (
            "regressed",
            main_run(2, &[("parse", 1.3e6), ("render", 2.0e6), ("gone", 5.0e5)]),
        ),
        (
            "limit",
            main_run(3, &[("parse", 1.0e6), ("render", 3.5e6), ("gone", 5.0e5)]),
        ),
        (
            "missing",
            main_run(4, &[("parse", 1.0e6), ("render", 2.0e6)]),
        ),
        (
            "unchanged",
            main_run(5, &[("parse", 1.0e6), ("render", 2.0e6), ("gone", 5.0e5)]),
        ),
    ];
    for (what, head) in cases {
        let cli = Sandbox::new();
        std::fs::write(cli.path().join("benchkeep.toml"), CONFIG).unwrap();
        let base_file = cli.write_run("base.json", &base);
        let head_file = cli.write_run("head.json", &head);
        let first = cli.run(&["check", "--run", &base_file]);
        assert_eq!(code(&first), 0, "{what}: {}", stderr(&first));
        let out = cli.run(&["check", "--run", &head_file, "--format", "json"]);
        let from_cli: Value = serde_json::from_slice(&out.stdout).unwrap();

        let lib = Sandbox::new();
        std::fs::write(lib.path().join("benchkeep.toml"), CONFIG).unwrap();
        let base_file = lib.write_run("base.json", &base);
        let head_file = lib.write_run("head.json", &head);
        let session = Session::new(SessionOptions::in_dir(lib.path()), Box::new(Silent)).unwrap();
        let check = |file: &str| {
            session
                .check(&CheckRequest::new(RunSource::File(file.into())))
                .unwrap()
        };
        assert_eq!(check(&base_file).outcome, Outcome::Passed, "{what}");
        let judged = check(&head_file);
        let from_lib: Value = serde_json::to_value(judged.document.as_ref().unwrap()).unwrap();

        assert_eq!(
            i32::from(judged.outcome.exit_code()),
            code(&out),
            "{what}: {}",
            stderr(&out)
        );
        assert_eq!(from_lib["passed"], from_cli["passed"], "{what}");
        assert_eq!(from_lib["summary"], from_cli["summary"], "{what}");
        assert_eq!(from_lib["counts"], from_cli["counts"], "{what}");
        assert_eq!(rows(&from_lib), rows(&from_cli), "{what}");
        assert_eq!(
            judged.outcome == Outcome::Passed,
            what == "unchanged",
            "{what}: {}",
            from_lib["summary"]
        );
    }
}
