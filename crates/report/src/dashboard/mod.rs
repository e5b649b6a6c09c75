//! The static dashboard `benchkeep report --out DIR` writes: plain HTML files with inline CSS,
//! SVG charts rendered here, and a few lines of inline script for sorting and filtering. It works
//! from `file://` with no network access: nothing is loaded from anywhere else.
//!
//! Layout: `index.html` lists the keys (branch@platform); `k/<key>/index.html` lists a key's
//! benchmarks (latest value, change against the baseline, trend, sparkline; regressions first);
//! `k/<key>/b/<n>.html` charts one benchmark's history.

use std::fmt::Write as _;

use benchkeep_core::compare::Verdict;
use benchkeep_core::model::{Direction, Unit};
use benchkeep_core::trend::{Drift, TrendReport};
use jiff::Timestamp;

use crate::document::Entry;

mod analyse;
pub use analyse::{TREND_WINDOW, key_view};

/// One run's summary of one benchmark metric: a point of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The run's id.
    pub run: String,
    /// When the run started.
    pub timestamp: Timestamp,
    /// The commit it measured, when known.
    pub commit: Option<String>,
    /// Median of the run's samples.
    pub median: f64,
    /// First quartile.
    pub low: f64,
    /// Third quartile.
    pub high: f64,
}

/// One benchmark's history under one key.
#[derive(Debug, Clone)]
pub struct Series {
    /// The benchmark.
    pub benchmark: String,
    /// The metric charted (the benchmark's primary metric).
    pub metric: String,
    /// Its unit.
    pub unit: Unit,
    /// Which way is better.
    pub direction: Direction,
    /// One point per run, oldest first.
    pub points: Vec<Point>,
    /// The baseline's median of this metric, when the key has a baseline with it.
    pub baseline: Option<f64>,
    /// The latest run compared with the baseline, when there is one.
    pub latest: Option<Entry>,
    /// Change points and drift over the points.
    pub trend: TrendReport,
}

/// One key's view.
#[derive(Debug, Clone)]
pub struct KeyView {
    /// `branch@platform`.
    pub key: String,
    /// The directory name under `k/` (the store's safe storage name of the key).
    pub slug: String,
    /// The benchmarks.
    pub series: Vec<Series>,
    /// Runs read for this key.
    pub runs: usize,
}

/// Everything the site shows.
#[derive(Debug, Clone)]
pub struct Site {
    /// The store the data came from.
    pub source: String,
    /// When the site was made.
    pub generated: Timestamp,
    /// One view per key, in the order to list them.
    pub keys: Vec<KeyView>,
    /// What could not be read, one line each; shown on every page.
    pub skipped: Vec<String>,
}

/// A file of the site: its path relative to the output directory, and its content.
pub type Page = (String, String);

/// Escapes text for HTML (and XML) content and attribute values; control characters, which XML
/// 1.0 forbids even as references, are shown as escapes.
#[must_use]
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c.is_control() && c != '\n' && c != '\t')
                || c == '\u{fffe}'
                || c == '\u{ffff}' =>
            {
                out.extend(c.escape_default());
            }
            c => out.push(c),
        }
    }
    out
}

/// A directory name as part of a relative link: the store's storage names percent-encode
/// unusual bytes, and a browser would decode `%2F` in a link back to `/`, so `%` (and the URL
/// delimiters `#`, `?`) are encoded once more. The result is also HTML-escaped.
fn href_part(name: &str) -> String {
    esc(&name
        .replace('%', "%25")
        .replace('#', "%23")
        .replace('?', "%3F"))
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1b1f24;background:#fff}
header{background:#24292f;color:#fff;padding:10px 20px}header a{color:#fff}
main{padding:16px 20px}h1{font-size:20px;margin:0 0 4px}h2{font-size:16px}
table{border-collapse:collapse;width:100%}th,td{padding:4px 8px;border-bottom:1px solid #d0d7de;text-align:left;white-space:nowrap}
td.name{white-space:normal;word-break:break-all}th{cursor:pointer;background:#f6f8fa;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.regressed{color:#cf222e;font-weight:600}.improved{color:#1a7f37}.inconclusive{color:#9a6700}
.muted{color:#57606a}.skipped{background:#fff8c5;border:1px solid #d4a72c;padding:8px;margin:8px 0}
nav.keys a{margin-right:12px}input#filter{padding:4px 8px;width:320px;margin:8px 0}
svg text{font:11px system-ui,sans-serif;fill:#57606a}.pt{fill:#0969da}.pt.bad{fill:#cf222e}
.band{fill:#0969da;opacity:.15}.base{stroke:#1a7f37;stroke-dasharray:6 4;stroke-width:1.5}
.cp{stroke:#bf8700;stroke-width:1.5}.axis{stroke:#8c959f}.grid{stroke:#eaeef2}.spark{fill:none;stroke:#0969da;stroke-width:1.2}";

/// Sorting and filtering the index table, in a few lines (no library).
const SCRIPT: &str = "const t=document.querySelector('table.sortable');
const f=document.getElementById('filter');
if(f&&t){f.addEventListener('input',()=>{const q=f.value.toLowerCase();
for(const r of t.tBodies[0].rows){r.hidden=!r.dataset.name.toLowerCase().includes(q);}});}
if(t){t.tHead.querySelectorAll('th').forEach((h,i)=>h.addEventListener('click',()=>{
const rows=[...t.tBodies[0].rows];const asc=h.dataset.dir!=='asc';h.dataset.dir=asc?'asc':'desc';
const key=r=>{const c=r.cells[i];const v=c.dataset.sort;return v===undefined?c.textContent:parseFloat(v);};
rows.sort((a,b)=>{const x=key(a),y=key(b);const d=typeof x==='number'&&typeof y==='number'?x-y:String(x).localeCompare(String(y));return asc?d:-d;});
for(const r of rows)t.tBodies[0].appendChild(r);}));}";

fn page(title: &str, root: &str, body: &str, site: &Site) -> String {
    let mut out = String::with_capacity(body.len() + 4096);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\
<title>{}</title><style>{STYLE}</style></head><body>\n<header><a href=\"{root}index.html\">benchkeep</a> · {}</header>\n<main>\n",
        esc(title),
        esc(title)
    );
    if !site.skipped.is_empty() {
        let _ = write!(
            out,
            "<div class=\"skipped\" id=\"skipped\"><strong>{} item(s) could not be read and were skipped:</strong><ul>",
            site.skipped.len()
        );
        for line in site.skipped.iter().take(50) {
            let _ = write!(out, "<li>{}</li>", esc(line));
        }
        out.push_str("</ul></div>\n");
    }
    out.push_str(body);
    let _ = write!(
        out,
        "\n<p class=\"muted\">Generated {} from {}.</p>\n</main></body></html>\n",
        esc(&site.generated.strftime("%Y-%m-%d %H:%M UTC").to_string()),
        esc(&site.source)
    );
    out
}

/// Renders every page of the site.
#[must_use]
pub fn render(site: &Site) -> Vec<Page> {
    let mut pages = vec![("index.html".to_owned(), render_keys(site))];
    for view in &site.keys {
        pages.push((
            format!("k/{}/index.html", view.slug),
            render_index(site, view),
        ));
        for (n, series) in view.series.iter().enumerate() {
            pages.push((
                format!("k/{}/b/{n}.html", view.slug),
                render_benchmark(site, view, series),
            ));
        }
    }
    pages
}

fn render_keys(site: &Site) -> String {
    let mut body = String::from("<h1>Benchmarks by key</h1>\n");
    if site.keys.is_empty() {
        body.push_str(
            "<p id=\"empty\">The store has no runs yet. Record some with <code>benchkeep run</code>, \
<code>benchkeep check</code> or <code>benchkeep import</code>, then make this report again.</p>\n",
        );
        return page("benchkeep report", "", &body, site);
    }
    body.push_str("<table id=\"keys\"><thead><tr><th>key</th><th>benchmarks</th><th>runs</th><th>regressed</th><th>latest run</th></tr></thead><tbody>\n");
    for view in &site.keys {
        let regressed = view
            .series
            .iter()
            .filter(|s| {
                s.latest
                    .as_ref()
                    .is_some_and(|l| l.verdict == Verdict::Regressed)
            })
            .count();
        let latest = view
            .series
            .iter()
            .filter_map(|s| s.points.last().map(|p| p.timestamp))
            .max()
            .map_or_else(String::new, |t| t.strftime("%Y-%m-%d %H:%M").to_string());
        let _ = writeln!(
            body,
            "<tr><td><a href=\"k/{}/index.html\">{}</a></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num{}\">{regressed}</td><td>{latest}</td></tr>",
            href_part(&view.slug),
            esc(&view.key),
            view.series.len(),
            view.runs,
            if regressed > 0 { " regressed" } else { "" },
        );
    }
    body.push_str("</tbody></table>\n");
    page("benchkeep report", "", &body, site)
}

fn key_nav(site: &Site, current: &str, root: &str) -> String {
    let mut nav = String::from("<nav class=\"keys\">Keys: ");
    for view in &site.keys {
        if view.key == current {
            let _ = write!(nav, "<strong>{}</strong> ", esc(&view.key));
        } else {
            let _ = write!(
                nav,
                "<a href=\"{root}k/{}/index.html\">{}</a> ",
                href_part(&view.slug),
                esc(&view.key)
            );
        }
    }
    nav.push_str("</nav>\n");
    nav
}

/// Where a series sorts on the index: regressions first, then improvements, then the rest.
fn rank(series: &Series) -> (u8, i64) {
    let Some(latest) = &series.latest else {
        return (3, 0);
    };
    let order = match latest.verdict {
        Verdict::Regressed => 0,
        Verdict::Improved => 1,
        Verdict::Inconclusive => 2,
        _ => 3,
    };
    // Larger changes first within a group (to 0.01%).
    #[allow(clippy::cast_possible_truncation)]
    let size = -(latest.change.unwrap_or(0.0).abs() * 10_000.0) as i64;
    (order, size)
}

fn trend_word(series: &Series) -> (&'static str, &'static str) {
    let worse = |change: f64| match series.direction {
        Direction::LowerIsBetter => change > 0.0,
        Direction::HigherIsBetter => change < 0.0,
    };
    if let Some(last) = series.trend.change_points.last() {
        return if worse(last.change) {
            ("step worse", "regressed")
        } else {
            ("step better", "improved")
        };
    }
    match series.trend.drift {
        Drift::Degrading => ("drifting worse", "regressed"),
        Drift::Improving => ("drifting better", "improved"),
        Drift::Stable => ("stable", "muted"),
    }
}

fn render_index(site: &Site, view: &KeyView) -> String {
    let mut order: Vec<usize> = (0..view.series.len()).collect();
    order.sort_by_key(|&i| rank(&view.series[i]));
    let mut body = format!(
        "<h1>{}</h1>\n{}<p class=\"muted\">{} benchmarks, {} runs. Click a column to sort.</p>\n\
<input id=\"filter\" type=\"search\" placeholder=\"Filter by name\" aria-label=\"Filter by name\">\n\
<table class=\"sortable\" id=\"benchmarks\"><thead><tr><th>benchmark</th><th>metric</th><th>latest</th><th>vs baseline</th><th>verdict</th><th>trend</th><th>history</th></tr></thead><tbody>\n",
        esc(&view.key),
        key_nav(site, &view.key, "../../"),
        view.series.len(),
        view.runs
    );
    for i in order {
        let s = &view.series[i];
        let latest = s.points.last().map_or(f64::NAN, |p| p.median);
        let (change, change_sort) = match s.latest.as_ref().and_then(|l| l.change) {
            Some(c) => (format!("{:+.1}%", c * 100.0), format!("{c}")),
            None => ("–".to_owned(), "0".to_owned()),
        };
        let (verdict, class) = match &s.latest {
            Some(l) => (l.verdict.to_string(), l.verdict.to_string()),
            None => ("no baseline".to_owned(), "muted".to_owned()),
        };
        let (trend, trend_class) = trend_word(s);
        let _ = writeln!(
            body,
            "<tr data-name=\"{name}\"><td class=\"name\"><a href=\"b/{i}.html\">{name}</a></td><td>{}</td>\
<td class=\"num\" data-sort=\"{latest}\">{}</td><td class=\"num {class}\" data-sort=\"{change_sort}\">{change}</td>\
<td class=\"{class}\" data-sort=\"{}\">{}</td><td class=\"{trend_class}\">{trend}</td><td>{}</td></tr>",
            esc(&s.metric),
            esc(&s.unit.format(latest)),
            rank(s).0,
            esc(&verdict),
            sparkline(&s.points),
            name = esc(&s.benchmark),
        );
    }
    body.push_str("</tbody></table>\n<script>");
    body.push_str(SCRIPT);
    body.push_str("</script>\n");
    page(&view.key, "../../", &body, site)
}

/// A 120x24 line of (at most 60 bucketed) medians.
fn sparkline(points: &[Point]) -> String {
    const W: f64 = 120.0;
    const H: f64 = 24.0;
    if points.is_empty() {
        return String::new();
    }
    let buckets = points.len().min(60);
    let values: Vec<f64> = (0..buckets)
        .map(|b| {
            let start = b * points.len() / buckets;
            let end = ((b + 1) * points.len() / buckets).max(start + 1);
            let medians: Vec<f64> = points[start..end].iter().map(|p| p.median).collect();
            benchkeep_core::stats::median(&medians)
        })
        .collect();
    let (lo, hi) = bounds(values.iter().copied());
    let mut path = String::new();
    for (i, v) in values.iter().enumerate() {
        let x = if buckets == 1 {
            W / 2.0
        } else {
            i as f64 * W / (buckets - 1) as f64
        };
        let y = H - 2.0 - (v - lo) / (hi - lo) * (H - 4.0);
        let _ = write!(path, "{}{x:.1},{y:.1}", if i == 0 { "" } else { " " });
    }
    format!(
        "<svg class=\"sparkline\" width=\"120\" height=\"24\" viewBox=\"0 0 120 24\" role=\"img\" aria-label=\"history\"><polyline class=\"spark\" points=\"{path}\"/></svg>"
    )
}

/// The range of `values`, widened a little (and made non-empty) so nothing sits on an edge.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo {
        (hi - lo) * 0.08
    } else {
        lo.abs().max(1.0) * 0.05
    };
    (lo - pad, hi + pad)
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(10)]
}

fn render_benchmark(site: &Site, view: &KeyView, s: &Series) -> String {
    let mut body = format!(
        "<h1>{}</h1>\n{}<p><a href=\"index.html\">← all benchmarks of {}</a></p>\n",
        esc(&s.benchmark),
        key_nav(site, &view.key, "../../../"),
        esc(&view.key)
    );
    let _ = write!(
        body,
        "<p>{} ({}, {}) over {} runs.",
        esc(&s.metric),
        esc(&s.unit.0),
        match s.direction {
            Direction::LowerIsBetter => "lower is better",
            Direction::HigherIsBetter => "higher is better",
        },
        s.points.len()
    );
    if let Some(latest) = &s.latest {
        let _ = write!(
            body,
            " Latest against the baseline: <span class=\"{}\">{}{}</span>.",
            latest.verdict,
            latest.verdict,
            latest
                .change
                .map_or_else(String::new, |c| format!(" {:+.1}%", c * 100.0))
        );
    }
    body.push_str("</p>\n");
    body.push_str(&chart(s));
    if !s.trend.change_points.is_empty() {
        body.push_str("<h2>Change points</h2>\n<ul id=\"changes\">\n");
        for cp in &s.trend.change_points {
            let before = &s.points[cp.index.saturating_sub(1)];
            let after = &s.points[cp.index.min(s.points.len() - 1)];
            let range = match (&before.commit, &after.commit) {
                (Some(a), Some(b)) => format!("commits {}..{}", esc(short(a)), esc(short(b))),
                _ => format!("runs {}..{}", esc(&before.run), esc(&after.run)),
            };
            let _ = writeln!(
                body,
                "<li>{:+.1}% ({} → {}) between {range}, {}</li>",
                cp.change * 100.0,
                esc(&s.unit.format(cp.before)),
                esc(&s.unit.format(cp.after)),
                esc(&after.timestamp.strftime("%Y-%m-%d %H:%M").to_string())
            );
        }
        body.push_str("</ul>\n");
    }
    page(&s.benchmark, "../../../", &body, site)
}

/// Chart geometry: the plot area inside the SVG and the value range mapped onto it.
struct Frame {
    runs: usize,
    low: f64,
    high: f64,
}

impl Frame {
    const WIDTH: f64 = 960.0;
    const HEIGHT: f64 = 340.0;
    const LEFT: f64 = 80.0;
    const RIGHT: f64 = 20.0;
    const TOP: f64 = 16.0;
    const BOTTOM: f64 = 40.0;

    /// The x of run `index` (oldest at the left).
    fn x(&self, index: usize) -> f64 {
        let span = Self::WIDTH - Self::LEFT - Self::RIGHT;
        if self.runs == 1 {
            Self::LEFT + span / 2.0
        } else {
            Self::LEFT + index as f64 * span / (self.runs - 1) as f64
        }
    }

    /// The y of `value`.
    fn y(&self, value: f64) -> f64 {
        Self::TOP
            + (self.high - value) / (self.high - self.low)
                * (Self::HEIGHT - Self::TOP - Self::BOTTOM)
    }
}

/// The history chart: one point per run (its median) with the interquartile band, the baseline
/// as a dashed line, change points as vertical lines, runs worse than the baseline by more than
/// the comparison threshold in red; every point has a title with run, commit, date and value.
fn chart(series: &Series) -> String {
    if series.points.is_empty() {
        return "<p>No runs.</p>".to_owned();
    }
    let (low, high) = bounds(
        series
            .points
            .iter()
            .flat_map(|p| [p.low, p.high, p.median])
            .chain(series.baseline),
    );
    let frame = Frame {
        runs: series.points.len(),
        low,
        high,
    };
    let mut svg = format!(
        "<svg id=\"chart\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"history of {}\">\n",
        esc(&series.benchmark),
        w = Frame::WIDTH,
        h = Frame::HEIGHT
    );
    axes(&mut svg, &frame, series);
    marks(&mut svg, &frame, series);
    svg.push_str("</svg>\n");
    svg
}

/// Grid lines and value labels with units, the axes, and the dates of the first, middle and
/// last runs.
fn axes(svg: &mut String, frame: &Frame, series: &Series) {
    let (left, right, bottom) = (
        Frame::LEFT,
        Frame::WIDTH - Frame::RIGHT,
        Frame::HEIGHT - Frame::BOTTOM,
    );
    for k in 0..=4 {
        let value = frame.low + (frame.high - frame.low) * f64::from(k) / 4.0;
        let y = frame.y(value);
        let _ = writeln!(
            svg,
            "<line class=\"grid\" x1=\"{left}\" x2=\"{right}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left - 6.0,
            y + 4.0,
            esc(&series.unit.format(value)),
        );
    }
    let _ = writeln!(
        svg,
        "<line class=\"axis\" x1=\"{left}\" x2=\"{left}\" y1=\"{}\" y2=\"{bottom}\"/><line class=\"axis\" x1=\"{left}\" x2=\"{right}\" y1=\"{bottom}\" y2=\"{bottom}\"/>",
        Frame::TOP
    );
    let last = frame.runs - 1;
    // The first date starts at the axis, the last ends at the edge: neither is cut off.
    for (i, anchor) in [(0, "start"), (frame.runs / 2, "middle"), (last, "end")] {
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
            frame.x(i),
            bottom + 16.0,
            esc(&series.points[i].timestamp.strftime("%Y-%m-%d").to_string())
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">run (oldest to newest)</text>",
        f64::midpoint(left, right),
        Frame::HEIGHT - 6.0
    );
}

/// The spread band, the baseline, the change points and the points.
fn marks(svg: &mut String, frame: &Frame, series: &Series) {
    let (left, right, bottom) = (
        Frame::LEFT,
        Frame::WIDTH - Frame::RIGHT,
        Frame::HEIGHT - Frame::BOTTOM,
    );
    // Up along the third quartiles, back along the first.
    let mut band = String::new();
    for (i, p) in series.points.iter().enumerate() {
        let sep = if i == 0 { "" } else { " " };
        let _ = write!(band, "{sep}{:.1},{:.1}", frame.x(i), frame.y(p.high));
    }
    for (i, p) in series.points.iter().enumerate().rev() {
        let _ = write!(band, " {:.1},{:.1}", frame.x(i), frame.y(p.low));
    }
    let _ = writeln!(svg, "<polygon class=\"band\" points=\"{band}\"/>");
    if let Some(base) = series.baseline {
        let y = frame.y(base);
        let _ = writeln!(
            svg,
            "<line class=\"base\" x1=\"{left}\" x2=\"{right}\" y1=\"{y:.1}\" y2=\"{y:.1}\"><title>baseline {}</title></line><text x=\"{right}\" y=\"{:.1}\" text-anchor=\"end\">baseline</text>",
            esc(&series.unit.format(base)),
            y - 4.0,
        );
    }
    let last = frame.runs - 1;
    for cp in &series.trend.change_points {
        let x = f64::midpoint(
            frame.x(cp.index.saturating_sub(1)),
            frame.x(cp.index.min(last)),
        );
        let _ = writeln!(
            svg,
            "<line class=\"cp\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{}\" y2=\"{bottom}\"><title>change {:+.1}%</title></line>",
            Frame::TOP,
            cp.change * 100.0
        );
    }
    let threshold = series.latest.as_ref().map_or(0.05, |l| l.threshold);
    let worse = |value: f64| {
        series.baseline.is_some_and(|b| match series.direction {
            Direction::LowerIsBetter => value > b * (1.0 + threshold),
            Direction::HigherIsBetter => value < b * (1.0 - threshold),
        })
    };
    for (i, p) in series.points.iter().enumerate() {
        let _ = writeln!(
            svg,
            "<circle class=\"pt{}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\"><title>{} · {} · {}: {} (IQR {} – {})</title></circle>",
            if worse(p.median) { " bad" } else { "" },
            frame.x(i),
            frame.y(p.median),
            esc(&p.timestamp.strftime("%Y-%m-%d %H:%M").to_string()),
            esc(p.commit.as_deref().map_or("no commit", short)),
            esc(&p.run),
            esc(&series.unit.format(p.median)),
            esc(&series.unit.format(p.low)),
            esc(&series.unit.format(p.high)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use benchkeep_core::trend::{ChangePoint, Drift, TrendReport};

    fn site() -> Site {
        let at = |h: i64| Timestamp::from_second(1_790_000_000 + h * 3600).unwrap();
        let points: Vec<Point> = (0..6)
            .map(|i| Point {
                run: format!("run-{i}"),
                timestamp: at(i),
                commit: Some(format!("{i:040x}")),
                median: if i < 3 { 10e6 } else { 13e6 },
                low: if i < 3 { 9.8e6 } else { 12.7e6 },
                high: if i < 3 { 10.2e6 } else { 13.3e6 },
            })
            .collect();
        let series = Series {
            benchmark: "parse <b>&".into(),
            metric: "wall_time".into(),
            unit: Unit::nanoseconds(),
            direction: Direction::LowerIsBetter,
            points,
            baseline: Some(10e6),
            latest: None,
            trend: TrendReport {
                points: 6,
                change_points: vec![ChangePoint {
                    index: 3,
                    before: 10e6,
                    after: 13e6,
                    change: 0.3,
                    p_value: 0.002,
                }],
                correlation: Some(0.8),
                drift: Drift::Degrading,
            },
        };
        Site {
            source: "file:///repo/.benchkeep".into(),
            generated: at(100),
            keys: vec![KeyView {
                key: "main@linux-x86_64".into(),
                slug: "main@linux-x86_64".into(),
                series: vec![series],
                runs: 6,
            }],
            skipped: vec!["run x is corrupt: truncated".into()],
        }
    }

    /// The structure of each page: tags and classes, with numbers (coordinates, values and
    /// times) redacted so the snapshot shows layout, not arithmetic.
    fn structure(html: &str) -> String {
        let mut out = String::new();
        let mut digits = false;
        for c in html.chars() {
            if c.is_ascii_digit() {
                if !digits {
                    out.push('#');
                }
                digits = true;
            } else {
                digits = false;
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn pages_snapshot() {
        let pages = render(&site());
        let names: Vec<&str> = pages.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            names,
            [
                "index.html",
                "k/main@linux-x86_64/index.html",
                "k/main@linux-x86_64/b/0.html"
            ]
        );
        insta::assert_snapshot!("keys", structure(&pages[0].1));
        insta::assert_snapshot!("key_index", structure(&pages[1].1));
        insta::assert_snapshot!("benchmark", structure(&pages[2].1));
    }

    #[test]
    fn charts_have_a_point_per_run_the_baseline_and_the_step() {
        let pages = render(&site());
        let chart = &pages[2].1;
        assert_eq!(chart.matches("<circle").count(), 6);
        assert_eq!(
            chart.matches("class=\"pt bad\"").count(),
            3,
            "runs 30% over the baseline"
        );
        assert_eq!(chart.matches("class=\"cp\"").count(), 1);
        assert!(chart.contains("<title>baseline 10.00 ms</title>"));
        assert!(
            chart.contains("+30.0% (10.00 ms → 13.00 ms) between commits 0000000000..0000000000")
        );
        assert!(chart.contains("parse &lt;b&gt;&amp;"));
        assert!(!chart.contains("parse <b>"));
        assert!(pages[0].1.contains("run x is corrupt: truncated"));
    }

    #[test]
    fn links_to_encoded_directory_names_survive_the_browser_decoding_them() {
        assert_eq!(href_part("feature%2Fx@linux"), "feature%252Fx@linux");
        assert_eq!(href_part("a#b?c&d"), "a%23b%3Fc&amp;d");
    }

    #[test]
    fn escaping_covers_markup_quotes_and_controls() {
        assert_eq!(
            esc("<a href='x'>\"&\u{7}"),
            "&lt;a href=&#39;x&#39;&gt;&quot;&amp;\\u{7}"
        );
    }
}
