# Handler host scenarios: the same stored events read by broker-bridge (no-op and analytics
# plugins) and by its peers, each through its own durable consumer, one after the other.

# Events of each scenario: one subject each, published up front in contiguous blocks.
declare -A HOST_RANGE

# Writes a broker-bridge config with one binding ($2, YAML lines) to $BENCH_TMP/$1.yaml.
write_bridge_config() {
    local name=$1 binding=$2
    {
        bridge_config_head
        cat <<YAML
plugins:
  path: [$BENCH_BUILD/bench/plugins, $BENCH_BUILD/plugins]
handlers:
  fetch_batch: 256
  max_ack_pending: 4096
bindings:
$binding
YAML
    } >"$BENCH_TMP/$name.yaml"
}

publish_block() {
    local key=$1 subject=$2 type=$3 count=$4 out
    out=$("$BENCH_BUILD/bench/bench-publish-events" --url "$NATS_URL" --stream EVENTS \
        --subject "$subject" --type "$type" --count "$count") || die "publishing $key failed"
    declare -A f
    parse_fields f "$out"
    HOST_RANGE[$key]="${f[first_seq]} ${f[last_seq]} $subject"
    log "published $count $type events in ${f[seconds]} s"
}

# Runs one consumer process ("$@") under the drain watch; stores its result line in
# RESULT[$label]. $2: consumer name prefix, $3: event block, $4: DLQ entries to wait for.
declare -A RESULT
measure_consumer() {
    local label=$1 prefix=$2 block=$3 dlq=$4
    shift 4
    local first last subject watch_pid pidfile="$BENCH_TMP/$label.pid"
    read -r first last subject <<<"${HOST_RANGE[$block]}"
    "$BENCH_BUILD/bench/bench-drain-watch" --url "$NATS_URL" --stream EVENTS \
        --consumer-prefix "$prefix" --first-seq "$first" --last-seq "$last" \
        --pid-file "$pidfile" --ready-file "$BENCH_TMP/$label.ready" --server-pid "$NATS_PID" \
        --dlq-stream DLQ --dlq-count "$dlq" --timeout-s "$HOST_TIMEOUT_S" \
        >"$BENCH_TMP/$label.result" 2>"$BENCH_TMP/$label.watch" &
    watch_pid=$!
    BENCH_PIDS+=("$watch_pid")
    wait_file "$BENCH_TMP/$label.ready" 30 ||
        die "$label: no drain watch baselines within 30 s: $(cat "$BENCH_TMP/$label.watch")"
    start_process "$label" "$@"
    echo "$STARTED_PID" >"$pidfile"
    if wait "$watch_pid"; then
        RESULT[$label]=$(cat "$BENCH_TMP/$label.result")
        log "$label: ${RESULT[$label]}"
    else
        RESULT[$label]="failed"
        log "$label: failed: $(cat "$BENCH_TMP/$label.watch")"
        tail -n 5 "$BENCH_TMP/$label.log" >&2
    fi
    stop_process "$STARTED_PID"
}

run_bridge() {
    local label=$1 binding=$2 block=$3 dlq=$4
    write_bridge_config "$label" "$binding"
    measure_consumer "$label" "${label}__" "$block" "$dlq" \
        "$BENCH_BUILD/bin/broker-bridge" run --config "$BENCH_TMP/$label.yaml"
}

floor() {
    local label=$1 tool=$2 block=$3 dlq=$4
    shift 4
    local first last subject
    read -r first last subject <<<"${HOST_RANGE[$block]}"
    measure_consumer "$label" "$label" "$block" "$dlq" "$BENCH_BUILD/bench/$tool" \
        --url "$NATS_URL" --stream EVENTS --durable "$label" --subject "$subject" "$@"
}

binding_yaml() {
    local name=$1 plugin=$2 subject=$3 attempts=$4 config=$5
    cat <<YAML
  - name: $name
    plugin: $plugin
    subjects: ["$subject"]
    start: all
    concurrency: 64
    attempts: $attempts
    backoff: { initial: 1ms, factor: 1, max: 1ms, jitter: 0 }
    timeout: 10s
    config: $config
YAML
}

run_handler_scenarios() {
    start_nats handlers-nats
    write_bridge_config streams ""
    "$BENCH_BUILD/bin/broker-bridge" streams --config "$BENCH_TMP/streams.yaml" >/dev/null ||
        die "broker-bridge streams failed"
    publish_block main events.bench.BenchEvent BenchEvent "$HOST_EVENTS"
    publish_block failonce events.failonce.FailOnce FailOnce "$FAIL_EVENTS"
    publish_block dead events.dead.Dead Dead "$DEAD_EVENTS"

    local main_subject=events.bench.BenchEvent
    floor floor_pull256 bench-pull-consumer main 0 --batch 256 --max-ack-pending 4096
    floor floor_pull1024 bench-pull-consumer main 0 --batch 1024 --max-ack-pending 4096
    floor floor_push bench-push-consumer main 0 --max-ack-pending 4096
    if [[ $WITH_NODE == 1 ]]; then
        local first last subject
        read -r first last subject <<<"${HOST_RANGE[main]}"
        measure_consumer node_consumer node_consumer main 0 node "$BENCH_NODE/consumer.mjs" \
            --url "$NATS_URL" --stream EVENTS --durable node_consumer --subject "$subject"
    fi
    run_bridge noop "$(binding_yaml noop bench_noop $main_subject 5 '{}')" main 0
    run_bridge analytics "$(binding_yaml analytics analytics $main_subject 5 \
        "{ path: $BENCH_TMP/analytics.db }")" main 0

    floor floor_nakfirst bench-pull-consumer failonce 0 --batch 256 --mode nak-first
    run_bridge failonce "$(binding_yaml failonce bench_noop events.failonce.FailOnce 3 \
        '{ fail_attempts: 1 }')" failonce 0
    floor floor_syncdlq bench-pull-consumer dead "$DEAD_EVENTS" --batch 256 --mode dlq
    run_bridge dead "$(binding_yaml dead bench_noop events.dead.Dead 3 \
        '{ fail_attempts: 1000 }')" dead "$DEAD_EVENTS"
    stop_process "$NATS_PID"
}
