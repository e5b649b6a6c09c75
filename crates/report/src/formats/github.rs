//! GitHub Actions: workflow-command annotations, and the step's outputs.

use std::fmt::Write as _;

use benchkeep_core::compare::{GateEffect, Verdict};

use crate::cells::{by_severity, cell, ci_label, gate_note, interval, pct, severity, value};
use crate::document::{Entry, VerdictDocument};

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
pub(crate) fn annotations(document: &VerdictDocument) -> String {
    let mut out = String::new();
    for warning in &document.context.warnings {
        let _ = writeln!(
            out,
            "::warning title={}::{}",
            github_property("benchkeep: warning"),
            github_data(warning)
        );
    }
    let entries = by_severity(document, false);
    let level_of = |e: &Entry| match e.effect {
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
        if document.passed { "notice" } else { "error" },
        github_data(&document.summary)
    );
    out
}

/// The lines appended to `$GITHUB_OUTPUT`: `verdict`, `regressions`, `alert` and `summary`.
#[must_use]
pub fn outputs(document: &VerdictDocument, delimiter: &str) -> String {
    format!(
        "verdict={}\nregressions={}\nalert={}\nsummary<<{delimiter}\n{}\n{delimiter}\n",
        if document.passed { "pass" } else { "fail" },
        document.count(Verdict::Regressed),
        document.alert,
        document.summary.replace(delimiter, ""),
    )
}
