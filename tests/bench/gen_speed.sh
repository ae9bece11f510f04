#!/usr/bin/env bash
# Scenario generator speed (release build; a measurement, not a timed test).
#
# Builds apitap-gen in release mode and runs `apitap-gen --bench`: it writes the built-in large
# scenario (fixtures/scenarios/bench-large.toml: 100,000 clients for 10 minutes plus attack
# actors, ~870 MB) to a temporary file, removes it, and prints MB/s, GB/min, exchanges/s and
# packets/s. The target is at least 1 GB of capture a minute.
#
# Usage: bash tests/bench/gen_speed.sh [--scenario FILE] [--seed N] [--out FILE]
#   CARGO_TARGET_DIR   as usual (default: target/ in the workspace)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build --release --quiet -p apitap-gen
"$TARGET_DIR/release/apitap-gen" --bench "$@"
