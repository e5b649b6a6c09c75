//! `benchkeep completions SHELL` and `benchkeep man`: generated from the clap definition, so
//! they always match the real options.

use anyhow::{Context as _, Result, bail};
use clap::CommandFactory;

use super::{Outcome, emit};
use crate::args::{Cli, CompletionsArgs, InitArgs};

pub(super) fn completions(args: &CompletionsArgs) -> Result<Outcome> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "benchkeep", &mut script);
    emit(&String::from_utf8_lossy(&script))?;
    Ok(Outcome::Passed)
}

/// `benchkeep init`, with the global `--config` (it writes or keeps that file).
pub(super) fn init(args: &InitArgs, config: Option<&std::path::Path>) -> Result<Outcome> {
    let mut request = args.request();
    request.config = config.map(std::path::Path::to_path_buf);
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    emit(&benchkeep_engine::init::init(&request, &cwd)?)?;
    Ok(Outcome::Passed)
}

/// `benchkeep split-words`: standard input split as a POSIX shell splits a command line
/// (`shlex`: single and double quotes, backslash escapes, `""` an empty word), nothing
/// expanded or run; each word printed with a NUL after it, which no word can contain.
pub(super) fn split_words() -> Result<Outcome> {
    let mut line = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut line)
        .context("cannot read the words from standard input (UTF-8 text)")?;
    let Some(words) = shlex::split(&line) else {
        bail!(
            "cannot split {line:?} into words: a quote is not closed, or it ends with a backslash"
        );
    };
    let mut out = String::new();
    for word in &words {
        out.push_str(word);
        out.push('\0');
    }
    emit(&out)?;
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
