#!/usr/bin/env bash
# Runs the apitap fuzz targets, each for a bounded time, and fails on the first crash.
#
# Usage: fuzz/run.sh [--install] [TARGET...]      (targets: decode http reassembly engine)
# Environment:
#   FUZZ_SECONDS    seconds per target (default 30)
#   FUZZ_MODE       auto | libfuzzer | standalone (default auto: libFuzzer through cargo fuzz
#                   when it builds here, else the standalone mutation driver)
#   FUZZ_SANITIZER  cargo fuzz sanitizer: none | address (default none: the sensor forbids
#                   unsafe code; address is slower and catches what the dependencies do)
#   FUZZ_JOBS       libFuzzer -fork=N processes per target (default 1: no fork)
#   FUZZ_TRACES     pcap/pcapng seed traces (default ../shared/corpus/zeek-http/traces)
#   CARGO_TARGET_DIR  honoured by both modes
#   --install       cargo install cargo-fuzz when it is missing
#
# libFuzzer mode: `cargo fuzz` passes nightly-only flags to rustc (-Zsanitizer, and it
# checks the toolchain); on a stable toolchain they are accepted with RUSTC_BOOTSTRAP=1,
# which this script sets. Crashes land in fuzz/artifacts/TARGET/ and the corpus grows in
# fuzz/corpus/TARGET/ (both git-ignored). Exit status: 0 when no target crashed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
ALL_TARGETS=(decode http reassembly engine)
SECONDS_PER_TARGET="${FUZZ_SECONDS:-30}"
MODE="${FUZZ_MODE:-auto}"
SANITIZER="${FUZZ_SANITIZER:-none}"
JOBS="${FUZZ_JOBS:-1}"
TRACES="${FUZZ_TRACES:-$ROOT/../shared/corpus/zeek-http/traces}"
INSTALL=0

targets=()
for a in "$@"; do
    case "$a" in
        --install) INSTALL=1 ;;
        -h | --help)
            sed -n '2,22p' "$0"
            exit 0
            ;;
        decode | http | reassembly | engine) targets+=("$a") ;;
        *)
            echo "run.sh: unknown target or option: $a" >&2
            exit 2
            ;;
    esac
done
[ "${#targets[@]}" -gt 0 ] || targets=("${ALL_TARGETS[@]}")
case "$SECONDS_PER_TARGET" in '' | *[!0-9]*)
    echo "run.sh: FUZZ_SECONDS must be a whole number" >&2
    exit 2
    ;;
esac

log() { echo "fuzz: $*" >&2; }

max_len() {
    case "$1" in
        decode | engine) echo 131072 ;;
        http) echo 65536 ;;
        reassembly) echo 20489 ;;
    esac
}

# ---- corpus: built from the traces (decode, engine, http) plus hand-made seeds

CORPUS="$HERE/corpus"
mkdir -p "$CORPUS"
if [ -d "$TRACES" ]; then
    python3 "$HERE/build_corpus.py" --traces "$TRACES" --out "$CORPUS"
else
    log "no traces at $TRACES: seeding with the hand-made inputs only"
    python3 "$HERE/build_corpus.py" --traces /nonexistent --out "$CORPUS"
fi

# ---- mode

export RUSTC_BOOTSTRAP=1
# One target directory per mode, below CARGO_TARGET_DIR when it is set (cargo fuzz must be
# told explicitly, or it looks for its binaries in fuzz/target).
TARGET_DIR_ARGS=()
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
    TARGET_DIR_ARGS=(--target-dir "$CARGO_TARGET_DIR/apitap-fuzz")
fi
FUZZ_FLAGS=(-O -a -s "$SANITIZER" "${TARGET_DIR_ARGS[@]}")

if [ "$MODE" = auto ] || [ "$MODE" = libfuzzer ]; then
    if ! cargo fuzz --version >/dev/null 2>&1 && [ "$INSTALL" -eq 1 ]; then
        log "installing cargo-fuzz"
        cargo install --locked cargo-fuzz >&2 || log "cargo install cargo-fuzz failed"
    fi
    if cargo fuzz --version >/dev/null 2>&1; then
        log "building the targets with cargo fuzz (sanitizer: $SANITIZER)"
        build_log="$(mktemp)"
        if (cd "$ROOT" && env -u CARGO_TARGET_DIR cargo fuzz build "${FUZZ_FLAGS[@]}") >"$build_log" 2>&1; then
            MODE=libfuzzer
        else
            tail -n 30 "$build_log" >&2
            if [ "$MODE" = libfuzzer ]; then
                rm -f "$build_log"
                log "cargo fuzz build failed"
                exit 1
            fi
            log "cargo fuzz build failed: falling back to the standalone driver"
            MODE=standalone
        fi
        rm -f "$build_log"
    elif [ "$MODE" = libfuzzer ]; then
        log "cargo-fuzz is not installed (run with --install)"
        exit 1
    else
        log "cargo-fuzz is not installed: using the standalone driver (--install to get it)"
        MODE=standalone
    fi
fi

if [ "$MODE" = standalone ]; then
    log "building the standalone targets"
    (cd "$HERE" && cargo build --release --bins) >&2 || {
        echo "fuzz: FAIL: the fuzz targets do not build"
        exit 1
    }
    BIN_DIR="${CARGO_TARGET_DIR:-$HERE/target}/release"
fi

# ---- run

failed=()
for t in "${targets[@]}"; do
    mkdir -p "$CORPUS/$t" "$HERE/artifacts/$t"
    log "== $t: ${SECONDS_PER_TARGET}s ($MODE)"
    rc=0
    if [ "$MODE" = libfuzzer ]; then
        # Targets are built already; cargo fuzz run reuses the build.
        fork=()
        [ "$JOBS" -gt 1 ] && fork=(-fork="$JOBS")
        # The targets are built already: cargo fuzz run reuses the build.
        (cd "$ROOT" && timeout --kill-after=30 $((SECONDS_PER_TARGET + 300)) \
            env -u CARGO_TARGET_DIR cargo fuzz run "${FUZZ_FLAGS[@]}" "$t" "$CORPUS/$t" -- \
            -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=20 \
            -max_len="$(max_len "$t")" -print_final_stats=1 "${fork[@]}" \
            -artifact_prefix="$HERE/artifacts/$t/" 2>&1 |
            { grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE)' >&2 || true; }) || rc=$?
    else
        timeout --kill-after=30 $((SECONDS_PER_TARGET + 300)) \
            "$BIN_DIR/$t" --seconds "$SECONDS_PER_TARGET" --max-len "$(max_len "$t")" \
            --artifacts "$HERE/artifacts/$t" "$CORPUS/$t" || rc=$?
    fi
    if [ "$rc" -ne 0 ]; then
        log "== $t: FAILED (status $rc); artifacts in $HERE/artifacts/$t"
        failed+=("$t")
    else
        log "== $t: ok"
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz: FAIL: ${failed[*]} (mode $MODE, ${SECONDS_PER_TARGET}s per target)"
    exit 1
fi
echo "fuzz: PASS: ${targets[*]} (mode $MODE, ${SECONDS_PER_TARGET}s per target, no crash)"
