//! Text for terminals and CI logs: the verdict table, and a run's summary table.

use std::fmt::Write as _;

use benchkeep_core::compare::{Summary, Verdict};
use benchkeep_core::model::{Benchmark, metric_names};
use benchkeep_core::stats;

use crate::cells::{
    cell, figures, gate_note, method_line, severity, shown, verdict_cell, write_row,
};
use crate::document::VerdictDocument;

/// ANSI colours for verdicts on a terminal.
fn paint(text: &str, verdict: Verdict) -> String {
    let code = match verdict {
        Verdict::Regressed => "31",              // red
        Verdict::Improved => "32",               // green
        Verdict::Inconclusive => "33",           // yellow
        Verdict::New | Verdict::Missing => "36", // cyan
        Verdict::Unchanged => return text.to_owned(),
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// The comparison as a text table; `color` paints verdicts and the final line (terminals only:
/// the caller decides, honouring `--color` and `NO_COLOR`).
#[must_use]
pub(crate) fn text(document: &VerdictDocument, all_metrics: bool, color: bool) -> String {
    let header = [
        "benchmark",
        "metric",
        "verdict",
        "change",
        "interval",
        "p",
        "q",
        "detectable",
        "baseline",
        "current",
        "severity",
    ];
    let rows: Vec<[String; 11]> = shown(document, all_metrics)
        .into_iter()
        .map(|e| {
            let [change, interval, p, q, detectable, baseline, current] = figures(e);
            [
                cell(&e.benchmark, 48),
                cell(&e.metric, 20),
                verdict_cell(document, e),
                change,
                interval,
                p,
                q,
                detectable,
                baseline,
                current,
                severity(e).to_owned(),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::with_capacity(rows.len() * 120 + 256);
    let _ = write!(
        out,
        "{}\n{}\n",
        cell(&document.context.heading(), 240),
        method_line(document)
    );
    for warning in &document.context.warnings {
        let _ = writeln!(out, "warning: {}", cell(warning, 400));
    }
    out.push('\n');
    write_row(&mut out, header.iter().copied(), &widths);
    for (row, entry) in rows.iter().zip(shown(document, all_metrics)) {
        if color {
            // Pad before painting: escape codes have no width on screen.
            let mut painted = row.clone();
            painted[2] = paint(&format!("{:<w$}", row[2], w = widths[2]), entry.verdict);
            write_row(&mut out, painted.iter().map(String::as_str), &widths);
        } else {
            write_row(&mut out, row.iter().map(String::as_str), &widths);
        }
    }
    for e in shown(document, all_metrics) {
        if matches!(e.verdict, Verdict::Inconclusive) {
            let _ = writeln!(
                out,
                "note: {} {}: inconclusive, {}",
                cell(&e.benchmark, 60),
                e.metric,
                e.reason
            );
        }
        for note in gate_note(e).iter().chain(&e.notes) {
            let _ = writeln!(out, "note: {} {}: {note}", cell(&e.benchmark, 60), e.metric);
        }
    }
    out.push('\n');
    let line = &document.summary;
    if color {
        let verdict = if document.passed {
            Verdict::Improved
        } else {
            Verdict::Regressed
        };
        out.push_str(&paint(line, verdict));
    } else {
        out.push_str(line);
    }
    out.push('\n');
    out
}

/// The most rows [`run_summary`] shows: a terminal table of more says nothing more (the run
/// itself, its JSON and the dashboard have every benchmark), and a million rows would cost
/// an import more time and memory than reading its input.
pub const RUN_SUMMARY_ROWS: usize = 500;

/// Benchmarks as a table: per benchmark, runs, median of the primary metric and its spread, CPU,
/// peak RSS; the first [`RUN_SUMMARY_ROWS`], then how many more there are.
#[must_use]
pub fn run_summary(all: &[Benchmark]) -> String {
    let benchmarks = &all[..all.len().min(RUN_SUMMARY_ROWS)];
    let header = [
        "benchmark",
        "runs",
        "median",
        "± MAD",
        "min … max",
        "user",
        "system",
        "peak RSS",
    ];
    let median_of = |bench: &Benchmark, name: &str| {
        bench
            .metric(name)
            .map_or_else(|| "-".into(), |m| m.unit.format(stats::median(&m.samples)))
    };
    let rows: Vec<[String; 8]> = benchmarks
        .iter()
        .map(|b| {
            let primary = &b.metrics[0];
            let sorted = stats::sorted(&primary.samples);
            let s = Summary::of_sorted(&sorted);
            [
                cell(&b.name, 48),
                s.n.to_string(),
                primary.unit.format(s.median),
                primary.unit.format(s.mad),
                format!(
                    "{} … {}",
                    primary.unit.format(s.min),
                    primary.unit.format(s.max)
                ),
                median_of(b, metric_names::USER_TIME),
                median_of(b, metric_names::SYSTEM_TIME),
                median_of(b, metric_names::PEAK_RSS),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    write_row(&mut out, header.iter().copied(), &widths);
    for row in &rows {
        write_row(&mut out, row.iter().map(String::as_str), &widths);
    }
    if all.len() > benchmarks.len() {
        let _ = writeln!(
            out,
            "… and {} more benchmark(s) ({} in all; the run file, `--format json` reports and the dashboard list every one)",
            all.len() - benchmarks.len(),
            all.len()
        );
    }
    out
}
