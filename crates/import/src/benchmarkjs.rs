//! Benchmark.js text: `NAME x 1,234 ops/sec ±1.23% (90 runs sampled)`, as its `String(bench)`
//! prints each result. One line is one sample of `throughput` (higher is better), with the
//! summary the line gives kept as the metric's summary: the relative margin of error of the mean
//! at 95% (Benchmark.js computes it from Student's t) and the runs sampled, which the comparison
//! tests with Welch's t. The other lines (`Fastest is ...`) are skipped, except two kinds that
//! fail the import: a benchmark that threw (Benchmark.js prints `NAME: ` and the error instead
//! of a result, `parse: name: TypeError, message: boom`), and a result line cut off before its
//! `±N% (N runs sampled)` (a truncated output).

use benchkeep_core::model::{Direction, ReportedSummary, Spread, Statistic, Unit};

use super::{Collector, ImportError, Imported, Input, number};

pub(super) fn import(input: &Input<'_>) -> Result<Imported, ImportError> {
    let text = input.text()?;
    let mut collector = Collector::default();
    for (index, line) in text.lines().enumerate() {
        let location = format!("line {}", index + 1);
        let Some((head, tail)) = line.split_once(" ops/sec") else {
            if threw(line) {
                return Err(input.invalid(
                    location,
                    format!(
                        "a benchmark threw instead of giving a result: {:?}",
                        line.trim()
                    ),
                ));
            }
            continue;
        };
        let parsed = head.rsplit_once(" x ").and_then(|(name, value)| {
            let name = name.trim();
            (!name.is_empty()).then_some((name, number(value.trim())?))
        });
        let Some((name, ops)) = parsed else {
            return Err(input.invalid(location, format!("cannot read {:?}", line.trim())));
        };
        collector
            .add(
                name,
                "throughput",
                &Unit("ops/s".into()),
                Direction::HigherIsBetter,
                [ops],
            )
            .map_err(|e| input.invalid(&location, e))?;
        // `(90 runs sampled)`, whole: a line cut inside it would give a wrong count.
        let runs = tail
            .split_once('(')
            .and_then(|(_, r)| {
                r.strip_suffix(')')
                    .or_else(|| r.trim_end().strip_suffix(')'))
            })
            .and_then(|r| r.trim().strip_suffix("runs sampled"))
            .and_then(|n| n.trim().parse::<u64>().ok());
        if let Some(runs) = runs {
            collector
                .benchmark(name)
                .params
                .insert("runs_sampled".into(), runs.to_string());
        }
        // `±1.23%`: the relative margin of error of the mean at 95%.
        let margin = tail
            .trim_start()
            .strip_prefix('±')
            .and_then(|rest| rest.split_once('%'))
            .and_then(|(percent, _)| number(percent.trim()));
        let (Some(margin), Some(runs)) = (margin, runs) else {
            return Err(input.invalid(
                location,
                format!("{name}: the result line ends before its `±N% (N runs sampled)`: cut off?"),
            ));
        };
        {
            collector
                .summarize(
                    name,
                    "throughput",
                    ReportedSummary {
                        statistic: Statistic::Mean,
                        value: ops,
                        n: Some(runs),
                        spread: Spread::MarginOfError {
                            relative: margin / 100.0,
                            confidence: 0.95,
                        },
                    },
                )
                .map_err(|e| input.invalid(&location, e))?;
        }
    }
    Ok(Imported::new(collector.finish()))
}

/// Whether `line` is Benchmark.js's `String(bench)` of a benchmark that threw: the name, `: `,
/// then the error, joined as `name: TypeError, message: boom`, or any line naming an `Error`.
fn threw(line: &str) -> bool {
    let line = line.trim();
    (line.contains(": name: ") && line.contains(", message: "))
        || line
            .split_once(": ")
            .is_some_and(|(_, error)| error.contains("Error"))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error, names};
    use super::super::{Format, import_bytes};
    use benchkeep_core::model::Direction;

    #[test]
    fn result_lines_become_throughput_samples() {
        let text = "\
RegExp#test x 43,428,362 ops/sec ±0.93% (94 runs sampled)
String#indexOf x 781,632,010 ops/sec ±0.41% (96 runs sampled)
a x b x 12.5 ops/sec ±3.20% (30 runs sampled)
Fastest is String#indexOf
";
        let imported = import_bytes(Format::BenchmarkJs, "b.txt", text.as_bytes()).unwrap();
        let names: Vec<&str> = names(&imported);
        assert_eq!(names, ["RegExp#test", "String#indexOf", "a x b"]);
        let m = &imported.benchmarks[0].metrics[0];
        assert_eq!(
            (m.samples[0], m.direction),
            (43_428_362.0, Direction::HigherIsBetter)
        );
        assert_eq!(imported.benchmarks[0].params["runs_sampled"], "94");
    }

    #[test]
    fn thrown_and_cut_off_benchmarks_are_refused() {
        let threw = "parse x 1,234 ops/sec ±1.00% (90 runs sampled)\nrender: name: TypeError, message: x is undefined\n";
        let e = error(Format::BenchmarkJs, "b.txt", threw.as_bytes());
        assert!(
            e.starts_with("b.txt: line 2: a benchmark threw instead of giving a result"),
            "{e}"
        );
        let cut = "parse x 1,234 ops/sec ±1.00% (90 runs sampled)\nrender x 98,765 ops/sec ±1.";
        let e = error(Format::BenchmarkJs, "b.txt", cut.as_bytes());
        assert!(
            e.starts_with("b.txt: line 2: render: the result line ends before"),
            "{e}"
        );
    }

    #[test]
    fn negative_results_are_refused() {
        // Found by the mutation test: one flipped byte made a rate negative, and it imported.
        let e = error(
            Format::BenchmarkJs,
            "b.txt",
            b"String#indexOf x -81,632,010 ops/sec \xC2\xB10.41% (96 runs sampled)\n",
        );
        assert!(e.starts_with("b.txt: line 1: "), "{e}");
        assert!(e.contains("-81632010 is negative"), "{e}");
    }

    #[test]
    fn unreadable_result_lines_fail() {
        let e = error(Format::BenchmarkJs, "b.txt", b"ok\nfoo x many ops/sec\n");
        assert!(
            e.starts_with("b.txt: line 2: cannot read \"foo x many ops/sec\""),
            "{e}"
        );
    }
}
