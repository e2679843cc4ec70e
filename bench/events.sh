# The event-stream workloads of scripts/bench (Issue 12), sourced by it: fetch and create with
# 20 clients reading the whole event stream, as `curl -N` would, and the event delivery
# latency. Uses scripts/bench's bench, start_emu, stop_pid, seed and its settings.

SSE_PIDS=()
start_sse() {
    for _ in $(seq 1 20); do
        curl -sN "$BASE/_emulator/events" >/dev/null 2>&1 &
        SSE_PIDS+=("$!")
        PIDS+=("$!")
    done
    sleep 0.5
}
stop_sse() {
    for pid in "${SSE_PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
    SSE_PIDS=()
    sleep 0.5
}
fetch_sse() { bench fetch-sse "fetch JSON, 20 event-stream clients connected" fetch ">= 0.95x fetch without them" 0.95 "$DURATION" "$BASE" fetch "$SEED"; }
create_sse() { bench create-sse "create validation request, 20 event-stream clients connected" create ">= 0.95x create without them" 0.95 "$DURATION" "$BASE" create "$SEED" 7; }
event_latency() { python3 "$ROOT/bench/event_latency.py" --port "$PORT" --account "$ACCOUNT" --token "$TOKEN" | tee -a "$FACTS"; }

# BENCH_ONLY=events: each pair (without, then with the clients) back to back on one server, on
# a freshly seeded database, then the latency.
events_bench() {
    echo "== events: fetch and create without and with 20 event-stream clients, ${DURATION}s each"
    local db="$WORK/events.db"
    start_emu "$db"
    stop_pid "$EMU_PID"
    seed "$db" 1 "$SEED"
    start_emu "$db"
    sleep 1
    bench fetch "fetch JSON" "" "" "" "$DURATION" "$BASE" fetch "$SEED"
    start_sse
    fetch_sse
    stop_sse
    bench create "create validation request (new number each)" "" "" "" "$DURATION" "$BASE" create "$SEED"
    start_sse
    create_sse
    event_latency
    stop_sse
    stop_pid "$EMU_PID"
}
