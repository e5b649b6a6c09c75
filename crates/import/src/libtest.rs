//! libtest's `cargo bench` text: `test NAME ... bench:   1,234 ns/iter (+/- 56)`.
//!
//! libtest prints one median per benchmark, so a single output gives one sample, with its
//! `(+/- N)` kept as the metric's summary: the range of libtest's winsorized samples, which the
//! comparison judges by a conservative rule (a standard deviation of at most half the range,
//! because libtest does not say how many samples it took). Several outputs concatenated
//! (`for i in 1 2 3 4 5; do cargo bench; done`) give one sample each, whose spread between runs
//! is better evidence; every other line (cargo's own, `running N tests`, `test result:`) is
//! skipped.

use benchkeep_core::model::{ReportedSummary, Spread, Statistic};

use super::{Collector, ImportError, Imported, Input, number};

pub(super) fn import(input: &Input<'_>) -> Result<Imported, ImportError> {
    let text = input.text()?;
    let mut collector = Collector::default();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        // A benchmark that panicked prints `test NAME ... FAILED` and the run ends with
        // `test result: FAILED.`: a failed benchmark must not pass a gate by its absence.
        if trimmed.starts_with("test result: FAILED") {
            return Err(input.invalid(
                format!("line {}", index + 1),
                format!("the benchmark run failed: {trimmed:?}"),
            ));
        }
        let Some(rest) = trimmed.strip_prefix("test ") else {
            continue;
        };
        if let Some(name) = rest.strip_suffix(" ... FAILED") {
            return Err(input.invalid(
                format!("line {}", index + 1),
                format!("benchmark {:?} failed", name.trim()),
            ));
        }
        let Some((name, result)) = rest.split_once(" ... bench:") else {
            continue; // `test x ... ok`, `test x ... ignored`
        };
        let location = format!("line {}", index + 1);
        let mut words = result.split_whitespace();
        let value = words.next().and_then(number);
        let unit = words.next();
        let (Some(value), Some("ns/iter")) = (value, unit) else {
            return Err(input.invalid(
                location,
                format!(
                    "cannot read the result of {:?}: {:?}",
                    name.trim(),
                    result.trim()
                ),
            ));
        };
        // libtest (and criterion's bencher output) always prints the range: a line without a
        // whole `(+/- N)` was cut short, and may be the last of a truncated output.
        let range = result
            .split_once("(+/-")
            .and_then(|(_, rest)| rest.split_once(')'))
            .and_then(|(range, _)| number(range.trim()));
        let Some(range) = range else {
            return Err(input.invalid(
                location,
                format!(
                    "the result of {:?} is cut short (no \"(+/- N)\" after it): {:?}",
                    name.trim(),
                    result.trim()
                ),
            ));
        };
        collector
            .add_time(name.trim(), [value])
            .map_err(|e| input.invalid(&location, e))?;
        {
            collector
                .summarize(
                    name.trim(),
                    "wall_time",
                    ReportedSummary {
                        statistic: Statistic::Median,
                        value,
                        n: None,
                        spread: Spread::Range { value: range },
                    },
                )
                .map_err(|e| input.invalid(&location, e))?;
        }
    }
    Ok(Imported::new(collector.finish()))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error, names};
    use super::super::{Format, import_bytes};

    #[test]
    fn real_bencher_output_from_criterion_is_read() {
        let text = include_bytes!("../tests/fixtures/import/libtest/criterion-bencher.txt");
        let imported = import_bytes(Format::Libtest, "bench.txt", text).unwrap();
        let names: Vec<&str> = names(&imported);
        assert_eq!(names, ["fib 20", "parse/1000", "parse/10000"]);
        assert_eq!(imported.benchmarks[1].metrics[0].samples, vec![1128.0]);
    }

    #[test]
    fn a_failed_benchmark_is_refused_not_missing() {
        let text = "\
running 2 tests
test parse  ... bench:       1,234 ns/iter (+/- 56)
test render ... FAILED

failures:
test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out
";
        let e = error(Format::Libtest, "bench.txt", text.as_bytes());
        assert!(
            e.starts_with("bench.txt: line 3: benchmark \"render\" failed"),
            "{e}"
        );
        let summary_only = "test parse ... bench: 1,234 ns/iter (+/- 56)\ntest result: FAILED. 1 passed; 1 failed\n";
        let e = error(Format::Libtest, "bench.txt", summary_only.as_bytes());
        assert!(
            e.starts_with("bench.txt: line 2: the benchmark run failed"),
            "{e}"
        );
    }

    #[test]
    fn libtest_output_with_decimals_and_repeats_becomes_samples() {
        let text = "\
running 3 tests
test tests::ignored ... ignored
test tests::parse   ... bench:       1,234.50 ns/iter (+/- 56.20)
test tests::render  ... bench:          98 ns/iter (+/- 3) = 1024 MB/s

test result: ok. 0 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out

running 2 tests
test tests::parse   ... bench:       1,300 ns/iter (+/- 60)
";
        let imported = import_bytes(Format::Libtest, "b.txt", text.as_bytes()).unwrap();
        assert_eq!(imported.benchmarks[0].name, "tests::parse");
        assert_eq!(
            imported.benchmarks[0].metrics[0].samples,
            vec![1234.5, 1300.0]
        );
        assert_eq!(imported.benchmarks[1].metrics[0].samples, vec![98.0]);
    }

    #[test]
    fn malformed_bench_lines_name_their_line() {
        let text = "running 1 test\ntest parse ... bench: lots ns/iter (+/- 1)\n";
        let e = error(Format::Libtest, "b.txt", text.as_bytes());
        assert!(
            e.starts_with("b.txt: line 2: cannot read the result of \"parse\""),
            "{e}"
        );
        let e = error(Format::Libtest, "b.txt", b"test a ... ok\n");
        assert!(e.contains("no benchmark results found"), "{e}");
    }
}
