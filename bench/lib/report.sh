# Writes docs/BENCHMARKS.md (or --out) from the results in RESULT and EDGE_RESULT.

field() {  # field <label> <key>: one key of a result line, empty when missing or failed
    [[ -n $1 ]] || return 0
    local line=${RESULT[$1]:-} f
    for f in $line; do [[ ${f%%=*} == "$2" ]] && { echo "${f#*=}"; return; }; done
}

per_msg() {  # CPU µs per message of <label>'s <key>
    ratio "$(field "$1" "$2")" "$(field "$1" msgs)" 1
}

host_row() {  # host_row <label> <what> <reference labels...>
    local label=$1 what=$2 rate
    shift 2
    rate=$(field "$label" msgs_per_s)
    local cells="| $what | ${rate:-failed} |"
    local ref
    for ref in "$@"; do cells+=" $(ratio "$rate" "$(field "$ref" msgs_per_s)")× |"; done
    cells+=" $(per_msg "$label" consumer_cpu_us) | $(per_msg "$label" server_cpu_us) |"
    echo "$cells"
}

best_floor() {  # the label of the fastest floor consumer
    local best="" best_rate=0 l r
    for l in floor_pull256 floor_pull1024 floor_push; do
        r=$(field "$l" msgs_per_s)
        [[ -n $r ]] && awk -v a="$r" -v b="$best_rate" 'BEGIN{exit !(a>b)}' &&
            { best=$l; best_rate=$r; }
    done
    echo "$best"
}

machine_section() {
    local cpu mem
    cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
    mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
    cat <<MD
## Machine and versions

| | |
| --- | --- |
| cores (nproc) | $(nproc) |
| CPU | $cpu |
| RAM | $mem |
| load average at start | $BENCH_LOAD_START |
| kernel | $(uname -r) |
| nats-server | $(nats-server --version 2>&1 | awk '{print $2}') |
| nats.c | $(pkg-config --modversion libnats) |
| libwebsockets | $(pkg-config --modversion libwebsockets) |
| Node.js | $(node --version 2>/dev/null || echo none) |
| npm peers | $BENCH_NPM_VERSIONS |
| broker-bridge | $(git -C "$BENCH_ROOT" rev-parse --short HEAD), CMAKE_BUILD_TYPE=Release |
| mode | \`bench/run --$BENCH_MODE\`, $(date -u +%Y-%m-%dT%H:%MZ) |

MD
}

host_section() {
    local floor
    floor=$(best_floor)
    cat <<MD
## Handler host

$HOST_EVENTS events of $HOST_BODY_BYTES bytes of MessagePack (CloudEvents binary mode, file
storage) are published up front; each process then reads all of them through its own
durable consumer from the first, decodes each body and acknowledges each message. The
fastest floor consumer of this run is \`${floor:-none}\`.$HOST_COUNT_NOTE

| consumer | msgs/s | × fastest floor | × Node.js | CPU µs/msg (process) | CPU µs/msg (nats-server) |
| --- | --- | --- | --- | --- | --- |
$(host_row floor_pull256 "floor: nats.c pull, Fetch 256, MaxAckPending 4096" "$floor" node_consumer)
$(host_row floor_pull1024 "floor: nats.c pull, Fetch 1024, MaxAckPending 4096" "$floor" node_consumer)
$(host_row floor_push "floor: nats.c push, manual ack" "$floor" node_consumer)
$(host_row node_consumer "Node.js @nats-io/jetstream consume" "$floor" node_consumer)
$(host_row noop "broker-bridge, no-op plugin" "$floor" node_consumer)
$(host_row analytics "broker-bridge, analytics plugin (SQLite)" "$floor" node_consumer)

### Failure path

$FAIL_EVENTS events that fail once and then succeed; $DEAD_EVENTS events that fail every
attempt and are dead-lettered after three (attempts: 3, backoff 1 ms). Rate to the final
acknowledgement (and, for dead letters, until the DLQ holds every entry).

| path | msgs/s | × peer | CPU µs/msg (process) | CPU µs/msg (nats-server) |
| --- | --- | --- | --- | --- |
$(host_row floor_nakfirst "peer: nats.c pull, NakWithDelay(0) first, then ack" floor_nakfirst)
$(host_row failonce "broker-bridge: fail once, then done" floor_nakfirst)
$(host_row floor_syncdlq "peer: synchronous publish to DLQ, then +TERM" floor_syncdlq)
$(host_row dead "broker-bridge: dead-lettered after 3 attempts" floor_syncdlq)

MD
}

goal_line() {  # goal_line <text> <value> <threshold> (value >= threshold is met)
    local verdict
    if [[ $2 == n/a || -z $2 ]]; then
        verdict="not measured"
    elif awk -v a="$2" -v b="$3" 'BEGIN{exit !(a>=b)}'; then
        verdict="**met**"
    else
        verdict="**not met**"
    fi
    echo "| $1 | $verdict | $2 |"
}

goals_section() {
    local floor
    floor=$(best_floor)
    cat <<MD
## Goals

Each goal of the benchmark issue, as a ratio measured in this run.

| goal | verdict | measured |
| --- | --- | --- |
$(goal_line "host, no-op plugin ≥ 0.85× the fastest floor consumer" \
    "$(ratio "$(field noop msgs_per_s)" "$(field "$floor" msgs_per_s)")" 0.85)
$(goal_line "host, no-op plugin ≥ 4× the Node.js consumer" \
    "$(ratio "$(field noop msgs_per_s)" "$(field node_consumer msgs_per_s)")" 4)
$(goal_line "dead-letter path ≥ 5× a synchronous publish-then-terminate loop" \
    "$(ratio "$(field dead msgs_per_s)" "$(field floor_syncdlq msgs_per_s)")" 5)
$EDGE_GOALS
MD
}

write_report() {
    local out=$1
    {
        echo "# Benchmarks"
        echo
        echo "Written by \`bench/run --$BENCH_MODE\`; do not edit by hand. Every table compares"
        echo "processes measured in the same run, one after the other, on the same machine."
        echo
        echo "$BENCH_PREAMBLE"
        echo
        machine_section
        cat "$BENCH_ROOT/bench/METHOD.md"
        echo
        host_section
        [[ -n ${EDGE_SECTION:-} ]] && echo "$EDGE_SECTION"
        goals_section
        [[ -f $BENCH_ROOT/bench/NOTES.md ]] && cat "$BENCH_ROOT/bench/NOTES.md"
    } >"$out"
    log "wrote $out"
}
