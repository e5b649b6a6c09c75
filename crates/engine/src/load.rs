//! `benchkeep load`: concurrency levels, throughput and latency percentiles, scaling; and
//! `--leak-check`, memory growth of a long-lived worker.

use std::fmt::Write as _;
use std::time::Duration;

use crate::{Error, bail};
use benchkeep_core::compare::{Comparison, Verdict};
use benchkeep_core::model::{Run, Unit};
use benchkeep_runner::command::CommandSpec;
use benchkeep_runner::leak::{self, LeakOptions};
use benchkeep_runner::load::{self, CommandOperation, LoadOptions, LoadReport};

use crate::measure::RecordOptions;
use crate::session::{KeyOverrides, Session};

/// `benchkeep load`: what to load, how hard, for how long; or a leak check.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LoadRequest {
    /// Concurrency levels, `1,2,4,8`.
    pub concurrency: Option<String>,
    /// Concurrency levels doubling over a range, `1..8`.
    pub ramp: Option<String>,
    /// Time per level (`10s`).
    pub duration: Option<String>,
    /// Warm-up time per level (`1s`).
    pub ramp_up: Option<String>,
    /// Operations per level instead of a duration.
    pub requests: Option<u64>,
    /// Operations per second (open loop).
    pub rate: Option<f64>,
    /// One operation's timeout.
    pub timeout: Option<String>,
    /// Check a long-lived worker's memory growth instead.
    pub leak_check: bool,
    /// Jobs through the worker in a leak check.
    pub iterations: Option<u64>,
    /// The benchmark's name (the command's text by default).
    pub name: Option<String>,
    /// The command to load.
    pub command: Vec<String>,
}

/// What a load run measured.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoadResult {
    /// The run, as recorded.
    pub run: Run,
    /// The table (or the leak verdict) for people.
    pub summary: String,
    /// A leak check found memory growth.
    pub grows: bool,
}

impl Session {
    /// `benchkeep load`: the command at each concurrency level (throughput, latency
    /// percentiles, scaling), or a leak check; recorded like any run.
    ///
    /// # Errors
    ///
    /// No command, settings that do not parse, a failing command, [`Error::Interrupted`], the
    /// store failing.
    pub fn load(
        &self,
        args: &LoadRequest,
        key: &KeyOverrides,
        record: &RecordOptions,
    ) -> Result<LoadResult, Error> {
        if args.command.is_empty() {
            bail!(
                "give the command to load after `--`, e.g. `benchkeep load --concurrency 1,2,4 -- ./client`"
            );
        }
        let (run, (summary, grows)) = self.make_and_record(record, || {
            let name = args.name.clone().unwrap_or_else(|| args.command.join(" "));
            let mut spec = CommandSpec::new(args.command.clone());
            spec.cwd = Some(self.cwd.clone());
            let mut run = self.new_run(key, record)?;
            self.events.measuring(&self.interrupt);
            let (summary, grows) = if args.leak_check {
                let options = LeakOptions {
                    iterations: args.iterations.unwrap_or(10_000),
                    job_timeout: Some(parse_duration(
                        args.timeout.as_deref().unwrap_or("10s"),
                        "--timeout",
                    )?),
                    ..LeakOptions::default()
                };
                self.notice(&format!(
                    "leak check: {} jobs through one {name:?} process",
                    options.iterations
                ));
                let (verdict, _) =
                    leak::check_command(&spec, &options, &self.interrupt).map_err(|e| match e {
                        leak::LeakError::Interrupted => Error::Interrupted,
                        e => Error::Invalid(format!("leak check of {name:?}: {e}")),
                    })?;
                run.benchmarks.push(leak::to_benchmark(&name, &verdict));
                (format!("{name}: memory {verdict}\n"), verdict.grows)
            } else {
                let options = self.load_options(args)?;
                let operation = CommandOperation {
                    spec,
                    timeout: args
                        .timeout
                        .as_deref()
                        .map(|t| parse_duration(t, "--timeout"))
                        .transpose()?,
                };
                self.notice(&format!(
                    "load: {name:?} at concurrency {:?}, {:?} per level ({:?} ramp-up)",
                    options.levels, options.duration, options.ramp_up
                ));
                let overhead = load::generator_overhead(Duration::from_millis(100));
                let report = load::run(&operation, &options, &self.interrupt).map_err(|e| match e {
                    load::LoadError::Interrupted => Error::Interrupted,
                    e => Error::Invalid(e.to_string()),
                })?;
                for level in report.levels.iter().filter(|l| l.errors > 0) {
                    self.notice(&format!(
                        "warning: {} of {} operations failed at concurrency {} (first: {}); recorded as the `errors` metric",
                        level.errors,
                        level.errors + level.operations,
                        level.concurrency,
                        level.first_error.as_deref().unwrap_or("?")
                    ));
                    run.labels.insert(
                        format!("load.errors.c{}", level.concurrency),
                        level.errors.to_string(),
                    );
                }
                run.labels.insert(
                    "load.generator_overhead_ns".into(),
                    overhead.as_nanos().to_string(),
                );
                run.benchmarks = report.to_benchmarks(&name);
                (table(&name, &report, overhead), false)
            };
            Ok((run, (summary, grows)))
        })?;
        Ok(LoadResult {
            run,
            summary,
            grows,
        })
    }

    fn load_options(&self, args: &LoadRequest) -> Result<LoadOptions, Error> {
        let file = &self.config.load;
        let levels = match (&args.concurrency, &args.ramp) {
            (Some(list), _) => parse_levels(list)?,
            (None, Some(range)) => parse_ramp(range)?,
            (None, None) => file.concurrency.clone().unwrap_or_else(|| vec![1, 2, 4, 8]),
        };
        let duration = args
            .duration
            .as_deref()
            .or(file.duration.as_deref())
            .unwrap_or("10s");
        let ramp_up = args
            .ramp_up
            .as_deref()
            .or(file.ramp_up.as_deref())
            .unwrap_or("1s");
        Ok(LoadOptions {
            levels,
            duration: parse_duration(duration, "--duration")?,
            ramp_up: parse_duration(ramp_up, "--ramp-up")?,
            requests: args.requests,
            rate: args.rate.or(file.rate),
            knee_efficiency: file.knee_efficiency.unwrap_or(0.8),
            ..LoadOptions::default()
        })
    }
}

/// `1,2,4,8`.
fn parse_levels(text: &str) -> Result<Vec<usize>, Error> {
    text.split(',')
        .map(|n| {
            n.trim().parse::<usize>().map_err(|_| {
                Error::Invalid(format!(
                    "--concurrency {text:?}: {n:?} is not a number of workers"
                ))
            })
        })
        .collect()
}

/// `1..8`: every level from the first to the last, doubling (1, 2, 4, 8), with the last always
/// included.
fn parse_ramp(text: &str) -> Result<Vec<usize>, Error> {
    let (from, to) = text
        .split_once("..")
        .ok_or_else(|| Error::Invalid(format!("--ramp {text:?} is not FROM..TO (e.g. 1..8)")))?;
    let from: usize = from
        .trim()
        .parse()
        .map_err(|_| Error::Invalid(format!("--ramp {text:?}: bad start")))?;
    let to: usize = to
        .trim()
        .parse()
        .map_err(|_| Error::Invalid(format!("--ramp {text:?}: bad end")))?;
    if from == 0 || to < from {
        bail!("--ramp {text:?}: needs 1 <= FROM <= TO");
    }
    let mut levels = Vec::new();
    let mut n = from;
    while n < to {
        levels.push(n);
        n *= 2;
    }
    levels.push(to);
    Ok(levels)
}

/// `10s`, `500ms`, `2m`, or seconds as a number.
pub(crate) fn parse_duration(text: &str, what: &str) -> Result<Duration, Error> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .and_then(|v| Duration::try_from_secs_f64(v * scale).ok())
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{what} {text:?} is not a duration (e.g. 10s, 500ms, 2m)"
            ))
        })
}

fn table(name: &str, report: &LoadReport, overhead: Duration) -> String {
    let ns = Unit::nanoseconds();
    let mut out = format!(
        "{name}\n{:>11}  {:>12}  {:>10}  {:>10}  {:>10}  {:>10}  {:>7}  {:>10}\n",
        "concurrency", "ops/s", "p50", "p90", "p99", "max", "errors", "efficiency"
    );
    for level in &report.levels {
        let efficiency = report
            .scaling
            .efficiency
            .iter()
            .find(|(n, _)| *n == level.concurrency)
            .map_or_else(|| "-".to_owned(), |(_, e)| format!("{:.0}%", e * 100.0));
        let _ = writeln!(
            out,
            "{:>11}  {:>12.1}  {:>10}  {:>10}  {:>10}  {:>10}  {:>7}  {:>10}",
            level.concurrency,
            level.throughput,
            ns.format(level.latency.p50),
            ns.format(level.latency.p90),
            ns.format(level.latency.p99),
            ns.format(level.latency.max),
            level.errors,
            efficiency
        );
    }
    match report.scaling.knee {
        Some(knee) => {
            let _ = writeln!(
                out,
                "knee: efficiency falls below the threshold at concurrency {knee}"
            );
        }
        None if !report.scaling.efficiency.is_empty() => {
            let _ = writeln!(out, "knee: none within the levels measured");
        }
        None => {}
    }
    if let Some(usl) = &report.scaling.usl {
        let _ = write!(
            out,
            "USL fit: contention σ = {:.4}, coherency κ = {:.5}, R² = {:.3}",
            usl.sigma, usl.kappa, usl.r_squared
        );
        if let Some(peak) = usl.peak() {
            let _ = write!(out, "; throughput peaks near {peak:.1} workers");
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "generator overhead: {} per operation (a no-op closure; each operation here also spawns a process)",
        ns.format(overhead.as_secs_f64() * 1e9)
    );
    out
}

/// Says so when a load run's scaling regressed: the throughput of `NAME [c=N]` regressed while
/// that of `NAME [c=1]` did not. Each such entry gets a note naming both levels, so a reader
/// sees a contention problem rather than a slower operation.
pub fn note_scaling_regressions(comparison: &mut Comparison) {
    let level = |name: &str| -> Option<(String, usize)> {
        let (base, rest) = name.rsplit_once(" [c=")?;
        Some((base.to_owned(), rest.strip_suffix(']')?.parse().ok()?))
    };
    let single: Vec<(String, Verdict, Option<f64>)> = comparison
        .entries
        .iter()
        .filter(|e| e.metric == "throughput")
        .filter_map(|e| match level(&e.benchmark) {
            Some((base, 1)) => Some((base, e.verdict, e.change)),
            _ => None,
        })
        .collect();
    for entry in &mut comparison.entries {
        if entry.metric != "throughput" || entry.verdict != Verdict::Regressed {
            continue;
        }
        let Some((base, n)) = level(&entry.benchmark).filter(|(_, n)| *n > 1) else {
            continue;
        };
        if let Some((_, verdict, change)) = single.iter().find(|(b, _, _)| *b == base)
            && matches!(
                verdict,
                Verdict::Unchanged | Verdict::Improved | Verdict::Inconclusive
            )
        {
            entry.notes.push(format!(
                "scaling regressed: throughput at 1 worker {} ({}), at {n} workers {}",
                verdict,
                change.map_or_else(|| "-".to_owned(), |c| format!("{:+.1}%", c * 100.0)),
                entry
                    .change
                    .map_or_else(|| "-".to_owned(), |c| format!("{:+.1}%", c * 100.0))
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use benchkeep_core::compare::Verdict;

    #[test]
    fn a_scaling_regression_is_named_as_such() {
        use benchkeep_core::compare::{CompareConfig, compare};
        use benchkeep_core::model::{Benchmark, Direction, Metric};
        let bench = |name: &str, center: f64| Benchmark {
            name: name.into(),
            command: None,
            metrics: vec![Metric {
                name: "throughput".into(),
                unit: Unit("ops/s".into()),
                direction: Direction::HigherIsBetter,
                samples: (0..10)
                    .map(|i| center * (1.0 + f64::from(i % 3) * 0.001))
                    .collect(),
                summary: None,
            }],
            params: std::collections::BTreeMap::new(),
        };
        let base = [bench("svc [c=1]", 100.0), bench("svc [c=8]", 700.0)];
        let head = [bench("svc [c=1]", 100.0), bench("svc [c=8]", 400.0)];
        let mut comparison = compare(&base, &head, &CompareConfig::default());
        note_scaling_regressions(&mut comparison);
        let eight = comparison
            .entries
            .iter()
            .find(|e| e.benchmark == "svc [c=8]")
            .unwrap();
        assert_eq!(eight.verdict, Verdict::Regressed);
        assert!(
            eight.notes.iter().any(|n| n.starts_with(
                "scaling regressed: throughput at 1 worker unchanged (+0.0%), at 8 workers -42.9%"
            )),
            "{:?}",
            eight.notes
        );
        let one = comparison
            .entries
            .iter()
            .find(|e| e.benchmark == "svc [c=1]")
            .unwrap();
        assert!(one.notes.is_empty());
    }

    #[test]
    fn levels_ramps_and_durations_parse_or_say_why_not() {
        assert_eq!(parse_levels("1, 2,4").unwrap(), [1, 2, 4]);
        assert!(
            parse_levels("1,x")
                .unwrap_err()
                .to_string()
                .contains("\"x\"")
        );
        assert_eq!(parse_ramp("1..8").unwrap(), [1, 2, 4, 8]);
        assert_eq!(parse_ramp("3..10").unwrap(), [3, 6, 10]);
        assert!(
            parse_ramp("0..4").is_err() && parse_ramp("5..2").is_err() && parse_ramp("4").is_err()
        );
        assert_eq!(
            parse_duration("500ms", "d").unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(parse_duration("2m", "d").unwrap(), Duration::from_secs(120));
        assert_eq!(
            parse_duration("1.5", "d").unwrap(),
            Duration::from_millis(1500)
        );
        assert!(
            parse_duration("soon", "--duration")
                .unwrap_err()
                .to_string()
                .contains("--duration \"soon\"")
        );
    }
}
