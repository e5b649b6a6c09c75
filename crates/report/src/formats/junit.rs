//! `JUnit` XML, for CI systems that show test results.

use std::fmt::Write as _;

use benchkeep_core::compare::Verdict;

use crate::cells::{ci_label, figures, severity, shown};
use crate::document::VerdictDocument;

/// Text safe inside XML 1.0 (the dashboard's HTML escaping, which also shows the characters
/// XML 1.0 forbids even as references as escapes).
fn xml(text: &str) -> String {
    crate::dashboard::esc(text)
}

/// `JUnit` XML: one test case per benchmark metric shown, a `<failure>` for each that fails the
/// gate, `<skipped>` for inconclusive ones that do not; `time` is the current median in
/// seconds for time metrics.
#[must_use]
pub(crate) fn junit(document: &VerdictDocument, all_metrics: bool) -> String {
    let entries = shown(document, all_metrics);
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
        xml(&document.context.subject),
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
        // An entry with no estimate (new, missing, too few samples) has no figures to show.
        let estimate = if e.p_value.is_some() {
            format!(" {change} ({} {interval}, p {p}, q {q})", ci_label(e))
        } else {
            String::new()
        };
        let details = format!(
            "{} {}: {}{estimate}, baseline {baseline}, current {current}; {}",
            e.benchmark, e.metric, e.verdict, e.reason
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
