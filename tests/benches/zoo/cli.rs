//! Driving the `benchkeep` binary as a black box and reading what it prints: the verdict
//! document (docs/FORMAT.md, "Verdict") and run files (`--out`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Environment variables that would point benchkeep at the user's own store or configuration.
const ISOLATE: [&str; 4] = [
    "BENCHKEEP_STORE",
    "BENCHKEEP_CONFIG",
    "BENCHKEEP_BRANCH",
    "BENCHKEEP_PLATFORM",
];

/// The binary, run from a scratch directory outside any repository, so no `benchkeep.toml` and
/// no git branch of the caller's checkout can change what is measured.
#[derive(Debug)]
pub(crate) struct Benchkeep {
    pub(crate) bin: PathBuf,
    cwd: PathBuf,
}

/// One finished invocation.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Output {
    /// A one-line description of a failure, for the trial's note.
    pub(crate) fn failure(&self, what: &str) -> String {
        let last = self.stderr.lines().rfind(|l| !l.trim().is_empty());
        format!(
            "{what}: exit {}: {}",
            self.code.map_or_else(|| "signal".into(), |c| c.to_string()),
            last.unwrap_or("(no message)")
        )
    }
}

impl Benchkeep {
    pub(crate) fn new(bin: PathBuf, cwd: &Path) -> Benchkeep {
        Benchkeep {
            bin,
            cwd: cwd.to_owned(),
        }
    }

    /// The scratch directory benchkeep runs in.
    pub(crate) fn cwd(&self) -> &Path {
        &self.cwd
    }

    pub(crate) fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<Output, String> {
        let mut command = Command::new(&self.bin);
        command.current_dir(&self.cwd).args(args);
        for name in ISOLATE {
            command.env_remove(name);
        }
        let output = command
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.bin.display()))?;
        Ok(Output {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// `benchkeep --version`, for the report's header.
    pub(crate) fn version(&self) -> Result<String, String> {
        let out = self.run(&["--version"])?;
        if out.code != Some(0) {
            return Err(out.failure("benchkeep --version"));
        }
        Ok(out.stdout.trim().to_owned())
    }
}

/// A benchmark's verdict on one metric, as the verdict document states it.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) benchmark: String,
    pub(crate) metric: String,
    pub(crate) gating: bool,
    pub(crate) verdict: String,
    pub(crate) reason: String,
    pub(crate) change: Option<f64>,
    pub(crate) baseline_n: Option<u64>,
    pub(crate) baseline_median: Option<f64>,
    pub(crate) current_n: Option<u64>,
    pub(crate) current_median: Option<f64>,
}

/// A verdict document: whether the gate passed, and its entries.
#[derive(Debug)]
pub(crate) struct Verdict {
    pub(crate) passed: bool,
    pub(crate) entries: Vec<Entry>,
}

impl Verdict {
    /// Parses `--format json` output and checks it against itself: the document's `counts` must
    /// equal the gating entries' verdicts, so a misread field cannot go unnoticed.
    pub(crate) fn parse(json: &str) -> Result<Verdict, String> {
        let doc: Value =
            serde_json::from_str(json).map_err(|e| format!("verdict is not JSON: {e}"))?;
        if doc["kind"] != "verdict" {
            return Err(format!("not a verdict document: kind {}", doc["kind"]));
        }
        let passed = doc["passed"]
            .as_bool()
            .ok_or("verdict without a boolean `passed`")?;
        let entries = doc["entries"]
            .as_array()
            .ok_or("verdict without `entries`")?
            .iter()
            .map(|e| Entry {
                benchmark: e["benchmark"].as_str().unwrap_or_default().to_owned(),
                metric: e["metric"].as_str().unwrap_or_default().to_owned(),
                gating: e["gating"].as_bool().unwrap_or(false),
                verdict: e["verdict"].as_str().unwrap_or_default().to_owned(),
                reason: e["reason"].as_str().unwrap_or_default().to_owned(),
                change: e["change"].as_f64(),
                baseline_n: e["baseline"]["n"].as_u64(),
                baseline_median: e["baseline"]["median"].as_f64(),
                current_n: e["current"]["n"].as_u64(),
                current_median: e["current"]["median"].as_f64(),
            })
            .collect::<Vec<_>>();
        for name in [
            "regressed",
            "improved",
            "unchanged",
            "inconclusive",
            "new",
            "missing",
        ] {
            let stated = doc["counts"][name].as_u64();
            let counted = entries
                .iter()
                .filter(|e| e.gating && e.verdict == name)
                .count() as u64;
            if stated != Some(counted) {
                return Err(format!(
                    "verdict counts {name} = {stated:?}, but {counted} gating entries say so"
                ));
            }
        }
        Ok(Verdict { passed, entries })
    }

    /// The gating entry of the judged metric in a one-benchmark document (every zoo workload
    /// is one benchmark; the metric is `wall_time`, what the gate judges by default, unless
    /// `ZOO_METRIC` names another, e.g. `instructions`).
    pub(crate) fn judged_entry(&self) -> Result<&Entry, String> {
        let metric = judged_metric();
        let mut gating = self
            .entries
            .iter()
            .filter(|e| e.gating && e.metric == metric);
        match (gating.next(), gating.next()) {
            (Some(entry), None) => Ok(entry),
            (None, _) => Err(format!("no gating {metric} entry in the verdict")),
            (Some(_), Some(_)) => Err(format!("several gating {metric} entries in the verdict")),
        }
    }
}

/// The metric the trials judge: `ZOO_METRIC`, else `wall_time`.
pub(crate) fn judged_metric() -> String {
    std::env::var("ZOO_METRIC")
        .ok()
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| "wall_time".to_owned())
}

/// Each benchmark's name and the samples of the judged metric, in run-file order.
pub(crate) type Samples = Vec<(String, Vec<f64>)>;

/// The samples of a run file (`--out`): of `metric` in each benchmark, or of each benchmark's
/// first (primary) metric when `metric` is `None` (imported outputs mix times and throughputs).
pub(crate) fn run_samples(path: &Path, metric: Option<&str>) -> Result<Samples, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read run file {}: {e}", path.display()))?;
    let doc: Value = serde_json::from_str(&text)
        .map_err(|e| format!("run file {} is not JSON: {e}", path.display()))?;
    doc["benchmarks"]
        .as_array()
        .ok_or_else(|| format!("run file {} has no benchmarks", path.display()))?
        .iter()
        .map(|b| {
            let samples = b["metrics"]
                .as_array()
                .and_then(|ms| match metric {
                    Some(metric) => ms.iter().find(|m| m["name"] == metric),
                    None => ms.first(),
                })
                .map_or(&serde_json::Value::Null, |m| &m["samples"])
                .as_array()
                .ok_or_else(|| format!("run file {}: a benchmark has no samples", path.display()))?
                .iter()
                .map(|s| s.as_f64().ok_or("a sample is not a number"))
                .collect::<Result<Vec<f64>, _>>()?;
            Ok((b["name"].as_str().unwrap_or_default().to_owned(), samples))
        })
        .collect()
}
