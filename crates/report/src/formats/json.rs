//! The verdict document as JSON (docs/FORMAT.md).

use crate::document::VerdictDocument;

/// Pretty JSON with a final newline.
pub(crate) fn json(document: &VerdictDocument) -> String {
    let mut text = serde_json::to_string_pretty(document)
        .unwrap_or_else(|e| unreachable!("a verdict document serialises: {e}"));
    text.push('\n');
    text
}
