//! End-to-end tests against real repositories: `--store git:` with hermetic clones of a real bare
//! remote, written to by separate `benchkeep` processes, and `ab --base-ref` worktrees.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_benchkeep");

/// A bare remote and a way to make clones of it, all with no global or system git config.
struct World {
    dir: tempfile::TempDir,
}

fn hermetic(command: &mut Command) -> &mut Command {
    command
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .env_remove("BENCHKEEP_STORE")
        .env_remove("BENCHKEEP_BRANCH")
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_REF_NAME")
        .env_remove("GITHUB_HEAD_REF")
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = hermetic(Command::new("git").args(args).current_dir(dir))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let remote = dir.path().join("remote.git");
        std::fs::create_dir(&remote).unwrap();
        git(&remote, &["init", "-q", "--bare", "-b", "main"]);
        // The code branch, so clones look like real CI checkouts.
        let seed = dir.path().join("seed");
        git(
            dir.path(),
            &["clone", "-q", remote.to_str().unwrap(), "seed"],
        );
        std::fs::write(seed.join("README"), "code").unwrap();
        git(&seed, &["add", "README"]);
        git(&seed, &["commit", "-q", "-m", "code"]);
        git(&seed, &["push", "-q", "origin", "main"]);
        World { dir }
    }

    fn remote(&self) -> PathBuf {
        self.dir.path().join("remote.git")
    }

    /// A shallow clone, as CI checkouts are (`--depth` needs a `file://` URL to apply locally).
    fn clone(&self, name: &str) -> PathBuf {
        let url = format!("file://{}", self.remote().display());
        git(
            self.dir.path(),
            &["clone", "-q", "--depth", "1", &url, name],
        );
        let clone = self.dir.path().join(name);
        assert!(
            clone.join(".git/shallow").exists(),
            "the clone is not shallow"
        );
        clone
    }

    /// How many files on the remote's data branch are under `dir` (e.g. `runs/`).
    fn remote_count(&self, dir: &str) -> usize {
        self.remote_files()
            .iter()
            .filter(|f| f.starts_with(dir))
            .count()
    }

    /// Files on the remote's data branch.
    fn remote_files(&self) -> Vec<String> {
        git(
            &self.remote(),
            &["ls-tree", "-r", "--name-only", "benchkeep-data"],
        )
        .lines()
        .map(str::to_owned)
        .collect()
    }
}

fn benchkeep(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    hermetic(command.args(args).current_dir(dir));
    command
}

fn run(dir: &Path, args: &[&str]) -> Output {
    benchkeep(dir, args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn check_bootstraps_records_and_gates_on_the_data_branch() {
    let world = World::new();
    let clone = world.clone("job");
    // Recorded runs, not timings of this machine: the verdicts must not depend on how busy it
    // is (two `sleep 0.02` jobs differ by 200% under load); this test is about the store.
    let write = |name: &str, index: u64, nanoseconds: f64| {
        let path = world.dir.path().join(name);
        let run = common::main_run(index, &[("nap", nanoseconds)]);
        std::fs::write(&path, benchkeep_core::store::encode_run(&run)).unwrap();
        path.display().to_string()
    };
    let (base, slower, same) = (
        write("base.json", 1, 2.0e7),
        write("slower.json", 2, 6.0e7),
        write("same.json", 3, 2.0e7),
    );
    let first = run(&clone, &["--store", "git:", "check", "--run", &base]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(
        stderr(&first).contains("this run is now the baseline"),
        "{}",
        stderr(&first)
    );
    let slower = run(&clone, &["--store", "git:", "check", "--run", &slower]);
    assert_eq!(slower.status.code(), Some(1), "{}", stderr(&slower));
    assert!(String::from_utf8_lossy(&slower.stdout).contains("regressed"));

    let files = world.remote_files();
    assert!(
        files.contains(&"README.md".to_owned()) && files.contains(&"FORMAT".to_owned()),
        "{files:?}"
    );
    assert_eq!(world.remote_count("runs/"), 2, "{files:?}");
    assert_eq!(world.remote_count("baselines/"), 1, "{files:?}");

    // The user's checkout is untouched: same branch, clean work tree, no data files.
    assert_eq!(
        git(&clone, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(),
        "main"
    );
    assert_eq!(git(&clone, &["status", "--porcelain"]).trim(), "");

    // A second job, in its own fresh clone, gates against the same baseline.
    let other = world.clone("job2");
    let same = run(&other, &["--store", "git:", "check", "--run", &same]);
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}{}",
        stderr(&same),
        String::from_utf8_lossy(&same.stdout)
    );
    assert!(String::from_utf8_lossy(&same.stdout).contains("compared with the baseline"));
    assert_eq!(world.remote_count("runs/"), 3);
}

/// The jobs start together on a remote without the data branch, so several create the branch's
/// first commit at once: their histories share no commit, and their runs must still all land.
#[test]
fn eight_concurrent_jobs_lose_no_run_and_keep_history_linear() {
    let world = World::new();
    let jobs: Vec<_> = (0..8)
        .map(|i| {
            let clone = world.clone(&format!("job{i}"));
            let script = format!(
                "for n in 1 2 3 4 5 6 7 8 9 10; do {BIN} --store git: run --quiet --runs 2 --warmup 0 --name job{i} -- true >/dev/null || exit 1; done"
            );
            let mut command = Command::new("sh");
            hermetic(command.args(["-c", &script]).current_dir(&clone))
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for job in jobs {
        let out = job.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let runs: Vec<String> = world
        .remote_files()
        .into_iter()
        .filter(|f| f.starts_with("runs/"))
        .collect();
    assert_eq!(runs.len(), 80, "runs lost or duplicated: {}", runs.len());
    let mut names: Vec<&str> = runs.iter().map(|r| r.rsplit('/').next().unwrap()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 80);
    // Linear: no commit on the data branch has two parents.
    let merges = git(&world.remote(), &["rev-list", "--merges", "benchkeep-data"]);
    assert!(
        merges.trim().is_empty(),
        "merge commits on the data branch: {merges}"
    );
    git(&world.remote(), &["fsck", "--no-progress"]);
}

#[test]
fn a_killed_writer_leaves_the_branch_readable_and_the_next_write_succeeds() {
    let world = World::new();
    let clone = world.clone("job");
    assert_eq!(
        run(
            &clone,
            &["--store", "git:", "run", "--runs", "1", "--", "true"]
        )
        .status
        .code(),
        Some(0)
    );
    for delay_ms in [5u64, 20, 40, 80, 120, 160] {
        let mut child = benchkeep(
            &clone,
            &[
                "--store", "git:", "run", "--runs", "1", "--warmup", "0", "--", "true",
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
    }
    git(&clone, &["fsck", "--no-progress"]);
    let after = run(
        &clone,
        &["--store", "git:", "run", "--runs", "1", "--", "true"],
    );
    assert_eq!(after.status.code(), Some(0), "{}", stderr(&after));
    let list = run(&clone, &["--store", "git:", "baseline", "list"]);
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    git(&world.remote(), &["fsck", "--no-progress"]);
    assert!(world.remote_count("runs/") >= 2);
}

#[test]
fn an_unreachable_remote_is_a_clear_error_and_keeps_the_run_locally() {
    let world = World::new();
    let clone = world.clone("job");
    git(
        &clone,
        &["remote", "set-url", "origin", "/nonexistent/remote.git"],
    );
    let out = run(
        &clone,
        &[
            "--store",
            "git:?fetch=false",
            "run",
            "--runs",
            "1",
            "--",
            "true",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(
        message.contains("push benchkeep-data to origin"),
        "{message}"
    );
    assert!(message.contains("kept on the local branch"), "{message}");
    assert!(
        message.contains("does not appear to be a git repository"),
        "git's reason is shown: {message}"
    );
    assert_eq!(
        message
            .trim()
            .lines()
            .filter(|l| l.starts_with("error"))
            .count(),
        1,
        "{message}"
    );
    let local = git(&clone, &["ls-tree", "-r", "--name-only", "benchkeep-data"]);
    assert_eq!(
        local.lines().filter(|f| f.starts_with("runs/")).count(),
        1,
        "{local}"
    );
}

/// A password in the remote's URL (`https://user:hunter2@host/repo.git`) never reaches an
/// output of any command, nor the data branch, whatever fails.
#[test]
fn a_remote_password_is_never_printed_nor_stored() {
    let world = World::new();
    let clone = world.clone("job");
    git(
        &clone,
        &[
            "remote",
            "set-url",
            "origin",
            "https://user:hunter2@127.0.0.1:9/repo.git",
        ],
    );
    for args in [
        &["-v", "--store", "git:", "run", "--runs", "1", "--", "true"][..],
        &[
            "-v", "--store", "git:", "check", "--runs", "5", "--", "true",
        ],
        &["-v", "--store", "git:", "baseline", "list"],
        &[
            "-v",
            "--store",
            "git:?fetch=false",
            "prune",
            "--keep-last",
            "1",
        ],
        &["-v", "--store", "git:", "report", "--out", "site"],
    ] {
        let out = run(&clone, args);
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert!(
            !all.contains("hunter2"),
            "{args:?} printed the password: {all}"
        );
    }
    let stored = git(&clone, &["log", "-p", "--all", "--", "."]);
    assert!(
        !stored.contains("hunter2"),
        "the password reached a stored file"
    );
    for page in walk(&clone.join("site")) {
        let text = std::fs::read_to_string(&page).unwrap_or_default();
        assert!(
            !text.contains("hunter2"),
            "{} shows the password",
            page.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn unrelated_and_corrupt_files_on_the_branch_are_skipped_or_named() {
    let world = World::new();
    let clone = world.clone("job");
    let first = run(
        &clone,
        &[
            "--store", "git:", "check", "--runs", "5", "--name", "t", "--", "true",
        ],
    );
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    // Someone adds notes to the data branch by hand.
    let data = world.clone("editor");
    git(&data, &["fetch", "-q", "origin", "benchkeep-data"]);
    git(
        &data,
        &["checkout", "-q", "-b", "benchkeep-data", "FETCH_HEAD"],
    );
    let runs_dir = world
        .remote_files()
        .into_iter()
        .find(|f| f.starts_with("runs/"))
        .map(|f| f.rsplit_once('/').unwrap().0.to_owned())
        .unwrap();
    std::fs::write(data.join("notes.txt"), "hello").unwrap();
    std::fs::write(data.join(&runs_dir).join("README.md"), "not a run").unwrap();
    git(&data, &["add", "-A"]);
    git(&data, &["commit", "-q", "-m", "notes"]);
    git(&data, &["push", "-q", "origin", "benchkeep-data"]);
    let again = run(
        &clone,
        &[
            "--store", "git:", "check", "--runs", "5", "--name", "t", "--", "true",
        ],
    );
    assert!(
        matches!(again.status.code(), Some(0 | 1)),
        "{}",
        stderr(&again)
    );
    let set = run(
        &clone,
        &["--store", "git:", "baseline", "set", "--last", "2"],
    );
    assert_eq!(set.status.code(), Some(0), "{}", stderr(&set));

    // Then corrupts the baseline: the gate fails with the file's path, never passes.
    let baseline = world
        .remote_files()
        .into_iter()
        .find(|f| f.starts_with("baselines/"))
        .unwrap();
    git(
        &data,
        &["pull", "-q", "--ff-only", "origin", "benchkeep-data"],
    );
    std::fs::write(
        data.join(&baseline),
        "{\"schema\":{\"major\":1,\"minor\":0},\"kind\":\"base",
    )
    .unwrap();
    git(&data, &["commit", "-q", "-am", "oops"]);
    git(&data, &["push", "-q", "origin", "benchkeep-data"]);
    let broken = run(
        &clone,
        &[
            "--store", "git:", "check", "--runs", "5", "--name", "t", "--", "true",
        ],
    );
    assert_eq!(broken.status.code(), Some(2), "{}", stderr(&broken));
    assert!(
        stderr(&broken).contains(&baseline) && stderr(&broken).contains("truncated"),
        "{}",
        stderr(&broken)
    );
}

#[test]
fn prune_and_squash_rewrite_the_branch_and_other_clones_follow() {
    let world = World::new();
    let clone = world.clone("job");
    let stale = world.clone("stale");
    for _ in 0..4 {
        let out = run(
            &clone,
            &["--store", "git:", "run", "--runs", "1", "--", "true"],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    // The stale clone knows the old history.
    assert_eq!(
        run(&stale, &["--store", "git:", "baseline", "list"])
            .status
            .code(),
        Some(0)
    );
    let prune = run(
        &clone,
        &[
            "--store",
            "git:",
            "prune",
            "--keep-last",
            "1",
            "--squash-history",
        ],
    );
    assert_eq!(prune.status.code(), Some(0), "{}", stderr(&prune));
    assert!(
        String::from_utf8_lossy(&prune.stdout).contains("deleted 3 of 4"),
        "{}",
        String::from_utf8_lossy(&prune.stdout)
    );
    let history = git(&world.remote(), &["rev-list", "--count", "benchkeep-data"]);
    assert_eq!(history.trim(), "1", "squashed to one commit");
    // The stale clone writes: it adopts the new history and the pruned runs stay gone.
    let out = run(
        &stale,
        &["--store", "git:", "run", "--runs", "1", "--", "true"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        world.remote_count("runs/"),
        2,
        "pruned runs came back through a stale clone"
    );
}

#[test]
fn racing_bootstraps_over_the_remote_all_pass_and_leave_one_baseline() {
    let world = World::new();
    let jobs: Vec<_> = (0..4)
        .map(|i| {
            let clone = world.clone(&format!("job{i}"));
            benchkeep(
                &clone,
                &[
                    "--store", "git:", "check", "--runs", "3", "--warmup", "0", "--name", "t",
                    "--", "true",
                ],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let mut passed = 0;
    for job in jobs {
        let out = job.wait_with_output().unwrap();
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
        passed += usize::from(out.status.code() == Some(0));
    }
    let files = world.remote_files();
    assert_eq!(world.remote_count("baselines/"), 1, "{files:?}");
    assert_eq!(world.remote_count("runs/"), 4, "{files:?}");
    let reader = world.clone("reader");
    let show = run(&reader, &["--store", "git:", "baseline", "show", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    // One created it; a job that lost the race to create it and passed joined it; none
    // replaced it (promotion.rs checks that every racer joins).
    let sources = doc["sources"].as_array().unwrap().len();
    assert!(
        (1..=passed).contains(&sources),
        "{sources} sources for {passed} passing checks: a bootstrap overwrote the baseline"
    );
}

#[test]
fn ab_base_ref_builds_the_base_revision_in_a_worktree_and_removes_it() {
    let world = World::new();
    let repo = world.clone("ab");
    std::fs::write(repo.join("work.sh"), "sleep 0.01\n").unwrap();
    git(&repo, &["add", "work.sh"]);
    git(&repo, &["commit", "-q", "-m", "work"]);
    // The checkout (head) is 5x slower than the committed base: a 10% difference was not
    // always found on a busy machine, and this test is about the worktree, not resolution.
    std::fs::write(repo.join("work.sh"), "sleep 0.05\n").unwrap();
    let out = run(
        &repo,
        &[
            "ab",
            "--base-ref",
            "HEAD",
            "--build",
            "echo built > built.txt",
            "--rounds",
            "10",
            "--format",
            "json",
            "--",
            "sh",
            "work.sh",
        ],
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    assert_eq!(out.status.code(), Some(1), "{doc}\n{}", stderr(&out));
    let entry = &doc["entries"][0];
    assert_eq!(entry["benchmark"], "sh work.sh");
    assert_eq!(entry["verdict"], "regressed", "{entry}");
    assert!(
        stderr(&out).contains("building the base"),
        "{}",
        stderr(&out)
    );
    assert!(repo.join("built.txt").exists(), "the head was built too");
    assert_eq!(
        git(&repo, &["worktree", "list"]).lines().count(),
        1,
        "the base worktree is removed"
    );

    let bad = run(&repo, &["ab", "--base-ref", "no-such-rev", "--", "true"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("cannot check out --base-ref \"no-such-rev\""),
        "{}",
        stderr(&bad)
    );
}

mod common;

#[test]
fn eighty_promotions_while_prune_runs_all_land_on_the_data_branch() {
    let world = World::new();
    // Five clones for eight jobs and prune: two processes share each clone (jobs of one
    // runner, or a matrix in one checkout), and one job shares prune's.
    let dirs: Vec<PathBuf> = (0..5).map(|i| world.clone(&format!("job{i}"))).collect();
    std::fs::write(
        dirs[0].join("benchkeep.toml"),
        "[compare]\npromote_keep = 100\n",
    )
    .unwrap();
    for dir in &dirs[1..] {
        std::fs::copy(dirs[0].join("benchkeep.toml"), dir.join("benchkeep.toml")).unwrap();
    }
    let files = tempfile::tempdir().unwrap();
    let race = common::promotion_race(&dirs, files.path(), "git:", 8, 10, &benchkeep);
    assert!(race.prunes >= 2, "prune ran {} times", race.prunes);
    assert_eq!(race.promoted, 80);
    assert!(
        race.lost.is_empty(),
        "runs a baseline names were deleted: {:?}",
        race.lost
    );
    assert_eq!(race.sources.len(), 81);
    assert!(
        race.lost.is_empty(),
        "runs a baseline names were deleted: {:?}",
        race.lost
    );
    git(&world.remote(), &["fsck", "--no-progress"]);
}

#[test]
fn eight_racing_bootstraps_all_join_the_baseline_on_the_data_branch() {
    let world = World::new();
    let dirs: Vec<PathBuf> = (0..8).map(|i| world.clone(&format!("boot{i}"))).collect();
    let files = tempfile::tempdir().unwrap();
    let (passed, sources) = common::bootstrap_race(&dirs, files.path(), "git:", 8, &benchkeep);
    assert_eq!((passed, sources), (8, 8));
}
