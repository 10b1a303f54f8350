// The multi-node check: three nats-server processes as one JetStream cluster on loopback,
// the streams with three replicas, two handler hosts and two edges (the real daemon), and a
// WebSocket client. An event published while one NATS server is stopped is handled once and
// delivered to the subscribed client once.
#define BOOST_TEST_MODULE bb_itest_cluster
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "broker-bridge/config.hpp"
#include "broker-bridge/edge/token_verifier.hpp"
#include "broker-bridge/envelope.hpp"
#include "broker-bridge/nats_client.hpp"
#include "broker-bridge/provisioner.hpp"
#include "integration/bridge_process.hpp"
#include "integration/edge_ws_client.hpp"
#include "integration/nats_cluster.hpp"
#include "integration/wait.hpp"

using namespace bb::itest;
using namespace std::chrono_literals;

namespace {

constexpr const char* kSecret = "cluster-test-secret-0123456789abcdef";

// Short waits so a process fails over to another server within a fraction of a second.
std::string common_yaml(const std::string& urls) {
    return "nats:\n  url: \"" + urls +
           "\"\n  reconnect_wait: 50ms\n  reconnect_wait_max: 200ms\n"
           "  request_timeout: 2s\n"
           "log:\n  level: debug\n"
           "streams:\n"
           "  events: { replicas: 3 }\n"
           "  dlq: { replicas: 3 }\n"
           "  realtime: { replicas: 3 }\n"
           "  advisories: { replicas: 3 }\n";
}

// The scripted plugin records each handle() call; the router turns a NotificationCreated
// into a realtime message for its target user.
std::string handlers_yaml(const std::string& urls, const std::filesystem::path& handled_log) {
    return common_yaml(urls) + "plugins:\n  path: [" BB_PLUGIN_DIR ", " BB_TEST_PLUGIN_DIR "]\n" +
           "handlers:\n  ack_margin: 500ms\n  fetch_wait: 500ms\n  shutdown_timeout: 3s\n"
           "  lag_poll_interval: 200ms\n"
           "bindings:\n"
           "  - name: scripted\n    plugin: scripted\n    subjects: [\"events.>\"]\n"
           "    concurrency: 2\n    attempts: 5\n    timeout: 2s\n"
           "    backoff: { initial: 200ms, factor: 2, max: 1s, jitter: 0 }\n"
           "    config:\n      log_file: " +
           handled_log.string() +
           "\n"
           "  - name: router\n    plugin: router\n    subjects: [\"events.>\"]\n"
           "    publish_prefixes: [\"rt.>\"]\n    concurrency: 2\n    timeout: 2s\n"
           "    backoff: { initial: 200ms, factor: 2, max: 1s, jitter: 0 }\n"
           "    config:\n      routes:\n"
           "        - when: { type: NotificationCreated }\n"
           "          channel_subject: rt.user.{data.targetUserId}.notifications\n"
           "          data: { title: \"{data.title}\" }\n";
}

std::string edge_yaml(const std::string& urls) {
    return common_yaml(urls) +
           "edge:\n  listen: 127.0.0.1:0\n  drain_timeout: 2s\n"
           "  auth:\n    audience: bridge-test\n    keys:\n"
           "      - {kid: k1, alg: HS256, secret: \"" +
           kSecret +
           "\"}\n"
           "  channels:\n"
           "    - pattern: \"user:{user}:notifications\"\n"
           "      subject: \"rt.user.{user}.notifications\"\n"
           "      subscribe: \"{user} == sub\"\n";
}

void write_file(const std::filesystem::path& file, const std::string& text) {
    std::ofstream out(file);
    out << text;
}

// The port from the edge's "edge listening ... port=N" line; -1 before it is logged.
int edge_port(const BridgeProcess& edge) {
    std::string log = edge.log_text();
    size_t line = log.find("edge listening");
    size_t at = line == std::string::npos ? line : log.find(" port=", line);
    return at == std::string::npos ? -1 : std::stoi(log.substr(at + 6));
}

// handle() calls of the scripted plugin for `id`, from both hosts' shared O_APPEND log:
// "<unix ms> <id> <attempt> <type> <outcome>".
std::vector<std::string> handled_outcomes(const std::filesystem::path& log, const std::string& id) {
    std::vector<std::string> out;
    std::ifstream in(log);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string ms, event, attempt, type, outcome;
        if (fields >> ms >> event >> attempt >> type >> outcome && event == id) {
            out.push_back(outcome);
        }
    }
    return out;
}

// True when every consumer of EVENTS has no message waiting or unacknowledged.
bool events_consumers_idle(jsCtx* js, int expected_consumers) {
    jsConsumerInfoList* list = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (js_Consumers(&list, js, "EVENTS", nullptr, &jerr) != NATS_OK) return false;
    bool idle = list->Count == expected_consumers;
    for (int i = 0; i < list->Count; ++i) {
        idle = idle && list->List[i]->NumAckPending == 0 && list->List[i]->NumPending == 0;
    }
    jsConsumerInfoList_Destroy(list);
    return idle;
}

class Stopwatch {
public:
    long ms() const {
        return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - start_)
                                     .count());
    }

private:
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

struct TempFolder {
    TempFolder() {
        char tmpl[] = "/tmp/bb-itest-cluster-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempFolder() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::filesystem::path path;
};

std::string tail(const std::string& text) {
    return text.substr(text.size() > 3000 ? text.size() - 3000 : 0);
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_event_published_while_a_nats_server_is_down_is_handled_and_delivered_once) {
    Stopwatch clock;
    NatsCluster cluster(3);
    TempFolder dir;
    write_file(dir.path / "handlers.yaml", handlers_yaml(cluster.urls(), dir.path / "handled.log"));
    write_file(dir.path / "edge.yaml", edge_yaml(cluster.urls()));
    bb::Config config = bb::load_config(dir.path / "edge.yaml");
    bb::NatsClient client = bb::NatsClient::connect(config.nats, "cluster-itest");
    BOOST_TEST_REQUIRE(client.wait_connected(10s));
    BOOST_TEST_MESSAGE("cluster processes up and client connected at " << clock.ms() << " ms");

    // The first stream create fails until the servers have elected a meta leader.
    std::string last_error;
    for (const bb::StreamConfig* s : {&config.events, &config.dlq, &config.realtime}) {
        bool created = wait_until(
            [&] {
                try {
                    bb::ensure_stream(client.js(), *s);
                    return true;
                } catch (const std::exception& e) {
                    last_error = e.what();
                    return false;
                }
            },
            20s, 100ms);
        BOOST_TEST_REQUIRE(created, "stream " << s->name << ": " << last_error);
        BOOST_TEST_MESSAGE("stream " << s->name << " created at " << clock.ms() << " ms");
    }
    for (const char* stream : {"EVENTS", "DLQ", "RT"}) {
        BOOST_TEST_REQUIRE(wait_stream_healthy(client.js(), stream, 3, 20s), stream);
    }
    BOOST_TEST_MESSAGE("R3 streams led with current replicas at " << clock.ms() << " ms");

    std::vector<std::unique_ptr<BridgeProcess>> processes;
    for (int i = 1; i <= 2; ++i) {
        auto n = std::to_string(i);
        processes.push_back(std::make_unique<BridgeProcess>(dir.path / "handlers.yaml",
                                                            dir.path / ("handlers-" + n + ".log")));
        processes.push_back(std::make_unique<BridgeProcess>(
            dir.path / "edge.yaml", dir.path / ("edge-" + n + ".log"), "edge"));
    }
    for (auto& p : processes) {
        BOOST_TEST_REQUIRE(p->start(20s), "not ready:\n" << tail(p->log_text()));
    }
    BOOST_TEST_MESSAGE("two handler hosts and two edges ready at " << clock.ms() << " ms");

    auto claims = nlohmann::json{{"sub", "42"}, {"exp", std::time(nullptr) + 300}};
    auto token = bb::edge::mint_dev_token(config.edge->auth, claims);
    BOOST_TEST_REQUIRE(token.ok());
    WsClient ws(edge_port(*processes[1]));
    BOOST_TEST_REQUIRE(ws.connect(*token).value("op", "") == "connected");
    BOOST_TEST_REQUIRE(ws.subscribe("user:42:notifications", 2).value("op", "") == "subscribed");

    // Stop the server leading EVENTS: the hardest one to lose.
    std::string leader = stream_placement(client.js(), "EVENTS").leader;
    size_t stopped = cluster.index_of(leader);
    BOOST_TEST_REQUIRE(stopped < cluster.size(), "EVENTS has no leader");
    cluster.server(stopped).stop();
    BOOST_TEST_MESSAGE("stopped " << leader << " (EVENTS leader) at " << clock.ms() << " ms");

    bb::Event e;
    e.id = "cluster-ev-1";
    e.type = "NotificationCreated";
    e.source = "itest";
    e.subject = "n-1";
    e.aggregate_type = "Notification";
    e.time = "2026-12-01T08:00:00Z";
    e.format = bb::DataFormat::kJson;
    e.data = R"({"targetUserId":"42","title":"while n is down"})";
    auto wire = bb::encode(e, "events");
    BOOST_TEST_REQUIRE(wire.ok());
    // Until the stream has a new leader a publish times out; the same Nats-Msg-Id makes a
    // retry of a publish that was stored after all a duplicate, not a second event.
    int publishes = 0;
    bool published = wait_until(
        [&] {
            ++publishes;
            return client.js_publish(wire->subject, wire->headers, wire->body, e.id).ok();
        },
        20s, 100ms);
    BOOST_TEST_REQUIRE(published);
    BOOST_TEST_MESSAGE("published after " << publishes << " tries at " << clock.ms() << " ms; "
                                          << "new EVENTS leader "
                                          << stream_placement(client.js(), "EVENTS").leader);

    auto message = ws.next_op("message", 20s);
    BOOST_TEST_REQUIRE(message.has_value(), "no message; handler logs:\n"
                                                << tail(processes[0]->log_text()) << "\n"
                                                << tail(processes[2]->log_text())
                                                << "\nlog of the client's edge:\n"
                                                << tail(processes[1]->log_text()));
    BOOST_TEST((*message)["data"].value("title", "") == "while n is down");
    BOOST_TEST_MESSAGE("delivered to the client at " << clock.ms() << " ms");

    auto handled_log = dir.path / "handled.log";
    BOOST_TEST(wait_until([&] { return !handled_outcomes(handled_log, e.id).empty(); }, 20s));
    // Settled: both bindings' consumers have nothing pending, so no redelivery is coming.
    BOOST_TEST(wait_until([&] { return events_consumers_idle(client.js(), 2); }, 20s));
    BOOST_TEST(handled_outcomes(handled_log, e.id) == std::vector<std::string>{"done"});
    BOOST_TEST(!ws.next_op("message", 1s).has_value(), "a second delivery reached the client");

    cluster.server(stopped).restart();
    for (const char* stream : {"EVENTS", "DLQ", "RT"}) {
        BOOST_TEST(wait_stream_healthy(client.js(), stream, 3, 20s), stream);
    }
    BOOST_TEST_MESSAGE(leader << " back and every stream current at " << clock.ms() << " ms");
}
