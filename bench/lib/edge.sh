# Edge scenarios: the load generator (bench/edge/edge_loadgen.cpp) against broker-bridge's
# edge and its peers (nats-server's own WebSocket listener, the Node.js tRPC + ws peer, the
# C++ epoll floor server), one server at a time, the same scenarios for each:
#   b1k / b10k  broadcast to 1,000 / 10,000 clients on one channel: ramp then bisect to the
#               highest delivered rate with no loss and p99 ≤ 100 ms, then a fixed load;
#   user        10,000 clients each on their own channel, messages round-robin;
#   idle        authenticated, subscribed, idle clients: RSS per connection, CPU at rest.

EDGE_SECTION="" EDGE_GOALS=""  # written by edge_report once the scenarios ran
EDGE_SECRET=bench-edge-secret-0123456789abcdef0123456789
EDGE_SERVERS=(bb nats trpc floor)
declare -A EDGE_NAME=([bb]="broker-bridge edge" [nats]="nats-server WebSocket listener"
    [trpc]="Node.js @trpc/server + ws" [floor]="floor: C++ epoll, one pre-built frame")

edge_mode_settings() {
    EDGE_FIXED_RATE=10000 EDGE_USER_RATE=10000
    EDGE_IDLE_ARGS=(--idle-settle-ms 2000 --idle-rest-ms 5000)
    case $BENCH_MODE in
        full)
            EDGE_SMALL=1000 EDGE_BIG=10000 EDGE_USERS=10000 EDGE_STEP_MS=3000 EDGE_BISECT=4
            EDGE_FIXED_MS=10000 EDGE_IDLE=max EDGE_RAMP_MAX=4000000 ;;
        quick)
            EDGE_SMALL=1000 EDGE_BIG=10000 EDGE_USERS=10000 EDGE_STEP_MS=1500 EDGE_BISECT=2
            EDGE_FIXED_MS=4000 EDGE_IDLE=10000 EDGE_RAMP_MAX=4000000 ;;
        smoke)
            EDGE_SMALL=20 EDGE_BIG=50 EDGE_USERS=50 EDGE_STEP_MS=400 EDGE_BISECT=0
            EDGE_FIXED_MS=500 EDGE_IDLE=50 EDGE_RAMP_MAX=1600 EDGE_FIXED_RATE=1000
            EDGE_USER_RATE=500 EDGE_IDLE_ARGS=(--idle-settle-ms 300 --idle-rest-ms 1000) ;;
    esac
}

# The open-files limit every server and the generator get (each raises its own too).
edge_raise_nofile() {
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    EDGE_NOFILE=$(ulimit -n)
}

write_edge_config() {  # write_edge_config <name> <port> <permessage_deflate>
    {
        bridge_config_head
        cat <<YAML
edge:
  listen: 127.0.0.1:$2
  path: /ws
  threads: $(nproc)
  permessage_deflate: $3
  limits: { max_connections: 1000000, max_connections_per_user: 4 }
  auth:
    issuer: bench
    audience: bench
    keys: [{ kid: bench, alg: HS256, secret: "$EDGE_SECRET" }]
  channels:
    - { pattern: "bench:{name}", subject: "rt.bench.{name}", subscribe: authenticated }
    - { pattern: "user:{user}", subject: "rt.user.{user}", subscribe: "{user} == sub" }
YAML
    } >"$BENCH_TMP/$1.yaml"
}

# Starts one edge server; sets EDGE_URL and EDGE_PID. $2: permessage_deflate (bb only).
start_edge_server() {
    local server=$1 deflate=${2:-false} port
    port=$(free_port)
    case $server in
        bb)
            write_edge_config "edge-bb-$deflate" "$port" "$deflate"
            start_process "edge-bb-$deflate" "$BENCH_BUILD/bin/broker-bridge" edge \
                --config "$BENCH_TMP/edge-bb-$deflate.yaml"
            EDGE_URL=ws://127.0.0.1:$port/ws ;;
        nats)
            EDGE_PID=$NATS_PID EDGE_URL=ws://127.0.0.1:$NATS_WS_PORT/
            return 0 ;;
        trpc)
            start_process edge-trpc node "$BENCH_NODE/edge_peer.mjs" --nats "$NATS_URL" \
                --port "$port"
            EDGE_URL=ws://127.0.0.1:$port/ ;;
        floor)
            start_process edge-floor "$BENCH_BUILD/bench/bench-edge-floor" --port "$port"
            EDGE_URL=ws://127.0.0.1:$port/ ;;
    esac
    EDGE_PID=$STARTED_PID
    wait_port "$port" 30 || { log "edge server $server did not start"; return 1; }
}

# Runs the generator; stores its result line in RESULT[$label], its steps in $label.steps.
run_loadgen() {
    local label=$1 server=$2
    shift 2
    local publish=core
    [[ $server == bb ]] && publish=js
    log "edge: $label"
    if "$BENCH_BUILD/bench/bench-edge-loadgen" --url "$EDGE_URL" --protocol "$server" \
        --nats-url "$NATS_URL" --publish "$publish" --server-pid "$EDGE_PID" \
        --jwt-secret "$EDGE_SECRET" --jwt-issuer bench --jwt-audience bench \
        --step-ms "$EDGE_STEP_MS" --bisect "$EDGE_BISECT" --fixed-ms "$EDGE_FIXED_MS" \
        --ramp-max "$EDGE_RAMP_MAX" "$@" >"$BENCH_TMP/$label.steps" 2>"$BENCH_TMP/$label.err" &&
        grep -q '^result ' "$BENCH_TMP/$label.steps"; then
        RESULT[$label]=$(grep '^result ' "$BENCH_TMP/$label.steps" | cut -d' ' -f2-)
        log "$label: ${RESULT[$label]}"
    else
        RESULT[$label]=failed
        log "$label: failed"
        tail -n 5 "$BENCH_TMP/$label.err" >&2
    fi
    cp "$BENCH_TMP/$label.steps" "$BENCH_TMP/$label.err" "$EDGE_KEEP" 2>/dev/null || true
}

edge_traffic_scenarios() {
    local s=$1
    run_loadgen "edge_${s}_b1k" "$s" --clients "$EDGE_SMALL" --modes ramp,fixed \
        --ramp-start $((EDGE_SMALL * 20)) --fixed-rate "$EDGE_FIXED_RATE"
    run_loadgen "edge_${s}_b10k" "$s" --clients "$EDGE_BIG" --modes ramp,fixed \
        --ramp-start $((EDGE_BIG * 5)) --fixed-rate "$EDGE_FIXED_RATE"
    run_loadgen "edge_${s}_user" "$s" --clients "$EDGE_USERS" --per-user 1 --modes fixed \
        --fixed-rate "$EDGE_USER_RATE"
}

# Idle clients on a fresh server process, so its RSS before them is a clean baseline.
edge_idle_scenario() {
    local label=$1 server=$2 deflate=$3 clients=$EDGE_IDLE
    # One fd per client on each side, plus what the processes hold themselves.
    [[ $clients == max ]] && clients=$((EDGE_NOFILE - 200))
    start_edge_server "$server" "$deflate" || { RESULT[$label]=failed; return; }
    run_loadgen "$label" "$server" --clients "$clients" --modes idle "${EDGE_IDLE_ARGS[@]}" \
        --deflate "$([[ $deflate == true ]] && echo 1 || echo 0)"
    [[ $server == nats ]] || stop_process "$EDGE_PID"
}

run_edge_scenarios() {
    edge_mode_settings
    edge_raise_nofile
    EDGE_KEEP=${BENCH_EDGE_KEEP:-$BENCH_TMP}
    mkdir -p "$EDGE_KEEP"
    NATS_WS_PORT=$(free_port)
    printf 'websocket { listen: "127.0.0.1:%s", no_tls: true }\n' "$NATS_WS_PORT" \
        >"$BENCH_TMP/edge-nats.conf"
    start_nats edge-nats -c "$BENCH_TMP/edge-nats.conf"
    wait_port "$NATS_WS_PORT" 10 || die "nats-server's WebSocket listener did not start"
    EDGE_HAVE_TRPC=0
    [[ $WITH_NODE == 1 && -f $BENCH_NODE/edge_peer.mjs ]] && EDGE_HAVE_TRPC=1
    local s
    for s in "${EDGE_SERVERS[@]}"; do
        [[ $s == trpc && $EDGE_HAVE_TRPC == 0 ]] && continue
        start_edge_server "$s" false || { RESULT[edge_${s}_b1k]=failed; continue; }
        edge_traffic_scenarios "$s"
        [[ $s == nats ]] || stop_process "$EDGE_PID"
    done
    edge_idle_scenario edge_bb_idle bb false
    edge_idle_scenario edge_bb_idle_deflate bb true
    stop_process "$NATS_PID"
    # nats-server's idle figure on its own fresh process (its JetStream one is warm by now).
    start_nats edge-nats-idle -c "$BENCH_TMP/edge-nats.conf"
    edge_idle_scenario edge_nats_idle nats false
    stop_process "$NATS_PID"
    edge_report
}

source "$BENCH_ROOT/bench/lib/edge_report.sh"
