//! The `benchkeep` binary: everything lives in the library so it can be tested.

fn main() -> std::process::ExitCode {
    benchkeep::main_with_args(std::env::args_os())
}
