# The StatusCallback flow workloads of scripts/bench (issue 15), sourced by it. Uses
# scripts/bench's bench, fact, start_emu, stop_pid and its settings.

# $FLOW_ROUNDS rounds, each on a server and database of its own: the same validation requests
# without a callback, then with one to a receiver that answers 200 at once (callbacks
# delivered per second until the queue drains), to one that refuses connections, and to one
# that answers after 2 s (last: its callbacks are still queued when the round ends). Round N's
# rows are flow-none-N, flow-N, flow-refused-N and flow-slow-N, each with its ratio to
# flow-none-N. Requests/s move by 10-30% from one run to the next on the 2-core machine, so
# the targets are judged on the median of the rounds' ratios and the highest p99 of the rounds
# (the flow_*_ratio_median and flow_*_p99_max facts).
flow_round() {
    local n=$1 SLOW_PORT REFUSED_PORT before started drained delivered
    SLOW_PORT=$((SINK_PORT + 1))
    REFUSED_PORT=$((SINK_PORT + 2))
    start_emu "$WORK/flow-$n.db"
    bench "flow-none-$n" "validation requests without a StatusCallback (round $n)" "" "" "" "$DURATION" "$BASE" create "$SEED" 3
    before=$(sink_count)
    started=$(date +%s.%N)
    bench "flow-$n" "flow: with a StatusCallback, receiver answers 200 (round $n)" "flow-none-$n" ">= 0.7x without a callback, p99 < 20 ms" 0.7 "$DURATION" "$BASE" create_cb "$SEED" "4 http://127.0.0.1:$SINK_PORT/cb"
    while [ "$(pending_callbacks)" != "0" ]; do sleep 0.05; done
    drained=$(date +%s.%N)
    delivered=$(($(sink_count) - before))
    fact "flow_callbacks_delivered_$n" "$delivered"
    fact "flow_callbacks_per_s_$n" "$(awk -v n="$delivered" -v a="$started" -v b="$drained" 'BEGIN {printf "%.0f", n / (b - a)}')"
    fact "flow_drain_after_load_s_$n" "$(awk -v a="$started" -v b="$drained" -v d="$DURATION" 'BEGIN {printf "%.1f", b - a - d}')"
    bench "flow-refused-$n" "flow: with a StatusCallback, receiver refuses connections (round $n)" "flow-none-$n" ">= 0.9x without a callback, p99 < 20 ms" 0.9 "$DURATION" "$BASE" create_cb "$SEED" "5 http://127.0.0.1:$REFUSED_PORT/cb"
    bench "flow-slow-$n" "flow: with a StatusCallback, receiver answers after 2 s (round $n)" "flow-none-$n" ">= 0.9x without a callback, p99 < 20 ms" 0.9 "$DURATION" "$BASE" create_cb "$SEED" "6 http://127.0.0.1:$SLOW_PORT/cb"
    stop_pid "$EMU_PID"
}

# The rounds' medians and worst p99s, as facts.
flow_summary() {
    python3 - "$RESULTS" <<'PY' | tee -a "$FACTS"
import json, statistics, sys
rows = {r["name"]: r for r in map(json.loads, open(sys.argv[1])) if r}
rounds = [n for n in range(1, 100) if f"flow-none-{n}" in rows]
for kind in ("flow", "flow-refused", "flow-slow"):
    ratios = [rows[f"{kind}-{n}"]["rps"] / rows[f"flow-none-{n}"]["rps"]
              for n in rounds if f"{kind}-{n}" in rows]
    key = kind.replace("-", "_")
    print(f"{key}_ratios={' '.join(f'{r:.2f}' for r in ratios)}")
    print(f"{key}_ratio_median={statistics.median(ratios):.2f}")
    print(f"{key}_p99_max_ms={max(rows[f'{kind}-{n}']['p99_ms'] for n in rounds):.2f}")
print(f"flow_none_p99_max_ms={max(rows[f'flow-none-{n}']['p99_ms'] for n in rounds):.2f}")
PY
}

flow_bench() {
    echo "== flow: validation requests with a StatusCallback, $CONNS connections, ${DURATION}s each, $FLOW_ROUNDS rounds"
    local SINK_PID SLOW_PID n
    "$SINK_BIN" --listen "127.0.0.1:$SINK_PORT" >>"$LOG" 2>&1 &
    PIDS+=("$!")
    SINK_PID=$!
    "$SINK_BIN" --listen "127.0.0.1:$((SINK_PORT + 1))" --delay-ms 2000 >>"$LOG" 2>&1 &
    PIDS+=("$!")
    SLOW_PID=$!
    sink_count() { curl -fsS "http://127.0.0.1:$SINK_PORT/_sink/count"; }
    pending_callbacks() { curl -fsS "$BASE/metrics" | awk '$1 == "callerid_pending_callbacks" {print $2}'; }
    for _ in $(seq 1 200); do sink_count >/dev/null 2>&1 && break; sleep 0.05; done
    for n in $(seq 1 "$FLOW_ROUNDS"); do
        flow_round "$n"
    done
    flow_summary
    stop_pid "$SINK_PID"
    stop_pid "$SLOW_PID"
}
