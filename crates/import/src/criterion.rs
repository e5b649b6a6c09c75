//! criterion: cargo-criterion's JSON messages, and criterion's own `target/criterion` files.
//!
//! Both keep every sample: a sample is a batch of `iters` iterations that took `times`
//! nanoseconds in all, so the per-iteration time of each batch becomes one benchkeep sample.

use std::path::{Path, PathBuf};

use benchkeep_core::model::{Direction, Unit};
use serde::Deserialize;

use super::{Collector, ImportError, Imported, Input, json_at};

/// One line of `cargo criterion --message-format=json`.
#[derive(Deserialize)]
struct Message {
    reason: String,
}

/// A `benchmark-complete` message (cargo-criterion's documented fields; others ignored).
#[derive(Deserialize)]
struct Complete {
    id: String,
    iteration_count: Vec<f64>,
    measured_values: Vec<f64>,
    unit: String,
    #[serde(default)]
    throughput: Vec<Throughput>,
}

#[derive(Deserialize)]
struct Throughput {
    per_iteration: u64,
    unit: String,
}

pub(super) fn messages(input: &Input<'_>) -> Result<Imported, ImportError> {
    let text = input.text()?;
    let mut collector = Collector::default();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if !line.starts_with('{') {
            return Err(input.invalid(
                format!("line {number}"),
                "not a JSON message (run `cargo criterion --message-format=json`, or import the target/criterion directory)",
            ));
        }
        let message: Message = json_at(input, line.as_bytes(), Some(number))?;
        if message.reason != "benchmark-complete" {
            continue; // group-complete, and cargo's own compiler messages
        }
        let complete: Complete = json_at(input, line.as_bytes(), Some(number))?;
        let samples =
            per_iteration(&complete.iteration_count, &complete.measured_values).map_err(|e| {
                input.invalid(format!("line {number}"), format!("{}: {e}", complete.id))
            })?;
        let result = if complete.unit == "ns" {
            collector.add_time(&complete.id, samples)
        } else {
            // A custom criterion measurement (cycles, instructions, ...): its own unit.
            collector.add(
                &complete.id,
                &complete.unit,
                &Unit(complete.unit.clone()),
                Direction::LowerIsBetter,
                samples,
            )
        };
        result.map_err(|e| input.invalid(format!("line {number}"), e))?;
        if let Some(t) = complete.throughput.first() {
            collector.benchmark(&complete.id).params.insert(
                "throughput".into(),
                format!("{} {}", t.per_iteration, t.unit),
            );
        }
    }
    Ok(Imported::new(collector.finish()))
}

fn per_iteration(iters: &[f64], totals: &[f64]) -> Result<Vec<f64>, String> {
    if iters.len() != totals.len() {
        return Err(format!(
            "{} iteration counts but {} measured values",
            iters.len(),
            totals.len()
        ));
    }
    iters
        .iter()
        .zip(totals)
        .map(|(&n, &total)| {
            if n > 0.0 && total >= 0.0 {
                Ok(total / n)
            } else {
                Err(format!("a sample of {n} iterations taking {total}"))
            }
        })
        .collect()
}

/// `<benchmark>/new/sample.json`.
#[derive(Deserialize)]
struct SampleFile {
    iters: Vec<f64>,
    times: Vec<f64>,
}

/// `<benchmark>/new/benchmark.json`.
#[derive(Deserialize)]
struct BenchmarkFile {
    full_id: String,
    #[serde(default)]
    throughput: Option<serde_json::Value>,
}

/// Imports every `.../new/` result under `root` (a `target/criterion` directory or any part of
/// one). `base/` and `change/` hold criterion's own previous run and are skipped.
pub(super) fn directory(root: &Path) -> Result<Imported, ImportError> {
    let mut found = Vec::new();
    find_new_dirs(root, &mut found)?;
    found.sort();
    let mut collector = Collector::default();
    for dir in found {
        let read = |name: &str| -> Result<(Vec<u8>, String), ImportError> {
            let path = dir.join(name);
            std::fs::read(&path)
                .map(|bytes| (bytes, path.display().to_string()))
                .map_err(|source| ImportError::Read {
                    path: path.display().to_string(),
                    source,
                })
        };
        let (bytes, name) = read("benchmark.json")?;
        let file_input = Input {
            format: super::Format::Criterion,
            name: &name,
            bytes: &bytes,
            options: super::ImportOptions::default(),
            entries: std::cell::RefCell::default(),
        };
        let bench: BenchmarkFile = file_input.json()?;
        let (bytes, name) = read("sample.json")?;
        let sample_input = Input {
            format: super::Format::Criterion,
            name: &name,
            bytes: &bytes,
            options: super::ImportOptions::default(),
            entries: std::cell::RefCell::default(),
        };
        let sample: SampleFile = sample_input.json()?;
        let samples = per_iteration(&sample.iters, &sample.times)
            .map_err(|e| sample_input.invalid("field times", e))?;
        collector
            .add_time(&bench.full_id, samples)
            .map_err(|e| sample_input.invalid("field times", e))?;
        if let Some(t) = bench.throughput.filter(|t| !t.is_null()) {
            collector
                .benchmark(&bench.full_id)
                .params
                .insert("throughput".into(), t.to_string());
        }
    }
    let mut imported = Imported::new(collector.finish());
    imported
        .labels
        .insert("import.criterion".into(), "directory".into());
    Ok(imported)
}

fn find_new_dirs(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), ImportError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ImportError::Read {
        path: dir.display().to_string(),
        source,
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        match entry.file_name().to_str() {
            Some("new") if path.join("sample.json").is_file() => found.push(path),
            Some("base" | "change" | "report" | "new") => {}
            _ => find_new_dirs(&path, found)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error, names};
    use super::super::{Format, import_bytes, import_path};
    use std::path::Path;

    fn fixtures() -> &'static Path {
        Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/import"
        ))
    }

    #[test]
    fn real_criterion_directories_keep_every_sample() {
        let imported = import_path(Format::Criterion, &fixtures().join("criterion/fast")).unwrap();
        let names: Vec<&str> = names(&imported);
        assert_eq!(names, ["fib 20", "parse/1000", "parse/10000"]);
        for bench in &imported.benchmarks {
            let wall = &bench.metrics[0];
            assert_eq!(wall.name, "wall_time");
            assert_eq!(wall.samples.len(), 100, "{}", bench.name);
            assert!(wall.samples.iter().all(|&s| s > 100.0 && s < 100_000.0));
        }
    }

    #[test]
    fn real_cargo_criterion_messages_are_read_and_other_reasons_skipped() {
        let text = std::fs::read(fixtures().join("criterion/messages.json")).unwrap();
        let imported = import_bytes(Format::Criterion, "messages.json", &text).unwrap();
        let names: Vec<&str> = names(&imported);
        assert_eq!(names, ["fib 20", "parse/1000", "parse/10000"]);
        assert!(
            imported
                .benchmarks
                .iter()
                .all(|b| b.metrics[0].samples.len() == 100)
        );
    }

    #[test]
    fn throughput_and_custom_measurements_are_kept() {
        let line = br#"{"reason":"benchmark-complete","id":"p","iteration_count":[10,20],"measured_values":[100,240],"unit":"cycles","throughput":[{"per_iteration":1000,"unit":"bytes"}]}"#;
        let imported = import_bytes(Format::Criterion, "m.json", line).unwrap();
        let bench = &imported.benchmarks[0];
        assert_eq!(bench.metrics[0].name, "cycles");
        assert_eq!(bench.metrics[0].samples, vec![10.0, 12.0]);
        assert_eq!(bench.params["throughput"], "1000 bytes");
    }

    #[test]
    fn broken_criterion_input_names_the_line_or_file() {
        let truncated =
            b"{\"reason\":\"benchmark-complete\",\"id\":\"x\",\"iteration_count\":[1,2],\"measured";
        let e = error(Format::Criterion, "m.json", truncated);
        assert!(e.starts_with("m.json: line 1, column"), "{e}");
        let mismatched = br#"{"reason":"benchmark-complete","id":"x","iteration_count":[1,2],"measured_values":[5],"unit":"ns"}"#;
        let e = error(Format::Criterion, "m.json", mismatched);
        assert!(
            e.contains("x: 2 iteration counts but 1 measured values"),
            "{e}"
        );
        let e = error(Format::Criterion, "m.json", b"Benchmarking parse\n");
        assert!(e.contains("line 1: not a JSON message"), "{e}");
        let only_groups = br#"{"reason":"group-complete","group_name":"g","benchmarks":[]}"#;
        let e = error(Format::Criterion, "m.json", only_groups);
        assert!(e.contains("no benchmark results"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("parse/new");
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(new.join("sample.json"), b"{\"iters\":[1.0],\"times\":").unwrap();
        std::fs::write(new.join("benchmark.json"), br#"{"full_id":"parse"}"#).unwrap();
        let e = import_path(Format::Criterion, dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("parse/new/sample.json: field times (line 1"),
            "{e}"
        );
        let empty = tempfile::tempdir().unwrap();
        let e = import_path(Format::Criterion, empty.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no benchmark results"), "{e}");
    }
}
