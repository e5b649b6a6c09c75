#!/usr/bin/env bash
# The whole test suite: every crate's unit, integration and doc tests, with every feature on
# (the store conformance suite is the `conformance` feature of benchkeep-core).
#
# Stores that need a real server (the S3 store, once it lands) get it installed and started here,
# so that this one command stays all a newcomer needs. Today every test runs against local files,
# real git binaries and real processes only.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-features --locked "$@"
