// A three-server JetStream cluster with R3 streams: while events flow, the server leading
// EVENTS is SIGKILLed and restarted, then the server leading RT (or another one). A handler
// host (analytics and router) and an edge, both the real daemon, reconnect by themselves; no
// event is lost from the analytics table, and a subscribed WebSocket client receives every
// routed message once and in order.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <set>
#include <sstream>

#include "broker-bridge/config.hpp"
#include "broker-bridge/edge/token_verifier.hpp"
#include "broker-bridge/nats_client.hpp"
#include "broker-bridge/provisioner.hpp"
#include "integration/edge_ws_client.hpp"
#include "integration/event_feed.hpp"
#include "integration/fault_support.hpp"
#include "integration/nats_cluster.hpp"
#include "integration/wait.hpp"

using namespace bb::itest;
using namespace std::chrono_literals;

namespace {

constexpr const char* kSecret = "fault-test-secret-0123456789abcdef";

std::string common_yaml(const std::string& urls) {
    return "nats:\n  url: \"" + urls +
           "\"\n  reconnect_wait: 50ms\n  reconnect_wait_max: 200ms\n  request_timeout: 2s\n"
           "log:\n  level: info\n"
           "streams:\n  events: { replicas: 3 }\n  dlq: { replicas: 3 }\n"
           "  realtime: { replicas: 3 }\n  advisories: { replicas: 3 }\n";
}

std::string host_yaml(const std::string& urls, const std::filesystem::path& db) {
    return common_yaml(urls) + "plugins:\n  path: [" BB_PLUGIN_DIR "]\n" +
           "handlers:\n  ack_margin: 500ms\n  fetch_wait: 500ms\n  shutdown_timeout: 3s\n"
           "bindings:\n"
           "  - name: analytics\n    plugin: analytics\n    subjects: [\"events.>\"]\n"
           "    concurrency: 4\n    attempts: 100\n    timeout: 2s\n"
           "    backoff: { initial: 100ms, factor: 2, max: 500ms, jitter: 0 }\n"
           "    config:\n      path: " +
           db.string() +
           "\n"
           "  - name: router\n    plugin: router\n    subjects: [\"events.>\"]\n"
           "    publish_prefixes: [\"rt.>\"]\n    concurrency: 4\n    attempts: 100\n"
           "    ordering: per-aggregate\n"
           "    timeout: 2s\n"
           "    backoff: { initial: 100ms, factor: 2, max: 500ms, jitter: 0 }\n"
           "    config:\n      routes:\n"
           "        - when: { type: NotificationCreated }\n"
           "          channel_subject: rt.user.{data.targetUserId}.notifications\n"
           "          data: { n: \"{data.n}\" }\n";
}

std::string edge_yaml(const std::string& urls) {
    return common_yaml(urls) +
           "edge:\n  listen: 127.0.0.1:0\n  drain_timeout: 1s\n"
           "  auth:\n    audience: bridge-test\n    keys:\n"
           "      - {kid: k1, alg: HS256, secret: \"" +
           kSecret +
           "\"}\n"
           "  channels:\n"
           "    - pattern: \"user:{user}:notifications\"\n"
           "      subject: \"rt.user.{user}.notifications\"\n"
           "      subscribe: \"{user} == sub\"\n";
}

void create_streams(bb::NatsClient& client, const bb::Config& config) {
    for (const bb::StreamConfig* s : {&config.events, &config.dlq, &config.realtime}) {
        std::string error;
        bool created = wait_until(
            [&] {
                try {
                    bb::ensure_stream(client.js(), *s);
                    return true;
                } catch (const std::exception& e) {
                    error = e.what();
                    return false;  // no meta leader elected yet
                }
            },
            20s, 100ms);
        BOOST_TEST_REQUIRE(created, "stream " << s->name << ": " << error);
    }
    for (const char* stream : {"EVENTS", "DLQ", "RT"}) {
        BOOST_TEST_REQUIRE(wait_stream_healthy(client.js(), stream, 3, 20s), stream);
    }
}

// The server to kill: the one leading `stream`, or when that one was killed already, the
// next one.
size_t victim(NatsCluster& cluster, jsCtx* js, const std::string& stream, size_t not_this) {
    size_t leader = cluster.index_of(stream_placement(js, stream).leader);
    if (leader >= cluster.size() || leader == not_this) leader = (not_this + 1) % cluster.size();
    return leader;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(faults)

BOOST_AUTO_TEST_CASE(two_cluster_servers_killed_in_turn_lose_no_event_and_no_message) {
    const int events = static_cast<int>(env_number("BB_FAULT_CLUSTER_EVENTS", 1500));
    NatsCluster cluster(3);
    TempFolder dir("bb-itest-faults-cluster");
    auto db = dir.path / "analytics.db";
    write_file(dir.path / "host.yaml", host_yaml(cluster.urls(), db));
    write_file(dir.path / "edge.yaml", edge_yaml(cluster.urls()));
    bb::Config config = bb::load_config(dir.path / "edge.yaml");
    bb::NatsClient client = bb::NatsClient::connect(config.nats, "faults-itest");
    BOOST_TEST_REQUIRE(client.wait_connected(10s));
    create_streams(client, config);
    BridgeProcess host(dir.path / "host.yaml", dir.path / "host.log");
    BridgeProcess edge(dir.path / "edge.yaml", dir.path / "edge.log", "edge");
    BOOST_TEST_REQUIRE(host.start(20s), tail(host.log_text()));
    BOOST_TEST_REQUIRE(edge.start(20s), tail(edge.log_text()));
    auto token = bb::edge::mint_dev_token(
        config.edge->auth, nlohmann::json{{"sub", "42"}, {"exp", std::time(nullptr) + 600}});
    BOOST_TEST_REQUIRE(token.ok());
    WsClient ws(edge_port(edge));
    BOOST_TEST_REQUIRE(ws.connect(*token).value("op", "") == "connected");
    BOOST_TEST_REQUIRE(ws.subscribe("user:42:notifications", 2).value("op", "") == "subscribed");

    // One aggregate, so the router hands the messages to RT in the events' order.
    Stopwatch clock;
    FeedPacing pacing;
    pacing.between_events = 2ms;
    EventFeed feed(
        client, "cluster", events,
        [](int n) {
            return fault_event("NotificationCreated", "inbox-42",
                               "{\"targetUserId\":\"42\",\"n\":" + std::to_string(n) + "}");
        },
        pacing);
    std::vector<int> received;
    std::vector<uint64_t> seqs;
    auto read_some = [&](size_t until, std::chrono::milliseconds within) {
        auto deadline = std::chrono::steady_clock::now() + within;
        while (received.size() < until && std::chrono::steady_clock::now() < deadline) {
            auto m = ws.next_op("message", 1s);
            if (!m) continue;
            seqs.push_back((*m)["seq"].get<uint64_t>());
            const auto& n = (*m)["data"]["n"];
            received.push_back(n.is_string() ? std::stoi(n.get<std::string>()) : n.get<int>());
        }
    };

    std::vector<std::string> killed;
    std::vector<int64_t> healthy_ms;
    size_t last = cluster.size();  // none killed yet
    for (const char* stream : {"EVENTS", "RT"}) {
        size_t target = static_cast<size_t>(events) * (killed.size() + 1) / 3;
        read_some(target, 30s);
        size_t i = victim(cluster, client.js(), stream, last);
        killed.push_back(NatsCluster::name_of(i) + "(" + stream + " leader)");
        Stopwatch outage;
        cluster.server(i).kill_now();
        BOOST_TEST_MESSAGE("killed " << killed.back() << " at " << received.size() << " messages, "
                                     << clock.ms() << " ms");
        read_some(received.size() + 50, 10s);  // the flow goes on without it
        cluster.server(i).restart();
        for (const char* s : {"EVENTS", "DLQ", "RT"}) {
            BOOST_TEST(wait_stream_healthy(client.js(), s, 3, 30s), s);
        }
        healthy_ms.push_back(outage.ms());
        last = i;
    }
    feed.join();
    read_some(static_cast<size_t>(events), 60s);
    auto rows = [&] { return sqlite_count(db, "SELECT count(DISTINCT id) FROM events"); };
    BOOST_TEST(wait_until([&] { return rows() == events; }, 30s, 50ms));
    BOOST_TEST(wait_until([&] { return consumers_idle(client.js(), "EVENTS", 2); }, 30s, 50ms));
    BOOST_TEST(!ws.next_op("message", 500ms).has_value(), "a message beyond the events arrived");

    std::set<int> distinct(received.begin(), received.end());
    bool in_order =
        std::is_sorted(received.begin(), received.end()) &&
        std::adjacent_find(seqs.begin(), seqs.end(), std::greater_equal<>()) == seqs.end();
    for (size_t i = 1; i < received.size() && !in_order; ++i) {
        if (received[i] < received[i - 1] || seqs[i] <= seqs[i - 1]) {
            BOOST_TEST_MESSAGE("out of order at " << i << ": n " << received[i - 1] << " then "
                                                  << received[i] << ", seq " << seqs[i - 1]
                                                  << " then " << seqs[i]);
            break;
        }
    }
    int64_t table_losses = events - rows();
    int64_t message_losses = events - static_cast<int64_t>(distinct.size());
    int64_t duplicates = static_cast<int64_t>(received.size() - distinct.size());
    auto dlq_status = bb::stream_status(client.js(), "DLQ");
    uint64_t dlq = dlq_status ? dlq_status->messages : 0;
    std::ostringstream fig;
    fig << "events=" << events << " killed=" << killed[0] << "," << killed[1]
        << " publish_retries=" << feed.retries() << " table_losses=" << table_losses
        << " message_losses=" << message_losses << " duplicates=" << duplicates
        << " in_order=" << (in_order ? "yes" : "no") << " dlq=" << dlq
        << " back_to_r3_ms=" << healthy_ms[0] << "," << healthy_ms[1] << " total_ms=" << clock.ms();
    print_figures("cluster-kill", fig.str());
    BOOST_TEST(feed.given_up() == 0);
    BOOST_TEST(table_losses == 0);
    BOOST_TEST(message_losses == 0);
    BOOST_TEST(duplicates == 0);
    BOOST_TEST(in_order);
    BOOST_TEST(dlq == 0u);
    BOOST_TEST(host.running());
    BOOST_TEST(edge.running());
}

BOOST_AUTO_TEST_SUITE_END()
