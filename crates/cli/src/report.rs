//! Rendering runs and comparisons for people (text, Markdown, GitHub annotations) and tools
//! (JSON, `JUnit` XML, CSV), and the issue to open for a serious regression.

use std::fmt::Write as _;

use benchkeep_core::compare::{
    Comparison, GateEffect, Method, MetricComparison, Severity, Summary, Verdict, format_p,
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
/// - `1.2`: `warnings` (e.g. the environment changed), `current_commit`, `baseline_commits`,
///   `job_url`, and `alert` (whether a moderate or critical regression asks for an issue).
/// - `1.3`: the top-level `method` is the method every tested entry used, or `mixed` (it was the
///   method requested); entries gain `confidence` (the level of `interval`, adjusted for multiple
///   comparisons) and their `baseline` and `current` summaries a `centre` (the value compared,
///   when it is not the median); new method names `median-normal`, `trimmed-t`, `summary-t`,
///   `summary-range`, `paired-trimmed-t`.
pub const VERDICT_SCHEMA: SchemaVersion = SchemaVersion { major: 1, minor: 3 };

/// What is being compared with what, for headings.
#[derive(Debug, Clone, Default, Serialize)]
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
    /// Things the reader must know besides the table (the environment changed, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The commit the current run measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_commit: Option<String>,
    /// The commits the baseline's runs measured, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub baseline_commits: Vec<String>,
    /// A link to the CI job that made the current run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_url: Option<String>,
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

/// How the numbers were made, in one line: the methods used, the threshold, the level of the
/// intervals, the false discovery control.
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
    let levels: Vec<f64> = comparison
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
    let significance = if comparison.fdr {
        "FDR-controlled (q = adjusted p)"
    } else {
        "p-values unadjusted"
    };
    format!(
        "method: {}; threshold ±{:.1}%{intervals}; {significance}",
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

/// The value a method compared (see [`Summary::compared`]), so that the change shown is the
/// ratio of the two values shown.
fn value(summary: Option<&Summary>, unit: &Unit) -> String {
    summary.map_or_else(|| "-".into(), |s| unit.format(s.compared()))
}

/// `95% CI`, or the adjusted level of an interval widened for multiple comparisons: `99.6% CI`.
fn ci_label(entry: &MetricComparison) -> String {
    let level = entry.confidence.unwrap_or(0.95) * 100.0;
    let text = format!("{level:.2}");
    format!("{}% CI", text.trim_end_matches('0').trim_end_matches('.'))
}

fn shown(comparison: &Comparison, all_metrics: bool) -> Vec<&MetricComparison> {
    comparison
        .entries
        .iter()
        .filter(|e| all_metrics || e.gating || !e.effect.is_none())
        .collect()
}

/// What a reader must know about an entry's effect on the gate, beyond its verdict: a limit, a
/// missing benchmark, a regression below `fail_on`.
fn gate_note(e: &MetricComparison) -> Option<String> {
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
fn failure_name(e: &MetricComparison) -> String {
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
    let failing = || comparison.entries.iter().filter(|e| e.fails_gate());
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
    let warned = comparison
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
pub fn text(
    comparison: &Comparison,
    context: &Context,
    passed: bool,
    all_metrics: bool,
    color: bool,
) -> String {
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
        "{}\n{}\n",
        cell(&context.heading(), 240),
        method_line(comparison)
    );
    for warning in &context.warnings {
        let _ = writeln!(out, "warning: {}", cell(warning, 400));
    }
    out.push('\n');
    write_row(&mut out, header.iter().copied(), &widths);
    for (row, entry) in rows.iter().zip(shown(comparison, all_metrics)) {
        if color {
            // Pad before painting: escape codes have no width on screen.
            let mut painted = row.clone();
            painted[2] = paint(&format!("{:<w$}", row[2], w = widths[2]), entry.verdict);
            write_row(&mut out, painted.iter().map(String::as_str), &widths);
        } else {
            write_row(&mut out, row.iter().map(String::as_str), &widths);
        }
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
        for note in gate_note(e).iter().chain(&e.notes) {
            let _ = writeln!(out, "note: {} {}: {note}", cell(&e.benchmark, 60), e.metric);
        }
    }
    out.push('\n');
    let line = summary_line(comparison, passed);
    if color {
        let verdict = if passed {
            Verdict::Improved
        } else {
            Verdict::Regressed
        };
        out.push_str(&paint(&line, verdict));
    } else {
        out.push_str(&line);
    }
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

/// GitHub rejects comments over 65,536 characters; the report stays under this many bytes
/// (bytes >= characters), which leaves room for a CI step's own additions.
pub const MARKDOWN_LIMIT: usize = 60_000;

/// The first line of every Markdown report: a hidden marker a CI step searches for to update
/// one sticky comment per key instead of adding a new one on every push.
#[must_use]
pub fn markdown_marker(subject: &str) -> String {
    // `--` would end the HTML comment early.
    let safe: String = subject
        .chars()
        .map(|c| if c.is_control() || c == '>' { '_' } else { c })
        .collect::<String>()
        .replace("--", "-_");
    format!("<!-- benchkeep-report: {} -->", cell(&safe, 200))
}

/// Gating entries (or every entry with `all_metrics`) in reading order: regressions by severity
/// then size, improvements by size, then the rest.
fn by_severity(comparison: &Comparison, all_metrics: bool) -> Vec<&MetricComparison> {
    let mut entries = shown(comparison, all_metrics);
    let magnitude = |e: &MetricComparison| e.change.map_or(0.0, f64::abs);
    entries.sort_by(|a, b| {
        let rank = |e: &MetricComparison| match e.verdict {
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

/// A string that stops growing at a limit and says so.
struct Capped {
    out: String,
    limit: usize,
}

impl Capped {
    /// Appends `text` if it fits with `reserve` bytes to spare; says whether it did.
    fn push(&mut self, text: &str, reserve: usize) -> bool {
        if self.out.len() + text.len() + reserve > self.limit {
            return false;
        }
        self.out.push_str(text);
        true
    }
}

const MARKDOWN_HEADER: &str = "| benchmark | metric | verdict | change | interval | p | q | detectable | baseline | current |\n|---|---|---|---:|---|---:|---:|---:|---:|---:|\n";

fn markdown_row(e: &MetricComparison) -> String {
    let verdict = match (e.verdict, severity(e)) {
        (Verdict::Regressed, sev) => format!("**regressed** ({sev})"),
        (v, _) => v.to_string(),
    };
    format!(
        "| {} | {} | {verdict} | {} |\n",
        markdown_cell(&e.benchmark),
        markdown_cell(&e.metric),
        figures(e).join(" | "),
    )
}

/// How a regression is named when the table has no room: `` `parse` wall_time +12.3% ``.
fn compact(e: &MetricComparison) -> String {
    format!(
        "`{}` {} {}",
        markdown_cell(&e.benchmark).replace('`', ""),
        markdown_cell(&e.metric),
        e.change.map(pct).unwrap_or_default()
    )
}

/// The comparison as Markdown for a pull-request comment: a hidden marker, a one-line verdict,
/// regressions then improvements in tables, the rest collapsed, and notes. It stays under
/// [`MARKDOWN_LIMIT`] by summarising rows instead of cutting a table; every regression is named,
/// in its table row or, when there are too many for rows, in a compact list.
#[must_use]
pub fn markdown(
    comparison: &Comparison,
    context: &Context,
    passed: bool,
    all_metrics: bool,
) -> String {
    markdown_capped(comparison, context, passed, all_metrics, MARKDOWN_LIMIT)
}

fn markdown_capped(
    comparison: &Comparison,
    context: &Context,
    passed: bool,
    all_metrics: bool,
    limit: usize,
) -> String {
    let icon = if passed { "✅" } else { "❌" };
    let mut about = markdown_cell(&context.heading());
    if let Some(commit) = &context.current_commit {
        let _ = write!(
            about,
            " · commit `{}`",
            markdown_cell(&short_commit(commit))
        );
    }
    if let Some(url) = &context.job_url {
        let _ = write!(about, " · [job]({})", url.replace(['(', ')', ' '], ""));
    }
    let mut page = Capped {
        out: String::with_capacity(limit.min(1 << 16)),
        limit,
    };
    page.out = format!(
        "{}\n### {icon} benchkeep: {}\n\n{about}.\n{}.\n\n",
        markdown_marker(&context.subject),
        markdown_cell(&summary_line(comparison, passed)),
        markdown_cell(&method_line(comparison)),
    );
    for warning in &context.warnings {
        let _ = writeln!(page.out, "> ⚠️ {}\n", markdown_cell(warning));
    }
    let entries = by_severity(comparison, all_metrics);
    let split = |verdict: Verdict| -> Vec<&MetricComparison> {
        entries
            .iter()
            .copied()
            .filter(|e| e.verdict == verdict)
            .collect()
    };
    let rest: Vec<&MetricComparison> = entries
        .iter()
        .copied()
        .filter(|e| !matches!(e.verdict, Verdict::Regressed | Verdict::Improved))
        .collect();
    push_regressions(&mut page, &split(Verdict::Regressed));
    let improvements = split(Verdict::Improved);
    push_table(
        &mut page,
        &improvements,
        &format!("Improvements ({})", improvements.len()),
        false,
    );
    let mut counts: Vec<String> = Vec::new();
    for verdict in [
        Verdict::Unchanged,
        Verdict::Inconclusive,
        Verdict::New,
        Verdict::Missing,
    ] {
        let n = rest.iter().filter(|e| e.verdict == verdict).count();
        if n > 0 {
            counts.push(format!("{n} {verdict}"));
        }
    }
    push_table(&mut page, &rest, &counts.join(", "), true);
    let notes: Vec<String> = entries
        .iter()
        .flat_map(|e| {
            let reason =
                (e.verdict == Verdict::Inconclusive).then(|| format!("inconclusive, {}", e.reason));
            reason
                .into_iter()
                .chain(gate_note(e))
                .chain(e.notes.iter().cloned())
                .map(move |note| {
                    format!(
                        "- {} {}: {}\n",
                        markdown_cell(&e.benchmark),
                        markdown_cell(&e.metric),
                        markdown_cell(&note)
                    )
                })
        })
        .take(50)
        .collect();
    for note in notes {
        if !page.push(&note, 100) {
            break;
        }
    }
    page.out
}

/// Room kept for the closing lines after each Markdown section.
const TAIL: usize = 600;

/// The regressions: table rows while the rest could still be named compactly, then a compact
/// list, so that every regression is named whenever names alone fit.
fn push_regressions(page: &mut Capped, regressions: &[&MetricComparison]) {
    if regressions.is_empty() {
        return;
    }
    // compact_from[i]: the size of naming regressions i.. compactly.
    let mut compact_from: Vec<usize> = regressions.iter().map(|e| compact(e).len() + 2).collect();
    let mut running = 0;
    for size in compact_from.iter_mut().rev() {
        running += *size;
        *size = running;
    }
    page.push(&format!("**Regressions ({})**\n\n", regressions.len()), 0);
    page.push(MARKDOWN_HEADER, 0);
    let mut rows = 0;
    for (i, e) in regressions.iter().enumerate() {
        // What naming the rest compactly would take, with its lead-in line.
        let later = compact_from.get(i + 1).map_or(0, |size| size + 100);
        if !page.push(&markdown_row(e), later + TAIL) {
            break;
        }
        rows += 1;
    }
    if rows < regressions.len() {
        page.push(
            &format!(
                "\n{} more regression(s), too many for rows: ",
                regressions.len() - rows
            ),
            0,
        );
        let mut named = rows;
        for e in &regressions[rows..] {
            if !page.push(&format!("{}; ", compact(e)), TAIL) {
                break;
            }
            named += 1;
        }
        if named < regressions.len() {
            page.push(
                &format!(
                    "and {} more (the JSON, CSV or JUnit report lists every one)",
                    regressions.len() - named
                ),
                0,
            );
        }
        page.push("\n", 0);
    }
    page.push("\n", 0);
}

/// A titled table (collapsed in `<details>` when asked), rows while they fit.
fn push_table(page: &mut Capped, rows: &[&MetricComparison], title: &str, collapsed: bool) {
    if rows.is_empty() {
        return;
    }
    let open = if collapsed {
        format!("<details><summary>{title}</summary>\n\n")
    } else {
        format!("**{title}**\n\n")
    };
    if !page.push(&open, TAIL) {
        return;
    }
    page.push(MARKDOWN_HEADER, 0);
    let mut written = 0;
    for e in rows {
        if !page.push(&markdown_row(e), TAIL) {
            break;
        }
        written += 1;
    }
    if written < rows.len() {
        page.push(
            &format!(
                "\n{} more row(s) left out to stay under GitHub's comment size limit.\n",
                rows.len() - written
            ),
            0,
        );
    }
    page.push(if collapsed { "\n</details>\n\n" } else { "\n" }, 0);
}

fn short_commit(commit: &str) -> String {
    commit.chars().take(12).collect()
}

/// Escapes a GitHub workflow command's message (`::error::MESSAGE`).
fn github_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a GitHub workflow command's property value (`title=VALUE`).
fn github_property(text: &str) -> String {
    github_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub Actions workflow commands: an `::error` per regression, a `::warning` per
/// inconclusive gating metric and per context warning, a `::notice` per improvement (at most
/// 50 of each, GitHub shows only the first few anyway), and the verdict as the last line.
#[must_use]
pub fn github_annotations(comparison: &Comparison, context: &Context, passed: bool) -> String {
    let mut out = String::new();
    for warning in &context.warnings {
        let _ = writeln!(
            out,
            "::warning title={}::{}",
            github_property("benchkeep: warning"),
            github_data(warning)
        );
    }
    let entries = by_severity(comparison, false);
    let level_of = |e: &MetricComparison| match e.effect {
        GateEffect::Failure => Some("error"),
        GateEffect::Warning => Some("warning"),
        _ if e.verdict == Verdict::Improved => Some("notice"),
        _ => None,
    };
    for level in ["error", "warning", "notice"] {
        for e in entries
            .iter()
            .filter(|e| level_of(e) == Some(level))
            .take(50)
        {
            let title = format!("benchkeep: {} {}", cell(&e.benchmark, 80), e.verdict);
            let gate = gate_note(e);
            let detail = match e.verdict {
                Verdict::Inconclusive => e.reason.clone(),
                Verdict::Missing | Verdict::New | Verdict::Unchanged => {
                    gate.clone().unwrap_or_else(|| e.reason.clone())
                }
                _ => format!(
                    "{} {} ({} {}), {} -> {}{}",
                    e.change.map(pct).unwrap_or_default(),
                    severity(e),
                    ci_label(e),
                    interval(e),
                    value(e.baseline.as_ref(), &e.unit),
                    value(e.current.as_ref(), &e.unit),
                    gate.map(|g| format!("; {g}")).unwrap_or_default(),
                ),
            };
            let _ = writeln!(
                out,
                "::{level} title={}::{} {}: {}",
                github_property(&title),
                github_data(&cell(&e.benchmark, 200)),
                github_data(&e.metric),
                github_data(&detail),
            );
        }
    }
    let _ = writeln!(
        out,
        "::{} title=benchkeep::{}",
        if passed { "notice" } else { "error" },
        github_data(&summary_line(comparison, passed))
    );
    out
}

/// The lines appended to `$GITHUB_OUTPUT`: `verdict`, `regressions`, `alert` and `summary`.
#[must_use]
pub fn github_outputs(comparison: &Comparison, passed: bool, delimiter: &str) -> String {
    format!(
        "verdict={}\nregressions={}\nalert={}\nsummary<<{delimiter}\n{}\n{delimiter}\n",
        if passed { "pass" } else { "fail" },
        comparison.count(Verdict::Regressed),
        wants_alert(comparison),
        summary_line(comparison, passed).replace(delimiter, ""),
    )
}

/// Text safe inside XML 1.0 (the dashboard's HTML escaping, which also shows the characters
/// XML 1.0 forbids even as references as escapes).
fn xml(text: &str) -> String {
    crate::dashboard::esc(text)
}

/// `JUnit` XML: one test case per benchmark metric shown, a `<failure>` for each that fails the
/// gate, `<skipped>` for inconclusive ones that do not; `time` is the current median in
/// seconds for time metrics.
#[must_use]
pub fn junit(comparison: &Comparison, context: &Context, all_metrics: bool) -> String {
    let entries = shown(comparison, all_metrics);
    let failures = entries.iter().filter(|e| e.fails_gate()).count();
    let skipped = entries
        .iter()
        .filter(|e| e.verdict == Verdict::Inconclusive && !e.fails_gate())
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"benchkeep\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">",
        entries.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">",
        xml(&context.subject),
        entries.len()
    );
    for e in entries {
        let time = match (e.unit.0.as_str(), e.current.as_ref()) {
            ("ns", Some(s)) => format!(" time=\"{:.9}\"", s.median / 1e9),
            _ => String::new(),
        };
        let _ = write!(
            out,
            "    <testcase classname=\"benchkeep.{}\" name=\"{}\"{time}",
            xml(&e.metric),
            xml(&e.benchmark)
        );
        let [change, interval, p, q, _, baseline, current] = figures(e);
        let details = format!(
            "{} {}: {} {change} ({} {interval}, p {p}, q {q}), baseline {baseline}, current {current}; {}",
            e.benchmark,
            e.metric,
            e.verdict,
            ci_label(e),
            e.reason
        );
        if e.fails_gate() {
            let _ = writeln!(
                out,
                ">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>",
                e.verdict,
                xml(&format!("{} {change} {}", e.verdict, severity(e))),
                xml(&details)
            );
        } else if e.verdict == Verdict::Inconclusive {
            let _ = writeln!(
                out,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                xml(&format!("inconclusive: {}", e.reason))
            );
        } else {
            let _ = writeln!(
                out,
                ">\n      <system-out>{}</system-out>\n    </testcase>",
                xml(&details)
            );
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// One CSV field (RFC 4180), with a leading `'` on text a spreadsheet would run as a formula.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) && text.parse::<f64>().is_err()
    {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// CSV, one row per benchmark and metric, numbers unformatted (ratios, base units).
#[must_use]
pub fn csv(comparison: &Comparison, all_metrics: bool) -> String {
    let mut out = String::from(
        "benchmark,metric,gating,verdict,severity,change,ci_low,ci_high,p_value,q_value,baseline_median,current_median,unit,direction,method,ci_level,baseline_compared,current_compared\n",
    );
    let number = |x: Option<f64>| x.map_or_else(String::new, |v| format!("{v}"));
    for e in shown(comparison, all_metrics) {
        let row = [
            csv_field(&e.benchmark),
            csv_field(&e.metric),
            e.gating.to_string(),
            e.verdict.to_string(),
            severity(e).to_owned(),
            number(e.change),
            number(e.interval.map(|i| i.0)),
            number(e.interval.map(|i| i.1)),
            number(e.p_value),
            number(e.q_value),
            number(e.baseline.as_ref().map(|s| s.median)),
            number(e.current.as_ref().map(|s| s.median)),
            csv_field(&e.unit.0),
            match e.direction {
                benchkeep_core::model::Direction::LowerIsBetter => "lower_is_better".into(),
                benchkeep_core::model::Direction::HigherIsBetter => "higher_is_better".into(),
            },
            e.method.name().to_owned(),
            number(e.confidence),
            number(e.baseline.as_ref().map(Summary::compared)),
            number(e.current.as_ref().map(Summary::compared)),
        ];
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// Whether the comparison has a moderate or critical regression, which asks for an issue.
#[must_use]
pub fn wants_alert(comparison: &Comparison) -> bool {
    comparison
        .regressions()
        .any(|e| matches!(e.severity, Some(Severity::Moderate | Severity::Critical)))
}

/// For moderate or critical regressions, an issue to open: the title on the first line, a blank
/// line, then the Markdown body (benchmarks, changes, commits, the job). Empty otherwise, so a
/// CI step files an issue only when the file is not empty.
#[must_use]
pub fn alert(comparison: &Comparison, context: &Context) -> String {
    let serious: Vec<&MetricComparison> = by_severity(comparison, false)
        .into_iter()
        .filter(|e| {
            e.verdict == Verdict::Regressed
                && matches!(e.severity, Some(Severity::Moderate | Severity::Critical))
        })
        .collect();
    let Some(worst) = serious.first() else {
        return String::new();
    };
    let title = format!(
        "Performance regression in {}: {} {} {}{}",
        cell(&context.subject, 80),
        cell(&worst.benchmark, 80),
        worst.metric,
        worst.change.map(pct).unwrap_or_default(),
        if serious.len() > 1 {
            format!(" and {} more", serious.len() - 1)
        } else {
            String::new()
        }
    );
    let mut body = format!(
        "benchkeep found {} moderate or critical regression(s) in {}.\n\n",
        serious.len(),
        markdown_cell(&context.subject)
    );
    body.push_str("| benchmark | metric | severity | change | interval | baseline | current |\n|---|---|---|---:|---|---:|---:|\n");
    for e in serious.iter().take(200) {
        let _ = writeln!(
            body,
            "| {} | {} | {} | {} | {} | {} | {} |",
            markdown_cell(&e.benchmark),
            markdown_cell(&e.metric),
            severity(e),
            e.change.map(pct).unwrap_or_default(),
            interval(e),
            value(e.baseline.as_ref(), &e.unit),
            value(e.current.as_ref(), &e.unit),
        );
    }
    if serious.len() > 200 {
        let _ = writeln!(body, "\n…and {} more.", serious.len() - 200);
    }
    body.push('\n');
    if let Some(commit) = &context.current_commit {
        let _ = writeln!(body, "- Commit measured: `{}`", markdown_cell(commit));
    }
    if !context.baseline_commits.is_empty() {
        let commits: Vec<String> = context
            .baseline_commits
            .iter()
            .rev()
            .take(5)
            .map(|c| format!("`{}`", markdown_cell(&short_commit(c))))
            .collect();
        let _ = writeln!(
            body,
            "- Baseline commits (newest first): {}",
            commits.join(", ")
        );
    }
    let _ = writeln!(
        body,
        "- Current run: `{}`",
        markdown_cell(&context.current_run)
    );
    if let Some(url) = &context.job_url {
        let _ = writeln!(body, "- Job: {url}");
    }
    let _ = writeln!(body, "- {}", markdown_cell(&method_line(comparison)));
    format!("{}\n\n{body}", title.replace(['\n', '\r'], " "))
}

#[derive(Serialize)]
struct VerdictDocument<'a> {
    schema: SchemaVersion,
    kind: &'static str,
    passed: bool,
    alert: bool,
    #[serde(flatten)]
    context: &'a Context,
    summary: String,
    counts: Counts,
    /// The method every tested entry used, or `mixed`.
    method: &'static str,
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
        alert: wants_alert(comparison),
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
        method: comparison.method_used().map_or("mixed", Method::name),
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
                summary: None,
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
            current_commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
            baseline_commits: vec!["fedcba9876543210fedcba9876543210fedcba98".into()],
            job_url: Some("https://github.com/o/r/actions/runs/42".into()),
            ..Context::default()
        };
        (comparison, context)
    }

    #[test]
    fn text_report() {
        let (c, ctx) = fixture();
        insta::assert_snapshot!(text(
            &c,
            &ctx,
            c.passes(&CompareConfig::default()),
            false,
            false
        ));
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

    /// A comparison of `total` benchmarks with long names, `regressed` of them regressed
    /// (critical first, then moderate), built from the fixture's entries.
    fn large(total: usize, regressed: usize) -> Comparison {
        let (fixture, _) = fixture();
        let template = |verdict: Verdict| {
            fixture
                .entries
                .iter()
                .find(|e| e.verdict == verdict)
                .unwrap()
                .clone()
        };
        let (bad, fine) = (template(Verdict::Regressed), template(Verdict::Unchanged));
        let mut comparison = fixture.clone();
        comparison.entries = (0..total)
            .map(|i| {
                let mut e = if i < regressed {
                    bad.clone()
                } else {
                    fine.clone()
                };
                e.benchmark = format!(
                    "suite::module_{:03}::benchmark_with_a_long_name_{i:05}",
                    i % 97
                );
                if i < regressed / 2 {
                    e.severity = Some(Severity::Critical);
                }
                e
            })
            .collect();
        comparison
    }

    #[test]
    fn markdown_of_2000_benchmarks_stays_under_githubs_limit_and_names_every_regression() {
        let (_, ctx) = fixture();
        for regressed in [0, 10, 300, 600] {
            let comparison = large(2000, regressed);
            let text = markdown(&comparison, &ctx, regressed == 0, false);
            assert!(
                text.chars().count() < 65_536,
                "{regressed}: {} chars",
                text.len()
            );
            assert!(text.len() <= MARKDOWN_LIMIT);
            for e in comparison.regressions() {
                assert!(
                    text.contains(&e.benchmark),
                    "{regressed}: {} not named",
                    e.benchmark
                );
            }
            assert!(text.starts_with("<!-- benchkeep-report: main@linux-x86_64 -->\n"));
            // Tables are never cut mid-row: every table line is a whole row.
            for line in text.lines().filter(|l| l.starts_with('|')) {
                assert!(line.ends_with('|'), "cut row: {line}");
            }
            if regressed > 0 {
                let critical = text.find("(critical)").unwrap();
                assert!(text.find("(moderate)").is_none_or(|m| m > critical));
            }
        }
        let text = markdown(&large(2000, 300), &ctx, false, false);
        assert!(
            text.contains("more row(s) left out"),
            "unchanged rows are summarised"
        );
    }

    #[test]
    fn markdown_with_more_regressions_than_fit_says_how_many_are_left() {
        let (_, ctx) = fixture();
        let text = markdown(&large(5000, 5000), &ctx, false, false);
        assert!(text.len() <= MARKDOWN_LIMIT);
        assert!(text.contains("too many for rows"));
        assert!(text.contains("more (the JSON, CSV or JUnit report lists every one)"));
    }

    #[test]
    fn markdown_markers_cannot_close_the_comment_early() {
        assert_eq!(
            markdown_marker("a-->b\n"),
            "<!-- benchkeep-report: a-__b_ -->"
        );
    }

    #[test]
    fn github_annotations_are_escaped_and_outputs_are_written() {
        let (mut c, ctx) = fixture();
        c.entries[0].benchmark = "parse: 100%, fast\nreally".into();
        let mut ctx = ctx;
        ctx.warnings
            .push("environment changed since the baseline (cpu_model: a -> b)".into());
        let text = github_annotations(&c, &ctx, false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "::warning title=benchkeep%3A warning::environment changed since the baseline (cpu_model: a -> b)"
        );
        assert!(
            lines[1].starts_with(
                "::error title=benchkeep%3A parse%3A 100%25%2C fast\\nreally regressed::parse: 100%25, fast\\nreally wall_time: +50.0%25 moderate"
            ),
            "{}",
            lines[1]
        );
        assert_eq!(
            lines.last().unwrap(),
            &"::error title=benchkeep::FAIL: 1 regressed, 1 unchanged, 1 new, 1 missing; failing: parse: 100%25, fast\\nreally wall_time +50.0%25 (moderate), gone missing"
        );
        assert!(lines.iter().all(|l| l.starts_with("::")));
        let outputs = github_outputs(&c, false, "EOF_x");
        assert!(
            outputs.starts_with("verdict=fail\nregressions=1\nalert=true\nsummary<<EOF_x\nFAIL: ")
        );
        assert!(outputs.ends_with("\nEOF_x\n"));
    }

    #[test]
    fn junit_is_well_formed_xml_with_a_failure_per_regression() {
        let (mut c, ctx) = fixture();
        c.entries[1].benchmark = "render <&> \"quoted\" \u{1}".into();
        let xml_text = junit(&c, &ctx, false);
        let doc = roxmltree::Document::parse(&xml_text).expect("well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.attribute("tests"), Some("4"));
        // The regression and the benchmark missing from the run both fail the gate.
        assert_eq!(root.attribute("failures"), Some("2"));
        let failed: Vec<&str> = root
            .descendants()
            .filter(|n| n.has_tag_name("failure"))
            .map(|n| n.parent().unwrap().attribute("name").unwrap())
            .collect();
        assert_eq!(failed, ["parse", "gone"]);
        let names: Vec<&str> = root
            .descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .filter_map(|n| n.attribute("name"))
            .collect();
        assert!(names.contains(&"render <&> \"quoted\" \\u{1}"), "{names:?}");
        let timed = root
            .descendants()
            .find(|n| n.attribute("name") == Some("parse"))
            .unwrap();
        assert_eq!(timed.attribute("time"), Some("0.030060000"));
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let (mut c, _) = fixture();
        c.entries[0].benchmark = "=HYPERLINK(\"x\"), really".into();
        let text = csv(&c, false);
        let mut lines = text.lines();
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("benchmark,metric,gating,verdict,")
        );
        let first = lines.next().unwrap();
        assert!(
            first.starts_with(
                "\"'=HYPERLINK(\"\"x\"\"), really\",wall_time,true,regressed,moderate,0.5"
            ),
            "{first}"
        );
        assert_eq!(text.lines().count(), 5);
    }

    #[test]
    fn alerts_only_for_moderate_or_critical_regressions() {
        let (c, ctx) = fixture();
        let text = alert(&c, &ctx);
        let (title, body) = text.split_once("\n\n").unwrap();
        assert_eq!(
            title,
            "Performance regression in main@linux-x86_64: parse wall_time +50.0%"
        );
        assert!(body.contains("| parse | wall_time | moderate | +50.0% |"));
        assert!(body.contains("- Commit measured: `0123456789abcdef0123456789abcdef01234567`"));
        assert!(body.contains("- Baseline commits (newest first): `fedcba987654`"));
        assert!(body.contains("- Job: https://github.com/o/r/actions/runs/42"));
        let mut minor = c.clone();
        for e in &mut minor.entries {
            if e.verdict == Verdict::Regressed {
                e.severity = Some(Severity::Minor);
            }
        }
        assert!(!wants_alert(&minor));
        assert_eq!(alert(&minor, &ctx), "");
        assert!(wants_alert(&c));
    }

    #[test]
    fn colour_paints_verdicts_without_breaking_columns() {
        let (c, ctx) = fixture();
        let plain = text(&c, &ctx, false, false, false);
        let painted = text(&c, &ctx, false, false, true);
        assert!(!plain.contains('\x1b'));
        assert!(painted.contains("\x1b[31mregressed"));
        let strip = |s: &str| {
            let mut out = String::new();
            let mut chars = s.chars();
            while let Some(ch) = chars.next() {
                if ch == '\x1b' {
                    for d in chars.by_ref() {
                        if d == 'm' {
                            break;
                        }
                    }
                } else {
                    out.push(ch);
                }
            }
            out
        };
        assert_eq!(strip(&painted), plain);
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(cell("a\u{1b}[31mred\nb", 100), "a\\u{1b}[31mred\\nb");
        assert_eq!(cell(&"x".repeat(10), 5), "xxxx…");
    }
}
