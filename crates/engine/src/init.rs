//! `benchkeep init`: a commented `benchkeep.toml` and, on request, a CI job for the chosen
//! store. Existing files are never overwritten without `--force`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::{Context as _, Error, bail};

/// CI systems `init` writes a job for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CiSystem {
    /// `.github/workflows/benchkeep.yml`.
    Github,
    /// `.gitlab/benchkeep.gitlab-ci.yml`, to `include:` from `.gitlab-ci.yml`.
    Gitlab,
}

/// `benchkeep init`: what to write where.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InitRequest {
    /// `fs`, `git` or `s3`.
    pub store: String,
    /// Also a CI job.
    pub ci: Option<CiSystem>,
    /// The branch whose runs become the baseline.
    pub main_branch: String,
    /// The `[[bench]]` command.
    pub bench: Option<String>,
    /// Overwrite existing files.
    pub force: bool,
    /// Where (the working directory by default).
    pub dir: Option<PathBuf>,
}

impl InitRequest {
    /// The defaults of `benchkeep init`: the fs store, no CI job, `main`.
    #[must_use]
    pub fn new() -> Self {
        InitRequest {
            store: "fs".into(),
            ci: None,
            main_branch: "main".into(),
            bench: None,
            force: false,
            dir: None,
        }
    }
}

impl Default for InitRequest {
    fn default() -> Self {
        InitRequest::new()
    }
}

/// The stores `init` knows how to set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreKind {
    /// `.benchkeep/`.
    Fs,
    /// An orphan branch of the repository.
    Git,
    /// An S3 bucket.
    S3,
}

impl StoreKind {
    /// `fs`, `git` or `s3`.
    ///
    /// # Errors
    ///
    /// Any other word.
    pub fn parse(text: &str) -> Result<Self, Error> {
        match text {
            "fs" | "file" => Ok(StoreKind::Fs),
            "git" => Ok(StoreKind::Git),
            "s3" => Ok(StoreKind::S3),
            other => bail!("--store {other:?}: expected fs, git or s3"),
        }
    }

    fn url(self) -> &'static str {
        match self {
            StoreKind::Fs => "file://.benchkeep",
            StoreKind::Git => "git:benchkeep-data",
            StoreKind::S3 => "s3://CHANGE-ME-bucket/benchkeep",
        }
    }
}

/// `benchkeep init`: a commented `benchkeep.toml` for the chosen store and, on request, a CI
/// job. Existing files are never overwritten without `force`. Returns what was written and the
/// next steps, for people.
///
/// # Errors
///
/// An unknown store, an invalid branch name, an existing file without `force`, a file that
/// cannot be written.
pub fn init(args: &InitRequest, cwd: &Path) -> Result<String, Error> {
    let store = StoreKind::parse(&args.store)?;
    let dir = args.dir.clone().unwrap_or_else(|| cwd.to_owned());
    let main = args.main_branch.as_str();
    if main.is_empty() || main.starts_with('-') || main.contains(char::is_whitespace) {
        bail!("--main-branch {main:?} is not a branch name");
    }
    let mut files: Vec<(PathBuf, String)> = vec![(
        dir.join(crate::config::CONFIG_FILE),
        config_text(store, main, args.bench.as_deref()),
    )];
    match args.ci {
        Some(CiSystem::Github) => files.push((
            dir.join(".github/workflows/benchkeep.yml"),
            github_workflow(store, main),
        )),
        Some(CiSystem::Gitlab) => files.push((
            dir.join(".gitlab/benchkeep.gitlab-ci.yml"),
            gitlab_job(store, main),
        )),
        None => {}
    }
    if !args.force
        && let Some((existing, _)) = files.iter().find(|(path, _)| path.exists())
    {
        bail!(
            "{} exists; nothing was written (use --force to overwrite)",
            existing.display()
        );
    }
    let mut report = String::new();
    for (path, text) in &files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
        let _ = writeln!(report, "wrote {}", path.display());
    }
    report.push_str(&next_steps(store, args.ci));
    Ok(report)
}

fn config_text(store: StoreKind, main: &str, bench: Option<&str>) -> String {
    let store_comment = match store {
        StoreKind::Fs => {
            "# Runs and baselines in a directory of this repository (commit it, or cache it in CI)."
        }
        StoreKind::Git => {
            "# Runs and baselines on an orphan branch of this repository, pushed to `origin`\n# (docs/stores/git.md). No service needed; CI needs permission to push."
        }
        StoreKind::S3 => {
            "# Runs and baselines in S3-compatible object storage shared by every runner\n# (docs/stores/s3.md). Credentials come from the usual AWS_* variables."
        }
    };
    let command = bench.map_or_else(
        || "\"./target/release/my-program --input data/sample\"  # CHANGE ME".to_owned(),
        |c| format!("{c:?}"),
    );
    format!(
        r#"# benchkeep configuration (README.md, "Configuration"). Every key is optional; unknown keys are errors,
# so a typo cannot silently change a gate.

{store_comment}
{store_line}

[run]
# warmup = 1        # unmeasured runs before measuring
# min_time = 1.0    # seconds of measurement per benchmark, at least min_runs runs
# min_runs = 10
# timeout = 60      # seconds before a run's whole process group is killed

[compare]
threshold = 5               # smallest change that counts, in percent
# fail_on_inconclusive = false
# fail_on = "minor"         # least severity that fails: "minor" (every regression), "moderate", "critical"
# allow_missing = false     # a benchmark missing from a run fails the gate
# max_age_days = 30         # warn when the baseline is older (0: never)
# gate = "primary"          # or "all", or ["wall_time", "peak_rss"]
promote_on = "{main}"        # a passing check on {main} adds its run to {main}'s baseline
# promote_keep = 10         # runs a promoted baseline keeps
# environment = "warn"      # machine differs from the baseline's: "warn", "refuse" or "ignore"

[[bench]]
name = "example"
command = {command}

# Per-benchmark rules, by exact name or glob; the most specific wins.
# [[policy]]
# name = "io_*"
# threshold = 15
# max = "250ms"             # an absolute limit, whatever the baseline ("512MiB", min = "1000/s")
"#,
        store_line = match store {
            // The default directory is created on first use; an explicit file:// URL must
            // exist, and a fresh clone (or a CI cache miss) has no `.benchkeep/` yet.
            StoreKind::Fs => "# store: none set, so runs go to .benchkeep/ at the repository root (created on\n# first use); \"git:benchkeep-data\" keeps them on a branch, \"s3://BUCKET/PREFIX\" in S3".to_owned(),
            _ => format!("store = \"{}\"", store.url()),
        }
    )
}

/// The `check` argument of a job on the main branch: gate against its stored baseline and add
/// passing runs to it. Pull requests run `check --pr` instead (paired against their base in the
/// job itself), which needs no store.
fn main_arguments(main: &str) -> String {
    format!("--promote-on {main}")
}

/// The GitHub Actions workflow `init --ci github` writes.
#[must_use]
pub fn github_workflow(store: StoreKind, main: &str) -> String {
    let permissions = match store {
        StoreKind::Git => "  contents: write        # the git store pushes to its data branch\n",
        StoreKind::Fs | StoreKind::S3 => "  contents: read\n",
    };
    let cache = match store {
        StoreKind::Fs => {
            r"      # The fs store lives in .benchkeep/: carry main's runs and baseline between runs in
      # the Actions cache (pull requests do not use the store).
      - uses: actions/cache@v4
        if: github.event_name != 'pull_request'
        with:
          path: .benchkeep
          key: benchkeep-${{ runner.os }}-${{ github.run_id }}
          restore-keys: benchkeep-${{ runner.os }}-
"
        }
        StoreKind::Git | StoreKind::S3 => "",
    };
    let env = match store {
        StoreKind::S3 => {
            r"        env:
          AWS_ACCESS_KEY_ID: ${{ secrets.BENCHKEEP_AWS_ACCESS_KEY_ID }}
          AWS_SECRET_ACCESS_KEY: ${{ secrets.BENCHKEEP_AWS_SECRET_ACCESS_KEY }}
          AWS_REGION: us-east-1
"
        }
        StoreKind::Fs | StoreKind::Git => "",
    };
    let on_main = main_arguments(main);
    format!(
        r#"# benchkeep: gate pull requests on performance; keep {main}'s baseline up to date.
# Written by `benchkeep init --ci github`; see docs/ci.md.
name: benchmarks

on:
  push:
    branches: [{main}]
  pull_request:

permissions:
{permissions}  pull-requests: write    # the sticky pull-request comment
  issues: write           # an issue for a serious regression on {main}

concurrency:
  group: benchkeep-${{{{ github.ref }}}}
  cancel-in-progress: true

jobs:
  bench:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0          # check --pr needs the history to find the merge-base
{cache}      # check --pr builds the pull request's base in target/benchkeep-base/: keep it
      # between jobs, so that building the base is incremental.
      - uses: actions/cache@v4
        if: github.event_name == 'pull_request'
        with:
          path: target/benchkeep-base
          key: benchkeep-base-${{{{ runner.os }}}}-${{{{ github.event.pull_request.base.sha }}}}
          restore-keys: benchkeep-base-${{{{ runner.os }}}}-
      # Installs benchkeep from its repository (the action at its root), cached.
      - uses: benchkeep/benchkeep@main
        with:
          install-only: "true"
      # Pull requests: the merge-base and the pull request, measured in paired rounds in this
      # job; nothing is stored. {main}: compared with {main}'s stored baseline, which a passing
      # run joins (the history `trend` and `report` read).
      - name: Benchmark and gate
        id: bench
        run: >
          benchkeep check
          ${{{{ github.event_name == 'pull_request' && '--pr' || '{on_main}' }}}}
          --format github
          --report markdown=benchkeep.md
          --report junit=benchkeep.xml
          --report alert=benchkeep-alert.md
{env}      - name: Update the pull-request comment
        if: always() && github.event_name == 'pull_request' && steps.bench.outputs.verdict != ''
        env:
          GH_TOKEN: ${{{{ github.token }}}}
          PR: ${{{{ github.event.pull_request.number }}}}
        run: |
          marker=$(head -n1 benchkeep.md)
          id=$(gh api "repos/$GITHUB_REPOSITORY/issues/$PR/comments" --paginate \
                 --jq ".[] | select(.body | startswith(\"$marker\")) | .id" | head -n1)
          if [ -n "$id" ]; then
            gh api -X PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$id" -F body=@benchkeep.md
          else
            gh pr comment "$PR" --body-file benchkeep.md
          fi
      - name: Open an issue for a moderate or critical regression on {main}
        if: always() && github.ref == 'refs/heads/{main}' && steps.bench.outputs.alert == 'true'
        env:
          GH_TOKEN: ${{{{ github.token }}}}
        run: gh issue create --title "$(head -n1 benchkeep-alert.md)" --body "$(tail -n +3 benchkeep-alert.md)"
"#
    )
}

/// The GitLab CI job `init --ci gitlab` writes.
#[must_use]
pub fn gitlab_job(store: StoreKind, main: &str) -> String {
    let store_cache = match store {
        StoreKind::Fs => {
            "    # The fs store lives in .benchkeep/: carry main's runs and baseline too.\n    - key: benchkeep\n      paths: [.benchkeep/]\n"
        }
        StoreKind::Git | StoreKind::S3 => "",
    };
    let push = match store {
        StoreKind::Git => {
            "    # The git store pushes its data branch: give the job a token that may push\n    # (a project access token with write_repository, as BENCHKEEP_PUSH_TOKEN).\n    - git remote set-url origin \"https://oauth2:${BENCHKEEP_PUSH_TOKEN}@${CI_SERVER_HOST}/${CI_PROJECT_PATH}.git\"\n"
        }
        StoreKind::Fs | StoreKind::S3 => "",
    };
    let on_main = main_arguments(main);
    format!(
        r#"# benchkeep: gate merge requests on performance; keep {main}'s baseline up to date.
# Written by `benchkeep init --ci gitlab`. Add to .gitlab-ci.yml:
#   include: .gitlab/benchkeep.gitlab-ci.yml
# See docs/ci.md.
benchkeep:
  image: rust:latest
  stage: test
  variables:
    GIT_DEPTH: "0"              # check --pr needs the history to find the merge-base
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH == "{main}"
  cache:
    # check --pr builds the merge request's base in target/benchkeep-base/: keep it between
    # pipelines, so that building the base is incremental.
    - key: benchkeep-base
      paths: [target/benchkeep-base/]
{store_cache}  script:
    - cargo install --locked --git "${{BENCHKEEP_REPO:-https://github.com/benchkeep/benchkeep}}" benchkeep
{push}    # Merge requests: the merge-base and the merge request, measured in paired rounds in this
    # job; nothing is stored. {main}: compared with {main}'s stored baseline, which a passing run
    # joins (the history `trend` and `report` read).
    - MODE=$([ -n "$CI_MERGE_REQUEST_IID" ] && echo --pr || echo {on_main})
    - benchkeep check $MODE --report junit=benchkeep.xml --report markdown=benchkeep.md --report alert=benchkeep-alert.md
  artifacts:
    when: always
    paths: [benchkeep.md, benchkeep-alert.md]
    reports:
      junit: benchkeep.xml
"#
    )
}

fn next_steps(store: StoreKind, ci: Option<CiSystem>) -> String {
    let mut text = String::from(
        "next: edit the [[bench]] command in benchkeep.toml, then run `benchkeep check`\n\
next: on the main branch, `benchkeep check --promote` makes the local baseline (in CI, pushes to main make it)\n",
    );
    if store == StoreKind::S3 {
        text.push_str(
            "next: set the bucket in `store` and the AWS_* credentials (docs/stores/s3.md)\n",
        );
    }
    if ci == Some(CiSystem::Gitlab) {
        text.push_str("next: add `include: .gitlab/benchkeep.gitlab-ci.yml` to .gitlab-ci.yml\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generated_configuration_is_valid() {
        for store in [StoreKind::Fs, StoreKind::Git, StoreKind::S3] {
            for bench in [None, Some("cargo bench --bench \"x\"")] {
                let text = config_text(store, "main", bench);
                let config = crate::config::Config::parse(&text)
                    .unwrap_or_else(|e| panic!("{store:?}: {e:#}\n{text}"));
                // The fs store is the default, created on first use: no URL to exist first.
                let url = (store != StoreKind::Fs).then(|| store.url());
                assert_eq!(config.store.as_deref(), url);
                assert_eq!(config.compare.promote_on.as_deref(), Some("main"));
                assert_eq!(config.bench.len(), 1);
            }
        }
    }

    /// docs/ci.md shows exactly what `init` writes, so the two cannot drift apart.
    #[test]
    fn the_ci_guide_shows_the_generated_jobs_verbatim() {
        let guide =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/ci.md"))
                .unwrap();
        for store in [StoreKind::Fs, StoreKind::Git, StoreKind::S3] {
            for (ci, text) in [
                ("github", github_workflow(store, "main")),
                ("gitlab", gitlab_job(store, "main")),
            ] {
                assert!(
                    guide.contains(&format!("```yaml\n{text}```")),
                    "docs/ci.md lacks the {ci} job for {store:?}: regenerate it with `benchkeep init --ci {ci}`"
                );
            }
        }
    }

    #[test]
    fn init_writes_files_and_never_overwrites_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let args = |force| InitRequest {
            store: "git".into(),
            ci: Some(CiSystem::Github),
            main_branch: "main".into(),
            bench: Some("make bench".into()),
            force,
            dir: Some(dir.path().to_owned()),
        };
        init(&args(false), dir.path()).unwrap();
        let config = std::fs::read_to_string(dir.path().join("benchkeep.toml")).unwrap();
        assert!(config.contains("store = \"git:benchkeep-data\""));
        assert!(config.contains("command = \"make bench\""));
        assert!(dir.path().join(".github/workflows/benchkeep.yml").is_file());
        std::fs::write(dir.path().join("benchkeep.toml"), "# mine\n").unwrap();
        let error = init(&args(false), dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("benchkeep.toml exists; nothing was written"),
            "{error}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("benchkeep.toml")).unwrap(),
            "# mine\n"
        );
        init(&args(true), dir.path()).unwrap();
        assert!(
            std::fs::read_to_string(dir.path().join("benchkeep.toml"))
                .unwrap()
                .contains("[compare]")
        );
        let bad = InitRequest {
            store: "ftp".into(),
            ..args(true)
        };
        assert!(
            init(&bad, dir.path())
                .unwrap_err()
                .to_string()
                .contains("expected fs, git or s3")
        );
    }
}
