// Republished copies the edge never received (its NATS connection was cut while RT stored
// them) are read back from stream RT and delivered, in order, exactly once.
#include <boost/test/unit_test.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "broker-bridge/edge/edge_server.hpp"
#include "broker-bridge/metrics.hpp"
#include "broker-bridge/nats_client.hpp"
#include "integration/edge_fixture.hpp"
#include "integration/edge_ws_client.hpp"
#include "integration/loopback_cutter.hpp"
#include "integration/wait.hpp"

using namespace bb::itest;
using namespace std::chrono_literals;

namespace {

double metric_of(const bb::Metrics& metrics, const std::string& name) {
    std::istringstream text(metrics.serialize());
    std::string line;
    while (std::getline(text, line)) {
        if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
    }
    return -1;
}

// A second edge whose NATS connection runs through `cutter`; the fixture's client publishes
// straight to the server.
struct CutEdge {
    CutEdge(const bb::Config& config, const LoopbackCutter& cutter)
        : nats(bb::NatsClient::connect(nats_config(cutter.port()), "edge-cut")),
          edge(config, nats, metrics) {
        BOOST_TEST_REQUIRE(nats.wait_connected(10s));
        edge.start();
    }
    static bb::NatsConfig nats_config(int port) {
        bb::NatsConfig c;
        c.url = "nats://127.0.0.1:" + std::to_string(port);
        c.reconnect_wait = std::chrono::milliseconds(50);
        c.reconnect_wait_max = std::chrono::milliseconds(100);
        return c;
    }
    bb::NatsClient nats;
    bb::Metrics metrics;
    bb::edge::Edge edge;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(edge_live_gap, EdgeFixture)

BOOST_AUTO_TEST_CASE(messages_stored_while_the_edge_was_cut_off_are_delivered_in_order_once) {
    start_edge();
    LoopbackCutter cutter(server().port());
    CutEdge cut(config(), cutter);
    WsClient c(cut.edge.port());
    BOOST_TEST_REQUIRE(c.connect(token("42"))["op"] == "connected");
    BOOST_TEST_REQUIRE(c.subscribe("user:42:notifications", 2)["op"] == "subscribed");
    const std::string subject = "rt.user.42.notifications";
    publish_rt(subject, {{"n", 1}});
    BOOST_TEST_REQUIRE(read_values(c, 1) == std::vector<int>{1});

    cutter.cut();
    BOOST_TEST_REQUIRE(wait_until([&] { return !cut.nats.connected(); }, 5s));
    publish_rt(subject, {{"n", 2}});
    publish_rt("rt.user.43.notifications", {{"n", 99}});  // another subject
    publish_rt(subject, {{"n", 3}});
    cutter.resume();
    BOOST_TEST_REQUIRE(wait_until([&] { return cut.nats.connected(); }, 5s));

    // No successor reveals 2 and 3: the reconnect alone must bring them.
    BOOST_TEST((read_values(c, 2) == std::vector<int>{2, 3}));
    publish_rt(subject, {{"n", 4}});
    BOOST_TEST((read_values(c, 1) == std::vector<int>{4}));
    BOOST_TEST(!c.next_op("message", 300ms).has_value());
    BOOST_TEST(metric_of(cut.metrics, "broker_bridge_edge_live_fills_total") >= 1);
}

// Nothing of the channel was delivered yet, so the edge has no message to count from: the
// subscription's start (the last sequence stored on the subject, 0 here) is its position.
BOOST_AUTO_TEST_CASE(a_message_stored_while_cut_off_before_any_delivery_is_delivered_once) {
    start_edge();
    LoopbackCutter cutter(server().port());
    CutEdge cut(config(), cutter);
    WsClient c(cut.edge.port());
    BOOST_TEST_REQUIRE(c.connect(token("42"))["op"] == "connected");
    auto subscribed = c.subscribe("user:42:notifications", 2);
    BOOST_TEST_REQUIRE(subscribed["op"] == "subscribed");
    BOOST_TEST_REQUIRE(subscribed["seq"] == 0);

    cutter.cut();
    BOOST_TEST_REQUIRE(wait_until([&] { return !cut.nats.connected(); }, 5s));
    uint64_t seq = publish_rt("rt.user.42.notifications", {{"n", 1}});
    cutter.resume();
    BOOST_TEST_REQUIRE(wait_until([&] { return cut.nats.connected(); }, 5s));

    auto message = c.next_op("message", 5s);
    BOOST_TEST_REQUIRE(message.has_value(), "the message stored during the cut never came");
    BOOST_TEST((*message)["data"]["n"] == 1);
    BOOST_TEST((*message)["seq"] == seq);
    BOOST_TEST(!c.next_op("message", 300ms).has_value(), "the message came twice");
    BOOST_TEST(metric_of(cut.metrics, "broker_bridge_edge_live_fills_total") >= 1);
}

// The channel holds a message from before the subscription: the fill starts after it, and
// the client, which started after it too, receives only what came during the cut.
BOOST_AUTO_TEST_CASE(a_fill_before_any_delivery_starts_after_what_was_stored_at_subscribe) {
    start_edge();
    LoopbackCutter cutter(server().port());
    CutEdge cut(config(), cutter);
    const std::string subject = "rt.user.42.notifications";
    uint64_t before = publish_rt(subject, {{"n", 1}});
    WsClient c(cut.edge.port());
    BOOST_TEST_REQUIRE(c.connect(token("42"))["op"] == "connected");
    auto subscribed = c.subscribe("user:42:notifications", 2);
    BOOST_TEST_REQUIRE(subscribed["op"] == "subscribed");
    BOOST_TEST_REQUIRE(subscribed["seq"] == before);

    cutter.cut();
    BOOST_TEST_REQUIRE(wait_until([&] { return !cut.nats.connected(); }, 5s));
    publish_rt(subject, {{"n", 2}});
    publish_rt(subject, {{"n", 3}});
    cutter.resume();
    BOOST_TEST_REQUIRE(wait_until([&] { return cut.nats.connected(); }, 5s));

    BOOST_TEST((read_values(c, 2) == std::vector<int>{2, 3}));
    BOOST_TEST(!c.next_op("message", 300ms).has_value());
    publish_rt(subject, {{"n", 4}});
    BOOST_TEST((read_values(c, 1) == std::vector<int>{4}));
}

BOOST_AUTO_TEST_CASE(a_live_message_without_a_gap_reads_nothing_back) {
    start_edge();
    WsClient c(port());
    BOOST_TEST_REQUIRE(c.connect(token("42"))["op"] == "connected");
    BOOST_TEST_REQUIRE(c.subscribe("user:42:notifications", 2)["op"] == "subscribed");
    for (int n = 1; n <= 3; ++n) publish_rt("rt.user.42.notifications", {{"n", n}});
    BOOST_TEST((read_values(c, 3) == std::vector<int>{1, 2, 3}));
    BOOST_TEST(metric("broker_bridge_edge_live_fills_total") == 0);
}

BOOST_AUTO_TEST_SUITE_END()
