// `broker-bridge run --bindings a,b`: one handler group of a cluster, as the Helm chart runs it.
#define BOOST_TEST_MODULE bb_itest_handler_group
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

#include "broker-bridge/provisioner.hpp"
#include "broker-bridge/subject.hpp"
#include "integration/bridge_fixture.hpp"
#include "integration/wait.hpp"

using namespace bb::itest;
using namespace std::chrono_literals;

namespace {

std::string scripted(const std::string& name, const std::filesystem::path& log) {
    return "  - name: " + name +
           "\n    plugin: scripted\n    subjects: [\"events.>\"]\n    start: all\n"
           "    timeout: 2s\n    config:\n      log_file: " +
           log.string() + "\n";
}

// An edge section that `run` would start without --bindings.
const char* kEdge = R"(edge:
  listen: 127.0.0.1:0
  auth:
    keys: [{kid: k, alg: HS256, secret: "handler-group-test-secret-0123456789abcdef"}]
  channels: [{pattern: "chat:{room}", subject: "rt.chat.{room}", subscribe: authenticated}]
)";

size_t lines_of(const std::filesystem::path& file) {
    std::ifstream in(file);
    size_t n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
}

bool consumer_exists(const bb::NatsClient& nats, const std::string& name) {
    jsConsumerInfo* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetConsumerInfo(&raw, nats.js(), "EVENTS", name.c_str(), nullptr, &jerr);
    if (raw) jsConsumerInfo_Destroy(raw);
    return s == NATS_OK;
}

// A durable consumer on EVENTS carrying the mark broker-bridge gives its own.
void add_marked_consumer(const bb::NatsClient& nats, const std::string& name,
                         const std::string& description) {
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = name.c_str();
    cc.Description = description.c_str();
    cc.FilterSubject = "events.>";
    cc.AckPolicy = js_AckExplicit;
    jsConsumerInfo* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_AddConsumer(&raw, nats.js(), "EVENTS", &cc, nullptr, &jerr);
    if (raw) jsConsumerInfo_Destroy(raw);
    BOOST_TEST_REQUIRE(s == NATS_OK, "cannot add consumer " << name);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(handler_group, BridgeFixture)

// The edge of a cluster runs apart from the handlers but reads the same config, so it
// shares handlers.group: starting it must not delete the handler host's consumers.
BOOST_AUTO_TEST_CASE(an_edge_only_process_keeps_the_consumers_of_its_group) {
    auto handled_log = dir() / "handled-by-host.log";
    // The same file without bindings but with the edge: `run` then starts the edge alone.
    std::filesystem::path edge_config = dir() / "edge.yaml";
    std::filesystem::rename(write_config("", kEdge), edge_config);
    start_bridge(scripted("mail", handled_log), kEdge, {"--bindings", "mail"});
    const std::string durable = bb::durable_name("mail", "events.>");
    BOOST_TEST_REQUIRE(consumer_exists(client(), durable));

    BridgeProcess edge(dir() / "config.yaml", dir() / "edge-command.log", "edge");
    BOOST_TEST_REQUIRE(edge.start(), edge.log_text());
    BOOST_TEST(consumer_exists(client(), durable), edge.log_text());
    BridgeProcess run_edge(edge_config, dir() / "run-edge.log", "run");
    BOOST_TEST_REQUIRE(run_edge.start(), run_edge.log_text());
    BOOST_TEST(consumer_exists(client(), durable), run_edge.log_text());
    BOOST_TEST(run_edge.log_text().find("consumer removed") == std::string::npos);

    publish(make_event("UserCreated", "edge-only-1"));
    BOOST_TEST(wait_until([&] { return lines_of(handled_log) >= 1; }, 20s), bridge().log_text());
}

// Two Deployments may run different bindings of one file under one group (no
// BB_HANDLER_GROUP set): neither deletes the other's consumers, while a consumer of the
// group whose binding left the file is still removed as stale.
BOOST_AUTO_TEST_CASE(processes_of_one_group_keep_each_others_consumers) {
    add_marked_consumer(client(), "gone__events_gt", "broker-bridge group=default binding=gone");
    add_marked_consumer(client(), "other_b__events_gt", "broker-bridge group=other binding=b");
    add_marked_consumer(client(), "foreign", "made by another application");
    auto a_log = dir() / "a.log";
    auto b_log = dir() / "b.log";
    start_bridge(scripted("a", a_log) + scripted("b", b_log), "", {"--bindings", "a"});
    BridgeProcess second(dir() / "config.yaml", dir() / "second.log", "run", {"--bindings", "b"});
    BOOST_TEST_REQUIRE(second.start(), second.log_text());

    BOOST_TEST(consumer_exists(client(), bb::durable_name("a", "events.>")), second.log_text());
    BOOST_TEST(consumer_exists(client(), bb::durable_name("b", "events.>")));
    BOOST_TEST(!consumer_exists(client(), "gone__events_gt"));
    BOOST_TEST(consumer_exists(client(), "other_b__events_gt"));
    BOOST_TEST(consumer_exists(client(), "foreign"));

    publish(make_event("UserCreated", "same-group-1"));
    BOOST_TEST(wait_until([&] { return lines_of(a_log) >= 1 && lines_of(b_log) >= 1; }, 20s),
               bridge().log_text() + second.log_text());
}

BOOST_AUTO_TEST_CASE(only_the_named_bindings_run_and_the_edge_stays_off) {
    auto picked_log = dir() / "picked.log";
    auto skipped_log = dir() / "skipped.log";
    start_bridge(scripted("skipped", skipped_log) + scripted("picked", picked_log), kEdge,
                 {"--bindings", "picked"});
    publish(make_event("UserCreated", "group-1"));
    BOOST_TEST_REQUIRE(wait_until([&] { return lines_of(picked_log) >= 1; }, 20s),
                       bridge().log_text());
    BOOST_TEST(!std::filesystem::exists(skipped_log));
    auto events = bb::stream_status(client().js(), "EVENTS");
    BOOST_REQUIRE(events);
    BOOST_TEST(events->consumer_count == 1);  // no consumer for "skipped"
    std::string log = bridge().log_text();
    BOOST_TEST(log.find("bindings=1 edge=false") != std::string::npos, log);
    BOOST_TEST(log.find("edge listening") == std::string::npos, log);
}

BOOST_AUTO_TEST_CASE(an_unknown_binding_stops_start_up_with_status_2_and_its_name) {
    std::ofstream(dir() / "config.yaml")
        << "nats:\n  url: " << server().url() << "\nplugins:\n  path: [" << BB_TEST_PLUGIN_DIR
        << "]\nbindings:\n"
        << scripted("picked", dir() / "picked.log");
    BridgeProcess bridge(dir() / "config.yaml", dir() / "unknown.log", "run",
                         {"--bindings", "pickd"});
    BOOST_TEST(!bridge.start(10s));
    int status = 0;
    BOOST_TEST_REQUIRE(wait_until([&] { return bridge.exited(&status); }, 10s));
    BOOST_TEST(WEXITSTATUS(status) == 2);
    std::string log = bridge.log_text();
    BOOST_TEST(log.find("--bindings names 'pickd'") != std::string::npos, log);
    BOOST_TEST(log.find("it has: picked") != std::string::npos, log);
}

BOOST_AUTO_TEST_SUITE_END()
