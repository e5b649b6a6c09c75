//! `go test -bench` text: `BenchmarkName-8   1000   1234 ns/op   128 B/op   2 allocs/op`.
//!
//! Each result line is one sample, so `-count N` gives N samples. The `-8` suffix (GOMAXPROCS)
//! is moved into the benchmark's parameters, as benchstat does. `ns/op` becomes `wall_time`;
//! `B/op` and `allocs/op` (`-benchmem`) and `b.ReportMetric` units are lower-is-better metrics
//! of their own, except rates (`MB/s` and any unit ending in `/s`), which are higher-is-better.
//! A `--- FAIL` line fails the import: a failed benchmark must not pass a gate. So does an
//! output that ends without `go test`'s closing `PASS` or `ok` line after its last result: a
//! cut-off output would otherwise import as if complete.

use benchkeep_core::model::{Direction, Unit};

use super::{Collector, ImportError, Imported, Input, number};

pub(super) fn import(input: &Input<'_>) -> Result<Imported, ImportError> {
    let text = input.text()?;
    let mut collector = Collector::default();
    let mut package: Option<String> = None;
    let mut packages_seen = 0usize;
    let mut labels = std::collections::BTreeMap::new();
    // The last result line, and whether a closing line came after it.
    let mut last_result: Option<usize> = None;
    let mut closed = false;
    for (index, line) in text.lines().enumerate() {
        let location = format!("line {}", index + 1);
        let trimmed = line.trim();
        if trimmed == "PASS" || trimmed.starts_with("ok ") || trimmed.starts_with("ok\t") {
            closed = true;
            continue;
        }
        if trimmed.starts_with("--- FAIL") || trimmed.starts_with("FAIL\t") || trimmed == "FAIL" {
            return Err(input.invalid(location, format!("a benchmark failed: {trimmed:?}")));
        }
        if let Some((key, value)) = trimmed.split_once(": ") {
            if matches!(key, "goos" | "goarch" | "cpu") {
                labels.insert(format!("import.{key}"), value.trim().to_owned());
                continue;
            }
            if key == "pkg" {
                if package.as_deref() != Some(value.trim()) {
                    packages_seen += 1;
                }
                package = Some(value.trim().to_owned());
                continue;
            }
        }
        if !trimmed.starts_with("Benchmark") {
            continue;
        }
        let fields: Vec<&str> = trimmed.split_whitespace().collect();
        // A name alone on its line is printed before a benchmark's own log output.
        let Some(iterations) = fields.get(1) else {
            continue;
        };
        if iterations.parse::<u64>().is_err() {
            continue;
        }
        last_result = Some(index + 1);
        closed = false;
        let (name, procs) = split_procs(fields[0]);
        let name = match (&package, packages_seen > 1) {
            (Some(pkg), true) => format!("{pkg}.{name}"),
            _ => name.to_owned(),
        };
        let pairs = &fields[2..];
        if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
            return Err(input.invalid(
                location,
                format!("{name}: expected value-unit pairs after the iteration count"),
            ));
        }
        for pair in pairs.chunks(2) {
            let value = number(pair[0]).ok_or_else(|| {
                input.invalid(&location, format!("{name}: {:?} is not a number", pair[0]))
            })?;
            let result = match pair[1] {
                "ns/op" => collector.add_time(&name, [value]),
                unit => {
                    let (metric, direction) = match unit {
                        "B/op" => ("bytes_per_op", Direction::LowerIsBetter),
                        "allocs/op" => ("allocs_per_op", Direction::LowerIsBetter),
                        "MB/s" => ("throughput", Direction::HigherIsBetter),
                        other if other.ends_with("/s") => (other, Direction::HigherIsBetter),
                        other => (other, Direction::LowerIsBetter),
                    };
                    collector.add(&name, metric, &Unit(unit.to_owned()), direction, [value])
                }
            };
            result.map_err(|e| input.invalid(&location, e))?;
        }
        if let Some(procs) = procs {
            collector
                .benchmark(&name)
                .params
                .insert("gomaxprocs".into(), procs.to_owned());
        }
    }
    if let Some(line) = last_result
        && !closed
    {
        return Err(input.invalid(
            format!("line {line}"),
            "the output ends without go test's closing `PASS` or `ok` line after this result: cut off? (give the whole `go test -bench` output)",
        ));
    }
    let mut imported = Imported::new(collector.finish());
    imported.labels = labels;
    Ok(imported)
}

/// `BenchmarkX/sub-8` -> (`BenchmarkX/sub`, Some("8")).
fn split_procs(name: &str) -> (&str, Option<&str>) {
    match name.rsplit_once('-') {
        Some((base, procs)) if !procs.is_empty() && procs.bytes().all(|b| b.is_ascii_digit()) => {
            (base, Some(procs))
        }
        _ => (name, None),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error, names};
    use super::super::{Format, import_bytes};

    const OUTPUT: &str = "\
goos: linux
goarch: amd64
pkg: example.com/parse
cpu: AMD EPYC 7763 64-Core Processor
BenchmarkParse/small-8         \t  967428\t      1234 ns/op\t     128 B/op\t       2 allocs/op
BenchmarkParse/small-8         \t  981220\t      1201 ns/op\t     128 B/op\t       2 allocs/op
BenchmarkParse/small-8         \t  975101\t      1250 ns/op\t     128 B/op\t       2 allocs/op
BenchmarkEncode-8              \t   10000\t    105432 ns/op\t  98.12 MB/s\t  0.5000 hits/op
BenchmarkLogs-8
    parse_test.go:40: warming up
BenchmarkLogs-8                \t     100\t  10000000 ns/op
PASS
ok  \texample.com/parse\t5.123s
";

    #[test]
    fn count_repetitions_become_samples_with_benchmem_and_custom_metrics() {
        let imported = import_bytes(Format::Go, "go.txt", OUTPUT.as_bytes()).unwrap();
        let parse = &imported.benchmarks[0];
        assert_eq!(parse.name, "BenchmarkParse/small");
        assert_eq!(parse.params["gomaxprocs"], "8");
        assert_eq!(parse.metrics[0].name, "wall_time");
        assert_eq!(parse.metrics[0].samples, vec![1234.0, 1201.0, 1250.0]);
        assert_eq!(parse.metrics[1].name, "bytes_per_op");
        assert_eq!(parse.metrics[2].name, "allocs_per_op");
        let encode = &imported.benchmarks[1];
        assert_eq!(encode.metrics[1].name, "throughput");
        assert_eq!(
            encode.metrics[1].direction,
            benchkeep_core::model::Direction::HigherIsBetter
        );
        assert_eq!(encode.metrics[2].name, "hits/op");
        assert_eq!(imported.benchmarks[2].name, "BenchmarkLogs");
        assert_eq!(
            imported.labels["import.cpu"],
            "AMD EPYC 7763 64-Core Processor"
        );
    }

    #[test]
    fn two_packages_are_told_apart() {
        let text =
            "pkg: a\nBenchmarkX-2 10 5 ns/op\nok a 1s\npkg: b\nBenchmarkX-2 10 7 ns/op\nok b 1s\n";
        let imported = import_bytes(Format::Go, "go.txt", text.as_bytes()).unwrap();
        let names: Vec<&str> = names(&imported);
        assert_eq!(names, ["BenchmarkX", "b.BenchmarkX"]);
    }

    #[test]
    fn failures_and_broken_lines_name_their_line() {
        let failed =
            "BenchmarkA-8 10 5 ns/op\n--- FAIL: BenchmarkB-8\n    b_test.go:9: boom\nFAIL\n";
        let e = error(Format::Go, "go.txt", failed.as_bytes());
        assert!(e.starts_with("go.txt: line 2: a benchmark failed"), "{e}");
        let e = error(Format::Go, "go.txt", b"BenchmarkA-8 10 five ns/op\n");
        assert!(
            e.contains("line 1: BenchmarkA: \"five\" is not a number"),
            "{e}"
        );
        let e = error(Format::Go, "go.txt", b"BenchmarkA-8 10 5\n");
        assert!(
            e.contains("line 1: BenchmarkA: expected value-unit pairs"),
            "{e}"
        );
        let e = error(Format::Go, "go.txt", b"PASS\nok  x 0.1s\n");
        assert!(e.contains("no benchmark results"), "{e}");
    }

    #[test]
    fn an_output_cut_off_before_its_closing_line_is_refused() {
        let cut = OUTPUT.split("BenchmarkEncode").next().unwrap();
        let e = error(Format::Go, "go.txt", cut.as_bytes());
        assert!(
            e.starts_with("go.txt: line 7: the output ends without go test's closing"),
            "{e}"
        );
        // A second package's results after the first one's `ok` need their own.
        let two = "BenchmarkA-2 10 5 ns/op\nok a 1s\nBenchmarkB-2 10 5 ns/op\n";
        assert!(error(Format::Go, "go.txt", two.as_bytes()).contains("line 3"));
    }
}
