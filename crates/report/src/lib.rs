//! benchkeep's reports, as a library: every output format of a verdict, and the static HTML
//! dashboard.
//!
//! A comparison becomes one owned, versioned [`VerdictDocument`] (the wire type the `json`
//! format writes, docs/FORMAT.md); every format is a [`Renderer`] of that document, one module
//! per format in [`formats`]. Names in a document are untrusted (a pull request chooses them):
//! each renderer escapes them for its medium (terminal controls, Markdown and mentions, XML,
//! CSV formulas, workflow commands).
//!
//! ```
//! use benchkeep_core::compare::{compare, CompareConfig};
//! use benchkeep_core::model::Benchmark;
//! use benchkeep_report::{Context, Format, RenderOptions, VerdictDocument};
//!
//! let base = [Benchmark::wall_time("parse", vec![1.00e6, 1.01e6, 1.02e6, 1.00e6, 1.01e6])];
//! let head = [Benchmark::wall_time("parse", vec![1.30e6, 1.31e6, 1.32e6, 1.30e6, 1.31e6])];
//! let config = CompareConfig::default();
//! let comparison = compare(&base, &head, &config);
//! let passed = comparison.passes(&config);
//! let context = Context { subject: "main@linux-x86_64".into(), ..Context::default() };
//! let document = VerdictDocument::new(&comparison, context, passed);
//! let markdown = Format::Markdown.renderer(RenderOptions::default()).render(&document);
//! assert!(markdown.contains("**regressed**"));
//! ```
#![deny(missing_docs)]

pub mod baselines;
mod cells;
pub mod dashboard;
mod document;
pub mod formats;
pub mod measurements;
pub mod trend;

pub use document::{Basis, Context, Counts, Entry, VERDICT_SCHEMA, VerdictDocument};
pub use formats::markdown::{MARKDOWN_LIMIT, markdown_marker, markdown_text};
pub use formats::text::run_summary;

/// A format of the verdict document.
pub trait Renderer {
    /// The document in this format.
    fn render(&self, document: &VerdictDocument) -> String;
}

/// Every format, by name: what `--format` and `--report FORMAT=FILE` choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Format {
    /// [`formats::Text`].
    #[default]
    Text,
    /// [`formats::Json`].
    Json,
    /// [`formats::Markdown`].
    Markdown,
    /// [`formats::Github`].
    Github,
    /// [`formats::Junit`].
    Junit,
    /// [`formats::Csv`].
    Csv,
    /// [`formats::Alert`].
    Alert,
}

/// What the table formats may show beyond the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Every metric, not only the gating ones (text, Markdown, `JUnit`, CSV).
    pub all_metrics: bool,
    /// ANSI colours (text only; the caller decides whether the output is a terminal).
    pub color: bool,
}

impl Format {
    /// This format's renderer.
    #[must_use]
    pub fn renderer(self, options: RenderOptions) -> Box<dyn Renderer> {
        let RenderOptions { all_metrics, color } = options;
        match self {
            Format::Text => Box::new(formats::Text { all_metrics, color }),
            Format::Json => Box::new(formats::Json),
            Format::Markdown => Box::new(formats::Markdown { all_metrics }),
            Format::Github => Box::new(formats::Github),
            Format::Junit => Box::new(formats::Junit { all_metrics }),
            Format::Csv => Box::new(formats::Csv { all_metrics }),
            Format::Alert => Box::new(formats::Alert),
        }
    }
}
