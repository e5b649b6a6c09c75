//! Importers: the output of other benchmark harnesses as benchkeep benchmarks.
//!
//! Each importer keeps every raw sample the format has (criterion's per-sample times,
//! hyperfine's per-run times, Google Benchmark's repetitions, `go test -count` lines, ...) and
//! falls back to the one summary value a format gives only when it has nothing else. Input that
//! is not what the format expects fails with one line naming the source, the line or field, and
//! the format; an input with no benchmarks at all is an error too, never an empty run that passes
//! a gate.
//!
//! ```
//! use benchkeep_import::{Format, import_bytes};
//!
//! let text = "test parse ... bench:       1,234 ns/iter (+/- 56)\n";
//! let imported = import_bytes(Format::Libtest, "bench.txt", text.as_bytes()).unwrap();
//! assert_eq!(imported.benchmarks[0].name, "parse");
//! assert_eq!(imported.benchmarks[0].metrics[0].samples, vec![1234.0]);
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::hash::BuildHasher as _;
use std::path::Path;
use std::str::FromStr;

use benchkeep_core::model::{Benchmark, Direction, Metric, ReportedSummary, Spread, Unit};
use serde::de::DeserializeOwned;

mod benchmarkdotnet;
mod benchmarkjs;
mod catch2;
mod criterion;
mod custom;
mod go;
mod google_benchmark;
mod hyperfine;
mod jmh;
mod libtest;
mod pytest_benchmark;

/// A harness output format benchkeep can import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// criterion: `cargo criterion --message-format=json` lines, or a `target/criterion` directory.
    Criterion,
    /// libtest's `cargo bench` text (`test NAME ... bench: N ns/iter (+/- M)`), also what
    /// criterion prints with `--output-format bencher`.
    Libtest,
    /// `hyperfine --export-json`.
    Hyperfine,
    /// Google Benchmark's `--benchmark_format=json` (or `--benchmark_out`).
    GoogleBenchmark,
    /// `go test -bench` text.
    Go,
    /// pytest-benchmark's `--benchmark-json`.
    PytestBenchmark,
    /// JMH's `-rf json`.
    Jmh,
    /// `BenchmarkDotNet`'s full JSON export (`*-report-full.json`).
    BenchmarkDotNet,
    /// Catch2's XML reporter (`-r xml`).
    Catch2,
    /// Benchmark.js text (`NAME x 1,234 ops/sec ±1.2% (90 runs sampled)`).
    BenchmarkJs,
    /// benchkeep's own simple JSON (docs/import.md).
    Custom,
}

impl Format {
    /// Every format, in the order the documentation lists them.
    pub const ALL: [Format; 11] = [
        Format::Criterion,
        Format::Libtest,
        Format::Hyperfine,
        Format::GoogleBenchmark,
        Format::Go,
        Format::PytestBenchmark,
        Format::Jmh,
        Format::BenchmarkDotNet,
        Format::Catch2,
        Format::BenchmarkJs,
        Format::Custom,
    ];

    /// The name used on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Format::Criterion => "criterion",
            Format::Libtest => "libtest",
            Format::Hyperfine => "hyperfine",
            Format::GoogleBenchmark => "google-benchmark",
            Format::Go => "go",
            Format::PytestBenchmark => "pytest-benchmark",
            Format::Jmh => "jmh",
            Format::BenchmarkDotNet => "benchmarkdotnet",
            Format::Catch2 => "catch2",
            Format::BenchmarkJs => "benchmarkjs",
            Format::Custom => "custom",
        }
    }

    /// What input the format expects, for error messages.
    #[must_use]
    pub fn expected(self) -> &'static str {
        match self {
            Format::Criterion => {
                "criterion output: `cargo criterion --message-format=json` lines or a target/criterion directory"
            }
            Format::Libtest => {
                "libtest `cargo bench` text: `test NAME ... bench: N ns/iter (+/- M)`"
            }
            Format::Hyperfine => "hyperfine --export-json output",
            Format::GoogleBenchmark => "Google Benchmark --benchmark_format=json output",
            Format::Go => "`go test -bench` text: `BenchmarkName-8  1000  1234 ns/op`",
            Format::PytestBenchmark => "pytest-benchmark --benchmark-json output",
            Format::Jmh => "JMH -rf json output",
            Format::BenchmarkDotNet => "a BenchmarkDotNet full JSON export (*-report-full.json)",
            Format::Catch2 => "Catch2 XML reporter output (-r xml)",
            Format::BenchmarkJs => {
                "Benchmark.js text: `NAME x 1,234 ops/sec ±1.2% (90 runs sampled)`"
            }
            Format::Custom => "benchkeep custom JSON (docs/import.md)",
        }
    }
}

impl Format {
    /// A command line that makes this format and checks it, for `benchkeep formats`.
    #[must_use]
    pub fn example(self) -> &'static str {
        match self {
            Format::Criterion => {
                "cargo criterion --message-format=json > c.json && benchkeep check --import criterion c.json"
            }
            Format::Libtest => {
                "cargo bench > bench.txt && benchkeep check --import libtest bench.txt"
            }
            Format::Hyperfine => {
                "hyperfine --export-json h.json 'app parse' && benchkeep check --import hyperfine h.json"
            }
            Format::GoogleBenchmark => {
                "./bench --benchmark_repetitions=5 --benchmark_format=json > gb.json && benchkeep check --import google-benchmark gb.json"
            }
            Format::Go => "go test -bench . -count 10 ./... | benchkeep check --import go -",
            Format::PytestBenchmark => {
                "pytest --benchmark-json pb.json && benchkeep check --import pytest-benchmark pb.json"
            }
            Format::Jmh => {
                "java -jar target/benchmarks.jar -rf json -rff jmh.json && benchkeep check --import jmh jmh.json"
            }
            Format::BenchmarkDotNet => {
                "dotnet run -c Release -- --exporters json && benchkeep check --import benchmarkdotnet BenchmarkDotNet.Artifacts/results/Bench-report-full.json"
            }
            Format::Catch2 => {
                "./tests '[!benchmark]' -r xml -o catch2.xml && benchkeep check --import catch2 catch2.xml"
            }
            Format::BenchmarkJs => {
                "node bench.js > bjs.txt && benchkeep check --import benchmarkjs bjs.txt"
            }
            Format::Custom => {
                "echo '{\"benchmarks\": [{\"name\": \"parse\", \"unit\": \"ns\", \"samples\": [1200, 1180, 1230]}]}' | benchkeep check --import custom -"
            }
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that is not one of [`Format::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown import format {given:?}; expected one of: {}", Format::ALL.map(Format::name).join(", "))]
pub struct UnknownFormat {
    /// What was given.
    pub given: String,
}

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        let alias = match wanted.as_str() {
            "cargo-bench" | "rust" | "bencher" => "libtest",
            "googlebenchmark" | "gbench" | "googlecpp" => "google-benchmark",
            "gotest" | "go-test" => "go",
            "pytest" | "pytest-benchmarks" => "pytest-benchmark",
            "benchmark.js" | "benchmark-js" => "benchmarkjs",
            "benchmark-dotnet" | "benchmark.net" => "benchmarkdotnet",
            other => other,
        };
        Format::ALL
            .into_iter()
            .find(|f| f.name() == alias)
            .ok_or_else(|| UnknownFormat {
                given: s.chars().take(40).collect(),
            })
    }
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The input could not be read.
    /// The input is larger than the import allows.
    #[error("{source_name}: {} is larger than the {limit}-byte limit of an import (--max-input-size raises it)", size.map_or_else(|| "the input".to_owned(), |size| format!("{size} bytes")))]
    TooLarge {
        /// The input.
        source_name: String,
        /// Its size, when known before reading.
        size: Option<u64>,
        /// The limit.
        limit: u64,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file or directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The input is not what the format expects.
    #[error("{source_name}: {location}: {message} (expected {expected})")]
    Invalid {
        /// The file (or `<stdin>`).
        source_name: String,
        /// `line 3`, `field benchmarks[2].real_time`, ...
        location: String,
        /// What is wrong.
        message: String,
        /// What the format expects.
        expected: &'static str,
    },
    /// The input parsed but held no benchmark results.
    #[error("{source_name}: no benchmark results found (expected {expected})")]
    Empty {
        /// The file (or `<stdin>`).
        source_name: String,
        /// What the format expects.
        expected: &'static str,
    },
}

/// What an import produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The benchmarks, in the order the input first named them.
    pub benchmarks: Vec<Benchmark>,
    /// What the input says about itself (tool version, package, ...), for the run's labels.
    pub labels: BTreeMap<String, String>,
    /// The language runtime or compiler the input says it ran on (`CPython 3.11.7`, a JVM, a
    /// .NET runtime), for the environment fingerprint.
    pub toolchain: Option<String>,
}

/// The largest input imported unless [`ImportOptions::max_input_bytes`] says otherwise: 1 GiB.
/// A larger harness output is almost certainly a mistake (a log, a core dump), and reading it
/// would take memory several times its size.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 1 << 30;

/// How an import treats what it could refuse.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportOptions {
    /// Pool two entries with one name as one benchmark's samples (formats whose entries are
    /// distinct results: pytest-benchmark, JMH, `BenchmarkDotNet`, Catch2, custom).
    /// By default such a duplicate is refused: two different things measured under one name
    /// would otherwise be judged as one.
    pub merge_duplicates: bool,
    /// Refuse inputs larger than this many bytes ([`DEFAULT_MAX_INPUT_BYTES`] when `None`).
    pub max_input_bytes: Option<u64>,
}

impl ImportOptions {
    /// The size limit in force.
    #[must_use]
    pub fn max_input_bytes(&self) -> u64 {
        self.max_input_bytes.unwrap_or(DEFAULT_MAX_INPUT_BYTES)
    }
}

/// Reads `reader` (standard input, say) to its end, refusing more than the options allow
/// without reading it all; `source_name` names it in errors.
///
/// # Errors
///
/// [`ImportError::TooLarge`], or [`ImportError::Read`].
pub fn read_limited(
    reader: impl std::io::Read,
    source_name: &str,
    options: ImportOptions,
) -> Result<Vec<u8>, ImportError> {
    let limit = options.max_input_bytes();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut reader.take(limit.saturating_add(1)), &mut bytes).map_err(
        |source| ImportError::Read {
            path: source_name.to_owned(),
            source,
        },
    )?;
    if bytes.len() as u64 > limit {
        return Err(ImportError::TooLarge {
            source_name: source_name.to_owned(),
            size: None,
            limit,
        });
    }
    Ok(bytes)
}

/// Imports `bytes` in `format`; `source_name` names the input in errors.
///
/// # Errors
///
/// [`ImportError`] naming the input and the line or field it could not vouch for.
pub fn import_bytes(
    format: Format,
    source_name: &str,
    bytes: &[u8],
) -> Result<Imported, ImportError> {
    import_bytes_with(format, source_name, bytes, ImportOptions::default())
}

/// [`import_bytes`] with `options`.
///
/// # Errors
///
/// [`ImportError`] naming the input and the line or field it could not vouch for.
pub fn import_bytes_with(
    format: Format,
    source_name: &str,
    bytes: &[u8],
    options: ImportOptions,
) -> Result<Imported, ImportError> {
    if bytes.len() as u64 > options.max_input_bytes() {
        return Err(ImportError::TooLarge {
            source_name: source_name.to_owned(),
            size: Some(bytes.len() as u64),
            limit: options.max_input_bytes(),
        });
    }
    // Windows tools (BenchmarkDotNet, PowerShell redirections) often start files with a UTF-8
    // byte order mark, which is not JSON or XML content.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let input = Input {
        format,
        name: source_name,
        bytes,
        options,
        entries: std::cell::RefCell::default(),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(input.invalid("line 1", "the input is empty"));
    }
    let imported = match format {
        Format::Criterion => criterion::messages(&input),
        Format::Libtest => libtest::import(&input),
        Format::Hyperfine => hyperfine::import(&input),
        Format::GoogleBenchmark => google_benchmark::import(&input),
        Format::Go => go::import(&input),
        Format::PytestBenchmark => pytest_benchmark::import(&input),
        Format::Jmh => jmh::import(&input),
        Format::BenchmarkDotNet => benchmarkdotnet::import(&input),
        Format::Catch2 => catch2::import(&input),
        Format::BenchmarkJs => benchmarkjs::import(&input),
        Format::Custom => custom::import(&input),
    }?;
    if imported.benchmarks.is_empty() {
        return Err(ImportError::Empty {
            source_name: source_name.to_owned(),
            expected: format.expected(),
        });
    }
    Ok(imported)
}

/// Imports the file at `path` (for criterion also a `target/criterion` directory).
///
/// # Errors
///
/// [`ImportError`] when the file cannot be read or imported.
pub fn import_path(format: Format, path: &Path) -> Result<Imported, ImportError> {
    import_path_with(format, path, ImportOptions::default())
}

/// [`import_path`] with `options`.
///
/// # Errors
///
/// [`ImportError`] when the file cannot be read or imported.
pub fn import_path_with(
    format: Format,
    path: &Path,
    options: ImportOptions,
) -> Result<Imported, ImportError> {
    if format == Format::Criterion && path.is_dir() {
        let imported = criterion::directory(path)?;
        if imported.benchmarks.is_empty() {
            return Err(ImportError::Empty {
                source_name: path.display().to_string(),
                expected: "a target/criterion directory with <benchmark>/new/sample.json files",
            });
        }
        return Ok(imported);
    }
    let read_error = |source| ImportError::Read {
        path: path.display().to_string(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read_error)?.len();
    if size > options.max_input_bytes() {
        return Err(ImportError::TooLarge {
            source_name: path.display().to_string(),
            size: Some(size),
            limit: options.max_input_bytes(),
        });
    }
    let bytes = std::fs::read(path).map_err(read_error)?;
    import_bytes_with(format, &path.display().to_string(), &bytes, options)
}

/// One input being imported: its format and name, for errors.
struct Input<'a> {
    format: Format,
    name: &'a str,
    bytes: &'a [u8],
    options: ImportOptions,
    /// Entry names seen so far, for formats whose entries are distinct results.
    entries: std::cell::RefCell<std::collections::HashSet<String>>,
}

impl<'a> Input<'a> {
    /// Notes an entry of a format whose entries are distinct results; a second entry with the
    /// same name is refused unless [`ImportOptions::merge_duplicates`].
    fn entry(&self, name: &str, location: impl Into<String>) -> Result<(), ImportError> {
        if !self.options.merge_duplicates && !self.entries.borrow_mut().insert(name.to_owned()) {
            return Err(self.duplicate(name, location));
        }
        Ok(())
    }

    /// The error for a second entry called `name` in a format whose entries are distinct.
    fn duplicate(&self, name: &str, location: impl Into<String>) -> ImportError {
        self.invalid(
            location,
            format!(
                "benchmark {name:?} appears twice: two results under one name would be judged as one benchmark; rename one, or pass --merge-duplicates to pool them"
            ),
        )
    }

    fn invalid(&self, location: impl Into<String>, message: impl Into<String>) -> ImportError {
        ImportError::Invalid {
            source_name: self.name.to_owned(),
            location: location.into(),
            message: message.into(),
            expected: self.format.expected(),
        }
    }

    /// The input as text, or an error at the first invalid byte's line.
    fn text(&self) -> Result<&str, ImportError> {
        std::str::from_utf8(self.bytes).map_err(|e| {
            let line = self.bytes[..e.valid_up_to()].split(|&b| b == b'\n').count();
            self.invalid(format!("line {line}"), "not UTF-8 text")
        })
    }

    /// Deserializes the whole input as JSON, naming the field that did not fit.
    fn json<T: DeserializeOwned>(&self) -> Result<T, ImportError> {
        json_at(self, self.bytes, None)
    }

    /// Like [`Input::json`], for formats whose document is one JSON object. (serde would also
    /// read a struct from an array, and then complain about the wrong field.)
    fn json_object<T: DeserializeOwned>(&self) -> Result<T, ImportError> {
        self.json_object_borrowed()
    }

    /// [`Input::json_object`] for types that borrow strings from the input.
    fn json_object_borrowed<'de, T: serde::Deserialize<'de>>(&self) -> Result<T, ImportError>
    where
        'a: 'de,
    {
        match self.bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => json_seed_at(self, self.bytes, None, std::marker::PhantomData::<T>),
            _ => Err(self.invalid("line 1", "not a JSON object")),
        }
    }
}

/// Deserializes `bytes` (the whole input, or line `line` of it) as JSON into `T`.
fn json_at<T: DeserializeOwned>(
    input: &Input<'_>,
    bytes: &[u8],
    line: Option<usize>,
) -> Result<T, ImportError> {
    json_seed_at(input, bytes, line, std::marker::PhantomData::<T>)
}

/// Deserializes `bytes` as JSON through `seed` (which may consume the document as it is read,
/// rather than build it whole), naming the field that did not fit.
fn json_seed_at<'de, S: serde::de::DeserializeSeed<'de>>(
    input: &Input<'_>,
    bytes: &'de [u8],
    line: Option<usize>,
    seed: S,
) -> Result<S::Value, ImportError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let mut track = serde_path_to_error::Track::new();
    let tracked = serde_path_to_error::Deserializer::new(&mut deserializer, &mut track);
    let value = seed.deserialize(tracked).map_err(|inner| {
        let path = track.path().to_string();
        let position = match line {
            Some(line) => format!("line {line}, column {}", inner.column()),
            None => format!("line {}, column {}", inner.line(), inner.column()),
        };
        let location = if path == "." || path == "?" {
            position
        } else {
            format!("field {path} ({position})")
        };
        let message = strip_position(&inner.to_string());
        input.invalid(location, message)
    })?;
    deserializer
        .end()
        .map_err(|e| input.invalid(format!("line {}", e.line()), strip_position(&e.to_string())))?;
    Ok(value)
}

/// A JSON array read one element at a time, each handed to `take` as soon as it is read and
/// then dropped: a million entries held whole as a list took 260-300 MB before they became
/// benchmarks. When `take` refuses an element, the reading stops and the refusal waits in
/// `failure`, to be reported in place of the deserializer's placeholder error.
struct EachElement<'f, T, F> {
    expecting: &'static str,
    take: F,
    failure: &'f mut Option<ImportError>,
    element: std::marker::PhantomData<fn() -> T>,
}

impl<'f, T, F> EachElement<'f, T, F> {
    fn new(expecting: &'static str, failure: &'f mut Option<ImportError>, take: F) -> Self {
        Self {
            expecting,
            take,
            failure,
            element: std::marker::PhantomData,
        }
    }
}

impl<'de, T, F> serde::de::DeserializeSeed<'de> for EachElement<'_, T, F>
where
    T: serde::Deserialize<'de>,
    F: FnMut(T) -> Result<(), ImportError>,
{
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T, F> serde::de::Visitor<'de> for EachElement<'_, T, F>
where
    T: serde::Deserialize<'de>,
    F: FnMut(T) -> Result<(), ImportError>,
{
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while let Some(element) = seq.next_element::<T>()? {
            if let Err(refusal) = (self.take)(element) {
                *self.failure = Some(refusal);
                return Err(serde::de::Error::custom("entry refused"));
            }
        }
        Ok(())
    }
}

fn direction_word(direction: Direction) -> &'static str {
    match direction {
        Direction::HigherIsBetter => "higher",
        Direction::LowerIsBetter => "lower",
    }
}

/// `serde_json`'s messages end in " at line L column C", which the location already says.
fn strip_position(message: &str) -> String {
    message
        .rfind(" at line ")
        .map_or(message, |at| &message[..at])
        .to_owned()
}

/// Nanoseconds per one of `unit` (`ns`, `us`, `µs`, `ms`, `s`), for time units.
fn nanoseconds_per(unit: &str) -> Option<f64> {
    match unit {
        "ns" => Some(1.0),
        "us" | "µs" | "μs" => Some(1e3),
        "ms" => Some(1e6),
        "s" | "sec" => Some(1e9),
        _ => None,
    }
}

/// Parses a number as harnesses print it: `1,234.5`.
fn number(text: &str) -> Option<f64> {
    let cleaned: String = text.chars().filter(|&c| c != ',').collect();
    cleaned.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Gathers samples by benchmark and metric, in the order the input first names them, so that
/// repeated results (`go test -count 5`, concatenated `cargo bench` outputs) become samples of
/// one benchmark.
#[derive(Debug, Default)]
struct Collector {
    benchmarks: Vec<Benchmark>,
    /// Where each name is in `benchmarks`: a lookup per result line, so an import is linear in
    /// its benchmarks (a search of the list made 100,000 benchmarks take 26 s). The table holds
    /// positions only and compares names in `benchmarks`, so no name is stored twice.
    index: hashbrown::HashTable<usize>,
    /// Where each (benchmark, metric) pair is, compared in place likewise, so that a benchmark
    /// with thousands of metrics is read in linear time too.
    metric_index: hashbrown::HashTable<(usize, usize)>,
    hasher: std::hash::RandomState,
}

impl Collector {
    /// Where the benchmark called `name` is, if it has been seen.
    fn position(&self, name: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(name);
        self.index
            .find(hash, |&i| self.benchmarks[i].name == name)
            .copied()
    }

    /// Where `metric` of the benchmark at `position` is, if it has been seen.
    fn metric_position(&self, position: usize, metric: &str) -> Option<usize> {
        let hash = self.hasher.hash_one((position, metric));
        self.metric_index
            .find(hash, |&(b, m)| {
                b == position && self.benchmarks[b].metrics[m].name == metric
            })
            .map(|&(_, m)| m)
    }

    /// The benchmark called `name`, created empty if new.
    fn benchmark(&mut self, name: &str) -> &mut Benchmark {
        let index = self.position_or_insert(name);
        &mut self.benchmarks[index]
    }

    /// Where the benchmark called `name` is, created empty if new.
    fn position_or_insert(&mut self, name: &str) -> usize {
        if let Some(i) = self.position(name) {
            i
        } else {
            self.benchmarks.push(Benchmark {
                name: name.to_owned(),
                command: None,
                metrics: Vec::new(),
                params: BTreeMap::new(),
            });
            let position = self.benchmarks.len() - 1;
            let (hasher, benchmarks) = (&self.hasher, &self.benchmarks);
            self.index
                .insert_unique(hasher.hash_one(name), position, |&i| {
                    hasher.hash_one(benchmarks[i].name.as_str())
                });
            position
        }
    }

    /// Whether the benchmark called `name` already has `metric`.
    fn has_metric(&self, name: &str, metric: &str) -> bool {
        self.position(name)
            .is_some_and(|i| self.metric_position(i, metric).is_some())
    }

    /// Adds samples of one metric. A metric that changes unit or direction is an error, and so
    /// is a sample that is not a finite number.
    fn add(
        &mut self,
        benchmark: &str,
        metric: &str,
        unit: &Unit,
        direction: Direction,
        samples: impl IntoIterator<Item = f64>,
    ) -> Result<(), String> {
        let samples: Vec<f64> = samples.into_iter().collect();
        if let Some(bad) = samples.iter().find(|v| !v.is_finite()) {
            return Err(format!(
                "{benchmark} {metric}: {bad} is not a finite number"
            ));
        }
        // Times, rates, sizes and counts are never negative; a run holding one is refused
        // when it is compared, so refuse it here, where the line can be named.
        if let Some(bad) = samples.iter().find(|v| **v < 0.0) {
            return Err(format!("{benchmark} {metric}: {bad} is negative"));
        }
        let position = self.position_or_insert(benchmark);
        if let Some(m) = self.metric_position(position, metric) {
            let existing = &mut self.benchmarks[position].metrics[m];
            if existing.unit != *unit {
                return Err(format!(
                    "{benchmark} {metric}: unit {} here, {} earlier",
                    unit.0, existing.unit.0
                ));
            }
            if existing.direction != direction {
                return Err(format!(
                    "{benchmark} {metric}: {} is better here, {} earlier",
                    direction_word(direction),
                    direction_word(existing.direction)
                ));
            }
            existing.samples.extend(samples);
            // A summary stands in for samples a harness did not export; once repeated
            // outputs give several values, their spread between runs is the better evidence.
            if existing.samples.len() > 1 {
                existing.summary = None;
            }
            return Ok(());
        }
        let metrics = &mut self.benchmarks[position].metrics;
        // Room for exactly as many as there are while they are few: a Vec's first growth
        // reserves four (540 bytes of a million-benchmark import's 1,270 per benchmark).
        if metrics.len() < 4 {
            metrics.reserve_exact(1);
        }
        metrics.push(Metric {
            name: metric.to_owned(),
            unit: unit.clone(),
            direction,
            samples,
            summary: None,
        });
        let (hasher, benchmarks) = (&self.hasher, &self.benchmarks);
        self.metric_index.insert_unique(
            hasher.hash_one((position, metric)),
            (position, benchmarks[position].metrics.len() - 1),
            |&(b, m)| hasher.hash_one((b, benchmarks[b].metrics[m].name.as_str())),
        );
        Ok(())
    }

    /// Attaches the harness's own summary to a metric that has exactly one sample (a
    /// summary-only output); a metric with several samples (repeated outputs) keeps those
    /// instead. The summary is checked like a sample: a centre or spread that is not a finite,
    /// non-negative number is an error.
    fn summarize(
        &mut self,
        benchmark: &str,
        metric: &str,
        summary: ReportedSummary,
    ) -> Result<(), String> {
        let spread = match summary.spread {
            Spread::StdDev { value } | Spread::Range { value } => value,
            Spread::MarginOfError { relative, .. } => relative,
            _ => f64::NAN,
        };
        if !(summary.value.is_finite() && spread.is_finite() && spread >= 0.0) {
            return Err(format!(
                "{benchmark} {metric}: the reported centre {} or spread {spread} is not a finite, non-negative number",
                summary.value
            ));
        }
        let position = self.position_or_insert(benchmark);
        if let Some(m) = self.metric_position(position, metric) {
            let existing = &mut self.benchmarks[position].metrics[m];
            if existing.samples.len() == 1 {
                existing.summary = Some(summary);
            }
        }
        Ok(())
    }

    /// Adds time samples in nanoseconds as `wall_time`, which must not be negative.
    fn add_time(
        &mut self,
        benchmark: &str,
        samples: impl IntoIterator<Item = f64>,
    ) -> Result<(), String> {
        self.add_time_metric(benchmark, "wall_time", samples)
    }

    /// Adds time samples in nanoseconds as `metric`, which must not be negative.
    fn add_time_metric(
        &mut self,
        benchmark: &str,
        metric: &str,
        samples: impl IntoIterator<Item = f64>,
    ) -> Result<(), String> {
        let samples: Vec<f64> = samples.into_iter().collect();
        if let Some(bad) = samples.iter().find(|v| **v < 0.0) {
            return Err(format!("{benchmark}: negative time {bad}"));
        }
        self.add(
            benchmark,
            metric,
            &Unit::nanoseconds(),
            Direction::LowerIsBetter,
            samples,
        )
    }

    /// The benchmarks that got at least one sample of some metric.
    fn finish(self) -> Vec<Benchmark> {
        self.benchmarks
            .into_iter()
            .filter(|b| b.metrics.iter().any(|m| !m.samples.is_empty()))
            .map(|mut b| {
                b.metrics.retain(|m| !m.samples.is_empty());
                b
            })
            .collect()
    }
}

impl Imported {
    fn new(benchmarks: Vec<Benchmark>) -> Self {
        Imported {
            benchmarks,
            labels: BTreeMap::new(),
            toolchain: None,
        }
    }
}

/// Helpers of the importers' tests.
#[cfg(test)]
mod testing {
    use super::{Format, Imported, import_bytes};

    /// The names of the imported benchmarks, in order.
    pub(super) fn names(imported: &Imported) -> Vec<&str> {
        imported
            .benchmarks
            .iter()
            .map(|b| b.name.as_str())
            .collect()
    }

    /// The error message of an import that must fail.
    pub(super) fn error(format: Format, name: &str, bytes: &[u8]) -> String {
        match import_bytes(format, name, bytes) {
            Ok(imported) => panic!("{format} accepted {name}: {:?}", names(&imported)),
            Err(e) => e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::error;
    use super::*;

    #[test]
    fn formats_parse_by_name_and_alias_and_list_themselves_when_unknown() {
        for format in Format::ALL {
            assert_eq!(format.name().parse::<Format>().unwrap(), format);
        }
        assert_eq!("pytest".parse::<Format>().unwrap(), Format::PytestBenchmark);
        assert_eq!(
            "google_benchmark".parse::<Format>().unwrap(),
            Format::GoogleBenchmark
        );
        let error = "junit".parse::<Format>().unwrap_err().to_string();
        assert!(error.contains("\"junit\"") && error.contains("criterion, libtest"));
    }

    #[test]
    fn empty_and_binary_input_fail_naming_the_source_and_format() {
        for format in Format::ALL {
            let error = error(format, "in.txt", b"  \n");
            assert!(
                error.starts_with("in.txt: line 1: the input is empty"),
                "{error}"
            );
            assert!(error.contains(format.expected()), "{error}");
        }
        let error = error(Format::Go, "x", b"ok\n\xff\xfe");
        assert!(error.contains("line 2: not UTF-8"), "{error}");
    }

    #[test]
    fn every_format_rejects_garbage_and_truncation_with_one_line() {
        let garbage = b"<<<\x01 not benchmark output at all }}}\n";
        for format in Format::ALL {
            let error = import_bytes(format, "junk.out", garbage)
                .expect_err(format.name())
                .to_string();
            assert!(error.starts_with("junk.out: "), "{format}: {error}");
            assert!(!error.contains('\n'), "{format}: {error}");
        }
    }

    #[test]
    fn collector_merges_repeats_and_rejects_unit_changes_and_non_finite_values() {
        let mut c = Collector::default();
        c.add_time("a", [1.0, 2.0]).unwrap();
        c.add_time("b", [5.0]).unwrap();
        c.add_time("a", [3.0]).unwrap();
        assert!(
            c.add(
                "a",
                "wall_time",
                &Unit::bytes(),
                Direction::LowerIsBetter,
                [1.0]
            )
            .is_err()
        );
        assert!(c.add_time("a", [f64::NAN]).is_err());
        assert!(c.add_time("a", [-1.0]).is_err());
        let benchmarks = c.finish();
        assert_eq!(benchmarks.len(), 2);
        assert_eq!(benchmarks[0].metrics[0].samples, vec![1.0, 2.0, 3.0]);
    }

    /// Every prefix of every real fixture (a truncated upload, a killed harness) is either read
    /// or refused with an error: never a panic, never an empty success.
    #[test]
    fn truncated_real_outputs_never_panic_or_pass_empty() {
        let dir = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/import"
        ));
        let files = [
            (Format::Criterion, "criterion/messages.json"),
            (Format::Libtest, "libtest/criterion-bencher.txt"),
            (Format::Hyperfine, "hyperfine/real.json"),
            (Format::GoogleBenchmark, "google-benchmark/real.json"),
            (Format::PytestBenchmark, "pytest-benchmark/real.json"),
            (Format::Jmh, "jmh/result.json"),
            (Format::BenchmarkDotNet, "benchmarkdotnet/report-full.json"),
            (Format::Catch2, "catch2/results.xml"),
        ];
        for (format, file) in files {
            let bytes = std::fs::read(dir.join(file)).unwrap();
            for cut in (0..bytes.len()).step_by(7) {
                if let Ok(imported) = import_bytes(format, file, &bytes[..cut]) {
                    assert!(!imported.benchmarks.is_empty(), "{file} cut at {cut}");
                    assert!(imported.benchmarks.iter().all(|b| !b.metrics.is_empty()));
                }
            }
            for format in Format::ALL {
                let _ = import_bytes(format, file, &bytes);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            for format in Format::ALL {
                if let Ok(imported) = import_bytes(format, "fuzz", &bytes) {
                    proptest::prop_assert!(!imported.benchmarks.is_empty());
                }
            }
        }
    }

    #[test]
    fn inputs_over_the_size_limit_are_refused_before_reading_them() {
        let options = ImportOptions {
            max_input_bytes: Some(16),
            ..ImportOptions::default()
        };
        let text = b"test parse ... bench:       1,234 ns/iter (+/- 56)\n";
        let e = import_bytes_with(Format::Libtest, "b.txt", text, options)
            .unwrap_err()
            .to_string();
        assert!(e.contains("larger than the 16-byte limit"), "{e}");
        let e = read_limited(&text[..], "<stdin>", options)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("<stdin>: the input is larger"), "{e}");
        assert_eq!(
            read_limited(&text[..16], "<stdin>", options).unwrap().len(),
            16
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.txt");
        std::fs::write(&path, text).unwrap();
        let e = import_path_with(Format::Libtest, &path, options)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("{} bytes is larger", text.len())),
            "{e}"
        );
        assert_eq!(ImportOptions::default().max_input_bytes(), 1 << 30);
    }

    #[test]
    fn a_byte_order_mark_is_not_content() {
        let text = b"\xEF\xBB\xBF{\"benchmarks\":[{\"name\":\"a\",\"unit\":\"ns\",\"value\":1}]}";
        let imported = import_bytes(Format::Custom, "bom.json", text).unwrap();
        assert_eq!(imported.benchmarks[0].name, "a");
    }

    #[test]
    fn numbers_read_thousands_separators() {
        assert_eq!(number("1,234.5"), Some(1234.5));
        assert_eq!(number("inf"), None);
        assert_eq!(number("x"), None);
    }
}
