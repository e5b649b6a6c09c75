//! The `benchkeep` command-line tool. The binary's `main` only calls [`main_with_args`].
//!
//! # Exit codes
//!
//! | code | constant | meaning |
//! |---|---|---|
//! | 0 | [`exit_codes::PASS`] | success; for `check` and `compare`, no gating metric regressed |
//! | 1 | [`exit_codes::REGRESSION`] | a gating metric regressed (or was inconclusive with `--fail-on-inconclusive`); `load --leak-check` found memory growth |
//! | 2 | [`exit_codes::ERROR`] | usage error, or something failed: a command, a corrupt file, an unreachable store |
//! | 3 | [`exit_codes::NO_BASELINE`] | `check --require-baseline` found no baseline |
//! | 4 | [`exit_codes::PARTIAL`] | `report` wrote the site, but some runs or baselines could not be read (named on stderr and on the page) |
//! | 130 | [`exit_codes::INTERRUPTED`] | interrupted (Ctrl-C, SIGTERM); nothing was recorded |
#![deny(missing_docs)]

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

mod args;
mod commands;
mod examples;
mod requests;

/// The documented exit codes, an API for CI scripts.
pub use benchkeep_engine::exit_codes;

/// How a command ended.
#[derive(Debug)]
pub enum Outcome {
    /// It worked, and nothing regressed.
    Passed,
    /// A gating metric regressed.
    Regressed,
    /// A required baseline is missing.
    NoBaseline,
    /// Done, but something could not be read and was left out (named in the output).
    Partial,
    /// A signal stopped it.
    Interrupted,
    /// It failed.
    Failed(anyhow::Error),
}

impl Outcome {
    /// The process exit code of this outcome. Exhaustive on purpose: a new outcome must be
    /// given a documented code.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Passed => exit_codes::PASS,
            Outcome::Regressed => exit_codes::REGRESSION,
            Outcome::Failed(_) => exit_codes::ERROR,
            Outcome::NoBaseline => exit_codes::NO_BASELINE,
            Outcome::Partial => exit_codes::PARTIAL,
            Outcome::Interrupted => exit_codes::INTERRUPTED,
        }
    }
}

/// Parses `args` (including the program name), runs the command, reports errors on one line,
/// and returns the exit code.
pub fn main_with_args<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    // First, so that Ctrl-C at any moment takes the one interrupt path (exit 130, nothing
    // recorded) instead of killing the process wherever it is.
    let interrupt = benchkeep_runner::command::Interrupt::new();
    if let Err(e) = commands::watch_signals(&interrupt) {
        eprintln!("error: {}", one_line(&e));
        return ExitCode::from(exit_codes::ERROR);
    }
    let cli = match args::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit_codes::ERROR
            } else {
                exit_codes::PASS
            });
        }
    };
    let outcome = commands::dispatch(&cli, interrupt);
    match &outcome {
        Outcome::Failed(error) => eprintln!("error: {}", one_line(error)),
        Outcome::Interrupted => eprintln!("interrupted: nothing was recorded"),
        Outcome::Passed | Outcome::Regressed | Outcome::NoBaseline | Outcome::Partial => {}
    }
    ExitCode::from(outcome.exit_code())
}

/// An error and its causes on one line, each cause once.
fn one_line(error: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string().replace('\n', " ");
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_distinct_and_documented() {
        let codes = [
            Outcome::Passed.exit_code(),
            Outcome::Regressed.exit_code(),
            Outcome::Failed(anyhow::anyhow!("x")).exit_code(),
            Outcome::NoBaseline.exit_code(),
            Outcome::Partial.exit_code(),
            Outcome::Interrupted.exit_code(),
        ];
        assert_eq!(codes, [0, 1, 2, 3, 4, 130]);
    }

    #[test]
    fn errors_print_on_one_line_without_repeats() {
        let inner = anyhow::anyhow!("file x is corrupt:\ntruncated");
        let outer = inner.context("cannot load baseline");
        assert_eq!(
            one_line(&outer),
            "cannot load baseline: file x is corrupt: truncated"
        );
    }
}
