#!/usr/bin/env bash
# Throughput benchmark (release build; a measurement, not a timed test).
#
# Generates (once) a large capture of realistic REST API traffic with gen_bench_pcap
# (250k exchanges over keep-alive connections from 2,000 clients, JSON bodies, chunked and
# gzip responses), replays it through `apitap replay` with records built but not written, and
# through Suricata 7 (HTTP app-layer only, EVE `http` events only, no rules, --runmode single)
# on the same file, then prints Gbit/s, packets/s, exchanges/s, CPU time and peak memory of
# both, and the apitap/Suricata ratio against the targets: apitap (single thread) at least
# 10x Suricata's rate, at most 200 MiB peak memory.
#
# Usage (Debian 12, as root: installs `time` and Suricata from bookworm-backports if missing):
#   bash tests/bench/throughput.sh
# Settings (environment):
#   EXCHANGES=250000 CLIENTS=2000 SEED=1   what to generate
#   PCAP=out/bench/rest-250k.pcap          capture to use (generated if missing or stale)
#   RUNS=5                                 rounds (apitap then Suricata in each); the fastest
#                                          run of each tool counts, peak RSS is the max
#   SKIP_SURICATA=1                        apitap figures only
#   PGO=0                                  only the plain release build (by default the
#                                          optimised build of deploy/build-pgo.sh, PGO then
#                                          BOLT, is measured next to it)
#   STRICT=1                               exit 1 when a target is missed
#   KEEP_WORK=1                            keep the temporary directory (configs, logs, eve.json)
#   CARGO_TARGET_DIR                       as usual (default: target/ in the workspace)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

EXCHANGES=${EXCHANGES:-250000}
CLIENTS=${CLIENTS:-2000}
SEED=${SEED:-1}
RUNS=${RUNS:-5}
SKIP_SURICATA=${SKIP_SURICATA:-0}
PGO=${PGO:-1}
STRICT=${STRICT:-0}
OUT_DIR=$ROOT/out/bench
PCAP_GIVEN=${PCAP:+1}
PCAP=${PCAP:-$OUT_DIR/rest-$((EXCHANGES / 1000))k.pcap}
TARGET_RATIO=10
TARGET_RSS_MIB=200
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
APITAP=$TARGET_DIR/release/apitap
GEN=$TARGET_DIR/release/gen_bench_pcap

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

need_root() {
    [ "$(id -u)" -eq 0 ] || die "$1 is missing and installing it needs root (apt-get)"
}

apt_updated=0
apt_update() {
    if [ "$apt_updated" -eq 0 ]; then
        apt-get update -qq
        apt_updated=1
    fi
}

# --- tools ------------------------------------------------------------------------------------

if [ ! -x /usr/bin/time ]; then
    need_root "/usr/bin/time"
    log "installing time"
    apt_update
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
command -v cargo >/dev/null || die "cargo is not on PATH"

# The Debian mirror apt already uses (deb822 .sources or one-line sources.list).
debian_mirror() {
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -e "$f" ] || continue
        uri=$(awk '
            function flush() { if (hit && uri != "" && !done) { print uri; done = 1 } uri = ""; hit = 0 }
            /^[ \t]*$/ { flush(); next }
            /^URIs:/ { uri = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") hit = 1 }
            END { flush() }' "$f")
        if [ -n "$uri" ]; then
            echo "$uri"
            return
        fi
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -e "$f" ] || continue
        uri=$(sed -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }')
        if [ -n "$uri" ]; then
            echo "$uri"
            return
        fi
    done
    echo "http://deb.debian.org/debian"
}

install_suricata() {
    need_root "suricata"
    local codename=""
    if [ -r /etc/os-release ]; then
        codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    fi
    if [ "$codename" = "bookworm" ]; then
        if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
            local mirror keyring=""
            mirror=$(debian_mirror)
            log "adding bookworm-backports from $mirror"
            if [ -e /usr/share/keyrings/debian-archive-keyring.gpg ]; then
                keyring="Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
            fi
            printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\n%s\n' \
                "$mirror" "$keyring" >/etc/apt/sources.list.d/bookworm-backports.sources
            apt_updated=0
        fi
        apt_update
        log "installing suricata from bookworm-backports"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports suricata >/dev/null
    else
        log "not Debian bookworm ($codename): installing the distribution's suricata"
        apt_update
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq suricata >/dev/null
    fi
}

if [ "$SKIP_SURICATA" != 1 ] && ! command -v suricata >/dev/null; then
    install_suricata
fi

# --- build and generate -----------------------------------------------------------------------

log "building release binaries"
cargo build --release --quiet -p apitap-sensor --bin apitap -p apitap-tests --bin gen_bench_pcap

mkdir -p "$(dirname "$PCAP")"
GEN_ARGS="--exchanges $EXCHANGES --clients $CLIENTS --seed $SEED"
# The capture is regenerated when the arguments or the generator's source change.
GEN_KEY="args: $GEN_ARGS; generator: $(cksum <"$ROOT/tests/src/bin/gen_bench_pcap.rs" | cut -d' ' -f1)"
if [ -n "$PCAP_GIVEN" ] && [ -s "$PCAP" ] && [ ! -e "$PCAP.gen.txt" ]; then
    log "using the given capture $PCAP as is"
elif [ ! -s "$PCAP" ] || [ ! -s "$PCAP.gen.txt" ] || [ "$(head -n1 "$PCAP.gen.txt")" != "$GEN_KEY" ]; then
    log "generating $PCAP ($GEN_ARGS)"
    # shellcheck disable=SC2086
    gen_out=$("$GEN" --out "$PCAP.tmp" $GEN_ARGS)
    mv "$PCAP.tmp" "$PCAP"
    printf '%s\n%s\n' "$GEN_KEY" "${gen_out//.tmp:/:}" >"$PCAP.gen.txt"
else
    log "using existing $PCAP"
fi
GEN_EXCHANGES=""
if [ -e "$PCAP.gen.txt" ]; then
    sed -n '2,$p' "$PCAP.gen.txt" >&2
    GEN_EXCHANGES=$(sed -n 's/.* \([0-9]*\) exchanges over.*/\1/p' "$PCAP.gen.txt")
fi
FILE_BYTES=$(stat -c %s "$PCAP")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/apitap-bench.XXXXXX")
if [ "${KEEP_WORK:-0}" = 1 ]; then
    log "keeping the work directory $WORK (configs, logs, eve.json, summaries)"
else
    trap 'rm -rf "$WORK"' EXIT
fi

# --- measuring --------------------------------------------------------------------------------

# time_field FILE 'Label' -> the value after "Label: " in /usr/bin/time -v output
time_field() { sed -n "s/^[[:space:]]*$2: //p" "$1" | head -n1; }

# wall_secs FILE -> elapsed wall-clock seconds ("h:mm:ss" or "m:ss.cc")
wall_secs() {
    time_field "$1" 'Elapsed (wall clock) time (h:mm:ss or m:ss)' |
        awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.3f", s }'
}

# measure_once NAME CMD... : one run under /usr/bin/time -v; keeps the best (fastest) wall and
# CPU seconds of NAME in BEST_WALL[NAME] / BEST_CPU[NAME], its largest RSS in PEAK_KB[NAME],
# this run's wall seconds in LAST_WALL, and the fastest run's files as $WORK/NAME.best.*
declare -A BEST_WALL=() BEST_CPU=() PEAK_KB=() RUN_NO=()
LAST_WALL=""
measure_once() {
    local name=$1
    shift
    local wall cpu rss
    RUN_NO[$name]=$((${RUN_NO[$name]:-0} + 1))
    rm -rf "$WORK/$name.run"
    mkdir -p "$WORK/$name.run"
    if ! /usr/bin/time -v -o "$WORK/$name.time" "$@" >"$WORK/$name.run/stdout" 2>"$WORK/$name.run/stderr"; then
        cat "$WORK/$name.run/stderr" >&2
        die "$name failed (run ${RUN_NO[$name]})"
    fi
    wall=$(wall_secs "$WORK/$name.time")
    cpu=$(awk -v u="$(time_field "$WORK/$name.time" 'User time (seconds)')" \
        -v s="$(time_field "$WORK/$name.time" 'System time (seconds)')" 'BEGIN { printf "%.2f", u + s }')
    rss=$(time_field "$WORK/$name.time" 'Maximum resident set size (kbytes)')
    log "$name run ${RUN_NO[$name]}: ${wall} s wall, ${cpu} s CPU, $((rss / 1024)) MiB max RSS"
    [ "$rss" -gt "${PEAK_KB[$name]:-0}" ] && PEAK_KB[$name]=$rss
    LAST_WALL=$wall
    if [ -z "${BEST_WALL[$name]:-}" ] || awk -v a="$wall" -v b="${BEST_WALL[$name]}" 'BEGIN { exit !(a < b) }'; then
        BEST_WALL[$name]=$wall
        BEST_CPU[$name]=$cpu
        rm -rf "$WORK/$name.best"
        cp -r "$WORK/$name.run" "$WORK/$name.best"
    fi
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# --- apitap -----------------------------------------------------------------------------------

APITAP_ARGS=(replay "$PCAP" --key-file "$WORK/key" -q)
if "$APITAP" replay --help | grep -q -- '--no-progress'; then
    APITAP_ARGS+=(--no-progress)
fi

# --- Suricata ---------------------------------------------------------------------------------

S_VERSION=""
if [ "$SKIP_SURICATA" != 1 ]; then
    S_VERSION=$(suricata -V 2>/dev/null | grep -o '[0-9][0-9.]*' | head -n1)
    case "$S_VERSION" in
        7.*) ;;
        *) log "warning: Suricata $S_VERSION is not 7.x: the ratio is not the one the target names" ;;
    esac
    : >"$WORK/empty.rules"
    disabled=""
    for p in dcerpc dhcp dnp3 dns enip ftp http2 ike imap krb5 modbus mqtt nfs ntp pgsql quic rdp \
        rfb sip smb smtp snmp ssh telnet tftp tls bittorrent-dht; do
        disabled+="    $p:"$'\n'"      enabled: no"$'\n'
    done
    cat >"$WORK/suricata.yaml" <<EOF
%YAML 1.1
---
# apitap throughput benchmark: HTTP app-layer only, EVE http events only, no rules.
default-log-dir: $WORK
max-pending-packets: 1024
runmode: single
stats:
  enabled: no
outputs:
  - eve-log:
      enabled: yes
      filetype: regular
      filename: eve.json
      types:
        - http:
            extended: yes
logging:
  default-log-level: notice
  outputs:
    - console:
        enabled: yes
unix-command:
  enabled: no
app-layer:
  protocols:
    http:
      enabled: yes
      libhtp:
        default-config:
          personality: IDS
          request-body-limit: 100kb
          response-body-limit: 100kb
$disabled
stream:
  memcap: 256mb
  checksum-validation: no
  reassembly:
    memcap: 512mb
    depth: 1mb
flow:
  memcap: 256mb
default-rule-path: $WORK
rule-files: []
EOF
fi

# --- rounds -----------------------------------------------------------------------------------
# Wall time on a shared virtual machine drifts by tens of percent from one minute to the next,
# so the tools take turns: each round runs every apitap build once, then Suricata once, and
# all best runs come from the same stretch of time. The best of each is the headline ratio;
# the median of the per-round ratios is printed next to it.

BUILDS=(release)
declare -A BIN=([release]=$APITAP)
if [ "$PGO" = 1 ]; then
    log "profile-guided build (deploy/build-pgo.sh)"
    BIN[pgo]=$(bash "$ROOT/deploy/build-pgo.sh" | tail -n1)
    BUILDS+=(pgo)
fi
log "apitap: ${APITAP_ARGS[*]} (builds: ${BUILDS[*]})"
if [ "$SKIP_SURICATA" != 1 ]; then log "suricata $S_VERSION: suricata -r FILE --runmode single -k none"; fi
declare -A ROUND_RATIOS=() ROUND_WALL=()
for round in $(seq 1 "$RUNS"); do
    for b in "${BUILDS[@]}"; do
        measure_once "apitap-$b" "${BIN[$b]}" "${APITAP_ARGS[@]}" \
            --summary-json "$WORK/apitap-$b.run/summary.json"
        ROUND_WALL[$b]=$LAST_WALL
    done
    if [ "$SKIP_SURICATA" != 1 ]; then
        measure_once suricata suricata -r "$PCAP" --runmode single -k none -c "$WORK/suricata.yaml" \
            -S "$WORK/empty.rules" -l "$WORK/suricata.run"
        for b in "${BUILDS[@]}"; do
            r=$(awk -v a="${ROUND_WALL[$b]}" -v s="$LAST_WALL" 'BEGIN { printf "%.2f", s / a }')
            log "round $round: suricata/apitap ($b build) wall ratio ${r}x"
            ROUND_RATIOS[$b]="${ROUND_RATIOS[$b]:-} $r"
        done
    fi
done

SUMMARY=$WORK/apitap-release.best/summary.json
# Flat numbers out of the summary JSON without jq: packets.packets, packets.bytes, records.built.
json_num() { tr -d ' \n' <"$1" | grep -o "\"$2\":{[^}]*}" | grep -o "\"$3\":[0-9][0-9]*" | head -n1 | cut -d: -f2; }
PACKETS=$(json_num "$SUMMARY" packets packets)
BYTES=$(json_num "$SUMMARY" packets bytes)
[ -n "$PACKETS" ] && [ -n "$BYTES" ] || die "could not read $SUMMARY"
declare -A EXCH=()
for b in "${BUILDS[@]}"; do
    EXCH[$b]=$(json_num "$WORK/apitap-$b.best/summary.json" records built)
    [ -n "${EXCH[$b]}" ] || die "could not read the $b build's summary"
done
S_EXCH=""
if [ "$SKIP_SURICATA" != 1 ]; then
    S_EXCH=$(grep -c '"event_type":"http"' "$WORK/suricata.best/eve.json" || true)
fi

# --- report -----------------------------------------------------------------------------------

rates() { # wall exchanges -> "Gbit/s packets/s exchanges/s" (exchanges as counted by that tool)
    awk -v b="$BYTES" -v p="$PACKETS" -v e="$2" -v w="$1" \
        'BEGIN { printf "%.3f %.0f %.0f", b * 8 / w / 1e9, p / w, e / w }'
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
TOOLS=()
for b in "${BUILDS[@]}"; do TOOLS+=("apitap-$b"); done
if [ "$SKIP_SURICATA" != 1 ]; then TOOLS+=(suricata); fi
declare -A T_EXCH=() T_GBPS=() T_PPS=() T_EPS=()
for t in "${TOOLS[@]}"; do
    if [ "$t" = suricata ]; then T_EXCH[$t]=$S_EXCH; else T_EXCH[$t]=${EXCH[${t#apitap-}]}; fi
    read -r T_GBPS[$t] T_PPS[$t] T_EPS[$t] <<<"$(rates "${BEST_WALL[$t]}" "${T_EXCH[$t]}")"
done

echo
echo "apitap throughput benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPU(s), best of $RUNS rounds)"
printf '  capture            %s\n' "$PCAP"
printf '  file size          %s bytes (%.1f MiB)\n' "$FILE_BYTES" "$(awk -v b="$FILE_BYTES" 'BEGIN { print b / 1048576 }')"
printf '  packets            %s\n' "$PACKETS"
printf '  packet bytes       %s\n' "$BYTES"
printf '  exchanges (gen)    %s\n' "${GEN_EXCHANGES:-?}"
echo
row() {
    local label=$1 t
    shift
    printf '  %-18s' "$label"
    for t in "${TOOLS[@]}"; do printf ' %16s' "$("$@" "$t")"; done
    echo
}
name_of() { echo "$1"; }
exch_of() { echo "${T_EXCH[$1]}"; }
wall_of() { echo "${BEST_WALL[$1]}"; }
cpu_of() { echo "${BEST_CPU[$1]}"; }
gbps_of() { echo "${T_GBPS[$1]}"; }
pps_of() { echo "${T_PPS[$1]}"; }
eps_of() { echo "${T_EPS[$1]}"; }
rss_of() { mib "${PEAK_KB[$1]}"; }
row "" name_of
row "exchanges seen" exch_of
row "wall seconds" wall_of
row "CPU seconds" cpu_of
row "Gbit/s" gbps_of
row "packets/s" pps_of
row "exchanges/s" eps_of
row "peak RSS MiB" rss_of
echo

missed=0
for b in "${BUILDS[@]}"; do
    t=apitap-$b
    if [ -n "${GEN_EXCHANGES:-}" ] && [ "${EXCH[$b]}" != "$GEN_EXCHANGES" ]; then
        echo "  WARNING: the $b build made ${EXCH[$b]} records for $GEN_EXCHANGES generated exchanges"
    fi
    if [ "$SKIP_SURICATA" != 1 ]; then
        ratio=$(awk -v a="${BEST_WALL[$t]}" -v s="${BEST_WALL[suricata]}" 'BEGIN { printf "%.2f", s / a }')
        cpu_ratio=$(awk -v a="${BEST_CPU[$t]}" -v s="${BEST_CPU[suricata]}" 'BEGIN { if (a > 0) printf "%.2f", s / a; else print "-" }')
        if awk -v r="$ratio" -v t="$TARGET_RATIO" 'BEGIN { exit !(r >= t) }'; then verdict=met; else verdict=MISSED; missed=1; fi
        printf '  %-8s build: %sx Suricata by wall time (%sx by CPU time): target >= %sx %s\n' \
            "$b" "$ratio" "$cpu_ratio" "$TARGET_RATIO" "$verdict"
        printf '                  per-round ratios %s (median %sx)\n' "${ROUND_RATIOS[$b]# }" "$(echo "${ROUND_RATIOS[$b]}" | median)"
    fi
    rss_mib=$(mib "${PEAK_KB[$t]}")
    if awk -v r="$rss_mib" -v t="$TARGET_RSS_MIB" 'BEGIN { exit !(r <= t) }'; then verdict=met; else verdict=MISSED; missed=1; fi
    printf '  %-8s build: peak RSS %s MiB: target <= %s MiB %s\n' "$b" "$rss_mib" "$TARGET_RSS_MIB" "$verdict"
done

if [ "$STRICT" = 1 ] && [ "$missed" = 1 ]; then
    exit 1
fi
