# Process helpers shared by the scripts that run servers, tools and sensors in network
# namespaces (tests/live/live_capture.sh, fixtures/real/capture.sh). Sourced, not run.

alive() {
    # alive PID: the process exists and is not a zombie (kill -0 succeeds on an unreaped
    # child, so it cannot tell).
    local state
    state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
    [ -n "$state" ] && [ "$state" != "Z" ] && [ "$state" != "X" ]
}

stop_pid() {
    # stop_pid PID SIGNAL [SECONDS]: signal, wait at most SECONDS (default 5), then SIGKILL.
    local pid="$1" sig="$2" tenths=$((${3:-5} * 10)) i
    [ -n "$pid" ] || return 0
    alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
    kill "-$sig" "$pid" 2>/dev/null || true
    for i in $(seq 1 "$tenths"); do
        alive "$pid" || break
        sleep 0.1
    done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
