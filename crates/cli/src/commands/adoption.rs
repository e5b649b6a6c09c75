//! `benchkeep completions SHELL` and `benchkeep man`: generated from the clap definition, so
//! they always match the real options.

use anyhow::{Context as _, Result, bail};
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

pub(super) fn man(subcommand: Option<&str>) -> Result<Outcome> {
    let mut page = Vec::new();
    let mut command = Cli::command();
    // Global options reach subcommands only once the command is built.
    command.build();
    let command = match subcommand {
        None => command,
        Some(name) => {
            let Some(found) = command.find_subcommand(name) else {
                let names: Vec<&str> = command
                    .get_subcommands()
                    .map(clap::Command::get_name)
                    .filter(|n| *n != "help")
                    .collect();
                bail!(
                    "no subcommand {name:?}; `benchkeep man` has a page for each of: {}",
                    names.join(", ")
                );
            };
            // Named as benchkeep's own page refers to it: benchkeep-check(1).
            found.clone().name(format!("benchkeep-{name}"))
        }
    };
    clap_mangen::Man::new(command)
        .render(&mut page)
        .context("cannot render the manual page")?;
    emit(&String::from_utf8_lossy(&page))?;
    Ok(Outcome::Passed)
}
