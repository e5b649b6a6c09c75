//! End-to-end tests of `benchkeep report`: the site it writes from a store of a few hundred runs,
//! opened in a real headless Chromium (Debian's package, driven by playwright-core), plus the bad
//! inputs: an empty store, a corrupt run, a run missing a metric, a name that is a script.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use benchkeep_core::baseline::Baseline;
use benchkeep_core::key::BaselineKey;
use benchkeep_core::model::{Benchmark, Direction, Fingerprint, GitInfo, Metric, Run, RunId, Unit};
use benchkeep_core::store::{PutMode, Store};
use common::{Sandbox, code, stderr, stdout};
use jiff::Timestamp;

const HOSTILE: &str = "<script>alert(1)</script>";

fn bench(name: &str, center: f64, seed: u64) -> Benchmark {
    // Deterministic jitter of a few percent.
    let samples = (0..8u64)
        .map(|i| {
            let x = (seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(i * 1_442_695_040_888_963_407)
                >> 40) as f64;
            center * (1.0 + (x / f64::from(1u32 << 24) - 0.5) * 0.04)
        })
        .collect();
    Benchmark {
        name: name.into(),
        command: None,
        metrics: vec![Metric {
            name: "wall_time".into(),
            unit: Unit::nanoseconds(),
            direction: Direction::LowerIsBetter,
            samples,
            summary: None,
        }],
        params: std::collections::BTreeMap::default(),
    }
}

/// A store in `sandbox`'s default location with `runs` runs per key: `parse` steps up 30% at
/// run 100 of the first key; a benchmark named like a script; a baseline from the first 10 runs.
fn populate(sandbox: &Sandbox, runs: u64) -> Vec<BaselineKey> {
    let store = benchkeep_store_fs::FsStore::open_or_create(sandbox.store()).unwrap();
    let keys = vec![
        BaselineKey::new("main", "linux-x86_64").unwrap(),
        BaselineKey::new("main", "macos-aarch64").unwrap(),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (k, key) in (0u64..).zip(&keys) {
        let mut recorded = Vec::new();
        for i in 0..runs {
            let at = Timestamp::from_second(1_790_000_000 + i64::try_from(i * 3600 + k).unwrap())
                .unwrap();
            let mut run = Run::new(
                RunId::new(at, k * 10_000 + i),
                at,
                key.clone(),
                Fingerprint {
                    os: "linux".into(),
                    arch: "x86_64".into(),
                    ..Fingerprint::default()
                },
            );
            run.git = Some(GitInfo {
                commit: Some(format!("{:08x}{:032x}", 0x00ab_c000 + i, 0)),
                ..GitInfo::default()
            });
            let step = if k == 0 && i >= 100 { 1.3 } else { 1.0 };
            let seed = k * 100_000 + i;
            run.benchmarks = vec![
                bench("parse", 20e6 * step, seed),
                bench("render", 5e6, seed + 7),
                bench(HOSTILE, 1e6, seed + 13),
            ];
            runtime.block_on(store.append_run(&run)).unwrap();
            recorded.push(run);
        }
        let baseline = Baseline::from_runs(key.clone(), &recorded[..10], Timestamp::now()).unwrap();
        runtime
            .block_on(store.put_baseline(&baseline, PutMode::Create))
            .unwrap();
    }
    keys
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn an_empty_store_gives_a_page_that_says_so() {
    let sandbox = Sandbox::new();
    benchkeep_store_fs::FsStore::open_or_create(sandbox.store()).unwrap();
    let out = sandbox.run(&["report", "--out", "site"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let index = read(&sandbox.path().join("site/index.html"));
    assert!(
        index.contains("id=\"empty\"") && index.contains("no runs yet"),
        "{index}"
    );
}

#[test]
fn broken_items_are_named_on_the_page_and_in_stderr_and_exit_4() {
    let sandbox = Sandbox::new();
    let keys = populate(&sandbox, 12);
    let dir = sandbox.store().join("runs").join(keys[0].storage_name());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    // A truncated run, and a run whose `parse` lost its samples.
    let bytes = std::fs::read(&files[3]).unwrap();
    std::fs::write(&files[3], &bytes[..bytes.len() / 2]).unwrap();
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&files[5]).unwrap()).unwrap();
    doc["benchmarks"][0]["metrics"][0]["samples"] = serde_json::json!([]);
    std::fs::write(&files[5], serde_json::to_vec(&doc).unwrap()).unwrap();
    let corrupt_id = files[3].file_stem().unwrap().to_str().unwrap().to_owned();
    let empty_id = files[5].file_stem().unwrap().to_str().unwrap().to_owned();

    let out = sandbox.run(&["report", "--out", "site"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("skipped: run {corrupt_id} ("))
            && err.contains("is corrupt: truncated"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "skipped: run {empty_id}: benchmark \"parse\" has no usable wall_time samples"
        )),
        "{err}"
    );
    let index = read(&sandbox.path().join("site/index.html"));
    assert!(
        index.contains("id=\"skipped\"") && index.contains(&corrupt_id),
        "the page names it"
    );
    let key_index = read(
        &sandbox
            .path()
            .join(format!("site/k/{}/index.html", keys[0].storage_name())),
    );
    assert!(key_index.contains(&empty_id));
    // Everything else is still there: 11 readable runs of the damaged key.
    assert!(key_index.contains("3 benchmarks, 11 runs"), "{key_index}");
    assert!(stdout(&out).contains("2 item(s) skipped"));
}

/// A baseline's source runs that the listing does not show are not taken for deleted: on a
/// server whose listing misses runs, a report of "fewer runs", exit 0, hid it. Each baseline
/// with sources missing from the listing is named, and report exits 4.
#[test]
fn baseline_sources_missing_from_the_listing_are_named_and_exit_4() {
    let sandbox = Sandbox::new();
    let keys = populate(&sandbox, 12);
    let dir = sandbox.store().join("runs").join(keys[1].storage_name());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    // The oldest runs are the baseline's sources (populate: the first 10).
    std::fs::remove_file(&files[0]).unwrap();
    std::fs::remove_file(&files[1]).unwrap();
    let first_missing = files[0].file_stem().unwrap().to_str().unwrap().to_owned();
    let out = sandbox.run(&["report", "--out", "site"]);
    assert_eq!(code(&out), 4, "{}{}", stdout(&out), stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "skipped: baseline of {}: 2 of its 10 source run(s) are not in the store's listing of runs ({first_missing}, ...)",
            keys[1]
        )),
        "{err}"
    );
    assert_eq!(err.matches("skipped:").count(), 1, "{err}");
    // With --since after the sources, they are not expected in the listing.
    let out = sandbox.run(&["report", "--out", "site", "--since", "2030-01-01"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

/// With --key only that key's runs are listed; a baseline made from another key's runs
/// (`baseline set --from`) is not missing anything.
#[test]
fn a_baseline_of_another_key_s_runs_is_not_missing_with_key() {
    let sandbox = Sandbox::new();
    let keys = populate(&sandbox, 12);
    let other = sandbox.store().join("runs").join(keys[0].storage_name());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&other)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let id = files[11].file_stem().unwrap().to_str().unwrap().to_owned();
    let (branch, platform) = (keys[1].branch.as_str(), keys[1].platform.as_str());
    let set = sandbox.run(&[
        "baseline",
        "set",
        "--from",
        &id,
        "--branch",
        branch,
        "--platform",
        platform,
        "--force",
    ]);
    assert_eq!(code(&set), 0, "{}", stderr(&set));
    let key = keys[1].to_string();
    let out = sandbox.run(&["report", "--out", "site", "--key", &key]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
}

#[test]
fn names_with_markup_are_escaped_everywhere() {
    let sandbox = Sandbox::new();
    let keys = populate(&sandbox, 12);
    let out = sandbox.run(&["report", "--out", "site", "--key", &keys[0].to_string()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let site = sandbox.path().join("site");
    let mut pages = vec![site.join("index.html")];
    let key_dir = site.join("k").join(keys[0].storage_name());
    pages.push(key_dir.join("index.html"));
    for entry in std::fs::read_dir(key_dir.join("b")).unwrap() {
        pages.push(entry.unwrap().path());
    }
    assert_eq!(pages.len(), 5, "--key: one key, three benchmark pages");
    for page in pages {
        let html = read(&page);
        assert!(!html.contains(HOSTILE), "{}", page.display());
        assert_eq!(
            html.matches("<script>").count(),
            usize::from(page.ends_with("index.html") && page.parent() == Some(&key_dir)),
            "{}",
            page.display()
        );
    }
    assert!(!site.join("k").join(keys[1].storage_name()).exists());
}

/// Runs tests/browser/check-site.cjs on the site and returns what it saw.
fn open_in_browser(
    node_path: &Path,
    site: &Path,
    key: &BaselineKey,
    bench_page: &Path,
    shots: &Path,
) -> serde_json::Value {
    std::fs::create_dir_all(shots).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/check-site.cjs");
    let output = Command::new("node")
        .arg(&script)
        .arg(site)
        .arg(key.storage_name())
        .arg(bench_page.file_name().unwrap())
        .arg(shots)
        .env("NODE_PATH", node_path)
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "browser script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Where playwright-core is, or why the browser test cannot run.
fn browser() -> Option<PathBuf> {
    let node_path = std::env::var_os("BENCHKEEP_BROWSER_NODE_PATH").map(PathBuf::from);
    let ready = node_path
        .as_ref()
        .is_some_and(|p| p.join("playwright-core").is_dir())
        && Path::new("/usr/bin/chromium").exists();
    if ready {
        return node_path;
    }
    assert!(
        std::env::var_os("BENCHKEEP_REQUIRE_BROWSER").is_none(),
        "the browser test is required (BENCHKEEP_REQUIRE_BROWSER) but chromium or playwright-core is missing: scripts/test.sh installs them"
    );
    eprintln!(
        "chromium or playwright-core not installed: skipping (scripts/test.sh installs them and fails without them)"
    );
    None
}

#[test]
fn the_site_works_in_a_real_browser_from_file_urls() {
    let Some(node_path) = browser() else {
        return;
    };
    let sandbox = Sandbox::new();
    let keys = populate(&sandbox, 150);
    let out = sandbox.run(&["report", "--out", "site"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("2 key(s), 6 benchmark(s), 300 run(s)"),
        "{}",
        stdout(&out)
    );
    let site = sandbox.path().join("site");
    let key_dir = site.join("k").join(keys[0].storage_name());
    // The page of `parse` (its number is its place in the newest run).
    let parse_page = std::fs::read_dir(key_dir.join("b"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| read(p).contains("<h1>parse</h1>"))
        .unwrap();
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    let result = open_in_browser(&node_path, &site, &keys[0], &parse_page, &shots);
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    // The key with the newest run first.
    assert_eq!(
        strings(&result["keys"]),
        ["main@macos-aarch64", "main@linux-x86_64"]
    );
    let rows = strings(&result["rows"]);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0], "parse", "the regression is listed first: {rows:?}");
    assert!(
        rows.contains(&HOSTILE.to_owned()),
        "the hostile name shows as text: {rows:?}"
    );
    assert_eq!(result["sparklines"], 3);
    assert_eq!(strings(&result["filtered"]), ["parse"]);
    let mut sorted = rows.clone();
    sorted.sort();
    assert_eq!(strings(&result["sortedByName"]), sorted);
    assert_eq!(result["chartTitle"], "parse");
    assert_eq!(result["points"], 150, "one point per run");
    assert_eq!(
        result["badPoints"], 50,
        "the 50 runs after the step are marked"
    );
    assert_eq!(result["changeLines"], 1, "the step is detected");
    assert_eq!(result["baselineLines"], 1);
    assert!(
        result["firstPointTitle"]
            .as_str()
            .unwrap()
            .contains("00abc000"),
        "{}",
        result["firstPointTitle"]
    );
    assert_eq!(result["chartSize"], serde_json::json!([960, 340]));
    assert!(
        strings(&result["external"]).is_empty(),
        "requests left file://: {}",
        result["external"]
    );
    assert!(
        strings(&result["consoleErrors"]).is_empty(),
        "{}",
        result["consoleErrors"]
    );
    assert!(
        strings(&result["pageErrors"]).is_empty(),
        "{}",
        result["pageErrors"]
    );
    assert!(
        strings(&result["dialogs"]).is_empty(),
        "a name ran as script: {}",
        result["dialogs"]
    );
    for shot in ["keys.png", "index.png", "benchmark.png"] {
        let bytes = std::fs::metadata(shots.join(shot)).unwrap().len();
        assert!(bytes > 5_000, "{shot}: {bytes} bytes");
    }
    eprintln!("screenshots in {}", shots.display());
}

#[test]
#[cfg(feature = "git")]
fn a_git_store_renders_too() {
    let sandbox = Sandbox::new();
    common::git(sandbox.path(), &["init", "-q", "-b", "main"]);
    for center in [1000.0, 1010.0, 990.0] {
        let file = sandbox.path().join("r.json");
        let samples: Vec<String> = (0..10)
            .map(|i| format!("{}", center + f64::from(i)))
            .collect();
        std::fs::write(
            &file,
            format!(
                r#"{{"benchmarks":[{{"name":"parse","unit":"ns","samples":[{}]}}]}}"#,
                samples.join(",")
            ),
        )
        .unwrap();
        let out = sandbox.run(&[
            "--store",
            "git:?remote=none",
            "import",
            "-f",
            "custom",
            "r.json",
            "--branch",
            "main",
        ]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let out = sandbox.run(&["--store", "git:?remote=none", "report", "--out", "site"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("1 key(s), 1 benchmark(s), 3 run(s)"),
        "{}",
        stdout(&out)
    );
    let page = read(&sandbox.path().join("site/index.html"));
    assert!(page.contains("from git:"), "the source is named: {page}");
}

#[test]
fn serve_previews_the_site_on_loopback_only_inside_it() {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let sandbox = Sandbox::new();
    populate(&sandbox, 12);
    let mut child = sandbox
        .command(&["report", "--out", "site", "--serve", "0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let address = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            line.split_once("on http://")
                .map(|(_, rest)| rest.split('/').next().unwrap().to_owned())
        })
        .expect("the server says where it listens");
    assert!(address.starts_with("127.0.0.1:"), "{address}");
    let get = |path: &str| {
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    };
    let index = get("/");
    assert!(index.starts_with("HTTP/1.1 200 OK"), "{index}");
    assert!(index.contains("Benchmarks by key"));
    assert!(get("/../../etc/passwd").starts_with("HTTP/1.1 404"));
    assert!(get("/k/%2e%2e/%2e%2e/%2e%2e/etc/passwd").starts_with("HTTP/1.1 404"));
    child.kill().unwrap();
    child.wait().unwrap();
}
