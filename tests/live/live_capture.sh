#!/usr/bin/env bash
# Live capture end-to-end test for `apitap capture`.
#
# Builds a private two-namespace network joined by a veth pair (addresses from the
# benchmarking range 198.18.0.0/15 only), runs a real HTTP server (nginx, or a tiny Python
# server when nginx is missing) in the server namespace, captures on the server's veth with
# `apitap capture`, drives a fixed set of curl requests from the client namespace, stops the
# sensor with SIGINT and checks the records it wrote.
#
# Usage: tests/live/live_capture.sh [--install] [--keep-output DIR]
#   --install          apt-get install the missing tools (nginx-light curl iproute2 python3)
#   --keep-output DIR  copy the records, summary and logs into DIR (for debugging)
# Environment:
#   APITAP_BIN         the apitap binary (default: <target>/debug/apitap, built by cargo)
#   CARGO_TARGET_DIR   where to look for / build the binary when APITAP_BIN is unset
#   APITAP_LIVE_SERVER nginx | python  (force one server; default: nginx when present)
#
# Needs root (network namespaces). Every wait is bounded; a trap removes the namespaces,
# the veth pair, the temp dir and every background process on any exit.
set -euo pipefail

readonly SRV_IP=198.18.0.1
readonly CLI_IP=198.18.0.2
readonly PORT=8080
readonly BASE="http://${SRV_IP}:${PORT}"

INSTALL=0
KEEP_DIR=""
while [ $# -gt 0 ]; do
    case "$1" in
        --install) INSTALL=1 ;;
        --keep-output)
            shift
            KEEP_DIR="${1:?--keep-output needs a directory}"
            ;;
        -h | --help)
            sed -n '2,20p' "$0"
            exit 0
            ;;
        *)
            echo "live_capture: unknown argument: $1" >&2
            exit 2
            ;;
    esac
    shift
done

log() { echo "live_capture: $*" >&2; }

VERDICT_PRINTED=0
fail() {
    log "$*"
    echo "FAIL: live capture test: $*"
    VERDICT_PRINTED=1
    exit 1
}

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"

# ---------------------------------------------------------------- prerequisites

if [ "$(id -u)" -ne 0 ]; then
    fail "needs root (network namespaces)"
fi

need_install=()
command -v ip >/dev/null 2>&1 || need_install+=(iproute2)
command -v curl >/dev/null 2>&1 || need_install+=(curl)
command -v python3 >/dev/null 2>&1 || need_install+=(python3)
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    need_install+=(nginx-light)
fi
if [ "${#need_install[@]}" -gt 0 ]; then
    if [ "$INSTALL" -eq 1 ]; then
        log "installing: ${need_install[*]}"
        export DEBIAN_FRONTEND=noninteractive
        timeout 300 apt-get update -qq >/dev/null || log "apt-get update failed (continuing)"
        timeout 600 apt-get install -y -qq --no-install-recommends "${need_install[@]}" >/dev/null ||
            log "apt-get install failed (continuing with what is there)"
        # Debian starts the packaged nginx service on install; it listens on the host's
        # port 80 only and is not used here, but do not leave it running because of us.
        if [[ " ${need_install[*]} " == *" nginx-light "* ]]; then
            if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
                systemctl stop nginx >/dev/null 2>&1 || true
            elif command -v service >/dev/null 2>&1; then
                service nginx stop >/dev/null 2>&1 || true
            fi
        fi
    else
        log "missing tools: ${need_install[*]} (run with --install to install them)"
    fi
fi
for t in ip curl python3; do
    command -v "$t" >/dev/null 2>&1 || fail "required tool '$t' is missing (run with --install)"
done

NGINX=""
if [ "${APITAP_LIVE_SERVER:-}" != "python" ]; then
    NGINX="$(command -v nginx 2>/dev/null || true)"
    [ -z "$NGINX" ] && [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx
fi
if [ "${APITAP_LIVE_SERVER:-}" = "nginx" ] && [ -z "$NGINX" ]; then
    fail "APITAP_LIVE_SERVER=nginx but nginx is not installed"
fi

# The binary: APITAP_BIN, else <target>/debug/apitap, (re)built by cargo so that it is never
# stale (a no-op when it is up to date).
BIN="${APITAP_BIN:-}"
if [ -z "$BIN" ]; then
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/apitap"
    log "cargo build -p apitap-sensor --bin apitap ($BIN)"
    (cd "$ROOT" && timeout 1800 cargo build -q -p apitap-sensor --bin apitap) ||
        fail "cargo build -p apitap-sensor --bin apitap failed"
fi
[ -x "$BIN" ] || fail "apitap binary not found or not executable: $BIN"
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"

# ---------------------------------------------------------------- cleanup

SUFFIX="$$-${RANDOM}"
NS_SRV="apitap-srv-${SUFFIX}"
NS_CLI="apitap-cli-${SUFFIX}"
# Interface names live inside the namespaces (created there directly), so they never clash
# with the host's; they must still fit IFNAMSIZ (15).
VETH_SRV="apt-srv0"
VETH_CLI="apt-cli0"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/apitap-live.XXXXXX")"
SERVER_PID=""
SENSOR_PID=""

# shellcheck source=proc.sh
source "$SCRIPT_DIR/proc.sh"

cleanup() {
    local rc=$?
    set +e
    if [ "$rc" -ne 0 ] && [ "$VERDICT_PRINTED" -eq 0 ]; then
        echo "FAIL: live capture test: aborted (exit status $rc)"
    fi
    stop_pid "$SENSOR_PID" KILL
    stop_pid "$SERVER_PID" TERM
    # Anything else still running inside our namespaces (by pid, from the kernel's list).
    local ns pids
    for ns in "$NS_SRV" "$NS_CLI"; do
        pids="$(ip netns pids "$ns" 2>/dev/null)"
        if [ -n "$pids" ]; then
            # shellcheck disable=SC2086
            kill -KILL $pids 2>/dev/null
        fi
    done
    if [ -n "$KEEP_DIR" ] && [ -d "$TMP" ]; then
        mkdir -p "$KEEP_DIR" && cp -r "$TMP"/. "$KEEP_DIR"/ 2>/dev/null
    fi
    ip netns exec "$NS_SRV" ip link del "$VETH_SRV" >/dev/null 2>&1
    ip netns del "$NS_SRV" >/dev/null 2>&1
    ip netns del "$NS_CLI" >/dev/null 2>&1
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- network

# Foreground helpers only: a backgrounded shell function would make $! a subshell's pid.
in_srv() { ip netns exec "$NS_SRV" "$@"; }
in_cli() { ip netns exec "$NS_CLI" "$@"; }

ip netns add "$NS_SRV" || fail "ip netns add failed (no network namespace support?)"
ip netns add "$NS_CLI" || fail "ip netns add failed"
ip link add "$VETH_SRV" netns "$NS_SRV" type veth peer name "$VETH_CLI" netns "$NS_CLI" ||
    fail "cannot create the veth pair"
for ns in "$NS_SRV" "$NS_CLI"; do
    ip netns exec "$ns" ip link set lo up
    # No IPv6 on the test link: keeps the capture to the test's own traffic.
    ip netns exec "$ns" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6' 2>/dev/null || true
done
in_srv ip addr add "${SRV_IP}/30" dev "$VETH_SRV"
in_cli ip addr add "${CLI_IP}/30" dev "$VETH_CLI"
in_srv ip link set "$VETH_SRV" up
in_cli ip link set "$VETH_CLI" up
# Neither namespace has a default route: nothing can leave 198.18.0.0/30.

# ---------------------------------------------------------------- content

mkdir -p "$TMP/www/api" "$TMP/nginx"
STATIC_BODY='{"service":"apitap-live","items":[{"id":1,"name":"alpha"},{"id":2,"name":"beta"}],"total":2}'
API_BODY='{"ok":true,"api":"v1","data":{"id":42,"name":"widget"}}'
NOTFOUND_JSON='{"error":"not found"}'
printf '%s\n' "$STATIC_BODY" >"$TMP/www/data.json"
STATIC_SIZE=$(wc -c <"$TMP/www/data.json")
API_SIZE=${#API_BODY}

start_nginx() {
    cat >"$TMP/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 64; }
http {
    access_log $TMP/nginx/access.log;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    server_tokens off;
    keepalive_timeout 10s;
    types { application/json json; text/html html; }
    default_type application/octet-stream;
    server {
        listen ${SRV_IP}:${PORT};
        root $TMP/www;
        location = /data.json { }
        location /api/ {
            default_type application/json;
            return 200 '${API_BODY}';
        }
        location / {
            return 404;
        }
    }
}
EOF
    ip netns exec "$NS_SRV" "$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" >"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
}

start_python() {
    cat >"$TMP/server.py" <<'EOF'
import http.server, os, sys

HOST, PORT, ROOT, API_BODY, NOTFOUND = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "test"
    sys_version = ""

    def send_body(self, code, ctype, body):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def drain(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)

    def route(self):
        self.drain()
        path = self.path.split("?", 1)[0]
        if path == "/data.json" and self.command == "GET":
            with open(os.path.join(ROOT, "data.json"), "rb") as f:
                self.send_body(200, "application/json", f.read())
        elif path.startswith("/api/"):
            self.send_body(200, "application/json", API_BODY.encode())
        else:
            self.send_body(404, "application/json", NOTFOUND.encode())

    do_GET = do_POST = do_HEAD = route

    def log_message(self, fmt, *args):
        sys.stderr.write(fmt % args + "\n")

http.server.HTTPServer((HOST, PORT), Handler).serve_forever()
EOF
    ip netns exec "$NS_SRV" python3 "$TMP/server.py" "$SRV_IP" "$PORT" "$TMP/www" "$API_BODY" "$NOTFOUND_JSON" \
        >"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
}

if [ -n "$NGINX" ]; then
    SERVER_KIND=nginx
    start_nginx
else
    SERVER_KIND=python
    if [ "${APITAP_LIVE_SERVER:-}" = python ]; then
        log "using the Python server (APITAP_LIVE_SERVER=python)"
    else
        log "nginx not found: using the Python fallback server"
    fi
    start_python
fi

# Wait (at most 10 s) for the server to listen.
listening=0
for _ in $(seq 1 100); do
    if in_srv ss -Hltn "sport = :${PORT}" 2>/dev/null | grep -q "${SRV_IP}:${PORT}"; then
        listening=1
        break
    fi
    alive "$SERVER_PID" || break
    sleep 0.1
done
if [ "$listening" -ne 1 ]; then
    cat "$TMP/server.log" >&2 || true
    [ -f "$TMP/nginx/error.log" ] && cat "$TMP/nginx/error.log" >&2
    fail "$SERVER_KIND did not start listening on ${SRV_IP}:${PORT}"
fi
log "server: $SERVER_KIND on ${SRV_IP}:${PORT} (namespace $NS_SRV)"

# ---------------------------------------------------------------- sensor

RECORDS="$TMP/records.jsonl"
SUMMARY="$TMP/summary.json"
SENSOR_LOG="$TMP/apitap.stderr"
# A background job of a non-interactive shell starts with SIGINT ignored; give the sensor
# the default disposition back so the SIGINT below reaches it as it would from a terminal.
DEFSIG=()
env --default-signal=INT true 2>/dev/null && DEFSIG=(env --default-signal=INT)
# (`ip netns exec` execs the command: $! is the sensor's own pid.)
ip netns exec "$NS_SRV" "${DEFSIG[@]}" "$BIN" capture -i "$VETH_SRV" -f "tcp port ${PORT}" --records "$RECORDS" \
    --summary-json "$SUMMARY" --key-file "$TMP/identity.key" --duration 25 \
    >"$TMP/apitap.stdout" 2>"$SENSOR_LOG" &
SENSOR_PID=$!

# Ready once the sensor holds a packet socket in the server namespace (at most 10 s).
ready=0
for _ in $(seq 1 100); do
    if ! alive "$SENSOR_PID"; then
        break
    fi
    if [ "$(in_srv cat /proc/net/packet 2>/dev/null | wc -l)" -gt 1 ]; then
        ready=1
        break
    fi
    sleep 0.1
done
if [ "$ready" -ne 1 ]; then
    cat "$SENSOR_LOG" >&2 || true
    if alive "$SENSOR_PID"; then
        fail "apitap capture opened no packet socket within 10 s"
    fi
    early_rc=0
    wait "$SENSOR_PID" || early_rc=$?
    SENSOR_PID=""
    fail "apitap capture exited (status $early_rc) before capturing; is $BIN a current build?"
fi
sleep 0.5 # let libpcap finish setting the filter up

# ---------------------------------------------------------------- traffic

CURL=(curl -sS --max-time 5 --connect-timeout 3 -A "apitap-live-test/1.0" --noproxy '*')
WOUT='%{http_code} %{size_download} %{num_connects}\n'
mkdir -p "$TMP/bodies"
: >"$TMP/curl.out"

# 1-5: five GETs on one keep-alive connection (one curl invocation).
in_cli timeout 20 "${CURL[@]}" -w "$WOUT" \
    -o "$TMP/bodies/1" "$BASE/data.json" \
    -o "$TMP/bodies/2" "$BASE/api/users" \
    -o "$TMP/bodies/3" "$BASE/api/users/42?verbose=1" \
    -o "$TMP/bodies/4" "$BASE/data.json?page=2" \
    -o "$TMP/bodies/5" "$BASE/api/health" >>"$TMP/curl.out" || fail "curl (keep-alive GETs) failed"
# 6: POST with a JSON body.
POST_BODY='{"name":"widget","qty":3,"tags":["a","b"]}'
in_cli timeout 10 "${CURL[@]}" -w "$WOUT" -o "$TMP/bodies/6" -X POST \
    -H 'Content-Type: application/json' --data-binary "$POST_BODY" "$BASE/api/items" \
    >>"$TMP/curl.out" || fail "curl (POST) failed"
# 7: basic auth.
in_cli timeout 10 "${CURL[@]}" -w "$WOUT" -o "$TMP/bodies/7" -u alice:secret "$BASE/api/me" \
    >>"$TMP/curl.out" || fail "curl (basic auth) failed"
# 8: a 404.
in_cli timeout 10 "${CURL[@]}" -w "$WOUT" -o "$TMP/bodies/8" "$BASE/nope/missing.json" \
    >>"$TMP/curl.out" || fail "curl (404) failed"

log "curl results (code size connects):"
sed 's/^/live_capture:   /' "$TMP/curl.out" >&2

# Let the last FIN/ACKs reach the capture, then stop the sensor (SIGINT, at most 10 s).
sleep 1
alive "$SENSOR_PID" || {
    cat "$SENSOR_LOG" >&2 || true
    fail "apitap exited before SIGINT"
}
kill -INT "$SENSOR_PID"
sensor_rc=""
for _ in $(seq 1 100); do
    if ! alive "$SENSOR_PID"; then
        sensor_rc=0
        wait "$SENSOR_PID" || sensor_rc=$?
        break
    fi
    sleep 0.1
done
SENSOR_PID_DONE="$SENSOR_PID"
SENSOR_PID=""
if [ -z "$sensor_rc" ]; then
    stop_pid "$SENSOR_PID_DONE" KILL
    cat "$SENSOR_LOG" >&2 || true
    fail "apitap did not exit within 10 s of SIGINT (the link was idle by then: does a stop request wake a capture blocked in libpcap?)"
fi
log "apitap exited with $sensor_rc; its stderr:"
sed 's/^/live_capture:   | /' "$SENSOR_LOG" >&2 || true
[ "$sensor_rc" -eq 0 ] || fail "apitap exited with status $sensor_rc"
[ -f "$RECORDS" ] || fail "no records file written"

# ---------------------------------------------------------------- checks

python3 - "$RECORDS" "$TMP/curl.out" "$TMP/bodies" "$SUMMARY" "$SENSOR_LOG" "$TMP/apitap.stdout" \
    "$STATIC_SIZE" "$API_SIZE" "${#POST_BODY}" "$SRV_IP" "$CLI_IP" "$PORT" <<'EOF' ||
import base64, json, os, sys

(records_path, curl_out, bodies_dir, summary_path, stderr_path, stdout_path,
 static_size, api_size, post_size, srv_ip, cli_ip, port) = sys.argv[1:]
static_size, api_size, post_size, port = int(static_size), int(api_size), int(post_size), int(port)
errors = []

def check(cond, msg):
    if not cond:
        errors.append(msg)

def get(rec, dotted):
    """Value at an ECS dotted path: nested objects, or a flat dotted key at any level."""
    cur = rec
    parts = dotted.split(".")
    i = 0
    while i < len(parts):
        if not isinstance(cur, dict):
            return None
        for j in range(len(parts), i, -1):
            key = ".".join(parts[i:j])
            if key in cur:
                cur = cur[key]
                i = j
                break
        else:
            return None
    return cur

raw = open(records_path, encoding="utf-8", errors="replace").read()
records = []
for n, line in enumerate(raw.splitlines(), 1):
    if not line.strip():
        continue
    try:
        records.append(json.loads(line))
    except ValueError as e:
        errors.append(f"records line {n} is not JSON: {e}: {line[:200]!r}")

# What curl saw: status code and body bytes per request, in order.
curl = [l.split() for l in open(curl_out).read().splitlines() if l.strip()]
# (method, url.original, url.path, status, response body bytes)
expected = [
    ("GET", "/data.json", "/data.json", 200, static_size),
    ("GET", "/api/users", "/api/users", 200, api_size),
    ("GET", "/api/users/42?verbose=1", "/api/users/42", 200, api_size),
    ("GET", "/data.json?page=2", "/data.json", 200, static_size),
    ("GET", "/api/health", "/api/health", 200, api_size),
    ("POST", "/api/items", "/api/items", 200, api_size),
    ("GET", "/api/me", "/api/me", 200, api_size),
    ("GET", "/nope/missing.json", "/nope/missing.json", 404, None),
]
check(len(curl) == len(expected), f"curl reported {len(curl)} transfers, expected {len(expected)}")
for i, (exp, got) in enumerate(zip(expected, curl)):
    code, size = int(got[0]), int(got[1])
    check(code == exp[3], f"curl request {i + 1}: HTTP {code}, expected {exp[3]}")
    if exp[4] is not None:
        check(size == exp[4], f"curl request {i + 1}: {size} body bytes, expected {exp[4]}")
    on_disk = os.path.getsize(os.path.join(bodies_dir, str(i + 1)))
    check(on_disk == size, f"curl request {i + 1}: body file {on_disk} bytes, curl said {size}")
# The first five went over one connection.
if len(curl) >= 5:
    check(sum(int(c[2]) for c in curl[:5]) == 1,
          "the five keep-alive GETs did not share one connection: " + str([c[2] for c in curl[:5]]))

check(len(records) == len(expected), f"{len(records)} records, expected {len(expected)} exchanges")

def key(rec):
    return (str(get(rec, "@timestamp") or ""), get(rec, "apitap.flow_id") or 0,
            get(rec, "apitap.trans_depth") or 0)

records.sort(key=key)
by_original = {}
for r in records:
    by_original.setdefault(get(r, "url.original"), []).append(r)

for i, (method, original, path, status, _) in enumerate(expected):
    found = by_original.get(original) or []
    if len(found) != 1:
        errors.append(f"{len(found)} records for {method} {original}, expected 1")
        continue
    r = found[0]
    where = f"record {method} {original}"
    check(get(r, "http.request.method") == method, f"{where}: method {get(r, 'http.request.method')!r}")
    check(get(r, "url.path") == path, f"{where}: url.path {get(r, 'url.path')!r}, expected {path!r}")
    check(get(r, "http.response.status_code") == status,
          f"{where}: status {get(r, 'http.response.status_code')!r}, expected {status}")
    served = int(curl[i][1]) if i < len(curl) else None
    got = get(r, "http.response.body.bytes")
    check(served is not None and got == served,
          f"{where}: http.response.body.bytes {got!r}, server sent {served}")
    check(get(r, "destination.ip") == srv_ip, f"{where}: destination.ip {get(r, 'destination.ip')!r}")
    check(get(r, "destination.port") == port, f"{where}: destination.port {get(r, 'destination.port')!r}")
    check(get(r, "source.ip") == cli_ip, f"{where}: source.ip {get(r, 'source.ip')!r}")
    sport = get(r, "source.port")
    check(isinstance(sport, int) and 1024 <= sport <= 65535, f"{where}: source.port {sport!r}")
    check(get(r, "user_agent.original") == "apitap-live-test/1.0",
          f"{where}: user_agent.original {get(r, 'user_agent.original')!r}")
    expected_req_body = post_size if method == "POST" else 0
    check(get(r, "http.request.body.bytes") == expected_req_body,
          f"{where}: http.request.body.bytes {get(r, 'http.request.body.bytes')!r}, expected {expected_req_body}")
    if i < 5:
        check(get(r, "apitap.trans_depth") == i + 1,
              f"{where}: apitap.trans_depth {get(r, 'apitap.trans_depth')!r}, expected {i + 1}")
    else:
        check(get(r, "apitap.trans_depth") == 1, f"{where}: apitap.trans_depth {get(r, 'apitap.trans_depth')!r}")
    check(not get(r, "apitap.midstream"), f"{where}: flagged midstream although the handshake was captured")
    if original == "/api/me":
        uid = get(r, "user.id")
        check(isinstance(uid, str) and uid != "", f"{where}: user.id missing for the basic-auth request")
        check(get(r, "apitap.identity.kind") == "basic",
              f"{where}: apitap.identity.kind {get(r, 'apitap.identity.kind')!r}, expected 'basic'")
    else:
        check(get(r, "user.id") is None, f"{where}: unexpected user.id {get(r, 'user.id')!r}")

# The keep-alive GETs share a flow; the other requests each have their own.
flows = [get(r, "apitap.flow_id") for r in (by_original.get(e[1], [None])[0] for e in expected) if r]
if len(flows) == len(expected):
    check(len(set(flows[:5])) == 1, f"keep-alive GETs span flows {flows[:5]}")
    check(len(set(flows)) == 4, f"expected 4 distinct flows, got {sorted(set(flows))}")

# No credential in clear, anywhere the sensor wrote.
secrets = ["alice", base64.b64encode(b"alice:secret").decode()]
outputs = {"records": raw}
for name, p in (("summary", summary_path), ("stderr", stderr_path), ("stdout", stdout_path)):
    if os.path.exists(p):
        outputs[name] = open(p, encoding="utf-8", errors="replace").read()
for name, text in outputs.items():
    for s in secrets:
        check(s not in text, f"{name} contains the credential {s!r} in clear")

def strings(v):
    if isinstance(v, dict):
        for k, x in v.items():
            yield k
            yield from strings(x)
    elif isinstance(v, list):
        for x in v:
            yield from strings(x)
    elif isinstance(v, str):
        yield v

for r in records:
    for s in strings(r):
        check("secret" not in s, f"a record holds {s!r} (the password in clear)")
        check("alice" not in s, f"a record holds {s!r} (the user name in clear)")

if os.path.exists(summary_path) and os.path.getsize(summary_path) > 0:
    try:
        json.load(open(summary_path))
    except ValueError as e:
        errors.append(f"summary JSON does not parse: {e}")

if errors:
    print(f"{len(errors)} check(s) failed:", file=sys.stderr)
    for e in errors:
        print("  - " + e, file=sys.stderr)
    print("records:", file=sys.stderr)
    for r in records:
        print("  " + json.dumps(r, sort_keys=True), file=sys.stderr)
    sys.exit(1)
print(f"{len(records)} records checked", file=sys.stderr)
EOF
    fail "record checks failed (see above)"

VERDICT_PRINTED=1
echo "PASS: live capture test ($SERVER_KIND, $(wc -l <"$RECORDS") records)"
