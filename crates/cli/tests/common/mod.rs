//! Helpers shared by the end-to-end tests: a sandbox directory with a clean environment.
// Each test binary uses a different subset of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_benchkeep");

/// A fresh directory outside any git repository, with a clean environment.
pub(crate) struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub(crate) fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .current_dir(self.path())
            .env_remove("BENCHKEEP_STORE")
            .env_remove("BENCHKEEP_CONFIG")
            .env_remove("BENCHKEEP_BRANCH")
            .env_remove("BENCHKEEP_PLATFORM")
            .env("GIT_CEILING_DIRECTORIES", self.path().parent().unwrap());
        for ci in [
            "CI",
            "GITHUB_ACTIONS",
            "GITHUB_REF",
            "GITHUB_REF_NAME",
            "GITHUB_HEAD_REF",
            "GITHUB_BASE_REF",
            "GITHUB_STEP_SUMMARY",
            "GITHUB_OUTPUT",
            "GITLAB_CI",
            "CI_COMMIT_REF_NAME",
            "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
            "BENCHKEEP_PR",
            "BENCHKEEP_BASE_BRANCH",
            "BENCHKEEP_TOOLCHAIN",
            "NO_COLOR",
        ] {
            command.env_remove(ci);
        }
        command
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Writes `run` to `file` in the sandbox; returns `file`, for commands run there.
    pub(crate) fn write_run(&self, file: &str, run: &benchkeep_core::model::Run) -> String {
        std::fs::write(
            self.path().join(file),
            benchkeep_core::store::encode_run(run),
        )
        .unwrap();
        file.to_owned()
    }

    pub(crate) fn store(&self) -> PathBuf {
        self.path().join(".benchkeep")
    }

    /// The baseline files of the default store.
    pub(crate) fn baseline_files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.store().join("baselines"))
            .expect("the store has a baselines directory")
            .map(|e| e.unwrap().path())
            .collect()
    }

    pub(crate) fn run_files(&self) -> Vec<PathBuf> {
        let runs = self.store().join("runs");
        let Ok(keys) = std::fs::read_dir(runs) else {
            return Vec::new();
        };
        keys.flat_map(|k| std::fs::read_dir(k.unwrap().path()).unwrap())
            .map(|e| e.unwrap().path())
            .collect()
    }
}

/// Runs git in `dir` with no global or system configuration and a fixed identity and date, so
/// commit hashes are the same on every run; panics with
/// git's stderr when it fails; returns its trimmed stdout.
pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .env("GIT_AUTHOR_DATE", "2026-01-01T12:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T12:00:00Z")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub(crate) fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// What a promotion race left behind.
pub(crate) struct RaceOutcome {
    /// Checks that exited 0 and said they promoted.
    pub(crate) promoted: usize,
    /// Source runs of the final baseline.
    pub(crate) sources: Vec<String>,
    /// Source runs the store no longer has.
    pub(crate) lost: Vec<String>,
    /// How many `prune` passes ran meanwhile.
    pub(crate) prunes: usize,
}

/// A run of main@test started `index` minutes after a fixed time long past (so no grace period
/// could protect it from `prune`), measured at commit `c0ffee<index>` from a clean tree (so it
/// may be promoted), with one wall-time benchmark per `(name, nanoseconds)`: ten samples within
/// 1% of the value, in an order that differs between runs.
pub(crate) fn main_run(index: u64, benchmarks: &[(&str, f64)]) -> benchkeep_core::model::Run {
    use benchkeep_core::key::BaselineKey;
    use benchkeep_core::model::{Benchmark, Fingerprint, GitInfo, Run, RunId};
    let at =
        jiff::Timestamp::from_second(1_700_000_000 + i64::try_from(index).unwrap() * 60).unwrap();
    let mut run = Run::new(
        RunId::new(at, index),
        at,
        BaselineKey::new("main", "test").unwrap(),
        Fingerprint::default(),
    );
    run.git = Some(GitInfo {
        commit: Some(format!("c0ffee{index:02}")),
        branch: Some("main".into()),
        dirty: Some(false),
    });
    let shift = u32::try_from(index % 7).unwrap();
    for &(name, ns) in benchmarks {
        let samples = (0..10)
            .map(|i| ns * (1.0 + f64::from((i + shift) % 5) * 0.002))
            .collect();
        run.benchmarks.push(Benchmark::wall_time(name, samples));
    }
    run
}

/// [`main_run`] of one benchmark near 1 ms, written to `dir`; returns the file's path.
pub(crate) fn promotable_run(dir: &Path, index: u64) -> String {
    let path = dir.join(format!("run-{index}.json"));
    std::fs::write(
        &path,
        benchkeep_core::store::encode_run(&main_run(index, &[("parse", 1e6)])),
    )
    .unwrap();
    path.display().to_string()
}

/// The source runs of main@test's baseline in `store`.
fn baseline_sources(
    dir: &Path,
    store: &str,
    command: &(dyn Fn(&Path, &[&str]) -> Command + Sync),
) -> Vec<String> {
    let show = command(
        dir,
        &[
            "--store",
            store,
            "baseline",
            "show",
            "--branch",
            "main",
            "--platform",
            "test",
            "--json",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(code(&show), 0, "{}", stderr(&show));
    let baseline: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    baseline["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["run"].as_str().unwrap().to_owned())
        .collect()
}

/// The issue's race: `workers` processes each make `per_worker` promoting checks (each in its
/// own directory from `dirs`, cycling) against `store`, while `prune --keep-last 2` runs in a
/// loop from `dirs[0]`. `command` builds a benchkeep command for a directory with the store's
/// environment. Returns what promoted and whether every source run of the baseline survived.
pub(crate) fn promotion_race(
    dirs: &[PathBuf],
    files: &Path,
    store: &str,
    workers: u64,
    per_worker: u64,
    command: &(dyn Fn(&Path, &[&str]) -> Command + Sync),
) -> RaceOutcome {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let check = |dir: &Path, file: &str| {
        command(
            dir,
            &[
                "--store",
                store,
                "check",
                "--run",
                file,
                "--threshold",
                "50",
                "--promote-on",
                "main",
                "--promote",
            ],
        )
        .output()
        .unwrap()
    };
    // The first run makes the baseline; the race promotes into it.
    let first = check(&dirs[0], &promotable_run(files, 0));
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let files_of: Vec<Vec<String>> = (0..workers)
        .map(|w| {
            (0..per_worker)
                .map(|i| promotable_run(files, 1 + w * per_worker + i))
                .collect()
        })
        .collect();
    let done = AtomicBool::new(false);
    let prunes = AtomicUsize::new(0);
    let promoted = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                let out = command(&dirs[0], &["--store", store, "prune", "--keep-last", "2"])
                    .output()
                    .unwrap();
                if code(&out) != 0 {
                    done.store(true, Ordering::Relaxed);
                    panic!("prune: {}", stderr(&out));
                }
                prunes.fetch_add(1, Ordering::Relaxed);
            }
        });
        let workers: Vec<_> = files_of
            .iter()
            .enumerate()
            .map(|(w, files)| {
                // dirs[0] is prune's; with more directories, each worker has its own.
                let dir = &dirs[(w + 1) % dirs.len()];
                let promoted = &promoted;
                scope.spawn(move || {
                    let mut failures = Vec::new();
                    for file in files {
                        let out = check(dir, file);
                        if code(&out) != 0 || stderr(&out).contains("were left out") {
                            // A source left out of the baseline is a lost promotion.
                            failures.push(format!("{file}: {}", stderr(&out)));
                        } else if stderr(&out).contains("promoted run") {
                            promoted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    failures
                })
            })
            .collect();
        // Join every worker before stopping prune, and stop it even when one failed.
        let failures: Vec<String> = workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|_| vec!["a worker panicked".into()])
            })
            .collect();
        done.store(true, Ordering::Relaxed);
        assert!(failures.is_empty(), "checks failed: {failures:#?}");
    });
    let sources = baseline_sources(&dirs[0], store, command);
    let lost = sources
        .iter()
        .filter(|id| {
            let out = command(&dirs[0], &["--store", store, "compare", id, id])
                .output()
                .unwrap();
            code(&out) != 0
        })
        .cloned()
        .collect();
    RaceOutcome {
        promoted: promoted.into_inner(),
        sources,
        lost,
        prunes: prunes.into_inner(),
    }
}

/// The issue's other race: `workers` processes bootstrap one new key at once. Returns how many
/// passed, how many runs the baseline has, and any that are not in the store.
pub(crate) fn bootstrap_race(
    dirs: &[PathBuf],
    files: &Path,
    store: &str,
    workers: u64,
    command: &(dyn Fn(&Path, &[&str]) -> Command + Sync),
) -> (usize, usize) {
    let children: Vec<_> = (0..workers)
        .map(|w| {
            let file = promotable_run(files, 1000 + w);
            command(
                &dirs[usize::try_from(w).unwrap() % dirs.len()],
                &[
                    "--store",
                    store,
                    "check",
                    "--run",
                    &file,
                    "--threshold",
                    "50",
                    "--promote-on",
                    "main",
                    "--promote",
                ],
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let mut passed = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        passed += 1;
    }
    (passed, baseline_sources(&dirs[0], store, command).len())
}

/// A custom-format result file `file` in `dir` with 30 samples near each `(name, center)`
/// (within 1.2%, in a fixed order); returns its path.
pub(crate) fn custom_result(dir: &Path, file: &str, benches: &[(&str, f64)]) -> String {
    let entries: Vec<String> = benches
        .iter()
        .map(|(name, center)| {
            let samples: Vec<String> = (0..30)
                .map(|i| format!("{}", center * (1.0 + f64::from(i % 7) * 0.002)))
                .collect();
            format!(
                r#"{{"name": "{name}", "unit": "ns", "samples": [{}]}}"#,
                samples.join(",")
            )
        })
        .collect();
    let path = dir.join(file);
    std::fs::write(
        &path,
        format!(r#"{{"benchmarks": [{}]}}"#, entries.join(",")),
    )
    .unwrap();
    path.display().to_string()
}
