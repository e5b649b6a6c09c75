//! Compiles `exec/benchkeep-exec.c`, the helper measured commands are started through (see
//! `src/exec_helper.rs` for why), with the C compiler Rust links with on Unix. Without one the
//! library still builds: commands are then spawned directly and their peak memory is withheld.

use std::path::PathBuf;

fn main() {
    const SOURCE: &str = "exec/benchkeep-exec.c";
    println!("cargo::rerun-if-changed={SOURCE}");
    println!("cargo::rustc-check-cfg=cfg(benchkeep_exec_helper)");
    if std::env::var("CARGO_CFG_TARGET_FAMILY").as_deref() != Ok("unix") {
        return;
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("benchkeep-exec");
    let compiler = match cc::Build::new()
        .cargo_metadata(false)
        .opt_level(2)
        .try_get_compiler()
    {
        Ok(compiler) => compiler,
        Err(e) => {
            println!(
                "cargo::warning=no C compiler for benchkeep-exec ({e}); peak memory will not be measured"
            );
            return;
        }
    };
    // Statically linked when the C library allows it: no dynamic loader to run before each
    // command starts (about 0.2 ms less per execution, measured).
    let compile = |extra: &[&str]| {
        compiler
            .to_command()
            .args(extra)
            .arg("-o")
            .arg(&out)
            .arg(SOURCE)
            .stderr(std::process::Stdio::null())
            .status()
    };
    let status = match compile(&["-static"]) {
        Ok(status) if status.success() => Ok(status),
        _ => compile(&[]),
    };
    match status {
        Ok(status) if status.success() => println!("cargo::rustc-cfg=benchkeep_exec_helper"),
        Ok(status) => println!(
            "cargo::warning=compiling {SOURCE} failed ({status}); peak memory will not be measured"
        ),
        Err(e) => println!(
            "cargo::warning=cannot run the C compiler for {SOURCE} ({e}); peak memory will not be measured"
        ),
    }
}
