//! End-to-end tests of `benchkeep load`: a real command under concurrent load, gated by
//! `check` and `compare`; failing, hanging and badly configured loads; a leak check of a real
//! long-lived worker.

mod common;

use common::{Sandbox, code, stderr, stdout};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn load(sandbox: &Sandbox, out: &str, command: &[&str]) -> std::process::Output {
    let args = [
        &[
            "load",
            "--concurrency",
            "1,2",
            "--duration",
            "1200ms",
            "--ramp-up",
            "200ms",
            "--name",
            "client",
            "--branch",
            "main",
            "--out",
            out,
        ][..],
        &["--"],
        command,
    ]
    .concat();
    sandbox.run(&args)
}

#[test]
fn load_records_throughput_and_latency_that_check_gates() {
    let sandbox = Sandbox::new();
    let base = load(&sandbox, "base.json", &["sleep", "0.01"]);
    assert_eq!(code(&base), 0, "{}", stderr(&base));
    let table = stdout(&base);
    assert!(
        table.contains("concurrency") && table.contains("generator overhead"),
        "{table}"
    );
    let run = json(&std::fs::read_to_string(sandbox.path().join("base.json")).unwrap());
    let names: Vec<&str> = run["benchmarks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["client [c=1]", "client [c=2]"]);
    let metrics: Vec<&str> = run["benchmarks"][0]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        &metrics[..5],
        [
            "throughput",
            "latency_p50",
            "latency_p90",
            "latency_p99",
            "latency_max"
        ]
    );
    assert_eq!(
        run["benchmarks"][0]["metrics"][0]["samples"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
    let first = sandbox.run(&["check", "--run", "base.json"]);
    assert_eq!(
        code(&first),
        0,
        "bootstraps the baseline: {}",
        stderr(&first)
    );

    // The same client, four times slower per request.
    let slow = load(&sandbox, "slow.json", &["sleep", "0.04"]);
    assert_eq!(code(&slow), 0, "{}", stderr(&slow));
    let check = sandbox.run(&["check", "--run", "slow.json", "--format", "json"]);
    assert_eq!(code(&check), 1, "{}{}", stdout(&check), stderr(&check));
    let verdict = json(&stdout(&check));
    let regressed: Vec<String> = verdict["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["verdict"] == "regressed")
        .map(|e| {
            format!(
                "{} {}",
                e["benchmark"].as_str().unwrap(),
                e["metric"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        regressed.contains(&"client [c=1] throughput".to_owned()),
        "{regressed:?}"
    );
}

#[test]
fn failing_requests_are_counted_and_reported_not_dropped() {
    let sandbox = Sandbox::new();
    // Fails whenever the nanosecond clock is divisible by 3: about a third of the requests.
    let out = load(
        &sandbox,
        "r.json",
        &["sh", "-c", "[ $(( $(date +%N) % 3 )) -ne 0 ]"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("operations failed at concurrency 1"),
        "{}",
        stderr(&out)
    );
    let run = json(&std::fs::read_to_string(sandbox.path().join("r.json")).unwrap());
    let errors = run["benchmarks"][0]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "errors")
        .unwrap()["samples"][0]
        .as_f64()
        .unwrap();
    assert!(errors > 0.0, "{errors}");
    assert!(run["labels"]["load.errors.c1"].is_string());
}

#[test]
fn bad_loads_exit_2_with_one_clear_line() {
    let sandbox = Sandbox::new();
    let cases: [(&[&str], &str); 4] = [
        (
            &["load", "--concurrency", "0", "--", "true"],
            "concurrency levels must be at least 1",
        ),
        (
            &[
                "load",
                "--duration",
                "100ms",
                "--ramp-up",
                "1s",
                "--",
                "true",
            ],
            "leaves no time to measure after a ramp-up of 1s",
        ),
        (
            &[
                "load",
                "--concurrency",
                "1",
                "--duration",
                "600ms",
                "--ramp-up",
                "0s",
                "--timeout",
                "100ms",
                "--",
                "sleep",
                "5",
            ],
            "every operation failed at concurrency 1",
        ),
        (
            &[
                "load",
                "--concurrency",
                "1",
                "--duration",
                "300ms",
                "--ramp-up",
                "0s",
                "--",
                "false",
            ],
            "failed: exit status: 1",
        ),
    ];
    for (args, expected) in cases {
        let out = sandbox.run(args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.lines()
                .any(|l| l.starts_with("error: ") && l.contains(expected)),
            "{args:?}: {err}"
        );
    }
    assert!(sandbox.run_files().is_empty(), "nothing was recorded");
}

#[test]
fn a_leaking_worker_fails_the_leak_check_and_a_steady_one_passes() {
    let sandbox = Sandbox::new();
    let worker = |keep: &str| {
        format!(
            "import sys\nkeep = []\nfor line in sys.stdin:\n    {keep}\n    print('ok', flush=True)\n"
        )
    };
    let leaky = worker("keep.append(bytearray(1024))");
    let out = sandbox.run(&[
        "load",
        "--leak-check",
        "--name",
        "worker",
        "--no-record",
        "--",
        "python3",
        "-c",
        &leaky,
    ]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("worker: memory grows ~"),
        "{}",
        stdout(&out)
    );
    let steady = worker("scratch = bytearray(1024)");
    let out = sandbox.run(&[
        "load",
        "--leak-check",
        "--name",
        "worker",
        "--out",
        "leak.json",
        "--no-record",
        "--",
        "python3",
        "-c",
        &steady,
    ]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("no growth detected (could detect >="),
        "{}",
        stdout(&out)
    );
    let run = json(&std::fs::read_to_string(sandbox.path().join("leak.json")).unwrap());
    assert_eq!(run["benchmarks"][0]["name"], "worker [leak check]");
    assert_eq!(run["benchmarks"][0]["metrics"][0]["name"], "memory_growth");
}
