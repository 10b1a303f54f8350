// NATS unreachable for a while (its only server SIGKILLed, then started again on the same
// port and store): the command line's publish fails with a clear error, or waits when its
// connect_timeout outlasts the outage; a handler host and an edge report not ready on
// /readyz during the outage and ready again after it, without a restart, and then work.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <sstream>

#include "broker-bridge/config.hpp"
#include "broker-bridge/edge/token_verifier.hpp"
#include "broker-bridge/nats_client.hpp"
#include "broker-bridge/provisioner.hpp"
#include "integration/edge_ws_client.hpp"
#include "integration/fault_support.hpp"
#include "integration/free_port.hpp"
#include "integration/nats_server.hpp"
#include "integration/wait.hpp"

using namespace bb::itest;
using namespace std::chrono_literals;

namespace {

constexpr const char* kSecret = "fault-test-secret-0123456789abcdef";

std::string nats_yaml(const std::string& url, const std::string& connect_timeout) {
    return "nats:\n  url: " + url + "\n  connect_timeout: " + connect_timeout +
           "\n  reconnect_wait: 50ms\n  reconnect_wait_max: 200ms\n  request_timeout: 1s\n"
           "log:\n  level: info\n";
}

std::string host_yaml(const std::string& url, int admin_port, const std::filesystem::path& db) {
    return nats_yaml(url, "2s") + "admin:\n  listen: 127.0.0.1:" + std::to_string(admin_port) +
           "\nplugins:\n  path: [" BB_PLUGIN_DIR
           "]\n"
           "handlers:\n  ack_margin: 500ms\n  fetch_wait: 500ms\n  shutdown_timeout: 3s\n"
           "bindings:\n"
           "  - name: analytics\n    plugin: analytics\n    subjects: [\"events.>\"]\n"
           "    timeout: 1s\n    config:\n      path: " +
           db.string() + "\n";
}

std::string edge_yaml(const std::string& url, int admin_port) {
    return nats_yaml(url, "2s") + "admin:\n  listen: 127.0.0.1:" + std::to_string(admin_port) +
           "\nedge:\n  listen: 127.0.0.1:0\n  drain_timeout: 1s\n"
           "  auth:\n    audience: bridge-test\n    keys:\n"
           "      - {kid: k1, alg: HS256, secret: \"" +
           kSecret +
           "\"}\n"
           "  channels:\n"
           "    - pattern: \"chat:{room}\"\n      subject: \"rt.chat.{room}\"\n"
           "      subscribe: authenticated\n";
}

std::vector<std::string> publish_args(const std::filesystem::path& config, const std::string& id) {
    return {"publish",
            "--config",
            config.string(),
            "--type",
            "OutageChecked",
            "--aggregate-type",
            "Test",
            "--aggregate-id",
            "a-1",
            "--id",
            id};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(faults)

BOOST_AUTO_TEST_CASE(nats_unreachable_makes_processes_not_ready_and_they_recover_alone) {
    const auto outage = std::chrono::milliseconds(env_number("BB_FAULT_OUTAGE_MS", 5000));
    NatsServer server;
    TempFolder dir("bb-itest-faults-outage");
    int host_admin = free_loopback_port();
    int edge_admin = free_loopback_port();
    auto db = dir.path / "analytics.db";
    write_file(dir.path / "host.yaml", host_yaml(server.url(), host_admin, db));
    write_file(dir.path / "edge.yaml", edge_yaml(server.url(), edge_admin));
    // The command line, once with a short connect_timeout (it gives up) and once with one
    // that outlasts the outage (it waits).
    write_file(dir.path / "cli-fail.yaml", nats_yaml(server.url(), "1s"));
    write_file(dir.path / "cli-wait.yaml",
               nats_yaml(server.url(), std::to_string(outage.count() + 20000) + "ms"));
    bb::Config config = bb::load_config(dir.path / "edge.yaml");
    bb::NatsClient client = bb::NatsClient::connect(config.nats, "faults-itest");
    BOOST_TEST_REQUIRE(client.wait_connected(10s));
    for (const bb::StreamConfig* s : {&config.events, &config.dlq, &config.realtime}) {
        bb::ensure_stream(client.js(), *s);
    }
    BridgeProcess host(dir.path / "host.yaml", dir.path / "host.log");
    BridgeProcess edge(dir.path / "edge.yaml", dir.path / "edge.log", "edge");
    BOOST_TEST_REQUIRE(host.start(20s), tail(host.log_text()));
    BOOST_TEST_REQUIRE(edge.start(20s), tail(edge.log_text()));
    auto ready = [&](int port) { return http_status(port, "/readyz") == 200; };
    BOOST_TEST_REQUIRE(ready(host_admin));
    BOOST_TEST_REQUIRE(ready(edge_admin));

    server.kill_now();
    Stopwatch outage_clock;
    BOOST_TEST(wait_until([&] { return http_status(host_admin, "/readyz") == 503; }, 5s));
    BOOST_TEST(wait_until([&] { return http_status(edge_admin, "/readyz") == 503; }, 5s));
    int64_t noticed_ms = outage_clock.ms();

    BridgeCommand failing(publish_args(dir.path / "cli-fail.yaml", "outage-refused"),
                          dir.path / "cli-fail.log");
    int failing_status = failing.wait(10s);
    int64_t failed_after_ms = outage_clock.ms() - noticed_ms;
    BOOST_TEST(failing_status == 2, failing.output());
    BOOST_TEST(failing.output().find("nats.url: no server answered at " + server.url()) !=
                   std::string::npos,
               failing.output());
    BridgeCommand waiting(publish_args(dir.path / "cli-wait.yaml", "outage-waited"),
                          dir.path / "cli-wait.log");

    // The outage lasts its full length; readiness must stay down all along.
    bool stayed_down = wait_until(
        [&] {
            return http_status(host_admin, "/readyz") == 200 ||
                   http_status(edge_admin, "/readyz") == 200 || waiting.exited();
        },
        outage - std::chrono::milliseconds(outage_clock.ms()), 100ms);
    BOOST_TEST(!stayed_down, "ready, or the waiting publish ended, while NATS was down");
    BOOST_TEST(host.running());
    BOOST_TEST(edge.running());

    server.restart();
    Stopwatch recovery;
    BOOST_TEST(wait_until([&] { return ready(host_admin); }, 20s), tail(host.log_text()));
    int64_t host_ready_ms = recovery.ms();
    BOOST_TEST(wait_until([&] { return ready(edge_admin); }, 20s), tail(edge.log_text()));
    int64_t edge_ready_ms = recovery.ms();
    BOOST_TEST(waiting.wait(20s) == 0, waiting.output());
    int64_t waited_publish_ms = recovery.ms();

    // Both work again: the waited event is stored, and a client gets a live message.
    auto waited_rows = [&] {
        return sqlite_count(db, "SELECT count(*) FROM events WHERE id='outage-waited'");
    };
    BOOST_TEST(wait_until([&] { return waited_rows() == 1; }, 20s));
    BOOST_TEST(sqlite_count(db, "SELECT count(*) FROM events WHERE id='outage-refused'") == 0);
    auto token = bb::edge::mint_dev_token(
        config.edge->auth, nlohmann::json{{"sub", "u1"}, {"exp", std::time(nullptr) + 300}});
    BOOST_TEST_REQUIRE(token.ok());
    WsClient ws(edge_port(edge));
    BOOST_TEST_REQUIRE(ws.connect(*token).value("op", "") == "connected");
    BOOST_TEST_REQUIRE(ws.subscribe("chat:after", 2).value("op", "") == "subscribed");
    BOOST_TEST_REQUIRE(client.wait_connected(10s));
    BOOST_TEST(client.js_publish("rt.chat.after", {}, R"({"n":1})", "").ok());
    auto message = ws.next_op("message", 10s);
    BOOST_TEST((message.has_value() && (*message)["data"]["n"] == 1));
    BOOST_TEST(host.running());
    BOOST_TEST(edge.running());

    std::ostringstream fig;
    fig << "outage_ms=" << outage.count() << " not_ready_after_ms=" << noticed_ms
        << " cli_failed_after_ms=" << failed_after_ms << " host_ready_after_ms=" << host_ready_ms
        << " edge_ready_after_ms=" << edge_ready_ms
        << " waiting_publish_done_after_ms=" << waited_publish_ms << " losses=" << 1 - waited_rows()
        << " processes_kept=" << (host.running() && edge.running() ? "yes" : "no");
    print_figures("nats-outage", fig.str());
}

BOOST_AUTO_TEST_SUITE_END()
