//! What several formats share: cells, percentages, the method line, the one-line verdict, the
//! reading order of entries.

use std::fmt::Write as _;

use benchkeep_core::compare::{GateEffect, Method, Severity, Summary, Verdict, format_p};
use benchkeep_core::model::Unit;

use crate::document::{Entry, VerdictDocument};

/// Makes text safe for one terminal or table cell: control characters escaped, length capped.
pub(crate) fn cell(text: &str, max_chars: usize) -> String {
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

pub(crate) fn pct(x: f64) -> String {
    format!("{:+.1}%", x * 100.0)
}

pub(crate) fn interval(entry: &Entry) -> String {
    entry.interval.map_or_else(String::new, |(lo, hi)| {
        format!("[{}, {}]", pct(lo), pct(hi))
    })
}

/// The numeric cells both tables show, in their column order: change, 95% CI, p, q,
/// detectable, baseline, current.
pub(crate) fn figures(e: &Entry) -> [String; 7] {
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

pub(crate) fn detectable(entry: &Entry) -> String {
    entry
        .detectable
        .map_or_else(String::new, |d| format!("±{:.1}%", d * 100.0))
}

/// The methods the document's tested entries used, each said once (at most four).
fn methods_used(document: &VerdictDocument) -> Vec<String> {
    let mut methods: Vec<String> = Vec::new();
    // One history entry for all metrics judged by it: the job counts and job-to-job spreads
    // as ranges (each metric has its own), not one unlabelled entry per metric.
    let histories: Vec<_> = document
        .entries
        .iter()
        .filter(|e| e.p_value.is_some() && e.method == Method::History)
        .filter_map(|e| e.history)
        .collect();
    let mut history_said = false;
    for e in &document.entries {
        if e.p_value.is_none() {
            continue;
        }
        let text = match (e.method, e.history) {
            (Method::History, Some(_)) if history_said => continue,
            (Method::History, Some(_)) => {
                history_said = true;
                let range = |values: Vec<f64>, show: &dyn Fn(f64) -> String| {
                    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    if (hi - lo).abs() < 1e-12 {
                        show(lo)
                    } else {
                        format!("{}-{}", show(lo), show(hi))
                    }
                };
                let jobs = range(histories.iter().map(|h| h.jobs as f64).collect(), &|x| {
                    format!("{x:.0}")
                });
                let spread = range(
                    histories.iter().map(|h| h.between_jobs * 100.0).collect(),
                    &|x| format!("{x:.1}"),
                );
                format!("history of {jobs} jobs (job-to-job ±{spread}%)")
            }
            (Method::Paired, _) => format!(
                "paired, {} rounds (median ratio, sign test)",
                e.current.map_or(0, |s| s.n)
            ),
            (Method::PairedTrimmedT, _) => format!(
                "paired, {} rounds (trimmed mean ratio, t test)",
                e.current.map_or(0, |s| s.n)
            ),
            (Method::MedianBootstrap | Method::MedianNormal, _) => {
                "independent samples (ratio of medians)".to_owned()
            }
            (Method::TrimmedT, _) => "small samples (trimmed t on logs)".to_owned(),
            (Method::TrimmedTModerated, _) => {
                "small samples (trimmed t on logs, variances moderated across the suite)".to_owned()
            }
            (Method::SummaryT, _) => "the harness's summaries (Welch t)".to_owned(),
            (Method::SummaryRange, _) => {
                "the harness's ranges (conservative: sd at most half the range)".to_owned()
            }
            (method, _) => method.to_string(),
        };
        if !methods.contains(&text) {
            methods.push(text);
        }
        if methods.len() > 3 {
            break;
        }
    }
    methods
}

/// How the numbers were made, in one line: the methods used, the threshold, the level of the
/// intervals, the false discovery control.
pub(crate) fn method_line(document: &VerdictDocument) -> String {
    let methods = methods_used(document);
    let levels: Vec<f64> = document
        .entries
        .iter()
        .filter(|e| e.gating)
        .filter_map(|e| e.confidence)
        .collect();
    let percent = |x: f64| {
        let text = format!("{:.2}", x * 100.0);
        format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
    };
    let intervals = match (
        levels.iter().copied().reduce(f64::min),
        levels.iter().copied().reduce(f64::max),
    ) {
        (Some(lo), Some(hi)) if (hi - lo).abs() < 1e-9 => format!("; intervals at {}", percent(lo)),
        (Some(lo), Some(hi)) => format!(
            "; intervals at {}-{}",
            percent(lo).trim_end_matches('%'),
            percent(hi)
        ),
        _ => String::new(),
    };
    let significance = if document.fdr {
        "FDR-controlled (q = adjusted p)"
    } else {
        "p-values unadjusted"
    };
    let differing = document
        .entries
        .iter()
        .filter(|e| e.gating && threshold_differs(document, e))
        .count();
    let policies = match differing {
        0 => String::new(),
        n => format!(" (policies set another for {n} metric(s), shown on their rows)"),
    };
    format!(
        "method: {}; threshold ±{:.1}%{policies}{intervals}; {significance}",
        if methods.is_empty() {
            "none needed".to_owned()
        } else {
            methods.join(", ")
        },
        document.threshold * 100.0
    )
}

/// Whether `entry` was judged at a threshold other than the document's (a `[[policy]]`).
pub(crate) fn threshold_differs(document: &VerdictDocument, entry: &Entry) -> bool {
    (entry.threshold - document.threshold).abs() > 1e-9
}

/// The verdict as a row shows it: with the entry's own threshold when a policy set one other
/// than the document's (`regressed (±15.0%)`).
pub(crate) fn verdict_cell(document: &VerdictDocument, entry: &Entry) -> String {
    if threshold_differs(document, entry) {
        format!("{} (±{:.1}%)", entry.verdict, entry.threshold * 100.0)
    } else {
        entry.verdict.to_string()
    }
}

pub(crate) fn severity(entry: &Entry) -> &'static str {
    match entry.severity {
        Some(Severity::Minor) => "minor",
        Some(Severity::Moderate) => "moderate",
        Some(Severity::Critical) => "critical",
        None => "",
    }
}

/// The value a method compared (see [`Summary::compared`]), so that the change shown is the
/// ratio of the two values shown.
pub(crate) fn value(summary: Option<&Summary>, unit: &Unit) -> String {
    summary.map_or_else(|| "-".into(), |s| unit.format(s.compared()))
}

/// `95% CI`, or the adjusted level of an interval widened for multiple comparisons: `99.6% CI`.
pub(crate) fn ci_label(entry: &Entry) -> String {
    let level = entry.confidence.unwrap_or(0.95) * 100.0;
    let text = format!("{level:.2}");
    format!("{}% CI", text.trim_end_matches('0').trim_end_matches('.'))
}

pub(crate) fn shown(document: &VerdictDocument, all_metrics: bool) -> Vec<&Entry> {
    document
        .entries
        .iter()
        .filter(|e| all_metrics || e.gating || !e.effect.is_none())
        .collect()
}

/// What a reader must know about an entry's effect on the gate, beyond its verdict: a limit, a
/// missing benchmark, a regression below `fail_on`.
pub(crate) fn gate_note(e: &Entry) -> Option<String> {
    if let Some(limit) = e.limit_text() {
        return Some(if e.fails_gate() {
            format!("{limit}: fails the gate")
        } else {
            limit
        });
    }
    match (e.verdict, e.effect) {
        (Verdict::Missing, GateEffect::Failure) => Some(
            "in the baseline but not in this run: fails the gate (accept it with --allow-missing, or allow_missing in its [[policy]])".into(),
        ),
        (Verdict::Missing, GateEffect::Warning) => {
            Some("in the baseline but not in this run (allowed)".into())
        }
        (Verdict::Regressed, GateEffect::Warning) => Some(format!(
            "a {} regression, below fail_on: a warning",
            severity(e)
        )),
        _ => None,
    }
}

/// How a failing entry is named in one line: `parse wall_time +12.0% (minor)`, `old missing`,
/// `parse peak_rss above max 512 MiB`.
pub(crate) fn failure_name(e: &Entry) -> String {
    let name = cell(&e.benchmark, 60);
    if e.limit.as_ref().is_some_and(|l| l.exceeded) {
        let relation = e.limit_relation().unwrap_or_default();
        return format!("{name} {} {relation}", e.metric);
    }
    match e.verdict {
        Verdict::Missing => format!("{name} missing"),
        Verdict::Regressed => format!(
            "{name} {} {} ({})",
            e.metric,
            e.change.map(pct).unwrap_or_default(),
            severity(e)
        ),
        other => format!("{name} {} {other}", e.metric),
    }
}

/// A one-line verdict: `PASS: 3 unchanged` or `FAIL: 1 regression (nap +50.1%)`.
pub(crate) fn summary_line(document: &VerdictDocument) -> String {
    let passed = document.passed;
    let mut counts = Vec::new();
    for (verdict, word) in [
        (Verdict::Regressed, "regressed"),
        (Verdict::Improved, "improved"),
        (Verdict::Unchanged, "unchanged"),
        (Verdict::Inconclusive, "inconclusive"),
        (Verdict::New, "new"),
        (Verdict::Missing, "missing"),
    ] {
        let n = document.count(verdict);
        if n > 0 {
            counts.push(format!("{n} {word}"));
        }
    }
    let counts = if counts.is_empty() {
        "nothing to compare".to_owned()
    } else {
        counts.join(", ")
    };
    let failing = || document.entries.iter().filter(|e| e.fails_gate());
    let named: Vec<String> = failing().take(5).map(failure_name).collect();
    let more = failing().count().saturating_sub(named.len());
    let mut line = format!("{}: {counts}", if passed { "PASS" } else { "FAIL" });
    if !named.is_empty() {
        let what = if failing().all(|e| e.verdict == Verdict::Regressed && e.limit.is_none()) {
            "regressions"
        } else {
            "failing"
        };
        let _ = write!(line, "; {what}: {}", named.join(", "));
        if more > 0 {
            let _ = write!(line, " and {more} more");
        }
    }
    let warned = document
        .entries
        .iter()
        .filter(|e| e.verdict == Verdict::Regressed && e.effect == GateEffect::Warning)
        .count();
    if warned > 0 {
        let _ = write!(
            line,
            "; {warned} regression{} below fail_on (warnings)",
            if warned == 1 { "" } else { "s" }
        );
    }
    line
}

/// Gating entries (or every entry with `all_metrics`) in reading order: regressions by severity
/// then size, improvements by size, then the rest.
pub(crate) fn by_severity(document: &VerdictDocument, all_metrics: bool) -> Vec<&Entry> {
    let mut entries = shown(document, all_metrics);
    let magnitude = |e: &Entry| e.change.map_or(0.0, f64::abs);
    entries.sort_by(|a, b| {
        let rank = |e: &Entry| match e.verdict {
            Verdict::Regressed => 0,
            Verdict::Improved => 1,
            Verdict::Inconclusive => 2,
            Verdict::Missing | Verdict::New => 3,
            Verdict::Unchanged => 4,
        };
        rank(a)
            .cmp(&rank(b))
            .then(b.severity.cmp(&a.severity))
            .then(magnitude(b).total_cmp(&magnitude(a)))
    });
    entries
}

/// Appends one table row, cells padded to `widths` and two spaces apart, without trailing spaces.
pub(crate) fn write_row<'a>(
    out: &mut String,
    cells: impl Iterator<Item = &'a str>,
    widths: &[usize],
) {
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

pub(crate) fn short_commit(commit: &str) -> String {
    commit.chars().take(12).collect()
}
