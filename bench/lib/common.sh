# Shared helpers of bench/run: processes it starts (and only those), free ports, waits.
# Every wait is bounded; every process is stopped by the PID bench/run got when starting it.

BENCH_PIDS=()

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

# Starts "$@" in the background with its output in $BENCH_TMP/<name>.log; sets STARTED_PID.
start_process() {
    local name=$1
    shift
    "$@" >"$BENCH_TMP/$name.log" 2>&1 &
    STARTED_PID=$!
    BENCH_PIDS+=("$STARTED_PID")
}

# Stops one process bench/run started: SIGTERM, then SIGKILL after 5 s.
stop_process() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

stop_all() {
    local pid
    for pid in "${BENCH_PIDS[@]}"; do stop_process "$pid"; done
    BENCH_PIDS=()
}

# A TCP port on 127.0.0.1 nobody listens on (the kernel picks it).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits up to $2 seconds for 127.0.0.1:$1 to accept connections.
wait_port() {
    local port=$1 limit=$2 i
    for ((i = 0; i < limit * 20; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# Waits up to $2 seconds for the file $1 to exist.
wait_file() {
    local path=$1 limit=$2 i
    for ((i = 0; i < limit * 20; i++)); do
        [[ -e $path ]] && return 0
        sleep 0.05
    done
    return 1
}

# Waits up to $2 seconds for an HTTP 200 from $1.
wait_http_ok() {
    local url=$1 limit=$2 i
    for ((i = 0; i < limit * 10; i++)); do
        curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# Starts nats-server with JetStream on a free port and a fresh store; sets NATS_PORT,
# NATS_URL, NATS_PID. Extra arguments go to nats-server (e.g. -c <config>).
start_nats() {
    local name=$1
    shift
    NATS_PORT=$(free_port)
    NATS_URL="nats://127.0.0.1:$NATS_PORT"
    mkdir -p "$BENCH_TMP/$name-store"
    start_process "$name" nats-server -js -a 127.0.0.1 -p "$NATS_PORT" \
        -sd "$BENCH_TMP/$name-store" "$@"
    NATS_PID=$STARTED_PID
    wait_port "$NATS_PORT" 10 || die "nats-server did not start (see $BENCH_TMP/$name.log)"
}

# Reads key=value fields of a one-line result into the associative array named $1.
parse_fields() {
    local -n into=$1
    local field
    for field in $2; do into[${field%%=*}]=${field#*=}; done
}

# Division with a fixed number of decimals; "n/a" when the divisor is 0 or missing.
ratio() {
    awk -v a="$1" -v b="$2" -v d="${3:-2}" \
        'BEGIN { if (b == "" || b + 0 == 0 || a == "") print "n/a"; else printf "%.*f", d, a / b }'
}

# The nats, streams and log sections every broker-bridge config of the harness starts with.
bridge_config_head() {
    cat <<YAML
nats:
  url: $NATS_URL
streams:
  events: { name: EVENTS, subjects: ["events.>"], storage: file, replicas: 1, max_age: 1h }
  dlq: { name: DLQ, subjects: ["dlq.>"], storage: file, replicas: 1, max_age: 1h }
  realtime: { name: RT, subjects: ["rt.>"], storage: file, replicas: 1, max_age: 10m }
log:
  level: warn
YAML
}
