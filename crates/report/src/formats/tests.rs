//! The formats on one fixture: snapshots, escaping, size limits.
use super::{alert, csv, github, json, junit, markdown, text};
use crate::cells::cell;
use crate::document::{Context, VerdictDocument};
use crate::{MARKDOWN_LIMIT, markdown_marker, markdown_text};
use benchkeep_core::compare::{CompareConfig, compare};
use benchkeep_core::compare::{Comparison, Severity, Verdict};
use benchkeep_core::model::{Benchmark, Unit};
use benchkeep_core::model::{Direction, Metric};

fn bench(name: &str, center: f64) -> Benchmark {
    Benchmark {
        params: std::collections::BTreeMap::new(),
        name: name.into(),
        command: None,
        metrics: vec![Metric {
            name: "wall_time".into(),
            unit: Unit::nanoseconds(),
            direction: Direction::LowerIsBetter,
            samples: (0..20)
                .map(|i| center * (1.0 + f64::from(i % 5) * 0.001))
                .collect(),
            summary: None,
        }],
    }
}

fn doc(comparison: &Comparison, context: &Context, passed: bool) -> VerdictDocument {
    VerdictDocument::new(comparison, context.clone(), passed)
}

fn fixture() -> (Comparison, Context) {
    let base = [
        bench("parse", 20e6),
        bench("render | <b>", 5e6),
        bench("gone", 1e6),
    ];
    let cur = [
        bench("parse", 30e6),
        bench("render | <b>", 5e6),
        bench("fresh", 1e6),
    ];
    let comparison = compare(&base, &cur, &CompareConfig::default());
    let context = Context {
        subject: "main@linux-x86_64".into(),
        baseline_runs: vec!["20261123T151600123Z-0000deadbeef".into()],
        current_run: "20261123T161600123Z-0000cafef00d".into(),
        current_commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        baseline_commits: vec!["fedcba9876543210fedcba9876543210fedcba98".into()],
        job_url: Some("https://github.com/o/r/actions/runs/42".into()),
        ..Context::default()
    };
    (comparison, context)
}

#[test]
fn text_report() {
    let (c, ctx) = fixture();
    insta::assert_snapshot!(text::text(
        &doc(&c, &ctx, c.passes(&CompareConfig::default())),
        false,
        false
    ));
}

#[test]
fn markdown_report_escapes_names_and_puts_regressions_first() {
    let (c, ctx) = fixture();
    insta::assert_snapshot!(markdown::markdown(&doc(&c, &ctx, false), false));
}

#[test]
fn json_report_is_versioned() {
    let (c, ctx) = fixture();
    let doc: serde_json::Value = serde_json::from_str(&json::json(&doc(&c, &ctx, false))).unwrap();
    assert_eq!(doc["schema"]["major"], 1);
    assert_eq!(doc["kind"], "verdict");
    assert_eq!(doc["counts"]["regressed"], 1);
    assert_eq!(doc["entries"][0]["verdict"], "regressed");
}

/// A comparison of `total` benchmarks with long names, `regressed` of them regressed
/// (critical first, then moderate), built from the fixture's entries.
fn large(total: usize, regressed: usize) -> Comparison {
    let (fixture, _) = fixture();
    let template = |verdict: Verdict| {
        fixture
            .entries
            .iter()
            .find(|e| e.verdict == verdict)
            .unwrap()
            .clone()
    };
    let (bad, fine) = (template(Verdict::Regressed), template(Verdict::Unchanged));
    let mut comparison = fixture.clone();
    comparison.entries = (0..total)
        .map(|i| {
            let mut e = if i < regressed {
                bad.clone()
            } else {
                fine.clone()
            };
            e.benchmark = format!(
                "suite::module_{:03}::benchmark_with_a_long_name_{i:05}",
                i % 97
            );
            if i < regressed / 2 {
                e.severity = Some(Severity::Critical);
            }
            e
        })
        .collect();
    comparison
}

#[test]
fn markdown_of_2000_benchmarks_stays_under_githubs_limit_and_names_every_regression() {
    let (_, ctx) = fixture();
    for regressed in [0, 10, 300, 600] {
        let comparison = large(2000, regressed);
        let text = markdown::markdown(&doc(&comparison, &ctx, regressed == 0), false);
        assert!(
            text.chars().count() < 65_536,
            "{regressed}: {} chars",
            text.len()
        );
        assert!(text.len() <= MARKDOWN_LIMIT);
        for e in comparison.regressions() {
            assert!(
                text.contains(&markdown_text(&e.benchmark)),
                "{regressed}: {} not named",
                e.benchmark
            );
        }
        assert!(text.starts_with("<!-- benchkeep-report: main@linux-x86_64 -->\n"));
        // Tables are never cut mid-row: every table line is a whole row.
        for line in text.lines().filter(|l| l.starts_with('|')) {
            assert!(line.ends_with('|'), "cut row: {line}");
        }
        if regressed > 0 {
            let critical = text.find("(critical)").unwrap();
            assert!(text.find("(moderate)").is_none_or(|m| m > critical));
        }
    }
    let text = markdown::markdown(&doc(&large(2000, 300), &ctx, false), false);
    assert!(
        text.contains("more row(s) left out"),
        "unchanged rows are summarised"
    );
}

#[test]
fn markdown_with_more_regressions_than_fit_says_how_many_are_left() {
    let (_, ctx) = fixture();
    let text = markdown::markdown(&doc(&large(5000, 5000), &ctx, false), false);
    assert!(text.len() <= MARKDOWN_LIMIT);
    assert!(text.contains("too many for rows"));
    // No table is left with a header and no rows.
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("|---") {
            assert!(
                lines.get(i + 1).is_some_and(|next| next.starts_with("| ")),
                "an empty table at line {i}"
            );
        }
    }
    assert!(text.contains("more (the JSON, CSV or JUnit report lists every one)"));
}

#[test]
fn markdown_markers_cannot_close_the_comment_early() {
    assert_eq!(
        markdown_marker("a-->b\n"),
        "<!-- benchkeep-report: a-__b_ -->"
    );
}

#[test]
fn github_annotations_are_escaped_and_outputs_are_written() {
    let (mut c, ctx) = fixture();
    c.entries[0].benchmark = "parse: 100%, fast\nreally".into();
    let mut ctx = ctx;
    ctx.warnings
        .push("environment changed since the baseline (cpu_model: a -> b)".into());
    let text = github::annotations(&doc(&c, &ctx, false));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "::warning title=benchkeep%3A warning::environment changed since the baseline (cpu_model: a -> b)"
    );
    assert!(
        lines[1].starts_with(
            "::error title=benchkeep%3A parse%3A 100%25%2C fast\\nreally regressed::parse: 100%25, fast\\nreally wall_time: +50.0%25 moderate"
        ),
        "{}",
        lines[1]
    );
    assert_eq!(
        lines.last().unwrap(),
        &"::error title=benchkeep::FAIL: 1 regressed, 1 unchanged, 1 new, 1 missing; failing: parse: 100%25, fast\\nreally wall_time +50.0%25 (moderate), gone missing"
    );
    assert!(lines.iter().all(|l| l.starts_with("::")));
    let outputs = github::outputs(&doc(&c, &ctx, false), "EOF_x");
    assert!(outputs.starts_with("verdict=fail\nregressions=1\nalert=true\nsummary<<EOF_x\nFAIL: "));
    assert!(outputs.ends_with("\nEOF_x\n"));
}

#[test]
fn junit_is_well_formed_xml_with_a_failure_per_regression() {
    let (mut c, ctx) = fixture();
    c.entries[1].benchmark = "render <&> \"quoted\" \u{1}".into();
    let xml_text = junit::junit(&doc(&c, &ctx, false), false);
    let doc = roxmltree::Document::parse(&xml_text).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.attribute("tests"), Some("4"));
    // The regression and the benchmark missing from the run both fail the gate.
    assert_eq!(root.attribute("failures"), Some("2"));
    let failed: Vec<&str> = root
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .map(|n| n.parent().unwrap().attribute("name").unwrap())
        .collect();
    assert_eq!(failed, ["parse", "gone"]);
    let names: Vec<&str> = root
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .filter_map(|n| n.attribute("name"))
        .collect();
    assert!(names.contains(&"render <&> \"quoted\" \\u{1}"), "{names:?}");
    let timed = root
        .descendants()
        .find(|n| n.attribute("name") == Some("parse"))
        .unwrap();
    assert_eq!(timed.attribute("time"), Some("0.030060000"));
}

#[test]
fn csv_quotes_and_defuses_formulas() {
    let (mut c, ctx) = fixture();
    c.entries[0].benchmark = "=HYPERLINK(\"x\"), really".into();
    let text = csv::csv(&doc(&c, &ctx, false), false);
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("benchmark,metric,gating,verdict,")
    );
    let first = lines.next().unwrap();
    assert!(
        first.starts_with(
            "\"'=HYPERLINK(\"\"x\"\"), really\",wall_time,true,regressed,moderate,0.5"
        ),
        "{first}"
    );
    assert_eq!(text.lines().count(), 5);
}

#[test]
fn alerts_only_for_moderate_or_critical_regressions() {
    let (c, ctx) = fixture();
    let text = alert::alert(&doc(&c, &ctx, false));
    let (title, body) = text.split_once("\n\n").unwrap();
    assert_eq!(
        title,
        "Performance regression in main@\u{2060}linux-x86_64: parse wall_time +50.0%"
    );
    assert!(body.contains("| parse | wall\\_time | moderate | +50.0% |"));
    assert!(body.contains("- Commit measured: `0123456789abcdef0123456789abcdef01234567`"));
    assert!(body.contains("- Baseline commits (newest first): `fedcba987654`"));
    assert!(body.contains("- [Job](https://github.com/o/r/actions/runs/42)"));
    let mut minor = c.clone();
    for e in &mut minor.entries {
        if e.verdict == Verdict::Regressed {
            e.severity = Some(Severity::Minor);
        }
    }
    assert!(!doc(&minor, &ctx, false).alert);
    assert_eq!(alert::alert(&doc(&minor, &ctx, false)), "");
    assert!(doc(&c, &ctx, false).alert);
}

#[test]
fn colour_paints_verdicts_without_breaking_columns() {
    let (c, ctx) = fixture();
    let plain = text::text(&doc(&c, &ctx, false), false, false);
    let painted = text::text(&doc(&c, &ctx, false), false, true);
    assert!(!plain.contains('\x1b'));
    assert!(painted.contains("\x1b[31mregressed"));
    let strip = |s: &str| {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(ch) = chars.next() {
            if ch == '\x1b' {
                for d in chars.by_ref() {
                    if d == 'm' {
                        break;
                    }
                }
            } else {
                out.push(ch);
            }
        }
        out
    };
    assert_eq!(strip(&painted), plain);
}

#[test]
fn control_characters_never_reach_the_terminal() {
    assert_eq!(cell("a\u{1b}[31mred\nb", 100), "a\\u{1b}[31mred\\nb");
    assert_eq!(cell(&"x".repeat(10), 5), "xxxx…");
}

/// A benchmark name from a pull request, trying every kind of Markdown a bot comment would
/// bring to life.
const HOSTILE: &str = "evil [click](https://evil.example) @here **x** ![i](http://x.example/i.png) \
    # head #123 <img src=x onerror=alert(1)> `code` ~~s~~ $x$ _em_ &#64;team www.evil.example \
    \\@octocat é@octocat user@evil.example GH-123 gh-7";

/// Names that would change the structure of the report: a list item, an ordered list, a code
/// block, a setext underline.
const STRUCTURAL: [&str; 5] = ["- list", "+ plus", "1. one", "    code", "=== x"];

#[test]
fn hostile_names_are_inert_in_every_markdown_output() {
    let (mut c, mut ctx) = fixture();
    c.entries[0].benchmark = HOSTILE.into();
    c.entries[0].notes.push(format!("note about {HOSTILE}"));
    ctx.warnings.push(format!("warning about {HOSTILE}"));
    ctx.subject = format!("@org/{HOSTILE}");
    ctx.job_url = None; // the one link benchkeep itself writes
    let document = doc(&c, &ctx, false);
    let outputs = [
        ("markdown", markdown::markdown(&document, true)),
        (
            "alert",
            alert::alert(&document)
                .split_once("\n\n")
                .unwrap()
                .1
                .to_owned(),
        ),
    ];
    for (format, text) in outputs {
        // The sticky-comment marker is an HTML comment (never rendered) that no `>` can close.
        let marker = markdown_marker(&ctx.subject);
        assert!(!marker[4..marker.len() - 3].contains('>'));
        let text = text.replace(&marker, "");
        // The name is shown, escaped.
        assert!(text.contains("evil \\[click\\]"), "{format}: {text}");
        for live in [
            "[click](",
            "](https://",
            "](http://",
            "https://evil",
            "http://x.example",
            "www.evil",
            " @here",
            "@org",
            "**x**",
            "![",
            "#123",
            "<img",
            "`code`",
            "~~s~~",
            "$x$",
            " _em_",
            "&#64;",
            "\\@octocat",
            "é@octocat",
            "user@evil",
            "GH-123",
            "gh-7",
        ] {
            assert!(!text.contains(live), "{format} has live {live:?}:\n{text}");
        }
    }
    for name in STRUCTURAL {
        let (mut c, mut ctx) = fixture();
        c.entries[0].benchmark = name.into();
        // In the notes list (`- NAME metric: note`) and at the start of the first paragraph.
        c.entries[0].notes.push("a note".into());
        ctx.subject = name.into();
        let text = markdown::markdown(&doc(&c, &ctx, false), true);
        for line in text.lines() {
            let line = line.strip_prefix("- ").unwrap_or(line);
            assert!(
                !line.starts_with(name.trim_start()) || name.trim_start().starts_with('='),
                "{name:?} starts a line unescaped:\n{text}"
            );
        }
        assert!(!text.contains(&format!("\n{name}")), "{name:?}:\n{text}");
    }
    // A run file's job URL and commit are not trusted either.
    let (c, mut ctx) = fixture();
    ctx.job_url =
        Some("https://ci.example/job\n\n# INJECTED\n<img src=x>[r]: https://evil.example".into());
    ctx.current_commit = Some("abc`def [x](https://evil.example)".into());
    for text in [
        markdown::markdown(&doc(&c, &ctx, false), false),
        alert::alert(&doc(&c, &ctx, false)),
    ] {
        for live in ["\n# INJECTED", "<img", "](https://evil"] {
            assert!(!text.contains(live), "live {live:?}:\n{text}");
        }
        assert!(
            !text.replace("\\`", "").contains("`def"),
            "the commit's backtick ends a code span:\n{text}"
        );
    }
    // An issue title is plain text, but GitHub still finds mentions, references and links there.
    let alert = alert::alert(&document);
    let title = alert.lines().next().unwrap();
    for live in ["https://", "http://", "www.evil", " @here", "@org", "#123"] {
        assert!(!title.contains(live), "title has live {live:?}: {title}");
    }
}

/// Verdict text that cannot be misread (issue "Measure commands the way hyperfine users
/// expect", item 5): one history entry in the method line for every metric judged by it, a
/// policy's threshold on the row it applies to, and a change that is not the ratio of the
/// values shown says which estimate it is.
#[test]
fn verdict_text_says_which_threshold_and_estimate_each_row_uses() {
    use benchkeep_core::compare::{HistoryInfo, Method};
    let (mut c, ctx) = fixture();
    let history = |jobs, between_jobs| HistoryInfo {
        jobs,
        between_jobs,
        this_job_share: 0.5,
        machine: None,
    };
    // parse: judged by history at a policy's 15%; render: history too, another spread.
    c.entries[0].method = Method::History;
    c.entries[0].history = Some(history(5, 0.012));
    c.entries[0].threshold = 0.15;
    c.entries[1].method = Method::History;
    c.entries[1].history = Some(history(5, 0.034));
    // A paired change (typical per-round ratio) far from the ratio of the medians shown.
    c.entries[1].method = Method::Paired;
    c.entries[1].history = None;
    c.entries[1].change = Some(-0.274);
    let document = doc(&c, &ctx, false);
    let text = text::text(&document, false, false);
    insta::assert_snapshot!(text);
    assert_eq!(text.matches("history of").count(), 1, "{text}");
    assert!(text.contains("regressed (±15.0%)"), "{text}");
    assert!(
        text.contains("render | <b> wall_time: change -27.4% is the typical per-round ratio"),
        "{text}"
    );
    let markdown = markdown::markdown(&document, true);
    insta::assert_snapshot!(markdown);
    assert!(markdown.contains("(±15.0%)"), "{markdown}");
    assert!(!markdown.contains("j…"), "{markdown}");
    let csv = csv::csv(&document, true);
    assert!(csv.lines().next().unwrap().ends_with(",threshold"));
    assert!(csv.lines().nth(1).unwrap().ends_with(",0.15"), "{csv}");

    // Several metrics judged by history: one entry, with the ranges.
    let (mut c, ctx) = fixture();
    for (entry, (jobs, spread)) in c.entries.iter_mut().zip([(5, 0.012), (7, 0.034)]) {
        entry.method = Method::History;
        entry.history = Some(history(jobs, spread));
    }
    let line = crate::cells::method_line(&doc(&c, &ctx, false));
    assert!(
        line.starts_with("method: history of 5-7 jobs (job-to-job ±1.2-3.4%); threshold ±5.0%"),
        "{line}"
    );
}
