//! `pip install benchkeep`: scripts/test-wheel.sh builds the Python wheel (pyproject.toml,
//! maturin `bindings = "bin"`) from this checkout with cargo offline, installs it with
//! `pip install --no-index` into a fresh venv, and runs the installed `benchkeep --version` and
//! `benchkeep check --import pytest-benchmark` on a real pytest-benchmark output.
//!
//! It compiles a release build (seconds when `target/release` is up to date, minutes from
//! nothing), so it runs only when `BENCHKEEP_TEST_WHEEL` or `BENCHKEEP_REQUIRE_TOOLS` is set,
//! and skips with a message otherwise.

use std::path::Path;
use std::process::Command;

#[test]
fn the_wheel_installs_with_pip_and_runs() {
    if std::env::var_os("BENCHKEEP_TEST_WHEEL").is_none()
        && std::env::var_os("BENCHKEEP_REQUIRE_TOOLS").is_none()
    {
        eprintln!(
            "skipped: the wheel test builds a release wheel \
             (set BENCHKEEP_TEST_WHEEL=1, or run scripts/test-wheel.sh)"
        );
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("bash")
        .arg("scripts/test-wheel.sh")
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| panic!("cannot run bash scripts/test-wheel.sh: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scripts/test-wheel.sh failed ({}):\n{stdout}{stderr}",
        out.status
    );
    assert!(
        stdout.contains(&format!("ok: benchkeep-{}-", env!("CARGO_PKG_VERSION"))),
        "scripts/test-wheel.sh passed without saying which wheel:\n{stdout}{stderr}"
    );
}
