//! The results as Markdown (printed, and written to `ZOO_OUT` for docs/DETECTION.md) and every
//! trial as CSV for later analysis.

use std::fmt::Write as _;

use crate::harness_outputs::ImportRow;
use crate::stats;
use crate::trials::{Mode, Outcome, Trial};
use crate::workloads::Kind;

/// What the tables cover, in the order they are printed.
#[derive(Debug)]
pub(crate) struct Layout<'a> {
    pub(crate) title: String,
    /// Lines under the title: machine, binary, settings, duration.
    pub(crate) header: Vec<String>,
    pub(crate) kinds: &'a [Kind],
    pub(crate) effects: &'a [f64],
    pub(crate) paired_phases: &'a [String],
    pub(crate) stored_phases: &'a [String],
}

/// The whole report.
pub(crate) fn markdown(layout: &Layout<'_>, trials: &[Trial], imports: &[ImportRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### {}\n", layout.title);
    for line in &layout.header {
        let _ = writeln!(out, "- {line}");
    }
    out.push_str("\nWorkloads (e = effect; work grows by exactly 1+e, wall time by less: start-up does not grow):\n\n");
    for kind in layout.kinds {
        let _ = writeln!(out, "- **{}**: {}", kind.name(), kind.description());
    }
    realised(&mut out, layout, trials);
    loads(&mut out, trials);
    cells(&mut out, layout, trials);
    if !imports.is_empty() {
        import_table(&mut out, imports);
    }
    out
}

/// Nominal against realised effect: the ratio of medians in paired trials on the quietest phase.
fn realised(out: &mut String, layout: &Layout<'_>, trials: &[Trial]) {
    let Some(quiet) = layout
        .paired_phases
        .iter()
        .find(|p| *p == "none")
        .or(layout.paired_phases.first())
    else {
        return;
    };
    let effects: Vec<f64> = layout
        .effects
        .iter()
        .copied()
        .filter(|e| *e > 0.0)
        .collect();
    let _ = writeln!(
        out,
        "\n#### Realised effect (median over paired trials on load phase `{quiet}` of head median / base median − 1; in brackets `ab`'s own paired estimate)\n"
    );
    let headers: Vec<String> = effects.iter().map(|e| format!("+{}%", pct(*e))).collect();
    let _ = writeln!(out, "| workload | base median | {} |", headers.join(" | "));
    let _ = writeln!(out, "|---|---:|{}", "---:|".repeat(effects.len()));
    for kind in layout.kinds {
        let of = |effect: Option<f64>| -> Vec<&Trial> {
            trials
                .iter()
                .filter(|t| t.mode == Mode::Paired && t.kind == *kind && &t.phase == quiet)
                .filter(|t| effect.is_none_or(|e| same(t.effect, e)))
                .collect()
        };
        let base: Vec<f64> = of(None)
            .iter()
            .filter_map(|t| t.measured.base_median)
            .collect();
        let cells: Vec<String> = effects
            .iter()
            .map(|e| {
                let cell = of(Some(*e));
                let medians: Vec<f64> = cell.iter().filter_map(|t| t.measured.change).collect();
                let paired: Vec<f64> = cell
                    .iter()
                    .filter_map(|t| t.measured.verdict_change)
                    .collect();
                match (stats::median(&medians), stats::median(&paired)) {
                    (Some(m), Some(p)) => format!("{} ({})", signed_pct(m), signed_pct(p)),
                    (Some(m), None) => signed_pct(m),
                    _ => "-".into(),
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            kind.name(),
            stats::median(&base).map_or_else(|| "-".into(), |ns| format!("{:.1} ms", ns / 1e6)),
            cells.join(" | ")
        );
    }
}

/// The load average seen at the start of trials, per phase.
fn loads(out: &mut String, trials: &[Trial]) {
    let mut phases: Vec<(Mode, &str)> = Vec::new();
    for t in trials {
        if !phases.contains(&(t.mode, t.phase.as_str())) {
            phases.push((t.mode, &t.phase));
        }
    }
    if phases.is_empty() {
        return;
    }
    out.push_str("\n#### Load average (1 min) at the start of trials\n\n| mode | load phase | trials | median | min | max |\n|---|---|---:|---:|---:|---:|\n");
    for (mode, phase) in phases {
        let mut values: Vec<f64> = trials
            .iter()
            .filter(|t| t.mode == mode && t.phase == phase)
            .filter_map(|t| t.load)
            .collect();
        values.sort_by(f64::total_cmp);
        let show = |v: Option<&f64>| v.map_or_else(|| "-".into(), |v| format!("{v:.2}"));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            mode.name(),
            phase_label(phase),
            values.len(),
            show(stats::median(&values).as_ref()),
            show(values.first()),
            show(values.last())
        );
    }
}

/// Every cell: mode × workload × load phase × effect.
fn cells(out: &mut String, layout: &Layout<'_>, trials: &[Trial]) {
    out.push_str(
        "\n#### Every cell\n\n\
         `flagged` is benchkeep's rate of `regressed` verdicts on the gating wall-time metric: false alarms at 0%, detection above. \
         A miss is any trial of a slowed workload that is not `regressed` (unchanged + inconclusive + improved). \
         `gate` counts exit code 1. Rates are over trials without errors, with 95% Wilson score intervals. \
         Simple rules on the samples behind the same verdict: **fixed** is a fixed threshold on medians \
         (paired: 2% on the medians of the `ab` rounds, as the verdict reports them; stored: 5%, current job against the newest baseline job); \
         **MW** is a plain Mann-Whitney U test, p < 0.05 and slower, current job against the newest baseline job \
         (`ab` writes no samples, so paired mode has none). \
         `Δ` is the median over trials of current median / baseline median − 1, `bk Δ` of the change benchkeep estimated (paired: from the rounds' ratios); \
         `load` the median 1-minute load average at the trials' start. \
         Stored phases read `baseline phase → check phase`.\n\n\
         | mode | workload | load | effect | trials | regressed | unchanged | inconclusive | improved | errors | gate | benchkeep flagged | fixed | MW | Δ | bk Δ | load |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|---:|---:|\n",
    );
    for (mode, phases) in [
        (Mode::Paired, layout.paired_phases),
        (Mode::Stored, layout.stored_phases),
    ] {
        for kind in layout.kinds {
            for phase in phases {
                for &effect in layout.effects {
                    let cell: Vec<&Trial> = trials
                        .iter()
                        .filter(|t| {
                            t.mode == mode
                                && t.kind == *kind
                                && &t.phase == phase
                                && same(t.effect, effect)
                        })
                        .collect();
                    if !cell.is_empty() {
                        row(out, mode, *kind, phase, effect, &cell);
                    }
                }
            }
        }
    }
}

fn row(out: &mut String, mode: Mode, kind: Kind, phase: &str, effect: f64, cell: &[&Trial]) {
    let count = |o: Outcome| cell.iter().filter(|t| t.measured.outcome == o).count();
    let valid = cell.len() - count(Outcome::Error);
    let rule = |pick: fn(&Trial) -> Option<bool>| -> String {
        let decided: Vec<bool> = cell.iter().filter_map(|t| pick(t)).collect();
        if decided.is_empty() {
            return "-".into();
        }
        rate(decided.iter().filter(|h| **h).count(), decided.len())
    };
    let changes: Vec<f64> = cell.iter().filter_map(|t| t.measured.change).collect();
    let estimates: Vec<f64> = cell
        .iter()
        .filter_map(|t| t.measured.verdict_change)
        .collect();
    let loads: Vec<f64> = cell.iter().filter_map(|t| t.load).collect();
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        mode.name(),
        kind.name(),
        phase_label(phase),
        if effect == 0.0 {
            "0 (A/A)".to_owned()
        } else {
            format!("+{}%", pct(effect))
        },
        cell.len(),
        count(Outcome::Regressed),
        count(Outcome::Unchanged),
        count(Outcome::Inconclusive),
        count(Outcome::Improved),
        count(Outcome::Error),
        cell.iter().filter(|t| t.measured.gate_failed).count(),
        if valid == 0 {
            "-".into()
        } else {
            rate(count(Outcome::Regressed), valid)
        },
        rule(|t| t.measured.fixed),
        rule(|t| t.measured.mann_whitney),
        stats::median(&changes).map_or_else(|| "-".into(), signed_pct),
        stats::median(&estimates).map_or_else(|| "-".into(), signed_pct),
        stats::median(&loads).map_or_else(|| "-".into(), |l| format!("{l:.2}")),
    );
}

fn import_table(out: &mut String, rows: &[ImportRow]) {
    out.push_str(
        "\n#### Real harness outputs: one benchmark made 20% slower\n\n\
         Each output imported with `benchkeep import --format F FILE --no-record --out RUN` and compared with \
         `benchkeep compare ORIGINAL SLOWED --format json` (default threshold 5%). `flagged others` counts untouched \
         benchmarks that came out regressed or improved.\n\n\
         | format | output | benchmarks | samples each | +20% benchmark | its verdict | change | flagged others | others | exit |\n\
         |---|---|---:|---:|---|---|---:|---:|---|---:|\n",
    );
    for r in rows {
        if let Some(error) = &r.error {
            let _ = writeln!(
                out,
                "| {} | {} | - | - | - | **error**: {} | - | - | - | - |",
                r.format,
                r.source,
                error.replace('|', "\\|")
            );
            continue;
        }
        let samples = if r.samples.0 == r.samples.1 {
            r.samples.0.to_string()
        } else {
            format!("{}-{}", r.samples.0, r.samples.1)
        };
        let verdict = if r.slowed_verdict == "regressed" {
            "**regressed**".to_owned()
        } else {
            format!(
                "{} ({})",
                r.slowed_verdict,
                r.slowed_reason.replace('|', "\\|")
            )
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.format,
            r.source,
            r.benchmarks,
            samples,
            r.slowed_name,
            verdict,
            r.slowed_change.map_or_else(|| "-".into(), signed_pct),
            r.others_flagged,
            r.others,
            r.exit.map_or_else(|| "-".into(), |c| c.to_string()),
        );
    }
}

/// Every trial, one CSV line each.
pub(crate) fn csv(trials: &[Trial]) -> String {
    let mut out = String::from(
        "mode,workload,phase,effect,trial,load,baseline_load,outcome,gate_failed,fixed,mann_whitney,change,verdict_change,base_median_ns,note\n",
    );
    let opt = |v: Option<bool>| v.map_or_else(String::new, |b| b.to_string());
    for t in trials {
        let m = &t.measured;
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},\"{}\"",
            t.mode.name(),
            t.kind.name(),
            t.phase,
            t.effect,
            t.index,
            t.load.map_or_else(String::new, |l| l.to_string()),
            t.baseline_load.map_or_else(String::new, |l| l.to_string()),
            m.outcome.name(),
            m.gate_failed,
            opt(m.fixed),
            opt(m.mann_whitney),
            m.change.map_or_else(String::new, |c| c.to_string()),
            m.verdict_change.map_or_else(String::new, |c| c.to_string()),
            m.base_median.map_or_else(String::new, |b| b.to_string()),
            m.note.replace('"', "\"\""),
        );
    }
    out
}

/// `hits/n` as a percentage with its 95% Wilson interval.
fn rate(hits: usize, n: usize) -> String {
    let (lo, hi) = stats::wilson(hits, n).unwrap_or((0.0, 1.0));
    format!(
        "{:.1}% ({hits}/{n}; {:.1}–{:.1})",
        100.0 * hits as f64 / n as f64,
        100.0 * lo,
        100.0 * hi
    )
}

/// An effect as a percentage without needless decimals: 0.02 → "2", 0.025 → "2.5".
pub(crate) fn pct(effect: f64) -> String {
    let text = format!("{:.2}", 100.0 * effect);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Effects are the very values parsed from `ZOO_EFFECTS`, so cells match them exactly.
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits()
}

fn signed_pct(x: f64) -> String {
    let text = format!("{:+.1}%", 100.0 * x);
    // A change that rounds to zero has no sign worth printing.
    if text == "-0.0%" {
        "+0.0%".into()
    } else {
        text
    }
}

fn phase_label(phase: &str) -> String {
    phase.replace('>', " → ")
}
