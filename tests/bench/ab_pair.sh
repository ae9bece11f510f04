#!/usr/bin/env bash
# A/B wall-time comparison of two bench_analyzer builds (a measurement, not a test).
#
# Wall time on a shared 2-core virtual machine drifts by tens of percent from one minute to
# the next, so runs of A then B compare two different machines. This script runs A and B at
# the same time, one on each core (swapping cores every round), and reports the median of
# the per-round ratios B/A next to each build's median: both sides see the same neighbours.
# (They also share the L3 cache and memory bandwidth, which lowers both absolute figures.)
#
# Usage: bash tests/bench/ab_pair.sh BIN_A BIN_B [PCAP] [ROUNDS] [-- extra bench_analyzer args]
#   e.g. bash tests/bench/ab_pair.sh /tmp/bench_analyzer.old target/release/bench_analyzer \
#            out/bench/rest-250k.pcap 6 -- --behaviour-only
set -euo pipefail

A=${1:?usage: ab_pair.sh BIN_A BIN_B [PCAP] [ROUNDS] [-- args]}
B=${2:?usage: ab_pair.sh BIN_A BIN_B [PCAP] [ROUNDS] [-- args]}
PCAP=${3:-out/bench/rest-250k.pcap}
ROUNDS=${4:-6}
shift $(($# < 4 ? $# : 4))
[ "${1:-}" = "--" ] && shift
EXTRA=("$@")
command -v taskset >/dev/null || { echo "error: taskset (util-linux) is needed" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "error: two CPUs are needed" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
rate() { sed -nE 's/^throughput: .*= ([0-9]+) records\/s.*/\1/p' "$1"; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

ra="" rb="" ratios=""
for i in $(seq "$ROUNDS"); do
    ca=$((i % 2)) cb=$(((i + 1) % 2))
    taskset -c "$ca" "$A" --pcap "$PCAP" --passes 2 --actors 0 "${EXTRA[@]}" >"$WORK/a" 2>&1 &
    pa=$!
    taskset -c "$cb" "$B" --pcap "$PCAP" --passes 2 --actors 0 "${EXTRA[@]}" >"$WORK/b" 2>&1 &
    pb=$!
    wait "$pa" "$pb"
    a=$(rate "$WORK/a") b=$(rate "$WORK/b")
    [ -n "$a" ] && [ -n "$b" ] || { echo "error: no throughput line (see output)" >&2; cat "$WORK/a" "$WORK/b" >&2; exit 1; }
    r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }')
    printf 'round %d: A %s  B %s records/s  B/A %s\n' "$i" "$a" "$b" "$r"
    ra="$ra $a" rb="$rb $b" ratios="$ratios $r"
done
echo "A median $(echo "$ra" | median) records/s ($A)"
echo "B median $(echo "$rb" | median) records/s ($B)"
echo "B/A median ratio $(echo "$ratios" | median) over $ROUNDS rounds"
