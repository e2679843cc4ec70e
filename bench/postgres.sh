# The PostgreSQL workloads of scripts/bench (Issue 10), sourced by it: the reference server in
# its PostgreSQL mode, then the emulator with one replica and with two on one database. Uses
# scripts/bench's bench, measure, stop_pid, fact and its settings.

# pg_bench2 NAME LABEL REF TARGET FLOOR MODE [EXTRA1 EXTRA2]: MODE split over both replicas.
pg_bench2() {
    local name=$1 label=$2 ref=$3 target=$4 floor=$5 mode=$6 extra1=${7:-} extra2=${8:-}
    measure "$name" "$label" "$ref" "$target" "$floor" -- pg_split "$mode" "$extra1" "$extra2"
}

# pg_split MODE EXTRA1 EXTRA2: wrk with CONNS/2 connections on each replica at once; one
# combined RESULT line.
pg_split() {
    local half=$((CONNS / 2)) a b
    a=$(mktemp) b=$(mktemp)
    wrk -t1 -c"$half" -d"${DURATION}s" --timeout 5s -H "$AUTH" -s "$LUA" "$BASE" -- "$1" "$ACCOUNT" "$SEED" "$2" >"$a" 2>&1 &
    local first=$!
    wrk -t1 -c"$half" -d"${DURATION}s" --timeout 5s -H "$AUTH" -s "$LUA" "http://127.0.0.1:$PORT2" -- "$1" "$ACCOUNT" "$SEED" "$3" >"$b" 2>&1
    wait "$first" || true
    python3 - "$a" "$b" <<'PY'
import json, sys
rs = [json.loads([l for l in open(f) if l.startswith("RESULT ")][-1].split(" ", 1)[1]) for f in sys.argv[1:]]
out = {"requests": sum(r["requests"] for r in rs), "duration_us": max(r["duration_us"] for r in rs),
       "rps": sum(r["rps"] for r in rs)}
for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms"):
    out[k] = max(r[k] for r in rs)
for k in ("non2xx", "socket_errors"):
    out[k] = sum(r[k] for r in rs)
print("RESULT " + json.dumps(out))
PY
    rm -f "$a" "$b"
}

postgres_bench() {
    local cluster=${CALLERID_TEST_POSTGRES_URL:-} psql_url emu_db ref_db tag
    if [ -z "$cluster" ]; then
        eval "$(scripts/pg-cluster start)"
        cluster=$CALLERID_TEST_POSTGRES_URL
        trap 'cleanup; scripts/pg-cluster stop "$PG_CLUSTER_DIR"' EXIT
    fi
    command -v psql >/dev/null || { echo "scripts/bench: BENCH_DATABASE=postgres needs psql" >&2; exit 2; }
    tag=$(date +%s)
    emu_db="${cluster%/*}/bench_emu_$tag"
    ref_db="${cluster%/*}/bench_ref_$tag"
    psql -X -q -d "$cluster" -c "CREATE DATABASE bench_emu_$tag" -c "CREATE DATABASE bench_ref_$tag"
    echo "postgres: $(psql -X -A -t -d "$cluster" -c 'SHOW server_version'), cluster $cluster" | tee -a "$OUT/machine.txt"

    echo "== PostgreSQL reference server ($SEED rows)"
    "$REF_BIN" --listen "127.0.0.1:$REF_PORT" --database "$ref_db" --seed "$SEED" >>"$LOG" 2>&1 &
    REF_PID=$!
    TARGET_PID=$REF_PID
    PIDS+=("$REF_PID")
    for _ in $(seq 1 400); do
        curl -fsS -o /dev/null "$REF_BASE/row/1" 2>/dev/null && break
        sleep 0.05
    done
    bench pg-reference-read "reference on PostgreSQL: read one row" "" "" "" "$DURATION" "$REF_BASE" ref_read "$SEED"
    bench pg-reference-list "reference on PostgreSQL: read 50 rows" "" "" "" "$DURATION" "$REF_BASE" ref_list "$SEED"
    bench pg-reference-insert "reference on PostgreSQL: insert one row" "" "" "" "$DURATION" "$REF_BASE" ref_insert "$SEED"
    stop_pid "$REF_PID"

    echo "== the emulator on PostgreSQL, $SEED caller IDs seeded by SQL"
    pg_emu() {
        python3 "$HARNESS" start --url "http://127.0.0.1:$1/_emulator/health" --log "$LOG" --pidfile "$WORK/emu$1.pid" -- \
            "$BIN" --listen "127.0.0.1:$1" --database-url "$emu_db" --time-scale 0 "${EMU_ARGS[@]}" >/dev/null
        cat "$WORK/emu$1.pid"
    }
    EMU_PID=$(pg_emu "$PORT")
    PIDS+=("$EMU_PID")
    TARGET_PID=$EMU_PID
    psql -X -q -v ON_ERROR_STOP=1 -d "$emu_db" <<SQL
INSERT INTO outgoing_caller_ids (sid, account_sid, phone_number, friendly_name, date_created, date_updated)
SELECT 'PN' || lpad(i::text, 32, '0'), '$ACCOUNT', '+1206' || lpad((2000000 + i)::text, 7, '0'),
       CASE WHEN i % 10 = 0 THEN 'Team ten' ELSE 'Caller ' || i END, 1700000000, 1700000000
FROM generate_series(1, $SEED) AS i;
ANALYZE;
SQL
    echo "-- one replica"
    bench pg1-fetch "PostgreSQL, 1 replica: fetch JSON" pg-reference-read ">= 0.8x PostgreSQL ref read, p99 < 20 ms" 0.8 "$DURATION" "$BASE" fetch "$SEED"
    bench pg1-list "PostgreSQL, 1 replica: list PageSize=50" pg-reference-read ">= 0.5x PostgreSQL ref read, p99 < 20 ms" 0.5 "$DURATION" "$BASE" list "$SEED"
    bench pg1-create "PostgreSQL, 1 replica: create validation request" pg-reference-insert ">= 0.5x PostgreSQL ref insert, p99 < 20 ms" 0.5 "$DURATION" "$BASE" create "$SEED" 2
    echo "-- two replicas (two wrk processes, $((CONNS / 2)) connections each; CPU is the first replica's)"
    PORT2=${BENCH_PORT2:-4920}
    EMU2_PID=$(pg_emu "$PORT2")
    PIDS+=("$EMU2_PID")
    pg_bench2 pg2-fetch "PostgreSQL, 2 replicas: fetch JSON" pg-reference-read ">= 0.8x PostgreSQL ref read, p99 < 20 ms" 0.8 fetch
    pg_bench2 pg2-list "PostgreSQL, 2 replicas: list PageSize=50" pg-reference-read ">= 0.5x PostgreSQL ref read, p99 < 20 ms" 0.5 list
    pg_bench2 pg2-create "PostgreSQL, 2 replicas: create validation request" pg-reference-insert ">= 0.5x PostgreSQL ref insert, p99 < 20 ms" 0.5 create 3 4
    fact pg_calls_created "$(psql -X -A -t -d "$emu_db" -c 'SELECT count(*) FROM calls')"
    fact pg_calls_verified "$(psql -X -A -t -d "$emu_db" -c "SELECT count(*) FROM calls WHERE verification_status = 'success'")"
    stop_pid "$EMU_PID"
    stop_pid "$EMU2_PID"
    psql -X -q -d "$cluster" -c "DROP DATABASE bench_emu_$tag WITH (FORCE)" -c "DROP DATABASE bench_ref_$tag WITH (FORCE)" || true
}

