//! `benchkeep completions SHELL` and `benchkeep man`: generated from the clap definition, so
//! they always match the real options.

use anyhow::{Context as _, Result};
use clap::CommandFactory;

use super::{Outcome, emit};
use crate::args::{Cli, CompletionsArgs};

pub(super) fn completions(args: &CompletionsArgs) -> Result<Outcome> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "benchkeep", &mut script);
    emit(&String::from_utf8_lossy(&script))?;
    Ok(Outcome::Passed)
}

pub(super) fn man() -> Result<Outcome> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .context("cannot render the manual page")?;
    emit(&String::from_utf8_lossy(&page))?;
    Ok(Outcome::Passed)
}
