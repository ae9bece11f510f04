#!/usr/bin/env bash
# Profile-guided release build of apitap: the build to deploy on a busy link.
#
# The sensor's hot path is long and flat (decode, flow table, reassembly, HTTP heads and bodies,
# records, redaction, the analyzer) and spends much of its time waiting on instruction fetch;
# laying the code out by a real run's profile makes it faster (about 15 % on the
# throughput benchmark) without changing what it computes.
#
#   1. builds an instrumented release binary (rustc -Cprofile-generate) in target/pgo-gen/,
#   2. replays the training captures through it, the analyzer on: the bundled demo and
#      real-tool captures and a generated REST capture (gen_bench_pcap --seed 7 --exchanges
#      20000: another seed and size than tests/bench/throughput.sh's capture, which is never
#      trained on),
#   3. merges the profiles with the toolchain's llvm-profdata (rustup component llvm-tools,
#      added when missing),
#   4. builds the optimised binary (-Cprofile-use) as target/pgo/release/apitap.
#
# Usage: bash deploy/build-pgo.sh        (prints the binary's path last)
# Settings: CARGO_TARGET_DIR as usual (default target/ in the workspace).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
GEN_DIR=$TARGET_DIR/pgo-gen
USE_DIR=$TARGET_DIR/pgo
DATA=$TARGET_DIR/pgo-data
# A fixed path: RUSTFLAGS stay the same from one run to the next, so cargo rebuilds only what
# changed.
PROFILE=$TARGET_DIR/pgo.profdata
log() { printf '==> %s\n' "$*" >&2; }

sysroot=$(rustc --print sysroot)
host=$(rustc -vV | sed -n 's/^host: //p')
PROFDATA=$sysroot/lib/rustlib/$host/bin/llvm-profdata
if [ ! -x "$PROFDATA" ]; then
    log "adding the llvm-tools component (llvm-profdata)"
    rustup component add llvm-tools >/dev/null
fi
[ -x "$PROFDATA" ] || { echo "error: $PROFDATA is missing" >&2; exit 1; }

log "building the instrumented binary"
rm -rf "$DATA"
RUSTFLAGS="-Cprofile-generate=$DATA" cargo build --release --quiet --target-dir "$GEN_DIR" \
    -p apitap-sensor --bin apitap
cargo build --release --quiet -p apitap-tests --bin gen_bench_pcap

WORK=$(mktemp -d "${TMPDIR:-/tmp}/apitap-pgo.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
log "generating the training capture"
"$TARGET_DIR/release/gen_bench_pcap" --out "$WORK/train.pcap" --exchanges 20000 --seed 7 >/dev/null
head -c 32 /dev/urandom >"$WORK/key"

log "training"
for pcap in fixtures/demo/*.pcap fixtures/real/*.pcap; do
    "$GEN_DIR/release/apitap" replay "$pcap" -q --no-progress --key-file "$WORK/key" \
        --alerts /dev/null >/dev/null
done
"$GEN_DIR/release/apitap" replay "$WORK/train.pcap" -q --no-progress --key-file "$WORK/key" \
    >/dev/null
"$GEN_DIR/release/apitap" replay "$WORK/train.pcap" -q --no-progress --key-file "$WORK/key" \
    --alerts /dev/null >/dev/null
"$PROFDATA" merge -o "$PROFILE" "$DATA"

log "building the profile-guided binary"
RUSTFLAGS="-Cprofile-use=$PROFILE" cargo build --release --quiet \
    --target-dir "$USE_DIR" -p apitap-sensor --bin apitap
echo "$USE_DIR/release/apitap"
