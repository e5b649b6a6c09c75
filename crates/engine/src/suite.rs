//! `benchkeep suite`: the standard workload suite, recorded as an ordinary run.

use std::fmt::Write as _;

use crate::{Error, bail};
use benchkeep_runner::suite::{self, SuiteOptions, WorkloadResult};

use benchkeep_core::model::Run;

use crate::measure::RecordOptions;
use crate::session::{KeyOverrides, Session};

impl Session {
    /// `benchkeep suite`: the standard workloads (all, or those named), each planned by the
    /// optimizer and measured, recorded as an ordinary run. Returns the run and the table.
    ///
    /// # Errors
    ///
    /// An unknown workload, a failing one, the store failing.
    pub fn suite(
        &self,
        names: &[String],
        quick: bool,
        key: &KeyOverrides,
        record: &RecordOptions,
    ) -> Result<(Run, String), Error> {
        let mut workloads = suite::workloads();
        if !names.is_empty() {
            let known: Vec<&str> = workloads.iter().map(|w| w.name).collect();
            if let Some(unknown) = names.iter().find(|name| !known.contains(&name.as_str())) {
                bail!(
                    "no workload named {unknown:?} (the suite has {})",
                    known.join(", ")
                );
            }
            workloads.retain(|w| names.iter().any(|name| name == w.name));
        }
        self.make_and_record(record, || {
            let mut run = self.new_run(key, record)?;
            let options = if quick {
                SuiteOptions::quick()
            } else {
                SuiteOptions::full()
            };
            let mut results = Vec::new();
            for workload in &workloads {
                let result = suite::measure(workload, &options, &mut |line| self.notice(line))
                    .map_err(|e| Error::Invalid(format!("workload {}: {e}", workload.name)))?;
                run.labels.insert(
                    format!("{}.predicted_speedup", workload.name),
                    format!("{:.3}", result.plan.predicted_speedup),
                );
                run.benchmarks.push(result.to_benchmark());
                results.push(result);
            }
            Ok((run, table(&results)))
        })
    }
}

fn plan_text(workers: usize, chunk: usize, items: usize) -> String {
    if workers <= 1 {
        "serial".to_owned()
    } else if chunk >= items {
        format!("{workers} × all")
    } else {
        format!("{workers} × {chunk}")
    }
}

/// The suite's figures, one workload per line: plan (workers × chunk size), predicted and
/// measured speedup, accuracy, the sweep's best, and the plan's time against best and serial.
fn table(results: &[WorkloadResult]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<17} {:>10} {:>9} {:>9} {:>8} {:>10} {:>9} {:>11}",
        "workload", "plan", "predicted", "measured", "accuracy", "best", "plan/best", "plan/serial"
    );
    for r in results {
        let items = r.plan.items;
        let plan = plan_text(r.plan.workers, r.plan.chunk_size, items);
        let _ = writeln!(
            out,
            "{:<17} {:>10} {:>8.2}x {:>8.2}x {:>7.1}% {:>10} {:>8.3}x {:>10.3}x",
            r.name,
            plan,
            r.plan.predicted_speedup,
            r.measured_speedup(),
            100.0 * r.accuracy(),
            plan_text(r.best.workers, r.best.chunk_size, items),
            benchkeep_core::stats::median(&r.plan_vs_best()),
            r.plan_vs_serial()
        );
    }
    if !results.is_empty() {
        let accuracies: Vec<f64> = results.iter().map(WorkloadResult::accuracy).collect();
        let mean = accuracies.iter().sum::<f64>() / accuracies.len() as f64;
        let worst = accuracies.iter().copied().fold(f64::INFINITY, f64::min);
        let _ = writeln!(
            out,
            "mean accuracy {:.1}%, lowest {:.1}%",
            100.0 * mean,
            100.0 * worst
        );
    }
    out
}
