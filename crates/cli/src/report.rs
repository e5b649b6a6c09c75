//! Rendering runs and comparisons for people (text, Markdown) and tools (JSON).

use std::fmt::Write as _;

use benchkeep_core::compare::{
    Comparison, Method, MetricComparison, Severity, Summary, Verdict, format_p,
};
use benchkeep_core::model::{Benchmark, Unit, metric_names};
use benchkeep_core::schema::SchemaVersion;
use benchkeep_core::stats;
use serde::Serialize;

/// Version of the JSON verdict document.
///
/// - `1.0`: first version: `passed`, `key`, `baseline_runs`, `current_run`, `counts`, `entries`.
/// - `1.1`: `fdr`; entries gain `method`, `threshold`, `q_value`, `detectable`, `history` and
///   `notes`; `heading` for paired comparisons.
pub const VERDICT_SCHEMA: SchemaVersion = SchemaVersion { major: 1, minor: 1 };

/// What is being compared with what, for headings.
#[derive(Debug, Clone, Serialize)]
pub struct Context {
    /// The key, or a description such as `a.json -> b.json`.
    pub subject: String,
    /// The baseline's source run ids.
    pub baseline_runs: Vec<String>,
    /// The current run's id.
    pub current_run: String,
    /// A first line that replaces "X compared with the baseline of N runs" (paired mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
}

impl Context {
    fn heading(&self) -> String {
        self.heading.clone().unwrap_or_else(|| {
            format!(
                "{} compared with the baseline of {} run{}",
                self.subject,
                self.baseline_runs.len(),
                if self.baseline_runs.len() == 1 {
                    ""
                } else {
                    "s"
                }
            )
        })
    }
}

/// Makes text safe for one terminal or table cell: control characters escaped, length capped.
fn cell(text: &str, max_chars: usize) -> String {
    if text.len() <= max_chars && !text.chars().any(char::is_control) {
        return text.to_owned(); // the common case, kept cheap for reports of 10,000 rows
    }
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    if escaped.chars().count() > max_chars {
        let kept: String = escaped.chars().take(max_chars.saturating_sub(1)).collect();
        format!("{kept}…")
    } else {
        escaped
    }
}

fn pct(x: f64) -> String {
    format!("{:+.1}%", x * 100.0)
}

fn interval(entry: &MetricComparison) -> String {
    entry.interval.map_or_else(String::new, |(lo, hi)| {
        format!("[{}, {}]", pct(lo), pct(hi))
    })
}

/// The numeric cells both tables show, in their column order: change, 95% CI, p, q,
/// detectable, baseline, current.
fn figures(e: &MetricComparison) -> [String; 7] {
    [
        e.change.map(pct).unwrap_or_default(),
        interval(e),
        e.p_value.map(format_p).unwrap_or_default(),
        e.q_value.map(format_p).unwrap_or_default(),
        detectable(e),
        value(e.baseline.as_ref(), &e.unit),
        value(e.current.as_ref(), &e.unit),
    ]
}

fn detectable(entry: &MetricComparison) -> String {
    entry
        .detectable
        .map_or_else(String::new, |d| format!("±{:.1}%", d * 100.0))
}

/// How the numbers were made, in one line: the methods used, the threshold, the FDR control.
fn method_line(comparison: &Comparison) -> String {
    let mut methods: Vec<String> = Vec::new();
    for e in &comparison.entries {
        if e.p_value.is_none() {
            continue;
        }
        let text = match (e.method, e.history) {
            (Method::History, Some(h)) => format!(
                "history of {} jobs (job-to-job ±{:.1}%)",
                h.jobs,
                h.between_jobs * 100.0
            ),
            (Method::Paired, _) => format!("paired, {} rounds", e.current.map_or(0, |s| s.n)),
            (Method::MedianBootstrap, _) => "independent samples".to_owned(),
            (method, _) => method.to_string(),
        };
        if !methods.contains(&text) {
            methods.push(text);
        }
        if methods.len() > 3 {
            break;
        }
    }
    let significance = if comparison.fdr {
        "false discovery rate controlled (q = adjusted p)"
    } else {
        "p-values unadjusted"
    };
    format!(
        "method: {}; threshold ±{:.1}%; {significance}",
        if methods.is_empty() {
            "none needed".to_owned()
        } else {
            methods.join(", ")
        },
        comparison.threshold * 100.0
    )
}

fn severity(entry: &MetricComparison) -> &'static str {
    match entry.severity {
        Some(Severity::Minor) => "minor",
        Some(Severity::Moderate) => "moderate",
        Some(Severity::Critical) => "critical",
        None => "",
    }
}

fn value(summary: Option<&Summary>, unit: &Unit) -> String {
    summary.map_or_else(|| "-".into(), |s| unit.format(s.median))
}

fn shown(comparison: &Comparison, all_metrics: bool) -> Vec<&MetricComparison> {
    comparison
        .entries
        .iter()
        .filter(|e| all_metrics || e.gating)
        .collect()
}

/// A one-line verdict: `PASS: 3 unchanged` or `FAIL: 1 regression (nap +50.1%)`.
#[must_use]
pub fn summary_line(comparison: &Comparison, passed: bool) -> String {
    let mut counts = Vec::new();
    for (verdict, word) in [
        (Verdict::Regressed, "regressed"),
        (Verdict::Improved, "improved"),
        (Verdict::Unchanged, "unchanged"),
        (Verdict::Inconclusive, "inconclusive"),
        (Verdict::New, "new"),
        (Verdict::Missing, "missing"),
    ] {
        let n = comparison.count(verdict);
        if n > 0 {
            counts.push(format!("{n} {word}"));
        }
    }
    let counts = if counts.is_empty() {
        "nothing to compare".to_owned()
    } else {
        counts.join(", ")
    };
    let regressions: Vec<String> = comparison
        .regressions()
        .take(5)
        .map(|e| {
            format!(
                "{} {} {} ({})",
                cell(&e.benchmark, 60),
                e.metric,
                e.change.map(pct).unwrap_or_default(),
                severity(e)
            )
        })
        .collect();
    let more = comparison
        .regressions()
        .count()
        .saturating_sub(regressions.len());
    let mut line = format!("{}: {counts}", if passed { "PASS" } else { "FAIL" });
    if !regressions.is_empty() {
        let _ = write!(line, "; regressions: {}", regressions.join(", "));
        if more > 0 {
            let _ = write!(line, " and {more} more");
        }
    }
    line
}

/// The comparison as a text table.
#[must_use]
pub fn text(comparison: &Comparison, context: &Context, passed: bool, all_metrics: bool) -> String {
    let header = [
        "benchmark",
        "metric",
        "verdict",
        "change",
        "95% CI",
        "p",
        "q",
        "detectable",
        "baseline",
        "current",
        "severity",
    ];
    let rows: Vec<[String; 11]> = shown(comparison, all_metrics)
        .into_iter()
        .map(|e| {
            let [change, interval, p, q, detectable, baseline, current] = figures(e);
            [
                cell(&e.benchmark, 48),
                cell(&e.metric, 20),
                e.verdict.to_string(),
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
        "{}\n{}\n\n",
        cell(&context.heading(), 240),
        method_line(comparison)
    );
    write_row(&mut out, header.iter().copied(), &widths);
    for row in &rows {
        write_row(&mut out, row.iter().map(String::as_str), &widths);
    }
    for e in shown(comparison, all_metrics) {
        if matches!(e.verdict, Verdict::Inconclusive) {
            let _ = writeln!(
                out,
                "note: {} {}: inconclusive, {}",
                cell(&e.benchmark, 60),
                e.metric,
                e.reason
            );
        }
        for note in &e.notes {
            let _ = writeln!(out, "note: {} {}: {note}", cell(&e.benchmark, 60), e.metric);
        }
    }
    out.push('\n');
    out.push_str(&summary_line(comparison, passed));
    out.push('\n');
    out
}

/// Appends one table row, cells padded to `widths` and two spaces apart, without trailing spaces.
fn write_row<'a>(out: &mut String, cells: impl Iterator<Item = &'a str>, widths: &[usize]) {
    let start = out.len();
    for (i, (cell, &width)) in cells.zip(widths).enumerate() {
        if i > 0 {
            out.push_str("  ");
        }
        out.push_str(cell);
        let pad = width.saturating_sub(cell.chars().count());
        out.extend(std::iter::repeat_n(' ', pad));
    }
    let trimmed = out[start..].trim_end().len();
    out.truncate(start + trimmed);
    out.push('\n');
}

fn markdown_cell(text: &str) -> String {
    cell(text, 120)
        .replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('`', "\\`")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The comparison as Markdown for a pull-request comment.
#[must_use]
pub fn markdown(
    comparison: &Comparison,
    context: &Context,
    passed: bool,
    all_metrics: bool,
) -> String {
    let icon = if passed { "✅" } else { "❌" };
    let mut out = format!(
        "### {icon} benchkeep: {}\n\n{}.\n{}.\n\n",
        markdown_cell(&summary_line(comparison, passed)),
        markdown_cell(&context.heading()),
        markdown_cell(&method_line(comparison)),
    );
    out.push_str(
        "| benchmark | metric | verdict | change | 95% CI | p | q | detectable | baseline | current |\n",
    );
    out.push_str("|---|---|---|---:|---|---:|---:|---:|---:|---:|\n");
    let mut entries = shown(comparison, all_metrics);
    // Regressions first, then improvements, then the rest, as a reader scans for trouble.
    entries.sort_by_key(|e| match e.verdict {
        Verdict::Regressed => 0,
        Verdict::Improved => 1,
        Verdict::Inconclusive => 2,
        Verdict::Missing | Verdict::New => 3,
        Verdict::Unchanged => 4,
    });
    for e in entries {
        let verdict = match (e.verdict, severity(e)) {
            (Verdict::Regressed, sev) => format!("**regressed** ({sev})"),
            (v, _) => v.to_string(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {verdict} | {} |",
            markdown_cell(&e.benchmark),
            markdown_cell(&e.metric),
            figures(e).join(" | "),
        );
    }
    let notes: Vec<String> = shown(comparison, all_metrics)
        .into_iter()
        .flat_map(|e| {
            let reason =
                (e.verdict == Verdict::Inconclusive).then(|| format!("inconclusive, {}", e.reason));
            reason
                .into_iter()
                .chain(e.notes.iter().cloned())
                .map(move |note| {
                    format!(
                        "- {} {}: {}",
                        markdown_cell(&e.benchmark),
                        markdown_cell(&e.metric),
                        markdown_cell(&note)
                    )
                })
        })
        .take(50)
        .collect();
    if !notes.is_empty() {
        out.push('\n');
        out.push_str(&notes.join("\n"));
        out.push('\n');
    }
    out
}

#[derive(Serialize)]
struct VerdictDocument<'a> {
    schema: SchemaVersion,
    kind: &'static str,
    passed: bool,
    #[serde(flatten)]
    context: &'a Context,
    summary: String,
    counts: Counts,
    method: Method,
    threshold: f64,
    fdr: bool,
    entries: &'a [MetricComparison],
}

#[derive(Serialize)]
struct Counts {
    regressed: usize,
    improved: usize,
    unchanged: usize,
    inconclusive: usize,
    new: usize,
    missing: usize,
}

/// The comparison as the versioned JSON verdict document.
#[must_use]
pub fn json(comparison: &Comparison, context: &Context, passed: bool) -> String {
    let document = VerdictDocument {
        schema: VERDICT_SCHEMA,
        kind: "verdict",
        passed,
        context,
        summary: summary_line(comparison, passed),
        counts: Counts {
            regressed: comparison.count(Verdict::Regressed),
            improved: comparison.count(Verdict::Improved),
            unchanged: comparison.count(Verdict::Unchanged),
            inconclusive: comparison.count(Verdict::Inconclusive),
            new: comparison.count(Verdict::New),
            missing: comparison.count(Verdict::Missing),
        },
        method: comparison.method,
        threshold: comparison.threshold,
        fdr: comparison.fdr,
        entries: &comparison.entries,
    };
    let mut text = serde_json::to_string_pretty(&document).expect("a verdict serialises");
    text.push('\n');
    text
}

/// The JSON document of a check that found no baseline and made this run the baseline.
#[must_use]
pub fn bootstrap_json(key: &str, run: &str) -> String {
    let document = serde_json::json!({
        "schema": VERDICT_SCHEMA,
        "kind": "verdict",
        "passed": true,
        "bootstrapped": true,
        "subject": key,
        "baseline_runs": [run],
        "current_run": run,
        "summary": "PASS: no baseline yet; this run is now the baseline",
        "entries": [],
    });
    let mut text = serde_json::to_string_pretty(&document).expect("json serialises");
    text.push('\n');
    text
}

/// Benchmarks as a table: per benchmark, runs, median of the primary metric and its spread, CPU,
/// peak RSS.
#[must_use]
pub fn run_summary(benchmarks: &[Benchmark]) -> String {
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
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use benchkeep_core::compare::{CompareConfig, compare};
    use benchkeep_core::model::{Direction, Metric};

    fn bench(name: &str, center: f64) -> Benchmark {
        Benchmark {
            params: std::collections::BTreeMap::new(),
            name: name.into(),
            command: None,
            metrics: vec![Metric {
                name: "wall_time".into(),
                unit: Unit::nanoseconds(),
                direction: Direction::LowerIsBetter,
                samples: (0..20)
                    .map(|i| center * (1.0 + f64::from(i % 5) * 0.001))
                    .collect(),
            }],
        }
    }

    fn fixture() -> (Comparison, Context) {
        let base = [
            bench("parse", 20e6),
            bench("render | <b>", 5e6),
            bench("gone", 1e6),
        ];
        let cur = [
            bench("parse", 30e6),
            bench("render | <b>", 5e6),
            bench("fresh", 1e6),
        ];
        let comparison = compare(&base, &cur, &CompareConfig::default());
        let context = Context {
            subject: "main@linux-x86_64".into(),
            baseline_runs: vec!["20261123T151600123Z-0000deadbeef".into()],
            current_run: "20261123T161600123Z-0000cafef00d".into(),
            heading: None,
        };
        (comparison, context)
    }

    #[test]
    fn text_report() {
        let (c, ctx) = fixture();
        insta::assert_snapshot!(text(&c, &ctx, c.passes(&CompareConfig::default()), false));
    }

    #[test]
    fn markdown_report_escapes_names_and_puts_regressions_first() {
        let (c, ctx) = fixture();
        insta::assert_snapshot!(markdown(&c, &ctx, false, false));
    }

    #[test]
    fn json_report_is_versioned() {
        let (c, ctx) = fixture();
        let doc: serde_json::Value = serde_json::from_str(&json(&c, &ctx, false)).unwrap();
        assert_eq!(doc["schema"]["major"], 1);
        assert_eq!(doc["kind"], "verdict");
        assert_eq!(doc["counts"]["regressed"], 1);
        assert_eq!(doc["entries"][0]["verdict"], "regressed");
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(cell("a\u{1b}[31mred\nb", 100), "a\\u{1b}[31mred\\nb");
        assert_eq!(cell(&"x".repeat(10), 5), "xxxx…");
    }
}
