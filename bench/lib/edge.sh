# Edge scenarios: not measured yet. The harness reports them as such, goal by goal, until
# the WebSocket load generator and the edge peers (nats-server's WebSocket listener, a C
# epoll floor server, Node.js ws fed from NATS) land in bench/.
EDGE_SECTION="## Edge

Not yet run: the WebSocket load generator (N connections, frame splitting, publish→receive
latency from a timestamp in each payload) and the edge peers are not part of the harness
yet. Broadcast (1,000 and 10,000 clients), per-user and idle-memory scenarios have no
figures in this report.
"
EDGE_GOALS="| edge broadcast, 1,000 clients: strict maximum ≥ 1.2× nats-server's WebSocket listener | not measured | |
| edge broadcast, 10,000 clients: strict bar met at ≥ 100k msgs/s delivered | not measured | |
| p99 at the fixed load ≤ nats-server's (1,000, 10,000 clients, per-user) | not measured | |
| ≤ 4 KiB of process memory per idle, authenticated, subscribed connection | not measured | |
| no loss anywhere below the reported maximum | not measured | |"
run_edge_scenarios() { :; }
