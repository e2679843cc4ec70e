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

# pair NAME LABEL MODE N: run MODE without the clients, then with them, on the running server;
# pair N's rows are NAME-N and NAME-sse-N (the latter with its ratio to the former). For
# create, each run has numbers of its own (tags 2N-1 and 2N). Machine noise moves requests/s
# by 10-30% from one run to the next, so the target is judged on the median of the pairs'
# ratios (the events_NAME_ratio_median fact).
pair() {
    local name=$1 label=$2 mode=$3 n=$4 plain="" sse=""
    if [ "$mode" = create ]; then
        plain=$((2 * n - 1))
        sse=$((2 * n))
    fi
    bench "$name-$n" "$label (pair $n)" "" "" "" "$DURATION" "$BASE" "$mode" "$SEED" "$plain"
    start_sse
    bench "$name-sse-$n" "$label, 20 event-stream clients connected (pair $n)" "$name-$n" \
        ">= 0.95x without them" 0.95 "$DURATION" "$BASE" "$mode" "$SEED" "$sse"
    stop_sse
}

# The median over the pairs of NAME-sse-N / NAME-N, as a fact.
pairs_median() {
    python3 - "$RESULTS" "$1" <<'PY' | tee -a "$FACTS"
import json, statistics, sys
rows = {r["name"]: r for r in map(json.loads, open(sys.argv[1])) if r}
name = sys.argv[2]
ratios = [rows[f"{name}-sse-{n}"]["rps"] / rows[f"{name}-{n}"]["rps"]
          for n in range(1, 100) if f"{name}-sse-{n}" in rows]
print(f"events_{name}_ratios={' '.join(f'{r:.2f}' for r in ratios)}")
print(f"events_{name}_ratio_median={statistics.median(ratios):.2f}")
PY
}

# BENCH_ONLY=events: $EVENT_PAIRS pairs of each (without, then with the clients, back to back)
# on one server, on a freshly seeded database, then the latency.
events_bench() {
    echo "== events: fetch and create without and with 20 event-stream clients, ${DURATION}s each"
    local db="$WORK/events.db"
    start_emu "$db"
    stop_pid "$EMU_PID"
    seed "$db" 1 "$SEED"
    start_emu "$db"
    sleep 1
    local n
    for n in $(seq 1 "$EVENT_PAIRS"); do
        pair fetch "fetch JSON" fetch "$n"
    done
    pairs_median fetch
    for n in $(seq 1 "$EVENT_PAIRS"); do
        pair create "create validation request (new number each)" create "$n"
    done
    pairs_median create
    start_sse
    event_latency
    stop_sse
    stop_pid "$EMU_PID"
}
