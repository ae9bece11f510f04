#!/usr/bin/env bash
# The whole apitap test suite, from a fresh Debian 12 machine (run as root):
# installs what it needs, checks formatting and lints, runs every Rust test (unit, property,
# corpus conformance, end-to-end, live capture in network namespaces), a short real-tool
# capture in network namespaces, and a short bounded fuzzing run of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
for p in libpcap-dev pkg-config nginx-light curl iproute2 python3 tcpdump tshark; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  echo "== installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

# No incremental caches here: this is a one-shot build, and they doubled target/'s size.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
disk_report() { echo "   disk: $(df -h --output=avail . | tail -1 | tr -d ' ') free; target/ $(du -sh "${CARGO_TARGET_DIR:-target}" 2>/dev/null | cut -f1)"; }
disk_report

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== building the apitap binary"
cargo build --quiet -p apitap-sensor --bin apitap

disk_report
echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi

# The live-capture test (network namespaces, 198.18.0.0/15, nginx and curl) runs above as
# tests/tests/live_capture.rs, which drives tests/live/live_capture.sh.

# The real-tool capture script, short: network namespaces in 198.18.0.0/15, nginx in front of
# the Flask/SQLite shop, one python-requests shopper and hydra, recorded by tcpdump, replayed
# by apitap and checked against the labels it measured (about half a minute, plus installs).
# The committed captures themselves are checked above (tests/tests/real_captures.rs).
disk_report
echo "== real-tool capture smoke (fixtures/real/capture.sh --smoke)"
if [ "$(id -u)" -eq 0 ] && ip netns list >/dev/null 2>&1; then
  timeout 600 bash fixtures/real/capture.sh --install --smoke
else
  echo "skipped: needs root and ip netns"
fi

disk_report
echo "== fuzzing: every target for a bounded time (libFuzzer via cargo fuzz when it builds)"
FUZZ_SECONDS="${FUZZ_SECONDS:-20}" bash fuzz/run.sh --install
disk_report
echo "== all tests passed"
