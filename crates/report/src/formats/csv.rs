//! CSV for spreadsheets: one row per benchmark metric, numbers unformatted.

use benchkeep_core::compare::Summary;
use benchkeep_core::model::Direction;

use crate::cells::{severity, shown};
use crate::document::VerdictDocument;

/// One CSV field (RFC 4180), with a leading `'` on text a spreadsheet would run as a formula.
pub(crate) fn csv_field(text: &str) -> String {
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
pub(crate) fn csv(document: &VerdictDocument, all_metrics: bool) -> String {
    let mut out = String::from(
        "benchmark,metric,gating,verdict,severity,change,ci_low,ci_high,p_value,q_value,baseline_median,current_median,unit,direction,method,ci_level,baseline_compared,current_compared,threshold\n",
    );
    let number = |x: Option<f64>| x.map_or_else(String::new, |v| format!("{v}"));
    for e in shown(document, all_metrics) {
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
                Direction::LowerIsBetter => "lower_is_better".into(),
                Direction::HigherIsBetter => "higher_is_better".into(),
            },
            e.method.name().to_owned(),
            number(e.confidence),
            number(e.baseline.as_ref().map(Summary::compared)),
            number(e.current.as_ref().map(Summary::compared)),
            number(Some(e.threshold)),
        ];
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}
