//! The GitHub Action's steps (scripts/action.sh, which action.yml runs) outside GitHub, with a
//! simulated runner: `GITHUB_*` variables, an event file, `GITHUB_OUTPUT` and
//! `GITHUB_STEP_SUMMARY` files, a git store whose origin is a real bare repository.
//!
//! The flows are a push to main, a pull request from the same repository and one from a fork,
//! whose token cannot push: the job must report the gate's verdict and exit by it, never fail
//! afterwards on recording.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{BIN, code, git, stderr, stdout};

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn action_script() -> PathBuf {
    repository_root().join("scripts/action.sh")
}

/// The version the action's checkout builds, as action.sh reads it.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A runner's environment with nothing inherited from the one the tests run in but PATH and
/// HOME: `action.sh STEP` in `cwd`.
fn step(step: &str, cwd: &Path, env: &[(&str, &str)], path: &str) -> Output {
    let mut command = Command::new("bash");
    command
        .arg(action_script())
        .arg(step)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", path)
        .env("HOME", cwd)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CEILING_DIRECTORIES", cwd.parent().unwrap());
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

/// PATH with `bin` (where a fake `cargo` or the benchkeep under test is) first.
fn path_with(bin: &Path) -> String {
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap())
}

/// A directory with a `cargo` that records its arguments in `cargo.args` and "installs" a
/// benchkeep that prints a version, as `cargo install --root R` would put it in `R/bin`.
fn fake_cargo(dir: &Path) -> PathBuf {
    let bin = dir.join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let cargo = bin.join("cargo");
    std::fs::write(
        &cargo,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}/cargo.args'\nroot=$4\nmkdir -p \"$root/bin\"\nprintf '#!/bin/sh\\necho benchkeep built-from-source\\n' > \"$root/bin/benchkeep\"\nchmod +x \"$root/bin/benchkeep\"\n",
            dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

/// A release directory as GitHub serves it: `v<version>/benchkeep-<target>.tar.gz` holding the
/// binary under test.
fn publish_release(dir: &Path, triple: &str) -> PathBuf {
    let releases = dir.join("releases");
    let tag = releases.join(format!("v{VERSION}"));
    std::fs::create_dir_all(&tag).unwrap();
    let staging = dir.join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::copy(BIN, staging.join("benchkeep")).unwrap();
    let archive = format!("benchkeep-{triple}.tar.gz");
    let status = Command::new("tar")
        .arg("-czf")
        .arg(tag.join(&archive))
        .arg("-C")
        .arg(&staging)
        .arg("benchkeep")
        .status()
        .unwrap();
    assert!(status.success());
    // As release.yml writes it: `shasum -a 256 ARCHIVE > ARCHIVE.sha256`.
    let sum = Command::new("sha256sum")
        .arg(&archive)
        .current_dir(&tag)
        .output()
        .unwrap();
    assert!(sum.status.success());
    std::fs::write(tag.join(format!("{archive}.sha256")), &sum.stdout).unwrap();
    releases
}

fn install_env<'a>(
    home: &'a str,
    reference: &'a str,
    releases: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("BENCHKEEP_HOME", home),
        ("BENCHKEEP_ACTION_REPO", "benchkeep/benchkeep"),
        ("BENCHKEEP_ACTION_REF", reference),
        ("BENCHKEEP_RELEASES", releases),
        ("RUNNER_OS", "Linux"),
        ("RUNNER_ARCH", "X64"),
    ]
}

#[test]
fn a_release_pin_installs_the_release_binary_without_building() {
    let dir = tempfile::tempdir().unwrap();
    let releases = publish_release(dir.path(), "x86_64-unknown-linux-gnu");
    let fake = fake_cargo(dir.path());
    let home = dir.path().join("home");
    let url = format!("file://{}", releases.display());
    let reference = format!("v{VERSION}");
    let out = step(
        "install",
        dir.path(),
        &install_env(home.to_str().unwrap(), &reference, &url),
        &path_with(&fake),
    );
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains(&format!(
            "installed the v{VERSION} release binary for x86_64-unknown-linux-gnu"
        )),
        "{}",
        stdout(&out)
    );
    assert!(!dir.path().join("cargo.args").exists(), "cargo ran");
    let version = Command::new(home.join("bin/benchkeep"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(stdout(&version).trim(), format!("benchkeep {VERSION}"));
}

/// A branch or commit pin builds the action's own checkout even when a release of the same
/// version exists (the code may differ); a release pin with nothing published for the runner
/// builds too, and says why.
#[test]
fn other_pins_and_missing_releases_build_from_the_action_s_sources() {
    let dir = tempfile::tempdir().unwrap();
    let releases = publish_release(dir.path(), "x86_64-unknown-linux-gnu");
    let url = format!("file://{}", releases.display());
    let release_pin = format!("v{VERSION}");
    // A second release directory whose archive does not match its checksum (a truncated or
    // replaced download).
    let tampered_dir = dir.path().join("tampered");
    let tampered = publish_release(&tampered_dir, "x86_64-unknown-linux-gnu");
    let archive = tampered.join(format!(
        "v{VERSION}/benchkeep-x86_64-unknown-linux-gnu.tar.gz"
    ));
    let mut bytes = std::fs::read(&archive).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&archive, bytes).unwrap();
    let tampered_url = format!("file://{}", tampered.display());
    for (reference, arch, notice, url) in [
        ("main", "X64", false, &url),
        (
            "0123456789abcdef0123456789abcdef01234567",
            "X64",
            false,
            &url,
        ),
        (release_pin.as_str(), "ARM64", true, &url),
        (release_pin.as_str(), "X64", true, &tampered_url),
    ] {
        let fake = fake_cargo(dir.path());
        let home = dir
            .path()
            .join(format!("home-{arch}-{}-{}", &reference[..4], url.len()));
        let mut env = install_env(home.to_str().unwrap(), reference, url);
        env.retain(|(name, _)| *name != "RUNNER_ARCH");
        env.push(("RUNNER_ARCH", arch));
        let out = step("install", dir.path(), &env, &path_with(&fake));
        assert_eq!(
            code(&out),
            0,
            "{reference}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        let args = std::fs::read_to_string(dir.path().join("cargo.args")).unwrap();
        let cli = repository_root().join("crates/cli");
        assert_eq!(
            args.lines().collect::<Vec<_>>(),
            [
                "install",
                "--locked",
                "--root",
                home.to_str().unwrap(),
                "--path",
                cli.to_str().unwrap()
            ],
            "{reference}"
        );
        assert_eq!(
            stdout(&out).contains("no usable release binary"),
            notice,
            "{reference}: {}",
            stdout(&out)
        );
        std::fs::remove_file(dir.path().join("cargo.args")).unwrap();
    }
}

/// The cache key changes with any source the binary is built from, and only then.
#[test]
fn the_cache_key_follows_the_sources() {
    let dir = tempfile::tempdir().unwrap();
    let action = dir.path().join("action");
    std::fs::create_dir_all(action.join("crates/cli/src")).unwrap();
    std::fs::create_dir_all(action.join("crates/cli/tests")).unwrap();
    std::fs::write(
        action.join("Cargo.toml"),
        "[workspace]\n[workspace.package]\nversion = \"7.8.9\"\n",
    )
    .unwrap();
    std::fs::write(action.join("Cargo.lock"), "# lock\n").unwrap();
    std::fs::write(action.join("crates/cli/src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::write(action.join("crates/cli/tests/t.rs"), "\n").unwrap();
    let key = || {
        let output = dir.path().join("output");
        let _ = std::fs::remove_file(&output);
        let out = step(
            "fingerprint",
            dir.path(),
            &[
                ("BENCHKEEP_ACTION_PATH", action.to_str().unwrap()),
                ("GITHUB_OUTPUT", output.to_str().unwrap()),
            ],
            &std::env::var("PATH").unwrap(),
        );
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        std::fs::read_to_string(&output).unwrap()
    };
    let first = key();
    assert!(first.starts_with("key=benchkeep-7.8.9-unknown-"), "{first}");
    assert_eq!(key(), first);
    std::fs::write(action.join("crates/cli/tests/t.rs"), "// a test changed\n").unwrap();
    assert_eq!(key(), first, "tests are not part of the binary");
    std::fs::write(action.join("crates/cli/src/main.rs"), "fn main() { }\n").unwrap();
    let second = key();
    assert_ne!(second, first);
    std::fs::write(action.join("Cargo.lock"), "# lock 2\n").unwrap();
    assert_ne!(key(), second);
}

/// A directory holding the benchkeep under test as `benchkeep`, as the install step leaves it.
fn installed(dir: &Path) -> PathBuf {
    let bin = dir.join("installed");
    if !bin.exists() {
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(BIN, bin.join("benchkeep")).unwrap();
    }
    bin
}

/// A custom-format result: 30 samples around `center` ns for benchmark `parse`.
fn result_file(dir: &Path, file: &str, center: f64) -> String {
    common::custom_result(dir, file, &[("parse", center)])
}

#[test]
fn args_are_split_like_a_shell_never_evaluated_and_the_action_s_flags_go_before_the_double_dash() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let bin = installed(dir.path());
    let output = dir.path().join("github-output");
    let summary = dir.path().join("summary.md");
    let env = |args: &'static str| {
        vec![
            ("BENCHKEEP_ARGS", args),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_OUTPUT", output.to_str().unwrap()),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ]
    };
    // The bugs: `--format github` was appended after `--`, so it became the command's
    // arguments, and `"team=core perf"` was split in two.
    let out = step(
        "check",
        &work,
        &env(
            r#"--runs 3 --no-record --out run.json --label "team=core perf" --label 'shell=$(touch pwned)' --name "true as named" -- true"#,
        ),
        &path_with(&bin),
    );
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["labels"]["team"], "core perf", "{run}");
    assert_eq!(run["labels"]["shell"], "$(touch pwned)", "{run}");
    assert!(!work.join("pwned").exists(), "the args were evaluated");
    let benchmark = &run["benchmarks"][0];
    assert_eq!(benchmark["name"], "true as named", "{run}");
    assert_eq!(benchmark["command"], serde_json::json!(["true"]), "{run}");
    let outputs = std::fs::read_to_string(&output).unwrap();
    assert!(
        outputs.contains("verdict=pass"),
        "the github format wrote no outputs: {outputs}"
    );

    // A --format of the user's own is kept (the github format is not added).
    std::fs::remove_file(&output).unwrap();
    let out = step(
        "check",
        &work,
        &env("--format json --runs 3 --no-record -- true"),
        &path_with(&bin),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    serde_json::from_str::<serde_json::Value>(&stdout(&out)).expect("the json format's document");
    assert!(!output.exists(), "the github format ran too");

    // Escapes inside double quotes and empty words are a shell's (xargs, used before, kept
    // the backslashes and dropped the empty word).
    let out = step(
        "check",
        &work,
        &env(
            r#"--runs 3 --no-record --out run.json --label "quote=c\"d" --label "slash=a\\b" --label "" -- true"#,
        ),
        &path_with(&bin),
    );
    // The empty label reached benchkeep as a word of its own, which refuses it.
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--label \"\" is not KEY=VALUE"),
        "{}",
        stderr(&out)
    );
    let out = step(
        "check",
        &work,
        &env(
            r#"--runs 3 --no-record --out run.json --label "quote=c\"d" --label "slash=a\\b" -- true"#,
        ),
        &path_with(&bin),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["labels"]["quote"], "c\"d", "{run}");
    assert_eq!(run["labels"]["slash"], "a\\b", "{run}");

    // An unbalanced quote fails the step with exit 2 (an error, not a regression), naming the
    // problem, before benchkeep check runs.
    let out = step("check", &work, &env(r#"--label "x=y"#), &path_with(&bin));
    assert_eq!(code(&out), 2, "{}{}", stdout(&out), stderr(&out));
    assert!(
        stderr(&out).contains("quote is not closed"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("::error"), "{}", stdout(&out));
}

/// A repository whose benchkeep.toml keeps runs on a git branch pushed to `origin`, a bare
/// repository that refuses pushes when `refuse` exists in it (a fork's read-only token).
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let origin = dir.path().join("origin.git");
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        git(
            dir.path(),
            &[
                "init",
                "-q",
                "--bare",
                "-b",
                "main",
                origin.to_str().unwrap(),
            ],
        );
        let hook = origin.join("hooks/pre-receive");
        std::fs::write(
            &hook,
            "#!/bin/sh\nif [ -e \"$GIT_DIR/refuse\" ]; then echo 'permission denied (a read-only token)' >&2; exit 1; fi\n",
        )
        .unwrap();
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
        git(&work, &["init", "-q", "-b", "main"]);
        std::fs::write(
            work.join("benchkeep.toml"),
            "store = \"git:benchkeep-data\"\n[compare]\npromote_on = \"main\"\n",
        )
        .unwrap();
        std::fs::write(work.join(".gitignore"), "*.json\n").unwrap();
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", "benchkeep"]);
        git(
            &work,
            &["remote", "add", "origin", origin.to_str().unwrap()],
        );
        git(&work, &["push", "-q", "origin", "main"]);
        Project { dir }
    }

    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    fn origin(&self) -> PathBuf {
        self.dir.path().join("origin.git")
    }

    /// The runs origin's data branch holds.
    fn runs_at_origin(&self) -> usize {
        let listing = Command::new("git")
            .args(["ls-tree", "-r", "--name-only", "benchkeep-data"])
            .current_dir(self.origin())
            .output()
            .unwrap();
        stdout(&listing)
            .lines()
            .filter(|path| path.starts_with("runs/"))
            .count()
    }

    /// The check step for `event` (`push` or `pull_request`, from `head_repo`) with `args`.
    fn check(&self, event: &str, head_repo: &str, args: &str) -> (Output, String, String) {
        let output = self.dir.path().join("github-output");
        let summary = self.dir.path().join("summary.md");
        let event_file = self.dir.path().join("event.json");
        let _ = std::fs::remove_file(&output);
        let _ = std::fs::remove_file(&summary);
        let pull_request = event == "pull_request";
        std::fs::write(
            &event_file,
            if pull_request {
                format!(
                    r#"{{"number": 7, "pull_request": {{"number": 7, "head": {{"ref": "feature", "repo": {{"full_name": "{head_repo}"}}}}, "base": {{"ref": "main"}}}}}}"#
                )
            } else {
                r#"{"ref": "refs/heads/main"}"#.to_owned()
            },
        )
        .unwrap();
        let bin = installed(self.dir.path());
        let env = [
            ("CI", "true"),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", event),
            ("GITHUB_EVENT_PATH", event_file.to_str().unwrap()),
            ("GITHUB_REPOSITORY", "team/project"),
            (
                "GITHUB_REF",
                if pull_request {
                    "refs/pull/7/merge"
                } else {
                    "refs/heads/main"
                },
            ),
            (
                "GITHUB_REF_NAME",
                if pull_request { "7/merge" } else { "main" },
            ),
            ("GITHUB_HEAD_REF", if pull_request { "feature" } else { "" }),
            ("GITHUB_BASE_REF", if pull_request { "main" } else { "" }),
            ("GITHUB_RUN_ID", "1"),
            ("GITHUB_OUTPUT", output.to_str().unwrap()),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
            ("BENCHKEEP_ARGS", args),
            (
                "BENCHKEEP_HEAD_REPO",
                if pull_request { head_repo } else { "" },
            ),
        ];
        let out = step("check", &self.work(), &env, &path_with(&bin));
        let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
        (out, read(&output), read(&summary))
    }
}

#[test]
fn push_same_repository_and_fork_pull_requests_each_exit_by_the_gate() {
    let project = Project::new();
    let work = project.work();
    let main_run = result_file(&work, "main.json", 1000.0);

    // A push to main: gated (no baseline yet: it becomes one), recorded and pushed.
    let (out, outputs, summary) = project.check("push", "", &format!("--import custom {main_run}"));
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(outputs.contains("verdict=pass"), "{outputs}");
    assert!(!summary.is_empty(), "no job summary");
    assert_eq!(project.runs_at_origin(), 1, "{}", stderr(&out));

    // A pull request from the same repository: compared with main's baseline; its run is
    // recorded under its own branch and pushed.
    let pr_run = result_file(&work, "pr.json", 1001.0);
    let args = format!("--import custom {pr_run} --baseline-branch main");
    let (out, outputs, summary) = project.check("pull_request", "team/project", &args);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(outputs.contains("verdict=pass"), "{outputs}");
    assert!(summary.contains("parse"), "{summary}");
    assert_eq!(project.runs_at_origin(), 2);

    // From here on the token cannot push, as a fork's cannot. Without the fork's `--no-record`
    // the job fails after the gate passed (the bug this guards against)...
    std::fs::write(project.origin().join("refuse"), "").unwrap();
    let (out, _, _) = project.check("pull_request", "team/project", &args);
    assert_eq!(code(&out), 2, "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("push"), "{}", stderr(&out));
    // ...while a fork's pull request is measured, gated and reported, and records nothing.
    let (out, outputs, summary) = project.check("pull_request", "someone/project", &args);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(outputs.contains("verdict=pass"), "{outputs}");
    assert!(summary.contains("parse"), "{summary}");
    assert_eq!(project.runs_at_origin(), 2);

    // A pull request whose head repository is gone (a deleted fork) has none in its event:
    // counted as a fork.
    let (out, outputs, _) = project.check("pull_request", "", &args);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(outputs.contains("verdict=pass"), "{outputs}");

    // And a fork's regression still fails the job: the gate is not weakened for forks.
    let slower = result_file(&work, "slower.json", 1300.0);
    let (out, outputs, _) = project.check(
        "pull_request",
        "someone/project",
        &format!("--import custom {slower} --baseline-branch main"),
    );
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    assert!(outputs.contains("verdict=fail"), "{outputs}");
}
