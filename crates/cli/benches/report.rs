//! The dashboard's size and speed targets: `benchkeep report` on an fs store of 500 benchmarks
//! x 1,000 runs must write the site in under 10 s, with each key's index under 5 MB.
//!
//! Run with `cargo bench -p benchkeep --bench report`. The store is written once into
//! target/bench-report-store (about 100 MB) and reused; the report is timed three times with
//! benchkeep's own runner (wall time and peak RSS of exactly that process).

use std::path::Path;

use benchkeep_core::key::BaselineKey;
use benchkeep_core::model::{Benchmark, Direction, Fingerprint, GitInfo, Metric, Run, RunId, Unit};
use benchkeep_core::stats::{self, Rng};
use benchkeep_core::store::encode_run;
use benchkeep_runner::command::{
    CommandSpec, Interrupt, MeasureOptions, NoProgress, RunCount, measure,
};

const BIN: &str = env!("CARGO_BIN_EXE_benchkeep");
const BENCHMARKS: usize = 500;
const RUNS: usize = 1000;
const SAMPLES: usize = 10;

fn write_store(root: &Path) {
    let key = BaselineKey::new("main", "linux-x86_64").unwrap();
    let dir = root.join("runs").join(key.storage_name());
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(root.join("baselines")).unwrap();
    std::fs::write(
        root.join("FORMAT"),
        r#"{"store":"benchkeep-fs","schema":{"major":1,"minor":0}}"#,
    )
    .unwrap();
    let mut rng = Rng::seed_from_u64(7);
    let mut first = Vec::new();
    for r in 0..RUNS {
        let at =
            jiff::Timestamp::from_second(1_790_000_000 + i64::try_from(r).unwrap() * 3600).unwrap();
        let mut run = Run::new(
            RunId::new(at, r as u64),
            at,
            key.clone(),
            Fingerprint::default(),
        );
        run.git = Some(GitInfo {
            commit: Some(format!("{r:040x}")),
            ..GitInfo::default()
        });
        for b in 0..BENCHMARKS {
            // A tenth of the benchmarks step up 20% two thirds of the way through.
            let step = if b % 10 == 0 && r > RUNS * 2 / 3 {
                1.2
            } else {
                1.0
            };
            let center = 1e5 * (1.0 + (b % 97) as f64) * step;
            run.benchmarks.push(Benchmark {
                params: std::collections::BTreeMap::default(),
                name: format!("group{}/bench{b}", b % 50),
                command: None,
                metrics: vec![Metric {
                    name: "wall_time".into(),
                    unit: Unit::nanoseconds(),
                    direction: Direction::LowerIsBetter,
                    samples: (0..SAMPLES)
                        .map(|_| (center * (1.0 + 0.03 * (rng.unit_f64() - 0.5))).round())
                        .collect(),
                    summary: None,
                }],
            });
        }
        std::fs::write(dir.join(format!("{}.json", run.id)), encode_run(&run)).unwrap();
        if r < 10 {
            first.push(run);
        }
    }
    let baseline =
        benchkeep_core::baseline::Baseline::from_runs(key.clone(), &first, jiff::Timestamp::now())
            .unwrap();
    std::fs::write(
        root.join("baselines")
            .join(format!("{}.json", key.storage_name())),
        benchkeep_core::store::encode_baseline(&baseline),
    )
    .unwrap();
}

fn main() {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    let store = target.join("bench-report-store");
    let marker = store.join("complete");
    if !marker.exists() {
        let _ = std::fs::remove_dir_all(&store);
        eprintln!(
            "writing {RUNS} runs of {BENCHMARKS} benchmarks into {}",
            store.display()
        );
        write_store(&store);
        std::fs::write(&marker, "").unwrap();
    }
    let out = target.join("bench-report-site");
    let url = format!("file://{}", store.display());
    let mut spec = CommandSpec::new([
        BIN,
        "--store",
        url.as_str(),
        "report",
        "--out",
        out.to_str().unwrap(),
    ]);
    spec.cwd = Some(target.clone());
    let options = MeasureOptions {
        warmup: 0,
        runs: RunCount::Fixed(3),
        ..MeasureOptions::default()
    };
    let measured =
        measure(&spec, &options, &Interrupt::new(), &mut NoProgress).expect("report runs");
    let wall: Vec<f64> = measured
        .samples
        .iter()
        .map(|s| s.wall_ns as f64 / 1e9)
        .collect();
    let rss: Vec<f64> = measured
        .samples
        .iter()
        .map(|s| s.peak_rss_bytes as f64 / 1_048_576.0)
        .collect();
    let index = std::fs::metadata(
        out.join("k")
            .join(
                BaselineKey::new("main", "linux-x86_64")
                    .unwrap()
                    .storage_name(),
            )
            .join("index.html"),
    )
    .unwrap()
    .len();
    let mut total = 0u64;
    let mut pages = 0usize;
    for entry in walk(&out) {
        total += std::fs::metadata(&entry).unwrap().len();
        pages += 1;
    }
    println!(
        "report, {BENCHMARKS} benchmarks x {RUNS} runs: median {:.2} s (target < 10 s), peak RSS {:.0} MiB",
        stats::median(&wall),
        stats::median(&rss)
    );
    println!(
        "key index page: {:.2} MB (target < 5 MB); whole site: {pages} pages, {:.1} MB",
        index as f64 / 1e6,
        total as f64 / 1e6
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
