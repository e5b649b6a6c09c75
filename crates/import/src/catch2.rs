//! Catch2's XML reporter (`-r xml`, Catch2 v2 and v3): each `BenchmarkResults` element's
//! `mean` (nanoseconds) as the one sample, with the summary Catch2 reports beside it kept as the
//! metric's summary: the mean, the `standardDeviation` and the `samples` count, which the
//! comparison tests with Welch's t. The XML reporter writes no raw samples, and several runs
//! cannot be concatenated in XML, so import one file per run; a baseline pooled from several
//! then compares by their spread. A benchmark in a test case that failed fails the import.

use benchkeep_core::model::{ReportedSummary, Spread, Statistic};

use super::{Collector, ImportError, Imported, Input};

pub(super) fn import(input: &Input<'_>) -> Result<Imported, ImportError> {
    let text = input.text()?;
    let document = roxmltree::Document::parse(text).map_err(|e| {
        let position = e.pos();
        input.invalid(
            format!("line {}, column {}", position.row, position.col),
            format!("not XML: {e}"),
        )
    })?;
    let root = document.root_element();
    if !matches!(root.tag_name().name(), "Catch2TestRun" | "Catch") {
        return Err(input.invalid(
            "line 1",
            format!(
                "root element <{}>, not <Catch2TestRun> or <Catch>",
                root.tag_name().name()
            ),
        ));
    }
    let line_of = |node: roxmltree::Node<'_, '_>| document.text_pos_at(node.range().start).row;
    // Benchmark names are qualified with their test case only when two test cases share one.
    let results: Vec<roxmltree::Node<'_, '_>> = root
        .descendants()
        .filter(|n| n.has_tag_name("BenchmarkResults"))
        .collect();
    let test_case = |node: roxmltree::Node<'_, '_>| {
        node.ancestors()
            .find(|a| a.has_tag_name("TestCase"))
            .and_then(|t| t.attribute("name"))
            .unwrap_or("")
            .to_owned()
    };
    let mut collector = Collector::default();
    for node in &results {
        let location = format!("line {}", line_of(*node));
        let name = node
            .attribute("name")
            .ok_or_else(|| input.invalid(&location, "<BenchmarkResults> without a name"))?;
        let case = test_case(*node);
        let shared = results
            .iter()
            .any(|other| other.attribute("name") == Some(name) && test_case(*other) != case);
        let full_name = if shared {
            format!("{case}/{name}")
        } else {
            name.to_owned()
        };
        input.entry(&full_name, &location)?;
        let failed = node
            .ancestors()
            .find(|a| a.has_tag_name("TestCase"))
            .and_then(|t| t.children().find(|c| c.has_tag_name("OverallResult")))
            .and_then(|r| r.attribute("success"))
            == Some("false");
        if failed {
            return Err(input.invalid(
                &location,
                format!("the test case of benchmark {full_name:?} failed"),
            ));
        }
        let mean = node
            .children()
            .find(|c| c.has_tag_name("mean"))
            .and_then(|m| m.attribute("value"))
            .ok_or_else(|| input.invalid(&location, format!("{full_name}: no <mean value=...>")))?;
        let value = super::number(mean).ok_or_else(|| {
            input.invalid(
                &location,
                format!("{full_name}: mean {mean:?} is not a number"),
            )
        })?;
        collector
            .add_time(&full_name, [value])
            .map_err(|e| input.invalid(&location, e))?;
        if let Some(summary) = reported_summary(*node, value)
            .map_err(|e| input.invalid(&location, format!("{full_name}: {e}")))?
        {
            collector
                .summarize(&full_name, "wall_time", summary)
                .map_err(|e| input.invalid(&location, e))?;
        }
        if let Some(samples) = node.attribute("samples") {
            collector
                .benchmark(&full_name)
                .params
                .insert("samples".into(), samples.to_owned());
        }
    }
    Ok(Imported::new(collector.finish()))
}

/// Catch2's summary of a benchmark's samples: the mean `value`, the `standardDeviation` and the
/// `samples` count, when both are there.
fn reported_summary(
    node: roxmltree::Node<'_, '_>,
    value: f64,
) -> Result<Option<ReportedSummary>, String> {
    let spread = node
        .children()
        .find(|c| c.has_tag_name("standardDeviation"))
        .and_then(|m| m.attribute("value"));
    let samples = node
        .attribute("samples")
        .and_then(|n| n.parse::<u64>().ok());
    let (Some(spread), Some(samples)) = (spread, samples) else {
        return Ok(None);
    };
    let sd = super::number(spread)
        .ok_or_else(|| format!("standardDeviation {spread:?} is not a number"))?;
    Ok(Some(ReportedSummary {
        statistic: Statistic::Mean,
        value,
        n: Some(samples),
        spread: Spread::StdDev { value: sd },
    }))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error, names};
    use super::super::{Format, import_bytes};

    #[test]
    fn benchmark_means_are_read_and_shared_names_qualified() {
        let text = include_bytes!("../tests/fixtures/import/catch2/results.xml");
        let imported = import_bytes(Format::Catch2, "c.xml", text).unwrap();
        let names: Vec<&str> = names(&imported);
        assert_eq!(
            names,
            ["Fibonacci 20", "Parse/small input", "Render/small input"]
        );
        assert_eq!(imported.benchmarks[0].metrics[0].samples, vec![12_345.6]);
        assert_eq!(imported.benchmarks[0].params["samples"], "100");
    }

    #[test]
    fn broken_xml_and_failed_cases_name_their_line() {
        let e = error(
            Format::Catch2,
            "c.xml",
            b"<Catch2TestRun>\n<TestCase name=\"a\">\n",
        );
        assert!(
            e.starts_with(
                "c.xml: line 1, column 1: not XML: the root node was opened but never closed"
            ),
            "{e}"
        );
        let e = error(Format::Catch2, "c.xml", b"<testsuites/>");
        assert!(e.contains("root element <testsuites>"), "{e}");
        let failed = br#"<Catch2TestRun><TestCase name="a">
<BenchmarkResults name="b" samples="1"><mean value="5"/></BenchmarkResults>
<OverallResult success="false"/></TestCase></Catch2TestRun>"#;
        let e = error(Format::Catch2, "c.xml", failed);
        assert!(
            e.contains("line 2: the test case of benchmark \"b\" failed"),
            "{e}"
        );
    }
}
