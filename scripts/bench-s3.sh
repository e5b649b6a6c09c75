#!/usr/bin/env bash
# The S3 store's benchmark against a real S3-compatible server on loopback (see s3-server.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/s3-server.sh
BENCHKEEP_REFUSED_SERVERS=0 source scripts/s3-server.sh
cargo bench -p benchkeep-store-s3 --bench s3 "$@"
