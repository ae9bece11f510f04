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
#   4. builds the optimised binary (-Cprofile-use, linked with --emit-relocs) in
#      target/pgo/release/, and the analyzer's benchmark (bench_analyzer) with the same profile,
#   5. when LLVM BOLT is at hand (Debian's bolt-16 package; installed when missing if this
#      runs as root with apt), lays the binary out again after linking: BOLT instruments it,
#      the same training replays run through the instrumented copy, and BOLT reorders basic
#      blocks and functions by that profile and moves cold code out of the hot pages (2 to
#      5 % less wall time than the step-4 binary side by side). Without BOLT the result is
#      the step-4 binary. BOLT drops the debug line tables (symbols stay).
#
# The result is target/pgo/apitap (records and alerts byte-identical to the plain build's).
#
# Usage: bash deploy/build-pgo.sh        (prints the binary's path last)
# Settings: CARGO_TARGET_DIR as usual (default target/ in the workspace);
#           BOLT=0 skips step 5, BOLT=1 (default) uses it when it is or can be installed.
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

# The training replays, run through binary $1: each demo and real-tool capture with the
# analyzer on, and the generated capture with and without it.
train() {
    local pcap
    for pcap in fixtures/demo/*.pcap fixtures/real/*.pcap; do
        "$1" replay "$pcap" -q --no-progress --key-file "$WORK/key" --alerts /dev/null >/dev/null
    done
    "$1" replay "$WORK/train.pcap" -q --no-progress --key-file "$WORK/key" >/dev/null
    "$1" replay "$WORK/train.pcap" -q --no-progress --key-file "$WORK/key" \
        --alerts /dev/null >/dev/null
}

log "training"
train "$GEN_DIR/release/apitap"
"$PROFDATA" merge -o "$PROFILE" "$DATA"

log "building the profile-guided binary"
# --emit-relocs keeps the relocations BOLT needs to move functions (no effect on the code).
RUSTFLAGS="-Cprofile-use=$PROFILE -Clink-arg=-Wl,--emit-relocs" cargo build --release --quiet \
    --target-dir "$USE_DIR" -p apitap-sensor --bin apitap
OUT=$USE_DIR/apitap
# The analyzer's per-core benchmark with the same profile (the analyzer code as the deployed
# binary runs it; its own record-loading main is not trained): target/pgo/release/bench_analyzer.
log "building the profile-guided analyzer benchmark"
RUSTFLAGS="-Cprofile-use=$PROFILE -Clink-arg=-Wl,--emit-relocs" cargo build --release --quiet \
    --target-dir "$USE_DIR" -p apitap-tests --bin bench_analyzer

# LLVM BOLT from Debian (bolt-N). It is run from its own directory: it finds its runtime
# libraries relative to where it was started (/usr/bin/llvm-bolt-N looks in /usr/lib).
find_bolt() {
    ls -d /usr/lib/llvm-*/bin/llvm-bolt 2>/dev/null | sort -V | tail -n1
}
BOLT_TOOL=""
if [ "${BOLT:-1}" = 1 ]; then
    BOLT_TOOL=$(find_bolt)
    if [ -z "$BOLT_TOOL" ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        log "installing LLVM BOLT (bolt-16)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bolt-16 >/dev/null 2>&1 ||
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bolt-16 >/dev/null; } ||
            true
        BOLT_TOOL=$(find_bolt)
    fi
    [ -n "$BOLT_TOOL" ] || log "LLVM BOLT not available: the result is the profile-guided build alone"
fi

if [ -n "$BOLT_TOOL" ]; then
    BOLT_DIR=$(dirname "$BOLT_TOOL")
    log "BOLT: instrumenting ($BOLT_TOOL)"
    mkdir -p "$WORK/bolt"
    "$BOLT_TOOL" "$USE_DIR/release/apitap" -instrument -o "$WORK/apitap.instrumented" \
        --instrumentation-file="$WORK/bolt/profile.fdata" --instrumentation-file-append-pid \
        >"$WORK/bolt-instrument.log" 2>&1 || { cat "$WORK/bolt-instrument.log" >&2; exit 1; }
    log "BOLT: training"
    train "$WORK/apitap.instrumented"
    "$BOLT_DIR/merge-fdata" "$WORK"/bolt/*.fdata >"$WORK/bolt.fdata" 2>"$WORK/bolt-merge.log" ||
        { cat "$WORK/bolt-merge.log" >&2; exit 1; }
    log "BOLT: laying out"
    "$BOLT_TOOL" "$USE_DIR/release/apitap" -o "$OUT.tmp" -data="$WORK/bolt.fdata" \
        -reorder-blocks=ext-tsp -reorder-functions=hfsort+ -split-functions -split-all-cold \
        -split-eh -icf=1 -use-gnu-stack >"$WORK/bolt-optimise.log" 2>&1 ||
        { cat "$WORK/bolt-optimise.log" >&2; exit 1; }
    mv "$OUT.tmp" "$OUT"
else
    cp "$USE_DIR/release/apitap" "$OUT"
fi
echo "$OUT"
