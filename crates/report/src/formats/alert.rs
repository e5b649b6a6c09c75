//! The issue to open for a moderate or critical regression.

use std::fmt::Write as _;

use benchkeep_core::compare::{Severity, Verdict};

use super::markdown::{markdown_cell, markdown_commit, markdown_link, unlinked};
use crate::cells::{by_severity, cell, interval, method_line, pct, severity, short_commit, value};
use crate::document::{Entry, VerdictDocument};

/// For moderate or critical regressions, an issue to open: the title on the first line, a blank
/// line, then the Markdown body (benchmarks, changes, commits, the job). Empty otherwise, so a
/// CI step files an issue only when the file is not empty.
#[must_use]
pub(crate) fn alert(document: &VerdictDocument) -> String {
    let serious: Vec<&Entry> = by_severity(document, false)
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
        cell(&document.context.subject, 80),
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
        markdown_cell(&document.context.subject)
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
    if let Some(commit) = &document.context.current_commit {
        let _ = writeln!(body, "- Commit measured: {}", markdown_commit(commit));
    }
    if !document.context.baseline_commits.is_empty() {
        let commits: Vec<String> = document
            .context
            .baseline_commits
            .iter()
            .rev()
            .take(5)
            .map(|c| markdown_commit(&short_commit(c)))
            .collect();
        let _ = writeln!(
            body,
            "- Baseline commits (newest first): {}",
            commits.join(", ")
        );
    }
    let _ = writeln!(
        body,
        "- Current run: {}",
        markdown_cell(&document.context.current_run)
    );
    if let Some(url) = &document.context.job_url {
        let _ = writeln!(body, "- {}", markdown_link("Job", url));
    }
    let _ = writeln!(body, "- {}", markdown_cell(&method_line(document)));
    format!("{}\n\n{body}", unlinked(&title.replace(['\n', '\r'], " ")))
}
