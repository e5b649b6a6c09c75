//! One module per format, each behind [`crate::Renderer`].

mod alert;
pub(crate) mod csv;
pub mod github;
mod json;
pub mod junit;
pub mod markdown;
pub mod text;

use crate::Renderer;
use crate::document::VerdictDocument;

/// A table for terminals and CI logs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Text {
    /// Every metric, not only the gating ones.
    pub all_metrics: bool,
    /// Paint verdicts with ANSI colours (the caller decides: `--color`, `NO_COLOR`, a terminal).
    pub color: bool,
}

/// A pull-request comment: a hidden marker, the verdict, regressions first, the rest
/// collapsed, under GitHub's comment size limit ([`markdown::MARKDOWN_LIMIT`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Markdown {
    /// Every metric, not only the gating ones.
    pub all_metrics: bool,
}

/// GitHub Actions workflow commands: an `::error` per failing entry, a `::warning` per
/// warning, a `::notice` per improvement, and the verdict last.
#[derive(Debug, Clone, Copy, Default)]
pub struct Github;

/// `JUnit` XML: each benchmark metric a test case, a failing one a `<failure>`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Junit {
    /// Every metric, not only the gating ones.
    pub all_metrics: bool,
}

/// The versioned verdict document itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

/// One row per benchmark metric, numbers unformatted (ratios, base units).
#[derive(Debug, Clone, Copy, Default)]
pub struct Csv {
    /// Every metric, not only the gating ones.
    pub all_metrics: bool,
}

/// For moderate or critical regressions, an issue to open: the title, a blank line, the
/// Markdown body. Empty otherwise, so that a CI step files an issue only when there is one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Alert;

impl Renderer for Text {
    fn render(&self, document: &VerdictDocument) -> String {
        text::text(document, self.all_metrics, self.color)
    }
}

impl Renderer for Markdown {
    fn render(&self, document: &VerdictDocument) -> String {
        markdown::markdown(document, self.all_metrics)
    }
}

impl Renderer for Github {
    fn render(&self, document: &VerdictDocument) -> String {
        github::annotations(document)
    }
}

impl Renderer for Junit {
    fn render(&self, document: &VerdictDocument) -> String {
        junit::junit(document, self.all_metrics)
    }
}

impl Renderer for Json {
    fn render(&self, document: &VerdictDocument) -> String {
        json::json(document)
    }
}

impl Renderer for Csv {
    fn render(&self, document: &VerdictDocument) -> String {
        csv::csv(document, self.all_metrics)
    }
}

impl Renderer for Alert {
    fn render(&self, document: &VerdictDocument) -> String {
        alert::alert(document)
    }
}

#[cfg(test)]
mod tests;
