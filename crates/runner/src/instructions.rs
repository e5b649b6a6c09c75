//! Instruction counts: a low-noise metric from valgrind's callgrind.
//!
//! Wall time on a shared CI machine varies by percents; the number of instructions a program
//! executes barely varies at all, so it can gate changes far below timing noise. The price is
//! speed (callgrind runs programs 20-100 times slower) and meaning: instructions are not time
//! (cache misses and I/O cost nothing here), so the metric is labelled `instructions` and is
//! never mixed up with `wall_time`. Hardware counters would be faster, but virtual machines and
//! `perf_event_paranoid` settings often hide them; callgrind works wherever valgrind installs.

use std::path::Path;

use benchkeep_core::model::{Direction, Metric, Unit};

use crate::command::{
    CommandSpec, Hooks, Interrupt, MeasureOptions, NoProgress, OutputMode, RunCount, RunError,
    measure,
};

/// The metric name of instruction counts.
pub const INSTRUCTIONS: &str = "instructions";

/// Counts the instructions of `runs` executions of `spec` (including every child process it
/// starts) under callgrind, each between the `hooks` a timed measurement has (setup may make
/// what the command reads) and reading `input` as a timed one would.
pub fn count_instructions(
    spec: &CommandSpec,
    hooks: &Hooks,
    input: Option<&std::path::Path>,
    runs: u32,
    timeout: Option<std::time::Duration>,
    interrupt: &Interrupt,
) -> Result<Metric, RunError> {
    let dir = tempfile::tempdir().map_err(|source| RunError::Io {
        command: spec.display(),
        source,
    })?;
    let mut wrapped = spec.clone();
    wrapped.argv = [
        "valgrind".to_owned(),
        "--tool=callgrind".to_owned(),
        "--trace-children=yes".to_owned(),
        format!("--callgrind-out-file={}/cg.%p", dir.path().display()),
        format!("--log-file={}/log.%p", dir.path().display()),
    ]
    .into_iter()
    .chain(spec.argv.iter().cloned())
    .collect();
    let options = MeasureOptions {
        warmup: 0,
        runs: RunCount::Fixed(1),
        timeout,
        output: OutputMode::Discard,
        keep_background: false,
        hooks: hooks.clone(),
        input: input.map(ToOwned::to_owned),
        check_output: false,
        ignore_failure: false,
    };
    let mut samples = Vec::with_capacity(runs as usize);
    for _ in 0..runs {
        match measure(&wrapped, &options, interrupt, &mut NoProgress) {
            Ok(_) => {}
            Err(RunError::NotFound { .. }) => {
                return Err(RunError::NotFound {
                    program: "valgrind (needed for instruction counts; install valgrind)".into(),
                });
            }
            Err(e) => return Err(e),
        }
        samples.push(collect_totals(dir.path(), spec)? as f64);
    }
    Ok(Metric {
        name: INSTRUCTIONS.into(),
        unit: Unit(INSTRUCTIONS.into()),
        direction: Direction::LowerIsBetter,
        samples,
        summary: None,
    })
}

/// Sums the instruction totals of every process's output file in `dir`, and empties `dir`.
fn collect_totals(dir: &Path, spec: &CommandSpec) -> Result<u64, RunError> {
    let io = |source| RunError::Io {
        command: spec.display(),
        source,
    };
    let mut total = 0u64;
    let mut files = 0;
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let is_profile = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("cg."));
        if is_profile {
            let text = std::fs::read_to_string(&path).map_err(io)?;
            total += parse_total(&text).ok_or_else(|| RunError::Io {
                command: spec.display(),
                source: std::io::Error::other(format!(
                    "callgrind wrote no instruction total to {}",
                    path.display()
                )),
            })?;
            files += 1;
        }
        std::fs::remove_file(&path).map_err(io)?;
    }
    if files == 0 {
        return Err(RunError::Io {
            command: spec.display(),
            source: std::io::Error::other("callgrind wrote no profile"),
        });
    }
    Ok(total)
}

/// The `summary:` (or `totals:`) line of a callgrind profile: its first number is `Ir`.
fn parse_total(profile: &str) -> Option<u64> {
    profile
        .lines()
        .find_map(|line| {
            line.strip_prefix("summary:")
                .or_else(|| line.strip_prefix("totals:"))
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_are_read_from_profiles() {
        let profile = "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nsummary: 123456\n";
        assert_eq!(parse_total(profile), Some(123_456));
        assert_eq!(parse_total("events: Ir\ntotals: 99 1\n"), Some(99));
        assert_eq!(parse_total("events: Ir\n"), None);
    }

    #[test]
    fn instruction_counts_are_stable_and_grow_with_work() {
        // Needs valgrind (CI installs it; see scripts/test.sh).
        let interrupt = Interrupt::new();
        let count = |n: u32| {
            let spec = CommandSpec::new([
                "sh".to_owned(),
                "-c".to_owned(),
                format!("i=0; while [ $i -lt {n} ]; do i=$((i+1)); done"),
            ]);
            count_instructions(&spec, &Hooks::default(), None, 2, None, &interrupt).unwrap()
        };
        let small = count(100);
        let large = count(2000);
        assert_eq!(small.samples.len(), 2);
        let spread = (small.samples[0] - small.samples[1]).abs() / small.samples[0];
        assert!(spread < 0.01, "{:?}", small.samples);
        assert!(
            large.samples[0] > small.samples[0] * 1.5,
            "{small:?} {large:?}"
        );
    }
}
