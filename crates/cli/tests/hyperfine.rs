//! hyperfine's command lines, end to end: several shell commands, hooks, parameter scans,
//! names and exports (issue "Measure commands the way hyperfine users expect"). Nothing here
//! depends on timings: the assertions are about what ran, in what order, and what was written.

mod common;

use common::{Sandbox, code, stderr, stdout};

fn run_file(sandbox: &Sandbox, name: &str) -> benchkeep_core::model::Run {
    let bytes = std::fs::read(sandbox.path().join(name)).unwrap();
    benchkeep_core::store::decode_run(&bytes, name).unwrap()
}

/// `hyperfine -w 3 -r 20 'a' 'b' --export-markdown out.md` (with fewer runs).
#[test]
fn several_shell_commands_are_benchmarks_compared_with_the_fastest_and_exported() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(&[
        "run",
        "-w",
        "2",
        "-r",
        "5",
        "--no-record",
        "--out",
        "run.json",
        "--export-markdown",
        "out.md",
        "--export-json",
        "out.json",
        "--export-csv",
        "out.csv",
        // 20 ms, not 1: the shell's start-up is subtracted, and on a busy machine its
        // estimate varies by more than a millisecond (`sleep 0.001` once measured 0).
        "sleep 0.02",
        "sleep 0.02 && true",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("relative to the fastest,") && text.contains("× ["),
        "{text}"
    );
    let run = run_file(&sandbox, "run.json");
    let names: Vec<&str> = run.benchmarks.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["sleep 0.02", "sleep 0.02 && true"]);
    assert_eq!(
        run.benchmarks[1].command.as_deref(),
        Some(&["sh".to_owned(), "-c".into(), "sleep 0.02 && true".into()][..])
    );
    assert!(
        run.benchmarks
            .iter()
            .all(|b| b.metrics[0].samples.len() == 5)
    );

    let markdown = std::fs::read_to_string(sandbox.path().join("out.md")).unwrap();
    let lines: Vec<&str> = markdown.lines().collect();
    assert_eq!(
        lines[..2],
        [
            "| Command | Mean [ms] | Min [ms] | Max [ms] | Relative |",
            "|:---|---:|---:|---:|---:|"
        ]
    );
    assert_eq!(lines.len(), 4, "{markdown}");
    assert!(
        lines[3].starts_with("| sleep 0.02 &amp;&amp; true | "),
        "{markdown}"
    );
    let csv = std::fs::read_to_string(sandbox.path().join("out.csv")).unwrap();
    assert!(csv.starts_with("command,mean,stddev,median,user,system,min,max\nsleep 0.02,"));
    assert_eq!(csv.lines().count(), 3);

    // The JSON is hyperfine's: benchkeep's own importer reads it back as the same benchmarks.
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sandbox.path().join("out.json")).unwrap()).unwrap();
    let first = &json["results"][0];
    assert_eq!(first["command"], "sleep 0.02");
    assert_eq!(first["times"].as_array().unwrap().len(), 5);
    assert_eq!(first["exit_codes"], serde_json::json!([0, 0, 0, 0, 0]));
    let seconds = run.benchmarks[0].metrics[0].samples[0] / 1e9;
    assert!((first["times"][0].as_f64().unwrap() - seconds).abs() < 1e-12);
    let back = sandbox.run(&[
        "import",
        "--format",
        "hyperfine",
        "out.json",
        "--no-record",
        "--out",
        "back.json",
    ]);
    assert_eq!(code(&back), 0, "{}", stderr(&back));
    let back = run_file(&sandbox, "back.json");
    assert_eq!(back.benchmarks.len(), 2);
    assert_eq!(back.benchmarks[1].name, "sleep 0.02 && true");
    // Through seconds and back, equal to the last bits a decimal export keeps.
    let (back, measured) = (
        &back.benchmarks[0].metrics[0].samples,
        &run.benchmarks[0].metrics[0].samples,
    );
    assert_eq!(back.len(), measured.len());
    for (b, m) in back.iter().zip(measured) {
        assert!((b - m).abs() <= m * 1e-12, "{b} {m}");
    }
}

/// `hyperfine --setup S --prepare P --conclude C --cleanup K` with a parameter scan: each hook
/// runs when hyperfine's would, with the parameter put in.
#[test]
fn hooks_run_around_each_execution_with_the_parameter_of_their_benchmark() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(&[
        "run",
        "-w",
        "1",
        "-r",
        "3",
        "--no-record",
        "--out",
        "run.json",
        "-P",
        "n",
        "1",
        "2",
        "--setup",
        "echo setup{n} >> log",
        "--prepare",
        "echo prepare{n} >> log",
        "--conclude",
        "echo conclude{n} >> log",
        "--cleanup",
        "echo cleanup{n} >> log",
        "-n",
        "run {n}",
        "echo run{n} >> log",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let log = std::fs::read_to_string(sandbox.path().join("log")).unwrap();
    let expected: Vec<String> = ["1", "2"]
        .iter()
        .flat_map(|n| {
            let execution = [
                format!("prepare{n}"),
                format!("run{n}"),
                format!("conclude{n}"),
            ];
            std::iter::once(format!("setup{n}"))
                .chain(std::iter::repeat_n(execution, 4).flatten())
                .chain(std::iter::once(format!("cleanup{n}")))
        })
        .collect();
    assert_eq!(log.lines().collect::<Vec<_>>(), expected);
    let run = run_file(&sandbox, "run.json");
    let names: Vec<&str> = run.benchmarks.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["run 1", "run 2"]);
    assert_eq!(run.benchmarks[1].params["n"], "2");
}

/// `hyperfine -P threads 1 8 -D 3 'cmd -j {threads}'` and `-L`: one benchmark per value (and
/// per combination), the value in params for reports and the dashboard.
#[test]
fn scans_and_lists_make_one_benchmark_per_combination() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(&[
        "run",
        "-r",
        "2",
        "--no-record",
        "--out",
        "run.json",
        "-P",
        "threads",
        "1",
        "8",
        "-D",
        "3",
        "-L",
        "tool",
        "true,:",
        "{tool} -j {threads}",
        "--export-csv",
        "out.csv",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let run = run_file(&sandbox, "run.json");
    let names: Vec<&str> = run.benchmarks.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(
        names,
        // As hyperfine orders them: the first parameter changes fastest.
        [
            "true -j 1",
            "true -j 4",
            "true -j 7",
            ": -j 1",
            ": -j 4",
            ": -j 7"
        ]
    );
    assert_eq!(run.benchmarks[4].params["threads"], "4");
    assert_eq!(run.benchmarks[4].params["tool"], ":");
    let csv = std::fs::read_to_string(sandbox.path().join("out.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].ends_with(",parameter_threads,parameter_tool"),
        "{csv}"
    );
    assert!(lines[5].ends_with(",4,:"), "{csv}");
}

#[test]
fn scans_that_cannot_mean_what_they_say_are_refused_before_anything_runs() {
    let sandbox = Sandbox::new();
    for (args, says) in [
        (
            &["-P", "n", "1", "3", "echo {n} >> log", "echo same >> log"][..],
            "two benchmarks would be called \"echo same >> log\"",
        ),
        (
            &["-L", "n", "1,2", "echo x >> log"][..],
            "no command uses {n}",
        ),
        (
            &["-P", "n", "3", "1", "echo {n} >> log"][..],
            "MAX 1 is below MIN 3",
        ),
        (
            &["-n", "a", "-n", "b", "echo x >> log"][..],
            "--name is given 2 times for 1 command(s)",
        ),
        (
            &["echo a >> log", "echo a >> log"][..],
            "two benchmarks would be called",
        ),
    ] {
        let mut full = vec!["run", "-r", "2", "--no-record"];
        full.extend_from_slice(args);
        let out = sandbox.run(&full);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        assert!(
            !sandbox.path().join("log").exists(),
            "{args:?} ran something"
        );
    }
    // A failing prepare stops the measurement, naming the hook; nothing is recorded.
    let out = sandbox.run(&["run", "-r", "2", "--prepare", "exit 3", "true"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the prepare command failed (exit code 3): sh -c 'exit 3'"),
        "{}",
        stderr(&out)
    );
    assert!(sandbox.run_files().is_empty());
    // A whole command line after `--` is a program name; the error says what to do.
    let out = sandbox.run(&["run", "-r", "2", "--", "sleep 0.01 && true"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("give it before `--`, or pass --shell"),
        "{}",
        stderr(&out)
    );
}

/// `hyperfine -N` and `--shell`: without a shell a command is split into words as a shell
/// would; through one, the shell's start-up is measured once and recorded with the run.
#[test]
fn no_shell_splits_words_and_a_shell_s_start_up_is_recorded() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(&[
        "run",
        "-r",
        "2",
        "--no-record",
        "--out",
        "direct.json",
        "-N",
        "touch 'a b' c",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(sandbox.path().join("a b").exists() && sandbox.path().join("c").exists());
    let direct = run_file(&sandbox, "direct.json");
    assert_eq!(
        direct.benchmarks[0].command.as_deref(),
        Some(&["touch".to_owned(), "a b".into(), "c".into()][..])
    );
    assert!(
        direct
            .labels
            .keys()
            .all(|k| !k.starts_with("shell_startup"))
    );

    let out = sandbox.run(&[
        "run",
        "-r",
        "2",
        "--no-record",
        "--out",
        "shell.json",
        "--shell",
        "bash",
        "true",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let shell = run_file(&sandbox, "shell.json");
    assert_eq!(shell.benchmarks[0].command.as_ref().unwrap()[0], "bash");
    let startup: f64 = shell.labels["shell_startup_ns.bash"].parse().unwrap();
    assert!(startup > 0.0, "{startup}");
    // A hyperfine habit, `--shell 'cmd'`, is a shell program with spaces: refused, said why.
    let out = sandbox.run(&["run", "-r", "2", "--shell", "sleep 0.01"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("--shell takes a shell program"),
        "{}",
        stderr(&out)
    );
}

/// `benchkeep man SUBCOMMAND` prints the page the main page refers to; `benchkeep help
/// formats` (and `benchkeep formats`) lists every import format with an example.
#[test]
fn subcommand_manual_pages_and_the_format_list() {
    let sandbox = Sandbox::new();
    let page = sandbox.run(&["man", "check"]);
    assert_eq!(code(&page), 0, "{}", stderr(&page));
    assert!(
        stdout(&page).contains(".TH benchkeep-check 1"),
        "{}",
        stdout(&page)
    );
    assert!(stdout(&page).contains("parameter\\-scan"));
    let main = sandbox.run(&["man"]);
    assert!(stdout(&main).contains("benchkeep\\-check(1)"));
    let unknown = sandbox.run(&["man", "chek"]);
    assert_eq!(code(&unknown), 2);
    assert!(
        stderr(&unknown).contains("no subcommand \"chek\""),
        "{}",
        stderr(&unknown)
    );
    for args in [&["help", "formats"][..], &["formats"][..]] {
        let out = sandbox.run(args);
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
        for format in benchkeep_import::Format::ALL {
            assert!(
                stdout(&out).contains(&format!("--import {}", format.name())),
                "{args:?} lacks {format}"
            );
        }
    }
    let help = sandbox.run(&["run", "--help"]);
    assert!(
        stdout(&help).contains("Examples:\n  benchkeep run"),
        "{}",
        stdout(&help)
    );
}

/// hyperfine's warnings reach every report of a check: a first run 80 times slower than the
/// rest (made so, not left to the machine) is named in the Markdown and JSON verdicts.
#[test]
fn a_cold_first_run_is_a_warning_in_the_verdict() {
    let sandbox = Sandbox::new();
    let cold = "if [ -e warm ]; then sleep 0.01; else touch warm; sleep 0.8; fi";
    let first = sandbox.run(&[
        "check",
        "-w",
        "0",
        "-r",
        "6",
        "-n",
        "cold",
        "-s",
        "rm -f warm",
        cold,
    ]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let second = sandbox.run(&[
        "check",
        "-w",
        "0",
        "-r",
        "6",
        "-n",
        "cold",
        "-s",
        "rm -f warm",
        "--threshold",
        "1000",
        "--format",
        "markdown",
        "--report",
        "json=verdict.json",
        cold,
    ]);
    assert_eq!(code(&second), 0, "{}{}", stdout(&second), stderr(&second));
    assert!(
        stdout(&second).contains("cold: the first run took"),
        "{}",
        stdout(&second)
    );
    let verdict = std::fs::read_to_string(sandbox.path().join("verdict.json")).unwrap();
    assert!(verdict.contains("cold: the first run took"), "{verdict}");
}

/// `hyperfine --input FILE`: each execution reads the file from its start, through the helper
/// (a fresh open per execution); a missing file is refused before anything runs.
#[test]
fn every_execution_reads_the_input_file_from_its_start() {
    let sandbox = Sandbox::new();
    std::fs::write(sandbox.path().join("in.txt"), "line\n").unwrap();
    let out = sandbox.run(&[
        "run",
        "-w",
        "1",
        "-r",
        "3",
        "--no-record",
        "--input",
        "in.txt",
        "cat >> out.txt",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let read = std::fs::read_to_string(sandbox.path().join("out.txt")).unwrap();
    assert_eq!(read, "line\n".repeat(4));
    let out = sandbox.run(&[
        "run",
        "-r",
        "2",
        "--input",
        "missing.txt",
        "cat >> out2.txt",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("--input missing.txt: No such file"),
        "{}",
        stderr(&out)
    );
    assert!(!sandbox.path().join("out2.txt").exists());
    // A FIFO would block the open for ever (no timeout reaches it): refused.
    let fifo = std::process::Command::new("mkfifo")
        .arg(sandbox.path().join("fifo"))
        .status()
        .unwrap();
    assert!(fifo.success());
    let out = sandbox.run(&[
        "run",
        "-r",
        "2",
        "--timeout",
        "2",
        "--input",
        "fifo",
        "wc -c",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
}

/// `--check-output`: a command that prints something else each time is named, on `run` and in
/// a check's verdict; one that prints the same is not.
#[test]
fn output_that_changes_between_runs_is_a_warning() {
    let sandbox = Sandbox::new();
    let counting = "n=$(cat n 2>/dev/null || echo 0); echo $((n + 1)) > n; cat n";
    let out = sandbox.run(&[
        "run",
        "-w",
        "0",
        "-r",
        "5",
        "--no-record",
        "--check-output",
        counting,
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("its output differed from the first execution's in 4 of 5 executions"),
        "{}",
        stderr(&out)
    );
    let same = sandbox.run(&[
        "run",
        "-w",
        "0",
        "-r",
        "5",
        "--no-record",
        "--check-output",
        "echo same",
    ]);
    assert!(!stderr(&same).contains("differed"), "{}", stderr(&same));

    let check = |extra: &[&str]| {
        let mut args = vec![
            "check",
            "-w",
            "0",
            "-r",
            "5",
            "-n",
            "counter",
            "--check-output",
        ];
        args.extend_from_slice(extra);
        args.push(counting);
        sandbox.run(&args)
    };
    let first = check(&[]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let second = check(&["--threshold", "1000", "--report", "json=verdict.json"]);
    assert_eq!(code(&second), 0, "{}{}", stdout(&second), stderr(&second));
    let verdict = std::fs::read_to_string(sandbox.path().join("verdict.json")).unwrap();
    assert!(
        verdict.contains("counter: its output differed"),
        "{verdict}"
    );
}

/// `hyperfine -i`: failing runs are measured on, counted in the `failed_runs` metric, said as a
/// warning, and exported with their exit codes, which `import --format hyperfine` refuses.
#[test]
fn ignore_failure_counts_and_names_the_failures() {
    let sandbox = Sandbox::new();
    // Fails on every other execution.
    let flaky = "n=$(cat n 2>/dev/null || echo 0); echo $((n + 1)) > n; exit $(( (n + 1) % 2 ))";
    let stopped = sandbox.run(&["run", "-w", "0", "-r", "4", "--no-record", flaky]);
    assert_eq!(code(&stopped), 2, "{}", stderr(&stopped));
    std::fs::remove_file(sandbox.path().join("n")).unwrap();
    let out = sandbox.run(&[
        "run",
        "-w",
        "0",
        "-r",
        "4",
        "--no-record",
        "-i",
        "--out",
        "run.json",
        "--export-json",
        "e.json",
        flaky,
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("2 of 4 measured runs failed (exit 1); their times are included"),
        "{}",
        stderr(&out)
    );
    let run = run_file(&sandbox, "run.json");
    let failed = run.benchmarks[0].metric("failed_runs").unwrap();
    assert_eq!(failed.samples, [2.0]);
    let export: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sandbox.path().join("e.json")).unwrap()).unwrap();
    assert_eq!(
        export["results"][0]["exit_codes"],
        serde_json::json!([1, 0, 1, 0])
    );
    let back = sandbox.run(&["import", "--format", "hyperfine", "e.json", "--no-record"]);
    assert_eq!(code(&back), 2, "{}", stderr(&back));
    assert!(
        stderr(&back).contains("failed in 2 of 4 runs"),
        "{}",
        stderr(&back)
    );

    // In a check, failures the baseline did not have fail the gate, however fast they are.
    let check = |command: &str| {
        sandbox.run(&[
            "check",
            "-w",
            "0",
            "-r",
            "5",
            "-i",
            "-n",
            "tool",
            "--threshold",
            "1000",
            "--format",
            "text",
            command,
        ])
    };
    let first = check("sleep 0.01");
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let failing = check("sleep 0.01; exit 3");
    assert_eq!(
        code(&failing),
        1,
        "{}{}",
        stdout(&failing),
        stderr(&failing)
    );
    let report = stdout(&failing);
    assert!(
        report.contains("5 of 5 runs failed (100%), the baseline's 0%"),
        "{report}"
    );
    assert!(
        report.contains("tool: 5 of 5 measured runs failed (exit 3)"),
        "{report}"
    );
}

/// Names follow the command line (shell commands first, then the command after `--`); an
/// export that cannot be written, or two outputs on one path, fail before anything is
/// measured; `-S none` is -N.
#[test]
fn names_follow_the_command_line_and_outputs_are_checked_before_measuring() {
    let sandbox = Sandbox::new();
    // Names follow the command line: shell commands first, then the command after `--`; an
    // export that cannot be written fails before anything is measured; `-S none` is -N.
    let out = sandbox.run(&[
        "run",
        "-r",
        "2",
        "--no-record",
        "--out",
        "mixed.json",
        "-n",
        "first",
        "-n",
        "second",
        "-S",
        "none",
        "touch shelled",
        "--",
        "touch",
        "direct",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mixed = run_file(&sandbox, "mixed.json");
    let named: Vec<(&str, &str)> = mixed
        .benchmarks
        .iter()
        .map(|b| (b.name.as_str(), b.command.as_ref().unwrap()[1].as_str()))
        .collect();
    assert_eq!(named, [("first", "shelled"), ("second", "direct")]);
    let out = sandbox.run(&[
        "run",
        "-r",
        "2",
        "--no-record",
        "--export-json",
        "no/such/dir/x.json",
        "touch measured",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("its directory does not exist"),
        "{}",
        stderr(&out)
    );
    assert!(!sandbox.path().join("measured").exists());
    let out = sandbox.run(&[
        "run",
        "-r",
        "2",
        "--no-record",
        "--out",
        "same.json",
        "--export-json",
        "same.json",
        "touch measured",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("is given for two outputs"),
        "{}",
        stderr(&out)
    );
    assert!(!sandbox.path().join("measured").exists());
}
