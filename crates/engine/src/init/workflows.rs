//! The CI jobs `init --ci` writes. docs/ci.md shows each of them verbatim (a test keeps the two
//! equal) and `scripts/test.sh` validates them with actionlint and the CI systems' schemas.
//!
//! The templates are filled by replacing `%NAME%` markers rather than with `format!`, whose
//! brace escaping would double every `${{ ... }}` of GitHub's expression syntax.

use std::fmt::Write as _;

use super::StoreKind;

/// The GitHub repository of benchkeep's action (its `action.yml` is at the root).
pub const ACTION: &str = "benchkeep/benchkeep";

/// The release of the action a generated workflow pins: the one of the binary that wrote it, so
/// that a job keeps installing the same benchkeep until someone upgrades it on purpose.
pub const ACTION_REF: &str = concat!("v", env!("CARGO_PKG_VERSION"));

/// Fills `%NAME%` markers; a marker left unfilled is a bug in this file, caught by the tests.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut text = template.to_owned();
    for (name, value) in values {
        text = text.replace(&format!("%{name}%"), value);
    }
    text
}

/// The `check` arguments of a job on the main branch: gate against its stored baseline and add
/// passing runs to it. Pull requests run `check --pr` instead (paired against their base in the
/// job itself), which needs no store.
fn main_arguments(main: &str) -> String {
    format!("--promote-on {main}")
}

/// The lines of a YAML block scalar for a build command, indented by `indent` spaces.
fn indented(command: &str, indent: usize) -> String {
    command.lines().fold(String::new(), |mut text, line| {
        let _ = writeln!(text, "{:indent$}{line}", "");
        text
    })
}

const GITHUB: &str = r#"# benchkeep: gate pull requests on performance; keep %MAIN%'s baseline up to date; look for slow
# drifts in it every week. Written by `benchkeep init --ci github`; see docs/ci.md.
name: benchmarks

on:
  push:
    branches: ["%MAIN%"]
  pull_request:
  workflow_dispatch:          # by hand: a check (on %MAIN%, a baseline update) and the trend
  schedule:
    - cron: "17 5 * * 1"      # Mondays: the trend of %MAIN%'s history and the dashboard

permissions:
%PERMISSIONS%  pull-requests: write    # the sticky pull-request comment
  issues: write           # an issue for a serious regression on %MAIN%

concurrency:
  # A new push makes a pull request's running check moot, so it cancels it. Every run on %MAIN%
  # has a group of its own: one group would replace a pending run by a newer one, and that
  # commit would never be measured. (Runs that overlap promote safely on the git and s3 stores;
  # on the fs store, in the Actions cache, the later save wins: docs/ci.md.)
  group: benchkeep-${{ github.workflow }}-${{ github.ref == 'refs/heads/%MAIN%' && github.run_id || github.ref }}
  cancel-in-progress: true
%CONFIG_ENV%
jobs:
  check:
    if: github.event_name != 'schedule'
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0          # check --pr needs the history to find the merge-base
%CACHE%      # check --pr builds the pull request's base in target/benchkeep-base/: keep it
      # between jobs, so that building the base is incremental.
      - uses: actions/cache@v4
        if: github.event_name == 'pull_request'
        with:
          path: target/benchkeep-base
          key: benchkeep-base-${{ runner.os }}-${{ github.event.pull_request.base.sha }}
          restore-keys: benchkeep-base-${{ runner.os }}-
      # Installs benchkeep: the release binary for this runner, or a cached build from source.
      - uses: %ACTION%@%ACTION_REF%
        with:
          install-only: "true"
%BUILD%      # Pull requests: the merge-base and the pull request, measured in paired rounds in this
      # job; nothing is recorded, so a fork's read-only token is enough. %MAIN%: compared with
      # %MAIN%'s stored baseline, which a passing run joins (the history `trend` reads).
      - name: Benchmark and gate
        id: bench
        run: >
          benchkeep check
          ${{ github.event_name == 'pull_request' && '--pr' || '%ON_MAIN%' }}
          --format github
          --report markdown=benchkeep.md
          --report junit=benchkeep.xml
          --report alert=benchkeep-alert.md
%ENV%      - name: Keep the reports
        if: always()
        uses: actions/upload-artifact@v4
        with:
          name: benchkeep-reports
          path: |
            benchkeep.md
            benchkeep.xml
            benchkeep-alert.md
          if-no-files-found: ignore
      # A fork's pull request gets a read-only token, which cannot comment: its report is in
      # the job summary and the artifact instead.
      - name: Update the pull-request comment
        if: >
          always() && github.event_name == 'pull_request' && steps.bench.outputs.verdict != ''
          && github.event.pull_request.head.repo.full_name == github.repository
        env:
          GH_TOKEN: ${{ github.token }}
          PR: ${{ github.event.pull_request.number }}
        run: |
          marker=$(head -n1 benchkeep.md)
          id=$(gh api "repos/$GITHUB_REPOSITORY/issues/$PR/comments" --paginate \
                 --jq ".[] | select(.body | startswith(\"$marker\")) | .id" | head -n1)
          if [ -n "$id" ]; then
            gh api -X PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$id" -F body=@benchkeep.md
          else
            gh pr comment "$PR" --body-file benchkeep.md
          fi
      - name: Open an issue for a moderate or critical regression on %MAIN%
        if: always() && github.ref == 'refs/heads/%MAIN%' && steps.bench.outputs.alert == 'true'
        env:
          GH_TOKEN: ${{ github.token }}
        run: gh issue create --title "$(head -n1 benchkeep-alert.md)" --body "$(tail -n +3 benchkeep-alert.md)"

  # Every week (and by hand): step changes and slow drifts in %MAIN%'s history, too small for
  # any one check to call, and the dashboard of every benchmark's history.
  trend:
    needs: check
    if: always() && (github.event_name == 'schedule' || github.event_name == 'workflow_dispatch')
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
%RESTORE%      - uses: %ACTION%@%ACTION_REF%
        with:
          install-only: "true"
      - name: Trend of %MAIN%
        run: benchkeep trend --branch %MAIN% --fail-on-change
%ENV%      - name: Dashboard
        if: always()
        run: benchkeep report --out benchkeep-site
%ENV%      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: benchkeep-dashboard
          path: benchkeep-site
          if-no-files-found: ignore
"#;

/// What a CI job is written for.
#[derive(Debug, Clone)]
pub(super) struct Job<'a> {
    pub(super) store: StoreKind,
    /// The branch whose passing checks join the baseline.
    pub(super) main: &'a str,
    /// `[ab] build`: the build step before a check on the main branch.
    pub(super) build: Option<&'a str>,
    /// `BENCHKEEP_CONFIG` for the jobs, when the configuration is not `benchkeep.toml` at the
    /// repository root. Plain (`super::is_plain`, checked by `init`): written as it is.
    pub(super) config: Option<&'a str>,
    /// The fs store's directory, relative to the repository root (`.benchkeep` by default).
    /// Plain, like `config`.
    pub(super) store_dir: Option<String>,
}

impl<'a> Job<'a> {
    fn simple(store: StoreKind, main: &'a str, build: Option<&'a str>) -> Self {
        Job {
            store,
            main,
            build,
            config: None,
            store_dir: (store == StoreKind::Fs).then(|| ".benchkeep".to_owned()),
        }
    }

    /// An explicit `file://` directory must exist before a check (a cache miss leaves none);
    /// the default one is created on first use.
    fn mkdir(&self, indent: usize, prefix: &str) -> String {
        match self.store_dir.as_deref() {
            Some(dir) if dir != ".benchkeep" => format!(
                "{:indent$}{prefix}mkdir -p {dir}   # the store named by file:// must exist\n",
                ""
            ),
            _ => String::new(),
        }
    }
}

/// The GitHub Actions workflow `init --ci github` writes for a configuration at the repository
/// root: `build` (the configuration's `[ab] build`) becomes the step that builds the project
/// before a check on the main branch.
#[must_use]
pub fn github_workflow(store: StoreKind, main: &str, build: Option<&str>) -> String {
    github(&Job::simple(store, main, build))
}

/// The GitLab CI jobs `init --ci gitlab` writes for a configuration at the repository root:
/// `build` (the configuration's `[ab] build`) runs before a check on the main branch.
#[must_use]
pub fn gitlab_job(store: StoreKind, main: &str, build: Option<&str>) -> String {
    gitlab(&Job::simple(store, main, build))
}

pub(super) fn github(job: &Job<'_>) -> String {
    let (store, main, build) = (job.store, job.main, job.build);
    let permissions = match store {
        StoreKind::Git => "  contents: write         # the git store pushes to its data branch\n",
        StoreKind::Fs | StoreKind::S3 => "  contents: read\n",
    };
    let (cache, restore) = match store {
        StoreKind::Fs => (
            r"      # The fs store lives in %STORE_DIR%/: carry the runs and baseline of the main branch
      # between jobs in the Actions cache (pull requests do not use the store). The cache
      # drops entries unused for 7 days: a main branch quiet for longer starts a new baseline
      # (a warning says so); the git or s3 store keeps history for good.
      - uses: actions/cache@v4
        if: github.event_name != 'pull_request'
        with:
          path: %STORE_DIR%
          key: benchkeep-${{ runner.os }}-${{ github.run_id }}
          restore-keys: benchkeep-${{ runner.os }}-
%MKDIR%",
            r"      - uses: actions/cache/restore@v4
        with:
          path: %STORE_DIR%
          key: benchkeep-${{ runner.os }}-${{ github.run_id }}
          restore-keys: benchkeep-${{ runner.os }}-
%MKDIR%",
        ),
        StoreKind::Git | StoreKind::S3 => ("", ""),
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
    let build = match build {
        // check --pr builds both sides itself (`[ab] build`); a check on the main branch
        // measures this checkout as it is, so it is built first.
        Some(command) => format!(
            "      # check --pr runs `[ab] build` in both trees itself; a check on the main branch\n      \
             # measures this checkout, so it is built first.\n      \
             - name: Build\n        \
             if: github.event_name != 'pull_request'\n        \
             run: |\n{}",
            indented(command, 10)
        ),
        None => "      # No `[ab] build` in benchkeep.toml: add one (and run `benchkeep init --ci github\n      \
                 # --force` again) if the benchmarks need the project built first.\n"
            .to_owned(),
    };
    let config_env = job.config.map_or_else(String::new, |config| {
        format!(
            "\nenv:\n  # The configuration is not benchkeep.toml at the repository root.\n  BENCHKEEP_CONFIG: {config}\n"
        )
    });
    let mkdir = job.mkdir(6, "- run: ");
    fill(
        GITHUB,
        &[
            ("CONFIG_ENV", &config_env),
            ("PERMISSIONS", permissions),
            ("CACHE", cache),
            ("RESTORE", restore),
            // After CACHE and RESTORE, which hold them.
            ("MKDIR", &mkdir),
            (
                "STORE_DIR",
                job.store_dir.as_deref().unwrap_or(".benchkeep"),
            ),
            ("ENV", env),
            ("ON_MAIN", &main_arguments(main)),
            ("ACTION_REF", ACTION_REF),
            ("ACTION", ACTION),
            ("MAIN", main),
            // Last: the user's command is not a template.
            ("BUILD", &build),
        ],
    )
}

const GITLAB: &str = r#"# benchkeep: gate merge requests on performance; keep %MAIN%'s baseline up to date; look for slow
# drifts in it on a schedule. Written by `benchkeep init --ci gitlab`. Add to .gitlab-ci.yml:
#   include: .gitlab/benchkeep.gitlab-ci.yml
# and a pipeline schedule (Build > Pipeline schedules) for the trend. See docs/ci.md.

# Installs benchkeep: the release binary for this machine when its published checksum matches,
# or a build from source.
.benchkeep-install:
%VARIABLES%  before_script:
    - |
      asset="benchkeep-$(uname -m)-unknown-linux-gnu.tar.gz"
      url="https://github.com/%ACTION%/releases/download/%ACTION_REF%/$asset"
      if ! (cd "$(mktemp -d)" && curl -fsSLO "$url" && curl -fsSLO "$url.sha256" \
            && sha256sum -c "$asset.sha256" && tar -xzf "$asset" benchkeep && ./benchkeep --version \
            && mv benchkeep /usr/local/bin/); then
        cargo install --locked --git "https://github.com/%ACTION%" --tag %ACTION_REF% benchkeep
      fi

benchkeep:
  extends: .benchkeep-install
  image: rust:latest
  stage: test
  variables:
    GIT_DEPTH: "0"              # check --pr needs the history to find the merge-base
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
      interruptible: true       # a new push makes a merge request's check moot (GitLab 16.10+)
    - if: $CI_COMMIT_BRANCH == "%MAIN%" && $CI_PIPELINE_SOURCE != "schedule"
  # One check per branch at a time: on %MAIN%, each promotion (and the fs store's cache) sees
  # the one before it.
  resource_group: benchkeep-$CI_COMMIT_REF_SLUG
  cache:
    # check --pr builds the merge request's base in target/benchkeep-base/: keep it between
    # pipelines, so that building the base is incremental.
    - key: benchkeep-base
      paths: [target/benchkeep-base/]
%STORE_CACHE%  script:
%PUSH%%MKDIR%%BUILD%    # Merge requests: the merge-base and the merge request, measured in paired rounds in this
    # job; nothing is recorded. %MAIN%: compared with %MAIN%'s stored baseline, which a passing run
    # joins (the history `trend` reads).
    - MODE=$([ -n "$CI_MERGE_REQUEST_IID" ] && echo --pr || echo %ON_MAIN%)
    - benchkeep check $MODE --report junit=benchkeep.xml --report markdown=benchkeep.md --report alert=benchkeep-alert.md
  artifacts:
    when: always
    paths: [benchkeep.md, benchkeep-alert.md]
    reports:
      junit: benchkeep.xml

# On a pipeline schedule (and when run by hand): step changes and slow drifts in %MAIN%'s
# history, too small for any one check to call, and the dashboard.
benchkeep-trend:
  extends: .benchkeep-install
  image: rust:latest
  stage: test
  rules:
    - if: $CI_PIPELINE_SOURCE == "schedule" || $CI_PIPELINE_SOURCE == "web"
%TREND_CACHE%  script:
%MKDIR%    - benchkeep trend --branch %MAIN% --fail-on-change
  after_script:
    - benchkeep report --out benchkeep-site
  artifacts:
    when: always
    paths: [benchkeep-site/]
"#;

pub(super) fn gitlab(job: &Job<'_>) -> String {
    let (store, main, build) = (job.store, job.main, job.build);
    let dir = job.store_dir.as_deref().unwrap_or(".benchkeep");
    let (store_cache, trend_cache) = match store {
        StoreKind::Fs => (
            format!(
                "    # The fs store lives in {dir}/: carry the main branch's runs and baseline too.\n    - key: benchkeep\n      paths: [{dir}/]\n"
            ),
            format!("  cache:\n    - key: benchkeep\n      paths: [{dir}/]\n      policy: pull\n"),
        ),
        StoreKind::Git | StoreKind::S3 => (String::new(), String::new()),
    };
    let variables = job.config.map_or_else(String::new, |config| {
        format!(
            "  variables:\n    # The configuration is not benchkeep.toml at the repository root.\n    BENCHKEEP_CONFIG: {config}\n"
        )
    });
    let push = match store {
        StoreKind::Git => {
            "    # The git store pushes its data branch: give the job a token that may push\n    # (a project access token with write_repository, as BENCHKEEP_PUSH_TOKEN).\n    - git remote set-url origin \"https://oauth2:${BENCHKEEP_PUSH_TOKEN}@${CI_SERVER_HOST}/${CI_PROJECT_PATH}.git\"\n"
        }
        StoreKind::Fs | StoreKind::S3 => "",
    };
    let build = match build {
        Some(command) => format!(
            "    # check --pr runs `[ab] build` in both trees itself; a check on {main} measures this\n    \
             # checkout, so it is built first.\n    \
             - |\n      \
             if [ -z \"$CI_MERGE_REQUEST_IID\" ]; then\n{}      fi\n",
            indented(command, 8),
        ),
        None => "    # No `[ab] build` in benchkeep.toml: add one (and run `benchkeep init --ci gitlab\n    \
                 # --force` again) if the benchmarks need the project built first.\n"
            .to_owned(),
    };
    fill(
        GITLAB,
        &[
            ("VARIABLES", &variables),
            ("MKDIR", &job.mkdir(4, "- ")),
            ("STORE_CACHE", &store_cache),
            ("TREND_CACHE", &trend_cache),
            ("PUSH", push),
            ("ON_MAIN", &main_arguments(main)),
            ("ACTION_REF", ACTION_REF),
            ("ACTION", ACTION),
            ("MAIN", main),
            // Last: the user's command is not a template.
            ("BUILD", &build),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_marker_is_filled() {
        for store in [StoreKind::Fs, StoreKind::Git, StoreKind::S3] {
            for build in [None, Some("cargo build --release\nmake data")] {
                for text in [
                    github_workflow(store, "trunk", build),
                    gitlab_job(store, "trunk", build),
                ] {
                    let unfilled: Vec<&str> = text
                        .split('%')
                        .skip(1)
                        .step_by(2)
                        .filter(|name| {
                            !name.is_empty()
                                && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                        })
                        .collect();
                    assert!(unfilled.is_empty(), "{unfilled:?} in\n{text}");
                    for stale in ["[\"main\"]", "heads/main", "on main", "--branch main"] {
                        assert!(
                            !text.contains(stale),
                            "the main branch is trunk here:\n{text}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_build_command_becomes_a_step_on_the_main_branch_only() {
        let text = github_workflow(
            StoreKind::Git,
            "main",
            Some("cargo build --release\nmake data"),
        );
        assert!(
            text.contains(
                "      - name: Build\n        if: github.event_name != 'pull_request'\n        run: |\n          cargo build --release\n          make data\n"
            ),
            "{text}"
        );
        let text = gitlab_job(StoreKind::Git, "main", Some("make"));
        assert!(
            text.contains("if [ -z \"$CI_MERGE_REQUEST_IID\" ]; then\n        make\n      fi\n"),
            "{text}"
        );
    }
}
