//! The examples at the end of each subcommand's `--help` (and its manual page). A test parses
//! every `benchkeep ...` line of them, so none can go stale.

pub(crate) const RUN: &str = "\
Examples:
  benchkeep run -- ./target/release/app parse big.json      # a program and its arguments
  benchkeep run -w 3 -r 20 'gzip -k -f data' 'zstd -f data' # shell commands, compared
  benchkeep run --prepare 'sync' -- ./app                   # untimed, before each run
  benchkeep run -P threads 1 8 'app -j {threads}'           # one benchmark per value
  benchkeep run -L tool gzip,xz '{tool} -k -f data' --export-markdown out.md
  benchkeep run -N 'app --quick'                            # no shell, nothing subtracted
  benchkeep run                                             # the [[bench]]es of benchkeep.toml";

pub(crate) const CHECK: &str = "\
Examples:
  benchkeep check -- ./target/release/app parse big.json    # measure, compare, record
  benchkeep check -r 20 'app --fast' 'app --safe'           # shell commands, each a benchmark
  benchkeep check --import criterion criterion.json         # another harness's results
  go test -bench . -count 10 ./... | benchkeep check --import go -
  benchkeep check --format markdown --report junit=bench.xml
  benchkeep check --pr                                      # a pull request, paired with its base
  benchkeep check --run run.json --require-baseline";

pub(crate) const BASELINE: &str = "\
Examples:
  benchkeep baseline list
  benchkeep baseline show --branch main --json
  benchkeep baseline accept --reason 'the new parser trades speed for safety'
  benchkeep baseline history --branch main";

pub(crate) const COMPARE: &str = "\
Examples:
  benchkeep compare base.json head.json
  benchkeep compare base.json head.json --format markdown --threshold 3";

pub(crate) const AB: &str = "\
Examples:
  benchkeep ab --base './app-old parse' --head './app-new parse'
  benchkeep ab --base-ref main --build 'cargo build --release' -- ./target/release/app
  benchkeep ab --base 'python3 old.py' --head 'python3 new.py' --rounds 40 --confirm";

pub(crate) const TREND: &str = "\
Examples:
  benchkeep trend
  benchkeep trend --format json --fail-on-change";

pub(crate) const PRUNE: &str = "\
Examples:
  benchkeep prune --keep-last 50 --dry-run
  benchkeep prune --older-than 90";

pub(crate) const SUITE: &str = "\
Examples:
  benchkeep suite --quick
  benchkeep suite --no-record";

pub(crate) const IMPORT: &str = "\
Examples:
  benchkeep import --format criterion criterion.json
  benchkeep import --format hyperfine hyperfine.json --out run.json --no-record
  go test -bench . -count 10 ./... | benchkeep import --format go -
  benchkeep formats                                         # every format, one example each";

pub(crate) const INIT: &str = "\
Examples:
  benchkeep init
  benchkeep init --ci github";

pub(crate) const COMPLETIONS: &str = "\
Examples:
  benchkeep completions bash > ~/.local/share/bash-completion/completions/benchkeep
  benchkeep completions zsh > ~/.zfunc/_benchkeep";

pub(crate) const MAN: &str = "\
Examples:
  benchkeep man | man -l -
  benchkeep man check | man -l -";

pub(crate) const LOAD: &str = "\
Examples:
  benchkeep load --concurrency 1,2,4,8 --duration 5 -- ./client --once
  benchkeep load --leak-check -- ./server --serve-one";

pub(crate) const REPORT: &str = "\
Examples:
  benchkeep report --out site
  benchkeep report --out site --serve 8000";

pub(crate) const FORMATS: &str = "\
Examples:
  benchkeep formats
  benchkeep help formats";

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use crate::args::Cli;

    /// Every `benchkeep ...` example parses (comments and pipes stripped).
    #[test]
    fn every_example_is_a_valid_command_line() {
        let all = [
            super::RUN,
            super::CHECK,
            super::BASELINE,
            super::COMPARE,
            super::AB,
            super::TREND,
            super::PRUNE,
            super::SUITE,
            super::IMPORT,
            super::INIT,
            super::COMPLETIONS,
            super::MAN,
            super::LOAD,
            super::REPORT,
            super::FORMATS,
        ];
        let formats = crate::args::formats_help();
        let mut checked = 0;
        for line in all.iter().flat_map(|text| text.lines()).chain(
            formats
                .lines()
                .filter_map(|line| line.trim_start().strip_prefix("$ ")),
        ) {
            let line = line.split(" # ").next().unwrap_or(line);
            for part in line.split(" && ").flat_map(|part| part.split(" | ")) {
                let part = part.split(" > ").next().unwrap_or(part).trim();
                let Some(words) = shlex::split(part) else {
                    panic!("{part}");
                };
                if words.first().map(String::as_str) != Some("benchkeep") {
                    continue;
                }
                match Cli::try_parse_from(&words) {
                    Ok(_) => {}
                    Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {}
                    Err(e) => panic!("{part}: {e}"),
                }
                checked += 1;
            }
        }
        assert!(checked >= 45, "{checked}");
    }
}
