//! The verdict document's wire shape, pinned: a field renamed, retyped or dropped (in this
//! crate or by a change to `benchkeep-core`'s vocabulary) fails here, and must come with a
//! bump of `VERDICT_SCHEMA` and a line in docs/FORMAT.md.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use benchkeep_core::compare::{CompareConfig, compare};
use benchkeep_core::model::{Benchmark, Direction, Metric, Unit};
use benchkeep_report::{Basis, Context, Format, RenderOptions, VERDICT_SCHEMA, VerdictDocument};
use serde_json::Value;

fn bench(name: &str, centre: f64) -> Benchmark {
    let mut b = Benchmark::wall_time(
        name,
        (0..20)
            .map(|i| centre * (1.0 + f64::from(i % 5) * 0.001))
            .collect(),
    );
    b.metrics.push(Metric {
        name: "peak_rss".into(),
        unit: Unit::bytes(),
        direction: Direction::LowerIsBetter,
        samples: vec![1e6; 20],
        summary: None,
    });
    b
}

fn context() -> Context {
    Context {
        subject: "main@linux-x86_64".into(),
        baseline_runs: vec!["20261123T151600123Z-0000deadbeef".into()],
        current_run: "20261123T161600123Z-0000cafef00d".into(),
        heading: None,
        warnings: vec!["environment changed".into()],
        current_commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        baseline_commits: vec!["fedcba9876543210fedcba9876543210fedcba98".into()],
        job_url: Some("https://ci.example/job/1".into()),
    }
}

/// Every path in a JSON value with the type found there (`entries[].change: number|null`).
fn shape(value: &Value, path: &str, out: &mut BTreeSet<String>) {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        // The vocabularies consumers match on are pinned value by value.
        Value::String(text)
            if [
                ".verdict",
                ".effect",
                ".severity",
                ".direction",
                ".unit",
                "outcome",
                "kind",
            ]
            .iter()
            .any(|field| path.ends_with(field)) =>
        {
            out.insert(format!("{path}: {text:?}"));
            return;
        }
        Value::String(_) => "string",
        Value::Array(items) => {
            for item in items {
                shape(item, &format!("{path}[]"), out);
            }
            "array"
        }
        Value::Object(map) => {
            for (key, item) in map {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                shape(item, &child, out);
            }
            "object"
        }
    };
    out.insert(format!("{path}: {kind}"));
}

fn merged_shape(documents: &[VerdictDocument]) -> String {
    let mut paths = BTreeSet::new();
    for document in documents {
        let json = Format::Json
            .renderer(RenderOptions::default())
            .render(document);
        shape(&serde_json::from_str(&json).unwrap(), "", &mut paths);
    }
    // Merge the types seen at one path: `change: number|null`.
    let mut merged: Vec<(String, Vec<String>)> = Vec::new();
    for line in paths {
        let (path, kind) = line.rsplit_once(": ").unwrap();
        match merged.last_mut() {
            Some((last, kinds)) if last == path => kinds.push(kind.to_owned()),
            _ => merged.push((path.to_owned(), vec![kind.to_owned()])),
        }
    }
    let mut out = String::new();
    for (path, kinds) in merged {
        let _ = writeln!(out, "{path}: {}", kinds.join("|"));
    }
    out
}

#[test]
fn the_verdict_document_has_one_pinned_shape_for_every_case() {
    let config = CompareConfig::default();
    let base = [
        bench("parse", 20e6),
        bench("render", 5e6),
        bench("gone", 1e6),
    ];
    let head = [
        bench("parse", 30e6),
        bench("render", 5e6),
        bench("fresh", 1e6),
    ];
    let compared = compare(&base, &head, &config);
    let passed = compared.passes(&config);
    let first = compare(&[], &head, &config);
    let first_passed = first.passes(&config);
    let documents = [
        VerdictDocument::new(&compared, context(), passed),
        VerdictDocument::without_baseline(&first, context(), first_passed, true),
    ];
    assert_eq!(documents[0].schema, VERDICT_SCHEMA);
    assert_eq!(documents[0].outcome, Basis::Compared);
    assert_eq!(documents[1].outcome, Basis::NoBaseline);
    assert!(documents[1].bootstrapped);
    assert_eq!(
        documents[1].counts.new, 3,
        "every benchmark of a first run is new"
    );
    insta::assert_snapshot!(merged_shape(&documents));
}

#[test]
fn documents_read_back_equal() {
    let config = CompareConfig::default();
    let comparison = compare(&[bench("a", 1e6)], &[bench("a", 2e6)], &config);
    let passed = comparison.passes(&config);
    let document = VerdictDocument::new(&comparison, context(), passed);
    let json = Format::Json
        .renderer(RenderOptions::default())
        .render(&document);
    let back: VerdictDocument = serde_json::from_str(&json).unwrap();
    assert_eq!(back, document);
    assert!(!back.passed);
}
