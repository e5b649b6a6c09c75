//! The start-up of the shell commands run through, measured once per shell and subtracted from
//! their times, as hyperfine does: `sh -c 'true'` costs about 0.7 ms on this project's CI
//! machine, which is 7% of a 10 ms command and would hide a 5% change in it.

use benchkeep_core::model::{Benchmark, metric_names};
use benchkeep_runner::command::{self as runner, CommandSpec, MeasureOptions, RunCount};

use crate::session::Session;
use crate::{Error, bail};

/// Executions of `SHELL -c ''` measured, after warm-ups: the median of 50 is stable to a few
/// microseconds, and they take about 50 ms.
const RUNS: u32 = 50;
const WARMUP: u32 = 5;

/// Commands whose median wall time (start-up subtracted) is below this are too short to time
/// through a shell: the start-up's own scatter is then a large part of what is left.
pub(crate) const SHORT_NS: f64 = 5e6;

/// A shell's start-up: the medians of its empty executions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ShellStartup {
    // Nanoseconds, all three.
    pub(crate) wall: f64,
    pub(crate) user: f64,
    pub(crate) system: f64,
}

impl ShellStartup {
    /// `bench`'s wall, user and system times less the start-up, never below zero.
    pub(crate) fn subtract_from(&self, bench: &mut Benchmark) {
        for metric in &mut bench.metrics {
            let startup = match metric.name.as_str() {
                metric_names::WALL_TIME => self.wall,
                metric_names::USER_TIME => self.user,
                metric_names::SYSTEM_TIME => self.system,
                _ => continue,
            };
            for sample in &mut metric.samples {
                *sample = (*sample - startup).max(0.0);
            }
        }
    }
}

/// The median wall time of `bench` when it is below [`SHORT_NS`].
pub(crate) fn too_short(bench: &Benchmark) -> Option<f64> {
    let metric = bench.metric(metric_names::WALL_TIME)?;
    let median = benchkeep_core::stats::median(&metric.samples);
    (median < SHORT_NS).then_some(median)
}

impl Session {
    /// `shell`'s start-up, measured the first time it is asked for (in the directory and
    /// environment of `like`, the command that will run through it).
    pub(crate) fn shell_startup(
        &self,
        shell: &str,
        like: &CommandSpec,
    ) -> Result<ShellStartup, Error> {
        let mut known = self
            .shell_startups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(startup) = known.get(shell) {
            return Ok(*startup);
        }
        let spec = CommandSpec {
            argv: crate::measure::shell_script(shell, ""),
            ..like.clone()
        };
        let options = MeasureOptions {
            warmup: WARMUP,
            runs: RunCount::Fixed(RUNS),
            ..MeasureOptions::default()
        };
        let what = format!("the start-up of {shell}");
        let measured = runner::measure(&spec, &options, &self.interrupt, &mut runner::NoProgress)
            .map_err(|e| Error::measure(&what, e))?;
        if measured.samples.is_empty() {
            bail!("{what} could not be measured");
        }
        let median = |pick: fn(&runner::Sample) -> u64| {
            let values: Vec<f64> = measured.samples.iter().map(|s| pick(s) as f64).collect();
            benchkeep_core::stats::median(&values)
        };
        let startup = ShellStartup {
            wall: median(|s| s.wall_ns),
            user: median(|s| s.user_ns),
            system: median(|s| s.system_ns),
        };
        self.detail(&format!(
            "{shell} start-up: {:.3} ms (median of {RUNS}), subtracted from the times of commands run through it",
            startup.wall / 1e6
        ));
        known.insert(shell.to_owned(), startup);
        Ok(startup)
    }

    /// The shells measured so far, and their start-ups.
    pub(crate) fn shell_startups(&self) -> Vec<(String, ShellStartup)> {
        self.shell_startups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(shell, startup)| (shell.clone(), *startup))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_up_comes_off_wall_user_and_system_times_and_nothing_else() {
        let mut bench = Benchmark::wall_time("b", vec![10e6, 0.5e6]);
        bench.metrics.push(benchkeep_core::model::Metric::new(
            metric_names::USER_TIME,
            benchkeep_core::model::Unit::nanoseconds(),
            benchkeep_core::model::Direction::LowerIsBetter,
            vec![3e6, 3e6],
        ));
        bench.metrics.push(benchkeep_core::model::Metric::new(
            metric_names::PEAK_RSS,
            benchkeep_core::model::Unit::bytes(),
            benchkeep_core::model::Direction::LowerIsBetter,
            vec![2e6, 2e6],
        ));
        let startup = ShellStartup {
            wall: 0.7e6,
            user: 0.4e6,
            system: 0.2e6,
        };
        startup.subtract_from(&mut bench);
        assert_eq!(bench.metrics[0].samples, [9.3e6, 0.0]);
        // A median of 4.65 ms is too short to time through a shell; 5 ms is not.
        assert_eq!(too_short(&bench), Some(4.65e6));
        assert_eq!(too_short(&Benchmark::wall_time("b", vec![5e6])), None);
        assert_eq!(bench.metrics[1].samples, [2.6e6, 2.6e6]);
        assert_eq!(bench.metrics[2].samples, [2e6, 2e6]);
    }
}
