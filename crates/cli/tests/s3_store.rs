//! End-to-end tests of `--store s3://` against a real S3-compatible server on loopback (moto,
//! started by scripts/test.sh, which exports `BENCHKEEP_S3_TEST_ENDPOINT`). With
//! `BENCHKEEP_REQUIRE_S3=1` a missing server fails these tests instead of skipping them.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_benchkeep");
const SECRET: &str = "benchkeep-test-secret";

/// The endpoint in `variable` (scripts/s3-server.sh exports it), or `None` (skip) when the
/// server is not running; with `BENCHKEEP_REQUIRE_S3=1` a missing server fails the test.
fn server_endpoint(variable: &str, server: &str) -> Option<String> {
    if let Ok(endpoint) = std::env::var(variable) {
        return Some(endpoint);
    }
    assert!(
        std::env::var("BENCHKEEP_REQUIRE_S3").as_deref() != Ok("1"),
        "BENCHKEEP_REQUIRE_S3=1 but {variable} is not set"
    );
    eprintln!("skipped: no {server} (run through scripts/test.sh)");
    None
}

/// moto's endpoint.
fn endpoint() -> Option<String> {
    server_endpoint("BENCHKEEP_S3_TEST_ENDPOINT", "S3 test server")
}

fn store_url(endpoint: &str, bucket: &str, prefix: &str) -> String {
    format!("s3://{bucket}/{prefix}?endpoint={endpoint}&allow_http=true")
}

fn benchkeep(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command.args(args);
    with_env(&mut command, dir);
    command
}

/// The environment every process of these tests gets: test credentials, no CI or git leakage.
fn with_env(command: &mut Command, dir: &Path) {
    command
        .current_dir(dir)
        .env("AWS_ACCESS_KEY_ID", "benchkeep-test")
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_REGION", "us-east-1")
        .env("GIT_CEILING_DIRECTORIES", dir.parent().unwrap())
        .env_remove("BENCHKEEP_STORE")
        .env_remove("BENCHKEEP_BRANCH")
        .env_remove("CI");
}

fn run(dir: &Path, args: &[&str]) -> Output {
    benchkeep(dir, args).output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn unique_prefix(name: &str) -> String {
    format!(
        "{name}-{}-{}",
        std::process::id(),
        jiff::Timestamp::now().as_millisecond()
    )
}

#[test]
fn check_bootstraps_records_and_gates_on_s3() {
    let Some(endpoint) = endpoint() else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = store_url(&endpoint, "benchkeep-test", &unique_prefix("gate"));
    // Recorded runs, not timings of this machine: the other tests of this file load it, and a
    // busy machine wakes `sleep 0.02` late by tens of percent and more; this test is about the
    // store (seeded and imported inputs own the verdicts' tests).
    let write = |name: &str, index: u64, nanoseconds: f64| {
        let path = dir.path().join(name);
        let run = common::main_run(index, &[("nap", nanoseconds)]);
        std::fs::write(&path, benchkeep_core::store::encode_run(&run)).unwrap();
        path.display().to_string()
    };
    let (base, slower, same) = (
        write("base.json", 1, 2.0e7),
        write("slower.json", 2, 3.0e7),
        write("same.json", 3, 2.0e7),
    );
    let first = run(dir.path(), &["--store", &url, "check", "--run", &base]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let slower = run(dir.path(), &["--store", &url, "check", "--run", &slower]);
    assert_eq!(slower.status.code(), Some(1), "{}", text(&slower));
    assert!(text(&slower).contains("regressed"));
    let same = run(dir.path(), &["--store", &url, "check", "--run", &same]);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same));
    let list = run(dir.path(), &["--store", &url, "baseline", "list"]);
    assert!(text(&list).contains("main@test"), "{}", text(&list));
    for out in [&first, &slower, &same, &list] {
        assert!(!text(out).contains(SECRET), "a secret was printed");
    }
}

#[test]
fn eight_concurrent_processes_lose_no_run() {
    let Some(endpoint) = endpoint() else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = store_url(&endpoint, "benchkeep-test", &unique_prefix("eight"));
    let jobs: Vec<_> = (0..8)
        .map(|i| {
            let script = format!(
                "for n in 1 2 3 4 5 6 7 8 9 10; do '{BIN}' --store '{url}' run --quiet --runs 1 --warmup 0 --name job{i} -- true >/dev/null || exit 1; done"
            );
            let mut command = Command::new("sh");
            command.args(["-c", &script]);
            with_env(&mut command, dir.path());
            command.stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for job in jobs {
        let out = job.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    // Count through benchkeep itself: a dry-run prune keeping everything lists every run.
    let count = run(
        dir.path(),
        &["--store", &url, "prune", "--keep-last", "1000", "--dry-run"],
    );
    assert!(
        text(&count).contains("would delete 0 of 80 run(s)"),
        "{}",
        text(&count)
    );
}

#[test]
fn a_missing_bucket_is_one_clear_line_and_exit_2() {
    let Some(endpoint) = endpoint() else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = store_url(&endpoint, "no-such-bucket-benchkeep", "x");
    let out = run(
        dir.path(),
        &["--store", &url, "check", "--runs", "2", "--", "true"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the bucket does not exist") && stderr.contains("no-such-bucket-benchkeep"),
        "{stderr}"
    );
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error")).count(),
        1,
        "{stderr}"
    );
    assert!(!text(&out).contains(SECRET));
}

/// A server of this test's own (the shared one must keep serving the other tests), stopped in
/// the middle of the work and started again.
#[test]
fn a_stopped_server_is_a_clear_error_and_work_continues_after_a_restart() {
    let Some(_) = endpoint() else { return };
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/s3-venv/bin");
    let server_bin = venv.join("moto_server");
    assert!(
        server_bin.exists(),
        "scripts/test.sh installs moto into target/s3-venv"
    );
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let start = || {
        let child = Command::new(&server_bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the test server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        // moto keeps buckets in memory: (re)create ours.
        let created = Command::new(venv.join("python"))
            .args(["-c", &format!("import urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:{port}/restart-test', method='PUT'))")])
            .status()
            .unwrap();
        assert!(created.success());
        child
    };
    let dir = tempfile::tempdir().unwrap();
    let url = store_url(&format!("http://127.0.0.1:{port}"), "restart-test", "p");
    let mut server = start();
    let before = run(
        dir.path(),
        &["--store", &url, "run", "--runs", "1", "--", "true"],
    );
    assert_eq!(before.status.code(), Some(0), "{}", text(&before));

    server.kill().unwrap();
    server.wait().unwrap();
    let started = Instant::now();
    let down = run(
        dir.path(),
        &["--store", &url, "run", "--runs", "1", "--", "true"],
    );
    let took = started.elapsed();
    assert_eq!(down.status.code(), Some(2), "{}", text(&down));
    let stderr = String::from_utf8_lossy(&down.stderr);
    assert!(
        stderr.contains("cannot record the run") && stderr.contains("restart-test"),
        "{stderr}"
    );
    assert!(
        took < Duration::from_secs(40),
        "retries are bounded: took {took:?}"
    );

    let mut server = start();
    let after = run(
        dir.path(),
        &["--store", &url, "run", "--runs", "1", "--", "true"],
    );
    assert_eq!(after.status.code(), Some(0), "{}", text(&after));
    server.kill().unwrap();
    server.wait().unwrap();
}

/// A server that checks signatures (moto with authentication on, knowing no keys): the wrong
/// credentials are one clear line, exit 2, and the secret never appears.
#[test]
fn wrong_credentials_are_one_clear_line_without_the_secret() {
    let Some(_) = endpoint() else { return };
    let server_bin =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/s3-venv/bin/moto_server");
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut server = Command::new(&server_bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("INITIAL_NO_AUTH_ACTION_COUNT", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the test server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let dir = tempfile::tempdir().unwrap();
    let url = store_url(&format!("http://127.0.0.1:{port}"), "bucket", "p");
    let out = run(
        dir.path(),
        &["--store", &url, "check", "--runs", "2", "--", "true"],
    );
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("403 Forbidden: InvalidAccessKeyId"),
        "{stderr}"
    );
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error")).count(),
        1,
        "{stderr}"
    );
    assert!(
        !stderr.contains("<Error>"),
        "raw XML in the message: {stderr}"
    );
    assert!(!text(&out).contains(SECRET), "the secret was printed");
}

mod common;

fn in_dir(dir: &Path, args: &[&str]) -> Command {
    benchkeep(dir, args)
}

#[test]
fn eighty_promotions_while_prune_runs_all_land_on_s3() {
    let Some(endpoint) = endpoint() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("benchkeep.toml"),
        "[compare]\npromote_keep = 100\n",
    )
    .unwrap();
    let files = tempfile::tempdir().unwrap();
    let url = store_url(&endpoint, "benchkeep-test", &unique_prefix("race"));
    let race = common::promotion_race(&[dir.path().to_owned()], files.path(), &url, 8, 10, &in_dir);
    assert!(race.prunes >= 2, "prune ran {} times", race.prunes);
    assert_eq!(race.promoted, 80);
    assert!(
        race.lost.is_empty(),
        "runs a baseline names were deleted: {:?}",
        race.lost
    );
    assert_eq!(race.sources.len(), 81);
}

#[test]
fn eight_racing_bootstraps_all_join_the_baseline_on_s3() {
    let Some(endpoint) = endpoint() else { return };
    let dir = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let url = store_url(&endpoint, "benchkeep-test", &unique_prefix("boot"));
    let (passed, sources) =
        common::bootstrap_race(&[dir.path().to_owned()], files.path(), &url, 8, &in_dir);
    assert_eq!((passed, sources), (8, 8));
}

/// A password in the endpoint URL never reaches an error, whatever fails (no server needed:
/// nothing listens on the discard port).
#[test]
fn an_endpoint_password_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "s3://bkt/p?endpoint=http://user:hunter2@127.0.0.1:9&allow_http=true",
        "s3://bkt/p?endpoint=http://user:hunter2@127.0.0.1:9",
        "s3://bkt/p?endpoint=http://user:hunter2@127.0.0.1:9&bogus=1",
        "ftp://user:hunter2@example.invalid/x",
    ] {
        let out = run(dir.path(), &["-v", "--store", url, "baseline", "list"]);
        assert_eq!(out.status.code(), Some(2), "{url}: {}", text(&out));
        assert!(
            !text(&out).contains("hunter2"),
            "{url}: the password was printed: {}",
            text(&out)
        );
    }
}

/// s3rver's endpoint (scripts/s3-server.sh starts it beside moto), or `None` (skip) when it is
/// not running and not required.
fn s3rver_endpoint() -> Option<String> {
    server_endpoint("BENCHKEEP_S3RVER_ENDPOINT", "s3rver")
}

/// moto keeps every promise the store relies on; `store check` tries each and says so, and the
/// passing probe lets the next process write without probing again.
#[test]
fn the_probe_passes_on_moto() {
    let Some(endpoint) = endpoint() else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = store_url(&endpoint, "benchkeep-test", &unique_prefix("probe"));
    let out = run(dir.path(), &["--store", &url, "store", "check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for guarantee in [
        "conditional create",
        "conditional update",
        "read after write",
        "listing",
        "delimiter listing",
    ] {
        assert!(
            text(&out).contains(&format!("holds   {guarantee}: ")),
            "{guarantee}: {}",
            text(&out)
        );
    }
    assert!(!text(&out).contains("BROKEN"), "{}", text(&out));
}

/// A server that breaks a guarantee the store relies on, as the test scripts start it.
struct RefusedServer {
    name: &'static str,
    endpoint: String,
    key_id: String,
    secret: String,
    region: &'static str,
    /// What the probe must find broken.
    broken: &'static [&'static str],
}

/// s3rver ignores If-None-Match and If-Match (a second create-only put and a stale conditional
/// put both succeed) and lists no prefixes two levels up: eight promoting checks there kept one
/// run of nine. Garage ignores both conditions on PUT (it checks them on GET and copy only):
/// three of nine. Before its first write the store probes the server and refuses both, exit 2,
/// writing nothing.
#[test]
fn servers_without_conditional_writes_are_refused_before_anything_is_written() {
    let Some(s3rver) = s3rver_endpoint() else {
        return;
    };
    let Some(garage) = server_endpoint("BENCHKEEP_GARAGE_ENDPOINT", "Garage") else {
        return;
    };
    let servers = [
        RefusedServer {
            name: "s3rver",
            endpoint: s3rver,
            // Its own credentials: it knows no others.
            key_id: "S3RVER".into(),
            secret: "S3RVER".into(),
            region: "us-east-1",
            broken: &[
                "BROKEN  conditional create: the server ignores If-None-Match: *",
                "BROKEN  conditional update: the server ignores If-Match",
                "BROKEN  delimiter listing",
            ],
        },
        RefusedServer {
            name: "Garage",
            endpoint: garage,
            key_id: std::env::var("BENCHKEEP_GARAGE_KEY_ID").unwrap(),
            secret: std::env::var("BENCHKEEP_GARAGE_SECRET").unwrap(),
            region: "garage",
            broken: &[
                "BROKEN  conditional create: the server ignores If-None-Match: *",
                "BROKEN  conditional update: the server ignores If-Match",
                "holds   delimiter listing",
            ],
        },
    ];
    for server in &servers {
        refused(server);
    }
}

fn refused(server: &RefusedServer) {
    let name = server.name;
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "{}&region={}",
        store_url(
            &server.endpoint,
            "benchkeep-test",
            &unique_prefix("refused")
        ),
        server.region
    );
    let run = |dir: &Path, args: &[&str]| {
        benchkeep(dir, args)
            .env("AWS_ACCESS_KEY_ID", &server.key_id)
            .env("AWS_SECRET_ACCESS_KEY", &server.secret)
            .env("AWS_REGION", server.region)
            .output()
            .unwrap()
    };
    let out = run(dir.path(), &["--store", &url, "store", "check"]);
    assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out));
    for line in server.broken {
        assert!(text(&out).contains(line), "{name}: {line}: {}", text(&out));
    }
    assert!(
        text(&out).contains("benchkeep will not write there"),
        "{name}: {}",
        text(&out)
    );

    let run_file = dir.path().join("run.json");
    std::fs::write(
        &run_file,
        benchkeep_core::store::encode_run(&common::main_run(1, &[("nap", 2.0e7)])),
    )
    .unwrap();
    let check = run(
        dir.path(),
        &[
            "--store",
            &url,
            "check",
            "--run",
            run_file.to_str().unwrap(),
            "--promote",
        ],
    );
    assert_eq!(check.status.code(), Some(2), "{name}: {}", text(&check));
    let said = text(&check);
    assert!(
        said.contains("the server ignores If-None-Match") && said.contains("Nothing was written"),
        "{name}: {said}"
    );
    assert_eq!(
        said.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{name}: one error line: {said}"
    );
    assert!(
        !said.contains(&server.secret),
        "{name}: the secret was printed"
    );
    let list = run(dir.path(), &["--store", &url, "baseline", "list"]);
    assert!(
        !text(&list).contains("main@test"),
        "{name}: {}",
        text(&list)
    );
}
