//! What a measurement of several commands shows besides its table: how each compares with the
//! fastest, and the measurement exported in hyperfine's shapes (`--export-json`,
//! `--export-markdown`, `--export-csv`), so that scripts written for hyperfine keep working.
//!
//! ```
//! use benchkeep_core::model::Benchmark;
//! use benchkeep_report::measurements::{Export, relative_summary};
//!
//! let fast = Benchmark::wall_time("sleep 0.1", vec![1.00e8, 1.01e8, 1.02e8, 1.00e8, 1.01e8]);
//! let slow = Benchmark::wall_time("sleep 0.2", vec![2.00e8, 2.01e8, 2.02e8, 2.00e8, 2.01e8]);
//! let both = [slow, fast];
//! assert!(relative_summary(&both).contains("sleep 0.2  1.99×"));
//! assert!(Export::Json.render(&both).starts_with("{\n  \"results\": ["));
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

use benchkeep_core::bootstrap::{MedianSampler, ratio_of_medians_law};
use benchkeep_core::model::{Benchmark, Metric, metric_names};
use benchkeep_core::stats::{self, Rng};

use crate::cells::cell;
use crate::formats::csv::csv_field;
use crate::formats::markdown::markdown_text;

/// Resamples for samples too large for the exact bootstrap law (seeded: the same data always
/// give the same interval).
const RESAMPLES: usize = 2_000;
const SEED: u64 = 0x6265_6e63_686b_6565;

/// Runs of each side below which [`relative_summary`] gives no interval.
const MIN_RUNS: usize = 5;

/// Rows of [`relative_summary`] at the most (the run file has every one).
const ROWS: usize = 50;

fn wall_time(bench: &Benchmark) -> Option<&Metric> {
    bench
        .metric(metric_names::WALL_TIME)
        .filter(|m| !m.samples.is_empty())
}

/// With two or more benchmarks timed, each one's median wall time relative to the fastest's,
/// with a 95% percentile-bootstrap interval of the ratio (the statistics `compare` uses);
/// empty otherwise. An interval that contains 1 says no difference was shown.
#[must_use]
pub fn relative_summary(benchmarks: &[Benchmark]) -> String {
    let timed: Vec<(&Benchmark, Vec<f64>)> = benchmarks
        .iter()
        .filter_map(|b| wall_time(b).map(|m| (b, stats::sorted(&m.samples))))
        .collect();
    if timed.len() < 2 {
        return String::new();
    }
    let median = |sorted: &[f64]| stats::median_of_sorted(sorted);
    let Some((fastest, fastest_sorted)) = timed
        .iter()
        .min_by(|a, b| median(&a.1).total_cmp(&median(&b.1)))
    else {
        return String::new();
    };
    if median(fastest_sorted) <= 0.0 {
        return format!(
            "the fastest, {}, took no measurable time (its median is 0 once the shell start-up is subtracted): nothing to compare with; --no-shell (-N) times it without a shell\n",
            cell(&fastest.name, 60)
        );
    }
    let base_sampler = MedianSampler::new(fastest_sorted.len());
    let mut out = format!(
        "relative to the fastest, {} (median wall time, 95% interval; measured one after the other):\n",
        cell(&fastest.name, 60)
    );
    let others: Vec<_> = timed
        .iter()
        .filter(|(b, _)| !std::ptr::eq(*b, *fastest))
        .collect();
    let width = others
        .iter()
        .take(ROWS)
        .map(|(b, _)| cell(&b.name, 60).chars().count())
        .max()
        .unwrap_or(0);
    for (bench, sorted) in others.iter().take(ROWS) {
        let ratio = median(sorted) / median(fastest_sorted);
        let name = cell(&bench.name, 60);
        if sorted.len().min(fastest_sorted.len()) < MIN_RUNS {
            // The bootstrap of a median from a handful of runs is far narrower than the truth
            // (two identical commands "differed" in a third of 2-3 run trials).
            let _ = writeln!(
                out,
                "  {name:<width$}  {ratio:.2}× (no interval: {MIN_RUNS} runs or more give one)"
            );
            continue;
        }
        let mut rng = Rng::seed_from_u64(SEED);
        let (low, high) = ratio_of_medians_law(
            (fastest_sorted, &base_sampler),
            (sorted, &MedianSampler::new(sorted.len())),
            RESAMPLES,
            &mut rng,
        )
        .interval(0.05);
        let verdict = if low > 1.0 {
            "slower"
        } else {
            "no difference shown"
        };
        let _ = writeln!(
            out,
            "  {name:<width$}  {ratio:.2}× [{low:.2}×, {high:.2}×] {verdict}"
        );
    }
    if others.len() > ROWS {
        let _ = writeln!(out, "  … and {} more", others.len() - ROWS);
    }
    out
}

/// hyperfine's limit on the modified Z-score, `(x - median) / (1.4826 MAD)`, above which a run
/// is a statistical outlier.
pub const OUTLIER_Z: f64 = 14.0;

/// Warnings past this many are counted, not listed.
const MAX_WARNINGS: usize = 10;

/// The modified Z-score of `x` among `sorted`, or `None` when their spread is zero.
fn modified_z(x: f64, sorted: &[f64]) -> Option<f64> {
    let mad = stats::mad_of_sorted(sorted);
    (mad > 0.0).then(|| (x - stats::median_of_sorted(sorted)) / (1.4826 * mad))
}

/// What a reader of these measurements should know besides their figures, as hyperfine warns
/// (each benchmark's wall time, five runs or more): a first run much slower than the rest
/// (caches it filled), and statistical outliers among the rest ([`OUTLIER_Z`]).
///
/// ```
/// use benchkeep_core::model::Benchmark;
/// use benchkeep_report::measurements::warnings;
///
/// let cold = Benchmark::wall_time("cold", vec![9e6, 1.00e6, 1.01e6, 1.02e6, 1.00e6, 1.01e6]);
/// assert!(warnings(&[cold])[0].starts_with("cold: the first run took 9.000 ms"));
/// ```
#[must_use]
pub fn warnings(benchmarks: &[Benchmark]) -> Vec<String> {
    let mut found = Vec::new();
    for bench in benchmarks {
        let Some(metric) = wall_time(bench) else {
            continue;
        };
        let samples = &metric.samples;
        if samples.len() < 5 {
            continue;
        }
        let rest = stats::sorted(&samples[1..]);
        let first_slow = modified_z(samples[0], &rest).is_some_and(|z| z > OUTLIER_Z);
        if first_slow {
            let median = stats::median_of_sorted(&rest);
            found.push(format!(
                "{}: the first run took {} ({:.1}× the median of the rest): caches it filled? --warmup N runs unmeasured first",
                cell(&bench.name, 60),
                metric.unit.format(samples[0]),
                samples[0] / median
            ));
        }
        let measured = if first_slow {
            &rest
        } else {
            &stats::sorted(samples)
        };
        let outliers = measured
            .iter()
            .filter(|&&x| modified_z(x, measured).is_some_and(|z| z.abs() > OUTLIER_Z))
            .count();
        if outliers > 0 {
            found.push(format!(
                "{}: {outliers} of {} runs are statistical outliers (modified Z-score above {OUTLIER_Z}): other work on the machine, or a command whose time varies; more runs, or `benchkeep ab`, which pairs runs, hold up better",
                cell(&bench.name, 60),
                measured.len()
            ));
        }
    }
    if found.len() > MAX_WARNINGS {
        let more = found.len() - MAX_WARNINGS;
        found.truncate(MAX_WARNINGS);
        found.push(format!(
            "… and {more} more warning(s) about the measurements"
        ));
    }
    found
}

/// A measurement exported in one of hyperfine's shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Export {
    /// `hyperfine --export-json`: `{"results": [{"command", "mean", "stddev", "median",
    /// "user", "system", "min", "max", "times", "exit_codes", ...}]}`, in seconds;
    /// `benchkeep import --format hyperfine` reads it back.
    Json,
    /// `hyperfine --export-markdown`: a table of mean ± standard deviation, min, max and the
    /// ratio of means to the fastest.
    Markdown,
    /// `hyperfine --export-csv`: `command,mean,stddev,median,user,system,min,max` and a
    /// `parameter_NAME` column per parameter.
    Csv,
}

/// Figures of one benchmark in seconds, as hyperfine reports them.
struct Figures<'a> {
    bench: &'a Benchmark,
    times: Vec<f64>,
    mean: f64,
    stddev: Option<f64>,
    median: f64,
    min: f64,
    max: f64,
    user: Option<f64>,
    system: Option<f64>,
}

const SECOND: f64 = 1e9;

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

fn figures(bench: &Benchmark) -> Option<Figures<'_>> {
    let times: Vec<f64> = wall_time(bench)?
        .samples
        .iter()
        .map(|t| t / SECOND)
        .collect();
    let sorted = stats::sorted(&times);
    let mean_time = mean(&times);
    // The sample standard deviation, as hyperfine (none for one run).
    let stddev = (times.len() > 1).then(|| {
        let squares: f64 = times.iter().map(|t| (t - mean_time).powi(2)).sum();
        (squares / (times.len() - 1) as f64).sqrt()
    });
    let cpu = |name: &str| {
        bench
            .metric(name)
            .filter(|m| !m.samples.is_empty())
            .map(|m| mean(&m.samples) / SECOND)
    };
    Some(Figures {
        bench,
        mean: mean_time,
        stddev,
        median: stats::median_of_sorted(&sorted),
        min: sorted[0],
        max: sorted[sorted.len() - 1],
        user: cpu(metric_names::USER_TIME),
        system: cpu(metric_names::SYSTEM_TIME),
        times,
    })
}

impl Export {
    /// `benchmarks`' wall times (and CPU times and peak memory where measured) in this shape;
    /// benchmarks without a wall time are left out.
    #[must_use]
    pub fn render(self, benchmarks: &[Benchmark]) -> String {
        self.render_with_exit_codes(benchmarks, &BTreeMap::new())
    }

    /// [`Export::render`], with each benchmark's exit codes per run where they were kept
    /// (`--ignore-failure`; `None` for a run killed by a signal): the JSON's `exit_codes`
    /// (all 0 otherwise, as a measurement stops at a failure).
    #[must_use]
    pub fn render_with_exit_codes(
        self,
        benchmarks: &[Benchmark],
        exit_codes: &BTreeMap<String, Vec<Option<i32>>>,
    ) -> String {
        let rows: Vec<Figures<'_>> = benchmarks.iter().filter_map(figures).collect();
        match self {
            Export::Json => json(&rows, exit_codes),
            Export::Markdown => markdown(&rows),
            Export::Csv => csv(&rows),
        }
    }
}

fn json(rows: &[Figures<'_>], exit_codes: &BTreeMap<String, Vec<Option<i32>>>) -> String {
    let results: Vec<serde_json::Value> = rows
        .iter()
        .map(|f| {
            let mut result = serde_json::json!({
                "command": f.bench.name,
                "mean": f.mean,
                "stddev": f.stddev,
                "median": f.median,
                "user": f.user.unwrap_or(0.0),
                "system": f.system.unwrap_or(0.0),
                "min": f.min,
                "max": f.max,
                "times": f.times,
                // Without --ignore-failure a measurement stops at a failure: every run exited 0.
                "exit_codes": exit_codes
                    .get(&f.bench.name)
                    .filter(|codes| codes.len() == f.times.len())
                    .map_or_else(|| vec![Some(0); f.times.len()], Clone::clone),
            });
            if let Some(rss) = f
                .bench
                .metric(metric_names::PEAK_RSS)
                .filter(|m| m.samples.len() == f.times.len())
            {
                // Byte counts the runner measured: whole, non-negative and far below 2^53.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let bytes: Vec<u64> = rss.samples.iter().map(|&b| b as u64).collect();
                result["memory_usage_byte"] = bytes.into();
            }
            if !f.bench.params.is_empty() {
                result["parameters"] = serde_json::json!(f.bench.params);
            }
            result
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&serde_json::json!({ "results": results }))
        .unwrap_or_default();
    out.push('\n');
    out
}

/// hyperfine's unit for a table: seconds from one second up, else milliseconds.
fn table_unit(rows: &[Figures<'_>]) -> (&'static str, f64) {
    let smallest = rows.iter().map(|f| f.mean).fold(f64::INFINITY, f64::min);
    if smallest >= 1.0 {
        ("s", 1.0)
    } else {
        ("ms", 1e3)
    }
}

fn markdown(rows: &[Figures<'_>]) -> String {
    let (unit, scale) = table_unit(rows);
    let mut out = format!(
        "| Command | Mean [{unit}] | Min [{unit}] | Max [{unit}] | Relative |\n|:---|---:|---:|---:|---:|\n"
    );
    let Some(fastest) = rows.iter().min_by(|a, b| a.mean.total_cmp(&b.mean)) else {
        return out;
    };
    for f in rows {
        let spread = f
            .stddev
            .map_or_else(String::new, |s| format!(" ± {:.1}", s * scale));
        let ratio = f.mean / fastest.mean;
        // The ratio's error from both standard deviations, propagated as hyperfine does.
        let relative = match (f.stddev, fastest.stddev) {
            _ if std::ptr::eq(f, fastest) => format!("{ratio:.2}"),
            (Some(s), Some(s0)) => {
                let error = ratio * ((s / f.mean).powi(2) + (s0 / fastest.mean).powi(2)).sqrt();
                format!("{ratio:.2} ± {error:.2}")
            }
            _ => format!("{ratio:.2}"),
        };
        let _ = writeln!(
            out,
            "| {} | {:.1}{spread} | {:.1} | {:.1} | {relative} |",
            markdown_text(&cell(&f.bench.name, 200)),
            f.mean * scale,
            f.min * scale,
            f.max * scale,
        );
    }
    out
}

fn csv(rows: &[Figures<'_>]) -> String {
    let mut parameters: Vec<&str> = rows
        .iter()
        .flat_map(|f| f.bench.params.keys().map(String::as_str))
        .collect();
    parameters.sort_unstable();
    parameters.dedup();
    let mut out = String::from("command,mean,stddev,median,user,system,min,max");
    for name in &parameters {
        let _ = write!(out, ",{}", csv_field(&format!("parameter_{name}")));
    }
    out.push('\n');
    let number = |x: Option<f64>| x.map_or_else(String::new, |x| x.to_string());
    for f in rows {
        let _ = write!(
            out,
            "{},{},{},{},{},{},{},{}",
            csv_field(&f.bench.name),
            f.mean,
            number(f.stddev),
            f.median,
            number(f.user),
            number(f.system),
            f.min,
            f.max
        );
        for name in &parameters {
            let value = f.bench.params.get(*name).map_or("", String::as_str);
            let _ = write!(out, ",{}", csv_field(value));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_first_run_and_outliers_are_told_apart_and_counted() {
        let steady: Vec<f64> = (0..20).map(|i| 1e6 + f64::from(i % 5) * 1e3).collect();
        assert!(warnings(&[Benchmark::wall_time("steady", steady.clone())]).is_empty());

        let mut cold = steady.clone();
        cold[0] = 3e6;
        let said = warnings(&[Benchmark::wall_time("cold", cold)]);
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(
            said[0].contains("the first run took 3.000 ms (3.0× the median"),
            "{said:?}"
        );

        let mut spiky = steady.clone();
        spiky[7] = 5e6;
        spiky[12] = 4e6;
        let said = warnings(&[Benchmark::wall_time("spiky", spiky)]);
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(
            said[0].starts_with("spiky: 2 of 20 runs are statistical outliers"),
            "{said:?}"
        );

        // Too few runs to tell, or no spread at all: nothing said.
        assert!(warnings(&[Benchmark::wall_time("few", vec![1e6, 9e6, 1e6])]).is_empty());
        assert!(warnings(&[Benchmark::wall_time("flat", vec![1e6; 10])]).is_empty());

        let many: Vec<Benchmark> = (0..15)
            .map(|i| {
                let mut cold = steady.clone();
                cold[0] = 3e6;
                Benchmark::wall_time(format!("b{i}"), cold)
            })
            .collect();
        let said = warnings(&many);
        assert_eq!(said.len(), 11);
        assert_eq!(said[10], "… and 5 more warning(s) about the measurements");
    }

    #[test]
    fn relative_summary_names_the_fastest_and_says_when_nothing_was_shown() {
        let a = Benchmark::wall_time("a", vec![0.99e6, 1.01e6, 0.98e6, 0.99e6, 1.02e6]);
        let b = Benchmark::wall_time("b", vec![1.00e6, 0.99e6, 1.01e6, 1.02e6, 1.00e6]);
        let c = Benchmark::wall_time("c", vec![2.00e6, 2.02e6, 1.98e6, 2.00e6, 2.01e6]);
        let text = relative_summary(&[c, b, a]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("relative to the fastest, a (median wall time"),
            "{text}"
        );
        assert!(lines[1].starts_with("  c  2.02× ["), "{text}");
        assert!(lines[1].ends_with("] slower"), "{text}");
        assert!(lines[2].ends_with("no difference shown"), "{text}");
        assert!(relative_summary(&[Benchmark::wall_time("alone", vec![1.0])]).is_empty());
        // Too few runs for an interval; a fastest of 0 ns (all shell start-up) has no ratio.
        let few = relative_summary(&[
            Benchmark::wall_time("x", vec![1e6, 1e6]),
            Benchmark::wall_time("y", vec![1e6, 1e6]),
        ]);
        assert!(
            few.contains("y  1.00× (no interval: 5 runs or more give one)"),
            "{few}"
        );
        let zero = relative_summary(&[
            Benchmark::wall_time("x", vec![0.0; 5]),
            Benchmark::wall_time("y", vec![1e6; 5]),
        ]);
        assert!(
            zero.starts_with("the fastest, x, took no measurable time"),
            "{zero}"
        );
        assert!(!zero.contains("NaN") && !zero.contains("inf"), "{zero}");
    }
}
