//! One trial of each mode, measured by the real binary, and the simple rules computed on the
//! samples behind the same verdict.

use std::path::Path;

use crate::cli::{Benchkeep, Entry, Verdict, judged_metric, run_samples};
use crate::load;
use crate::stats;

/// Past jobs pooled into a stored baseline (`baseline set --last 10`).
pub(crate) const BASELINE_JOBS: usize = 10;
/// Fixed-threshold rule: 2% on the medians of one paired job (what `ab` calls its threshold)...
pub(crate) const PAIRED_FIXED: f64 = 0.02;
/// ...and 5% of the current job's median over the previous job's, like `check`'s default.
pub(crate) const STORED_FIXED: f64 = 0.05;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Paired,
    Stored,
}

impl Mode {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Paired => "paired",
            Mode::Stored => "stored",
        }
    }
}

/// benchkeep's verdict on the gating wall-time entry, or an error of the trial itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Regressed,
    Unchanged,
    Inconclusive,
    Improved,
    Error,
}

impl Outcome {
    fn from_verdict(verdict: &str) -> Option<Outcome> {
        Some(match verdict {
            "regressed" => Outcome::Regressed,
            "unchanged" => Outcome::Unchanged,
            "inconclusive" => Outcome::Inconclusive,
            "improved" => Outcome::Improved,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Outcome::Regressed => "regressed",
            Outcome::Unchanged => "unchanged",
            Outcome::Inconclusive => "inconclusive",
            Outcome::Improved => "improved",
            Outcome::Error => "error",
        }
    }
}

/// What one comparison gave: benchkeep's verdict beside the simple rules on the same samples.
#[derive(Clone, Debug)]
pub(crate) struct Measured {
    pub(crate) outcome: Outcome,
    /// benchkeep exited 1: the gate failed.
    pub(crate) gate_failed: bool,
    /// Fixed threshold on medians (`None` when the trial failed).
    pub(crate) fixed: Option<bool>,
    /// Mann-Whitney p < 0.05 and slower (`None` when no samples are available, as in `ab`).
    pub(crate) mann_whitney: Option<bool>,
    /// Current median over the baseline's (as the verdict states them), minus 1.
    pub(crate) change: Option<f64>,
    pub(crate) base_median: Option<f64>,
    /// benchkeep's own estimate of the change (for paired rounds, not a ratio of medians).
    pub(crate) verdict_change: Option<f64>,
    /// The verdict's reason, or what went wrong.
    pub(crate) note: String,
}

impl Measured {
    pub(crate) fn error(note: String) -> Measured {
        Measured {
            outcome: Outcome::Error,
            gate_failed: false,
            fixed: None,
            mann_whitney: None,
            change: None,
            base_median: None,
            verdict_change: None,
            note,
        }
    }
}

/// One recorded trial.
#[derive(Clone, Debug)]
pub(crate) struct Trial {
    pub(crate) mode: Mode,
    pub(crate) kind: crate::workloads::Kind,
    /// The load phase (`cpu1`), or baseline and check phases (`none>cpu1`).
    pub(crate) phase: String,
    pub(crate) effect: f64,
    pub(crate) index: usize,
    /// 1-minute load average when the trial started.
    pub(crate) load: Option<f64>,
    /// Stored mode: the load average when its baseline's first job started.
    pub(crate) baseline_load: Option<f64>,
    pub(crate) measured: Measured,
}

/// Reads the exit code and verdict of `ab` or `check`; a verdict that disagrees with the exit
/// code is an error of the trial (exit 1 must mean exactly "the gate failed").
fn judged(out: &crate::cli::Output, what: &str) -> Result<(Entry, bool), String> {
    if !matches!(out.code, Some(0 | 1)) {
        return Err(out.failure(what));
    }
    let verdict = Verdict::parse(&out.stdout)?;
    let gate_failed = out.code == Some(1);
    if verdict.passed == gate_failed {
        return Err(format!(
            "{what}: exit {:?} but the verdict says passed = {}",
            out.code, verdict.passed
        ));
    }
    Ok((verdict.judged_entry()?.clone(), gate_failed))
}

fn ratio(entry: &Entry) -> Option<f64> {
    Some(entry.current_median? / entry.baseline_median? - 1.0)
}

/// `benchkeep ab --base BASE --head HEAD --format json` at default settings plus `extra`.
/// The fixed rule reads the medians the verdict reports, which are those of the very rounds it
/// judged; `ab` writes no samples, so there is no Mann-Whitney column for this mode.
pub(crate) fn paired(bk: &Benchkeep, base: &str, head: &str, extra: &[String]) -> Measured {
    let mut args: Vec<&str> = vec![
        "ab", "-q", "--base", base, "--head", head, "--format", "json",
    ];
    args.extend(extra.iter().map(String::as_str));
    let result =
        bk.run(&args)
            .and_then(|out| judged(&out, "ab"))
            .and_then(|(entry, gate_failed)| {
                let outcome = Outcome::from_verdict(&entry.verdict)
                    .ok_or_else(|| format!("unexpected verdict {:?}", entry.verdict))?;
                let change = ratio(&entry);
                Ok(Measured {
                    outcome,
                    gate_failed,
                    fixed: change.map(|c| c > PAIRED_FIXED),
                    mann_whitney: None,
                    change,
                    base_median: entry.baseline_median,
                    verdict_change: entry.change,
                    note: entry.reason,
                })
            });
    result.unwrap_or_else(Measured::error)
}

/// A fresh store for one stored-mode trial group, holding a baseline of `BASELINE_JOBS` jobs.
pub(crate) struct StoredBaseline<'a> {
    bk: &'a Benchkeep,
    dir: &'a Path,
    url: String,
    name: &'a str,
    /// The newest baseline job's samples: what "compare with the previous job" rules use.
    previous: Vec<f64>,
    /// Samples pooled over every job, to check the verdict's baseline against.
    pooled_n: u64,
}

impl<'a> StoredBaseline<'a> {
    /// Records `BASELINE_JOBS` runs of `command` into a new store in `dir` (which must be empty)
    /// with `benchkeep run`, then pools them with `benchkeep baseline set --last`.
    pub(crate) fn record(
        bk: &'a Benchkeep,
        dir: &'a Path,
        name: &'a str,
        command: &str,
        extra: &[String],
    ) -> Result<StoredBaseline<'a>, String> {
        let url = format!("file://{}", dir.join("store").display());
        std::fs::create_dir_all(dir.join("store")).map_err(|e| e.to_string())?;
        let mut pooled_n = 0;
        let mut previous = Vec::new();
        for job in 0..BASELINE_JOBS {
            let out_file = dir.join(format!("job{job}.json"));
            let out_path = out_file.to_string_lossy();
            let mut args: Vec<&str> = vec![
                "run",
                "-q",
                "--store",
                &url,
                "--branch",
                "zoo",
                "--platform",
                "zoo",
                "--name",
                name,
                "--out",
                &out_path,
            ];
            args.extend(extra.iter().map(String::as_str));
            args.extend(["--shell", "--", command]);
            let out = bk.run(&args)?;
            if out.code != Some(0) {
                return Err(out.failure(&format!("baseline job {job}")));
            }
            let samples = run_samples(&out_file, Some(&judged_metric()))?
                .swap_remove(0)
                .1;
            pooled_n += samples.len() as u64;
            previous = samples;
        }
        let out = bk.run(&[
            "baseline",
            "set",
            "-q",
            "--last",
            &BASELINE_JOBS.to_string(),
            "--store",
            &url,
            "--branch",
            "zoo",
            "--platform",
            "zoo",
        ])?;
        if out.code != Some(0) {
            return Err(out.failure("baseline set"));
        }
        Ok(StoredBaseline {
            bk,
            dir,
            url,
            name,
            previous,
            pooled_n,
        })
    }

    /// `benchkeep check --no-record --format json` of `command` (plus `extra`) against the
    /// baseline. The simple rules compare the check's own samples (its `--out` file) with the
    /// newest baseline job's, the comparison github-action-benchmark and most harnesses make.
    pub(crate) fn check(
        &self,
        command: &str,
        extra: &[String],
        warnings: &mut Vec<String>,
    ) -> Measured {
        let out_file = self.dir.join("check.json");
        let _ = std::fs::remove_file(&out_file);
        let out_path = out_file.to_string_lossy();
        let mut args: Vec<&str> = vec![
            "check",
            "-q",
            "--no-record",
            "--format",
            "json",
            "--store",
            &self.url,
            "--branch",
            "zoo",
            "--platform",
            "zoo",
            "--name",
            self.name,
            "--out",
            &out_path,
        ];
        args.extend(extra.iter().map(String::as_str));
        args.extend(["--shell", "--", command]);
        let result = self.bk.run(&args).and_then(|out| {
            let (entry, gate_failed) = judged(&out, "check")?;
            let outcome = Outcome::from_verdict(&entry.verdict)
                .ok_or_else(|| format!("unexpected verdict {:?}", entry.verdict))?;
            let current = run_samples(&out_file, Some(&judged_metric()))?
                .swap_remove(0)
                .1;
            self.agree(&entry, &current, warnings);
            let (Some(previous), Some(now)) =
                (stats::median(&self.previous), stats::median(&current))
            else {
                return Err("no samples in the check's or the previous job's run file".into());
            };
            Ok(Measured {
                outcome,
                gate_failed,
                fixed: Some(stats::fixed_threshold(previous, now, STORED_FIXED)),
                mann_whitney: stats::mann_whitney_p(&self.previous, &current)
                    .map(|p| p < 0.05 && now > previous),
                change: ratio(&entry),
                base_median: entry.baseline_median,
                verdict_change: entry.change,
                note: entry.reason,
            })
        });
        result.unwrap_or_else(Measured::error)
    }

    /// The simple rules must see the samples benchkeep judged: the verdict's current sample
    /// count and median must be those of the check's run file, and its baseline count the
    /// total of the pooled jobs.
    fn agree(&self, entry: &Entry, current: &[f64], warnings: &mut Vec<String>) {
        let same_median = match (entry.current_median, stats::median(current)) {
            (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * b.abs().max(1.0),
            _ => false,
        };
        if entry.current_n != Some(current.len() as u64) || !same_median {
            warnings.push(format!(
                "{}: the verdict's current n/median ({:?}/{:?}) are not those of the check's run file ({}/{:?})",
                self.name,
                entry.current_n,
                entry.current_median,
                current.len(),
                stats::median(current)
            ));
        }
        if entry.baseline_n != Some(self.pooled_n) {
            warnings.push(format!(
                "{}: the verdict's baseline has n = {:?}, the {BASELINE_JOBS} recorded jobs {}",
                self.name, entry.baseline_n, self.pooled_n
            ));
        }
    }
}

/// The load average now, for the trial's record.
pub(crate) fn load_now() -> Option<f64> {
    load::load_average()
}
