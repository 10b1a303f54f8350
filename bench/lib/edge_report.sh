# The edge section of docs/BENCHMARKS.md and the edge goals, from RESULT and the step
# lines the generator wrote ($EDGE_KEEP/<label>.steps).

edge_latency() {  # "p50 / p99 / p99.9" of a result's fixed step
    local p50 p99 p999
    p50=$(field "$1" p50_ms) p99=$(field "$1" p99_ms) p999=$(field "$1" p999_ms)
    [[ -n $p99 ]] && echo "$p50 / $p99 / $p999" || echo "${RESULT[$1]:-not run}"
}

edge_broadcast_row() {  # edge_broadcast_row <server> <b1k|b10k> <clients>
    local l=edge_$1_$2 max times
    [[ -n ${RESULT[$l]:-} ]] || { echo "| ${EDGE_NAME[$1]} | $3 | not run | | | | | | |"; return; }
    max=$(field "$l" strict_max)
    times=$(ratio "$max" "$(field "edge_nats_$2" strict_max)")
    local p99 gen
    p99=$(field "$l" strict_max_p99_ms) gen=$(field "$l" strict_max_gen_cpu_pct)
    [[ $(field "$l" strict_max_capped) == 1 ]] && max="≥ $max (ramp ceiling)"
    if [[ $max == 0 ]]; then
        max="none: no step passed" p99="" gen="" times=n/a
    fi
    [[ $times == n/a ]] || times+="×"
    echo "| ${EDGE_NAME[$1]} | $3 | ${max:-${RESULT[$l]}} | $times |" \
        "$p99 | $(edge_latency "$l") | $(field "$l" fixed_loss) |" \
        "$gen | $(field "$l" fixed_server_cpu_pct) |"
}

edge_user_row() {
    local l=edge_$1_user
    [[ -n ${RESULT[$l]:-} ]] || { echo "| ${EDGE_NAME[$1]} | not run | | | | |"; return; }
    echo "| ${EDGE_NAME[$1]} | $(field "$l" fixed_achieved) | $(edge_latency "$l") |" \
        "$(field "$l" fixed_loss) | $(field "$l" fixed_gen_cpu_pct) |" \
        "$(field "$l" fixed_server_cpu_pct) |"
}

edge_idle_row() {
    local l=$1
    if [[ ${RESULT[$l]:-failed} == failed ]]; then
        echo "| $2 | ${RESULT[$l]:-not run} | | | | |"
        return
    fi
    echo "| $2 | $(field "$l" ready) | $(field "$l" bytes_per_conn) |" \
        "$(field "$l" server_cpu_pct_at_rest) | $(field "$l" server_nofile) |" \
        "$(field "$l" rss_before_kib) → $(field "$l" rss_after_kib) |"
}

# Steps of the edge's runs below its strict maximum (or at the fixed load) that lost messages.
edge_losses_below_max() {
    local l max lost=0
    for l in edge_bb_b1k edge_bb_b10k edge_bb_user; do
        [[ -f $EDGE_KEEP/$l.steps ]] || { echo n/a; return; }
        max=$(field "$l" strict_max)
        lost=$((lost + $(awk -v max="${max:-0}" '$1 == "step" {
            for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
            if ((f["kind"] == "fixed" || f["target"] <= max) && f["loss"] > 0) n++
        } END { print n + 0 }' "$EDGE_KEEP/$l.steps")))
    done
    echo "$lost"
}

edge_goal_at_most() {  # edge_goal_at_most <text> <value> <limit>
    local verdict="not measured"
    if [[ -n $2 && $2 != n/a ]]; then
        verdict="**not met**"
        awk -v a="$2" -v b="$3" 'BEGIN{exit !(a<=b)}' && verdict="**met**"
    fi
    echo "| $1 | $verdict | $2 |"
}

edge_p99_goal() {  # edge_p99_goal <scenario> <what>: nats-server's p99 / the edge's
    goal_line "p99 at the fixed load ≤ nats-server's, $2 (nats-server p99 / edge p99)" \
        "$(ratio "$(field "edge_nats_$1" p99_ms)" "$(field "edge_bb_$1" p99_ms)")" 1
}

edge_goals() {
    local b1k_ratio
    b1k_ratio=$(ratio "$(field edge_bb_b1k strict_max)" "$(field edge_nats_b1k strict_max)")
    goal_line "edge broadcast, 1,000 clients: strict maximum ≥ 1.2× nats-server's WebSocket \
listener" "$b1k_ratio" 1.2
    goal_line "edge broadcast, 10,000 clients: strict bar met at ≥ 100k msgs/s delivered \
(measured: strict max)" "$(field edge_bb_b10k strict_max)" 100000
    edge_p99_goal b1k "1,000 clients"
    edge_p99_goal b10k "10,000 clients"
    edge_p99_goal user "per user"
    edge_goal_at_most "≤ 4 KiB of process memory per idle, authenticated, subscribed \
connection (bytes, without permessage-deflate)" "$(field edge_bb_idle bytes_per_conn)" 4096
    edge_goal_at_most "no loss anywhere below the reported maximum (edge steps that lost \
messages)" "$(edge_losses_below_max)" 0
}

edge_report() {
    local s trpc_note=""
    if [[ $EDGE_HAVE_TRPC == 0 ]]; then
        trpc_note=" The Node.js peer (bench/node/edge_peer.mjs) was not run: the file is not in"
        trpc_note+=" this checkout."
        [[ $WITH_NODE == 0 ]] && trpc_note=" The Node.js peer was not run (none in this mode)."
    fi
    EDGE_SECTION="## Edge

$(cat "$BENCH_ROOT/bench/EDGE-METHOD.md")

Open-files limit of every process: $EDGE_NOFILE. Steps of $EDGE_STEP_MS ms, $EDGE_BISECT
bisection steps, the fixed load for $EDGE_FIXED_MS ms.$trpc_note

### Broadcast: every client on one channel

Strict maximum: the highest delivered rate (messages received by all clients together per
second) at which no message was lost, no client was closed and p99 stayed at or under 100 ms.
The fixed load is $EDGE_FIXED_RATE delivered messages per second.

| server | clients | strict max (msgs/s) | × nats-server | p99 at max (ms) \
| p50 / p99 / p99.9 at fixed load (ms) | lost at fixed load | generator CPU % at max \
| server CPU % at fixed load |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
$(for s in "${EDGE_SERVERS[@]}"; do edge_broadcast_row "$s" b1k "$EDGE_SMALL"; done)
$(for s in "${EDGE_SERVERS[@]}"; do edge_broadcast_row "$s" b10k "$EDGE_BIG"; done)

### Per user: $EDGE_USERS clients, each on its own channel, $EDGE_USER_RATE msgs/s round-robin

| server | delivered msgs/s | p50 / p99 / p99.9 (ms) | lost | generator CPU % | server CPU % |
| --- | --- | --- | --- | --- | --- |
$(for s in "${EDGE_SERVERS[@]}"; do edge_user_row "$s"; done)

### Idle: authenticated, subscribed connections

Each on a fresh server process: its RSS before the clients opened, and 2 s after all were
subscribed, divided by their number; CPU over the 5 s after that.

| server | connections | RSS per connection (bytes) | server CPU % at rest \
| server's open-files limit | RSS KiB before → after |
| --- | --- | --- | --- | --- | --- |
$(edge_idle_row edge_bb_idle "broker-bridge edge")
$(edge_idle_row edge_bb_idle_deflate "broker-bridge edge, permessage-deflate")
$(edge_idle_row edge_nats_idle "nats-server WebSocket listener")

$(cat "$BENCH_ROOT/bench/EDGE-NOTES.md")
"
    EDGE_GOALS=$(edge_goals)
}
