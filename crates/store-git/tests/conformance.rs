//! The shared store conformance suite against the git store: offline, and with a real bare
//! repository as the remote (every write pushed through the git CLI).

use std::path::Path;
use std::process::Command;

use async_trait::async_trait;
use benchkeep_core::conformance::{self, Tamper};
use benchkeep_core::key::BaselineKey;
use benchkeep_core::model::Run;
use benchkeep_store_git::{GitOptions, GitStore};

/// Runs git hermetically: no global or system configuration, fixed identity.
fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// Replaces one file on the data branch with a new commit, as a bad hand edit would.
struct GitTamper {
    repo: std::path::PathBuf,
    branch: String,
    push_to: Option<String>,
}

impl GitTamper {
    fn replace(&self, file: &str, bytes: &[u8]) {
        let repo = git2::Repository::open(&self.repo).unwrap();
        let reference = format!("refs/heads/{}", self.branch);
        let tip = repo
            .find_reference(&reference)
            .unwrap()
            .peel_to_commit()
            .unwrap();
        let blob = repo.blob(bytes).unwrap();
        let mut index = git2::Index::new().unwrap();
        index.read_tree(&tip.tree().unwrap()).unwrap();
        index
            .add(&git2::IndexEntry {
                ctime: git2::IndexTime::new(0, 0),
                mtime: git2::IndexTime::new(0, 0),
                dev: 0,
                ino: 0,
                mode: 0o100_644,
                uid: 0,
                gid: 0,
                file_size: u32::try_from(bytes.len()).unwrap(),
                id: blob,
                flags: 0,
                flags_extended: 0,
                path: file.as_bytes().to_vec(),
            })
            .unwrap();
        let tree = repo.find_tree(index.write_tree_to(&repo).unwrap()).unwrap();
        let sig = git2::Signature::now("tamper", "t@example.invalid").unwrap();
        let commit = repo
            .commit(None, &sig, &sig, "tamper", &tree, &[&tip])
            .unwrap();
        repo.reference(&reference, commit, true, "tamper").unwrap();
        if let Some(remote) = &self.push_to {
            git(
                &self.repo,
                &["push", "-q", "-f", remote, &format!("{commit}:{reference}")],
            );
        }
    }
}

#[async_trait]
impl Tamper for GitTamper {
    async fn replace_run_bytes(&self, run: &Run, bytes: &[u8]) {
        self.replace(&GitStore::run_path(&run.key, &run.id), bytes);
    }
    async fn replace_baseline_bytes(&self, key: &BaselineKey, bytes: &[u8]) {
        self.replace(&GitStore::baseline_path(key), bytes);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn git_store_passes_the_conformance_suite_offline() {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    let store = GitStore::open(GitOptions::offline(dir.path())).unwrap();
    let tamper = GitTamper {
        repo: dir.path().to_owned(),
        branch: "benchkeep-data".into(),
        push_to: None,
    };
    conformance::run_all(&store, &tamper).await;
    // The user's HEAD and work tree were never touched.
    let repo = git2::Repository::open(dir.path()).unwrap();
    assert!(
        repo.head().is_err(),
        "HEAD of an unborn main must stay unborn"
    );
    assert!(
        std::fs::read_dir(dir.path())
            .unwrap()
            .all(|e| e.unwrap().file_name() == ".git")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn git_store_passes_the_conformance_suite_through_a_remote() {
    let dir = tempfile::tempdir().unwrap();
    let remote = dir.path().join("remote.git");
    let clone = dir.path().join("clone");
    std::fs::create_dir_all(&remote).unwrap();
    git(&remote, &["init", "-q", "--bare", "-b", "main"]);
    git(
        dir.path(),
        &["clone", "-q", remote.to_str().unwrap(), "clone"],
    );
    let store = GitStore::open(GitOptions::from_url("", &clone).unwrap()).unwrap();
    assert!(benchkeep_core::Store::location(&store).contains("remote origin"));
    let tamper = GitTamper {
        repo: clone.clone(),
        branch: "benchkeep-data".into(),
        push_to: Some("origin".into()),
    };
    conformance::run_all(&store, &tamper).await;
    // Everything reached the remote.
    let remote_repo = git2::Repository::open_bare(&remote).unwrap();
    assert!(
        remote_repo
            .find_reference("refs/heads/benchkeep-data")
            .is_ok()
    );
}
