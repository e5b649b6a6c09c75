//! Markdown for a pull-request comment and the job summary.

use std::fmt::Write as _;

use benchkeep_core::compare::Verdict;

use crate::cells::{
    by_severity, cell, figures, gate_note, method_line, pct, severity, short_commit,
};
use crate::document::{Entry, VerdictDocument};

/// Text from outside (benchmark names, keys, reasons) made inert in Markdown, capped to one
/// cell: see [`markdown_text`].
pub(crate) fn markdown_cell(text: &str) -> String {
    markdown_text(&cell(text, 120))
}

/// Makes untrusted text inert in GitHub-flavoured Markdown: a benchmark name from a pull
/// request must not become a link, an image, emphasis, code, a heading, a list, a table cell
/// break, raw HTML, an @-mention, an email link or an issue reference in the bot's comment.
/// Every ASCII punctuation character Markdown gives a meaning is backslash-escaped, `&`, `<`
/// and `>` become entities, leading spaces become `&#32;` (no code block), and [`unlinked`]
/// breaks what GitHub finds in the rendered text (after the escapes are gone).
#[must_use]
pub fn markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut leading = true;
    for c in text.chars() {
        match c {
            ' ' | '\t' if leading => out.push_str("&#32;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '!' | '|' | '~' | '$' | '#' | '-'
            | '+' | '=' => {
                out.push('\\');
                out.push(c);
            }
            // `1. x` at the start of a line would be a list item.
            '.' if leading_number(&out) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
        leading = leading && c.is_whitespace();
    }
    unlinked(&out)
}

/// Whether `out` is nothing but digits so far (an ordered list marker would follow).
fn leading_number(out: &str) -> bool {
    !out.is_empty() && out.bytes().all(|b| b.is_ascii_digit())
}

/// Plain text (an issue title, which GitHub does not render as Markdown but does scan for
/// mentions, references and links) with those broken by an invisible word joiner (U+2060):
/// after every `@` (mentions, `team@org`, email links) and every `#` that starts a word
/// (`#123`), inside `GH-` before a number, inside `://` and before `www`'s dot. GitHub's
/// recognisers read words of ASCII letters and digits: anything else, even `\`, starts one.
#[must_use]
pub fn unlinked(text: &str) -> String {
    const JOINER: char = '\u{2060}';
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    let mut previous: Option<char> = None;
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        // `GH-123` links an issue: split it before the `-` (or `\-`).
        if (c == '-' || (c == '\\' && next == Some('-')))
            && out.to_ascii_lowercase().ends_with("gh")
        {
            out.push(JOINER);
        }
        out.push(c);
        let breaks = match c {
            '@' => true,
            '#' => !previous.is_some_and(|p| p.is_ascii_alphanumeric()),
            ':' => next == Some('/') || next == Some('\\'),
            '.' => out.to_ascii_lowercase().ends_with("www."),
            _ => false,
        };
        if breaks {
            if c == '.' {
                out.pop();
                out.push(JOINER);
                out.push('.');
            } else {
                out.push(JOINER);
            }
        }
        previous = Some(c);
    }
    out
}

/// A commit as code when it is one (hex digits), else as escaped text: a run file can say
/// anything, and a backtick would end the code span.
pub(crate) fn markdown_commit(commit: &str) -> String {
    if !commit.is_empty() && commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        format!("`{commit}`")
    } else {
        markdown_cell(commit)
    }
}

/// A link only when `url` is a plain `http(s)` URL (a CI job's), else the text escaped:
/// a run file can say anything about where it was made.
pub(crate) fn markdown_link(label: &str, url: &str) -> String {
    let plain = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2048
        && url.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(
                    b,
                    b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'`' | b'"' | b'\'' | b'\\'
                )
        });
    if plain {
        format!("[{label}]({url})")
    } else {
        format!("{label}: {}", markdown_cell(url))
    }
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

/// A string that stops growing at a limit and says so.
struct Capped {
    out: String,
    limit: usize,
    /// The document's threshold: a row judged at another says its own.
    threshold: f64,
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

fn markdown_row(e: &Entry, threshold: f64) -> String {
    let mut verdict = match (e.verdict, severity(e)) {
        (Verdict::Regressed, sev) => format!("**regressed** ({sev})"),
        (v, _) => v.to_string(),
    };
    if (e.threshold - threshold).abs() > 1e-9 {
        let _ = write!(verdict, " (±{:.1}%)", e.threshold * 100.0);
    }
    format!(
        "| {} | {} | {verdict} | {} |\n",
        markdown_cell(&e.benchmark),
        markdown_cell(&e.metric),
        figures(e).join(" | "),
    )
}

/// How a regression is named when the table has no room: `**parse** wall_time +12.3%`.
fn compact(e: &Entry) -> String {
    format!(
        "**{}** {} {}",
        markdown_cell(&e.benchmark),
        markdown_cell(&e.metric),
        e.change.map(pct).unwrap_or_default()
    )
}

/// The comparison as Markdown for a pull-request comment: a hidden marker, a one-line verdict,
/// regressions then improvements in tables, the rest collapsed, and notes. It stays under
/// [`MARKDOWN_LIMIT`] by summarising rows instead of cutting a table; every regression is named,
/// in its table row or, when there are too many for rows, in a compact list.
#[must_use]
pub(crate) fn markdown(document: &VerdictDocument, all_metrics: bool) -> String {
    markdown_capped(document, all_metrics, MARKDOWN_LIMIT)
}

pub(crate) fn markdown_capped(
    document: &VerdictDocument,
    all_metrics: bool,
    limit: usize,
) -> String {
    let icon = if document.passed { "✅" } else { "❌" };
    let mut about = markdown_cell(&document.context.heading());
    if let Some(commit) = &document.context.current_commit {
        let _ = write!(
            about,
            " · commit {}",
            markdown_commit(&short_commit(commit))
        );
    }
    if let Some(url) = &document.context.job_url {
        let _ = write!(about, " · {}", markdown_link("job", url));
    }
    let mut page = Capped {
        out: String::with_capacity(limit.min(1 << 16)),
        limit,
        threshold: document.threshold,
    };
    page.out = format!(
        "{}\n### {icon} benchkeep: {}\n\n{about}.\n{}.\n\n",
        markdown_marker(&document.context.subject),
        markdown_cell(&document.summary),
        // A sentence, longer than a cell: it names every method used.
        markdown_text(&cell(&method_line(document), 400)),
    );
    for warning in &document.context.warnings {
        // Warnings are sentences (an accepted slowdown's reason): longer than a cell.
        let _ = writeln!(page.out, "> ⚠️ {}\n", markdown_text(&cell(warning, 400)));
    }
    let entries = by_severity(document, all_metrics);
    let split = |verdict: Verdict| -> Vec<&Entry> {
        entries
            .iter()
            .copied()
            .filter(|e| e.verdict == verdict)
            .collect()
    };
    let rest: Vec<&Entry> = entries
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
fn push_regressions(page: &mut Capped, regressions: &[&Entry]) {
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
    let mut rows = 0;
    for (i, e) in regressions.iter().enumerate() {
        // What naming the rest compactly would take, with its lead-in line.
        let later = compact_from.get(i + 1).map_or(0, |size| size + 100);
        let row = markdown_row(e, page.threshold);
        // The header goes with the first row, or not at all (an empty table says nothing).
        let text = if i == 0 {
            format!("{MARKDOWN_HEADER}{row}")
        } else {
            row
        };
        if !page.push(&text, later + TAIL) {
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
fn push_table(page: &mut Capped, rows: &[&Entry], title: &str, collapsed: bool) {
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
        if !page.push(&markdown_row(e, page.threshold), TAIL) {
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
