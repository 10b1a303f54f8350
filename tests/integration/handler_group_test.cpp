// `broker-bridge run --bindings a,b`: one handler group of a cluster, as the Helm chart runs it.
#define BOOST_TEST_MODULE bb_itest_handler_group
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

#include "broker-bridge/provisioner.hpp"
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

}  // namespace

BOOST_FIXTURE_TEST_SUITE(handler_group, BridgeFixture)

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
