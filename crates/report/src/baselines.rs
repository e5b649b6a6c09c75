//! Baselines for people: `baseline show`, `list` and `history` as text.

use std::fmt::Write as _;

use benchkeep_core::baseline::Baseline;
use benchkeep_core::store::Versioned;

use crate::cells::cell;
use crate::formats::text::run_summary;

/// Stored text (a reason, a commit) as a terminal may show it: control characters escaped.
fn safe(text: &str) -> String {
    cell(text, 400)
}

/// `baseline show`: the key, version, machine, source runs (with commits), an accepted
/// slowdown, then the benchmarks' summary table.
#[must_use]
pub fn show(baseline: &Versioned<Baseline>) -> String {
    let b = &baseline.value;
    let mut text = format!(
        "baseline {}\nupdated {}  version {}\nmachine {} {} {}\nfrom {} run(s):\n",
        b.key,
        b.updated,
        baseline.version,
        b.fingerprint.os,
        b.fingerprint.arch,
        b.fingerprint.cpu_model.as_deref().unwrap_or(""),
        b.sources.len()
    );
    for source in &b.sources {
        let _ = writeln!(
            text,
            "  {}  {}",
            source.run,
            safe(source.commit.as_deref().unwrap_or("(no commit)"))
        );
    }
    if let Some(accepted) = &b.accepted {
        let _ = writeln!(
            text,
            "accepted {}: {}",
            accepted.at,
            safe(accepted.reason.as_deref().unwrap_or("no reason given"))
        );
    }
    text.push('\n');
    text.push_str(&run_summary(&b.benchmarks));
    text
}

/// `baseline list`: one line per baseline, or that there are none in `location`.
#[must_use]
pub fn list(baselines: &[Versioned<Baseline>], location: &str) -> String {
    if baselines.is_empty() {
        return format!("no baselines in {location}\n");
    }
    let mut text = String::new();
    for b in baselines {
        let _ = writeln!(
            text,
            "{}  updated {}  {} run(s)  {} benchmark(s)",
            b.value.key,
            b.value.updated,
            b.value.sources.len(),
            b.value.benchmarks.len()
        );
    }
    text
}

/// `baseline history`: how the key's baseline came to be, newest first.
#[must_use]
pub fn history(baseline: &Baseline) -> String {
    let key = &baseline.key;
    if baseline.changes.is_empty() {
        return format!(
            "baseline {key}: no recorded changes (written before benchkeep kept them); updated {}, {} run(s)\n",
            baseline.updated,
            baseline.sources.len()
        );
    }
    let mut text = format!("baseline {key}, newest first:\n");
    for change in baseline.changes.iter().rev() {
        let runs: Vec<String> = change.runs.iter().map(ToString::to_string).collect();
        let _ = write!(
            text,
            "{}  {:<9} {} run(s)  added {}",
            change.at,
            change.action.to_string(),
            change.sources,
            if runs.is_empty() {
                "-".into()
            } else {
                runs.join(", ")
            }
        );
        if let Some(commit) = &change.commit {
            let _ = write!(text, "  commit {}", safe(short(commit)));
        }
        if let Some(reason) = &change.reason {
            let _ = write!(text, "  reason: {}", safe(reason));
        }
        text.push('\n');
    }
    text
}

/// The first 12 characters of a commit hash.
#[must_use]
pub fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_cannot_drive_the_terminal() {
        assert_eq!(safe("fix \u{1b}[2J\nnext"), "fix \\u{1b}[2J\\nnext");
    }
}
