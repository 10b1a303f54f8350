// The edge's cross-thread hand-off under ThreadSanitizer: NATS callback threads deliver live
// messages into the event loops' inboxes (SubscriptionHub -> EventLoop::post_live), client
// publishes go from the loops to the worker threads (TaskPool) and back, and subscriptions
// come and go on the loops while messages arrive. Everything a client should get arrives,
// in order, with no report from the sanitizer.
#define BOOST_TEST_MODULE edge_tsan
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "integration/edge_fixture.hpp"
#include "integration/edge_ws_client.hpp"
#include "integration/wait.hpp"

using namespace bb::itest;
using nlohmann::json;

BOOST_FIXTURE_TEST_SUITE(edge_handoff, EdgeFixture)

BOOST_AUTO_TEST_CASE(live_messages_reach_clients_of_every_loop_in_order) {
    constexpr int kClients = 4;
    constexpr int kMessages = 300;
    start_edge("  threads: 2\n  workers: 2\n");
    std::vector<std::unique_ptr<WsClient>> clients;
    for (int i = 0; i < kClients; ++i) {
        clients.push_back(std::make_unique<WsClient>(port()));
        BOOST_TEST_REQUIRE(clients.back()->connect(token("u" + std::to_string(i)))["op"] ==
                           "connected");
        BOOST_TEST_REQUIRE(clients.back()->subscribe("chat:tsan", 2)["op"] == "subscribed");
    }
    // A client that subscribes and unsubscribes over and over while messages flow, so the
    // hub's subscription table changes under the NATS callback threads. Its token is minted
    // here: the fixture's helpers check with Boost.Test, which is not thread-safe.
    const std::string churn_token = token("churn");
    std::atomic<bool> churning{true};
    std::thread churn([&] {
        WsClient c(port());
        c.connect(churn_token);
        for (int i = 0; i < 100 && churning.load(); ++i) {
            c.subscribe("chat:tsan", 10 + 2 * i);
            c.send({{"op", "unsubscribe"}, {"id", 11 + 2 * i}, {"channel", "chat:tsan"}});
            c.next_op("unsubscribed");
        }
    });
    for (int n = 0; n < kMessages; ++n) publish_rt("rt.chat.tsan", {{"n", n}}, "author");
    for (auto& c : clients) {
        int expected = 0;
        while (expected < kMessages) {
            auto m = c->next_op("message", std::chrono::seconds(20));
            BOOST_TEST_REQUIRE(m.has_value(), "message " << expected << " missing");
            BOOST_TEST_REQUIRE((*m)["data"]["n"] == expected);
            ++expected;
        }
    }
    churning = false;
    churn.join();
}

BOOST_AUTO_TEST_CASE(publishes_from_clients_of_both_loops_are_acknowledged) {
    constexpr int kClients = 4;
    constexpr int kPublishes = 50;
    start_edge("  threads: 2\n  workers: 2\n");
    // Tokens are minted on this thread: the fixture checks with Boost.Test, not thread-safe.
    std::vector<std::string> tokens;
    for (int i = 0; i < kClients; ++i) tokens.push_back(token("p" + std::to_string(i)));
    std::vector<std::thread> threads;
    std::atomic<int> acknowledged{0};
    for (int i = 0; i < kClients; ++i) {
        threads.emplace_back([&, i] {
            WsClient c(port());
            c.connect(tokens[i]);
            // One at a time: a connection has at most four commands in progress, and more
            // are answered `limit` at once.
            for (int n = 0; n < kPublishes; ++n) {
                c.send({{"op", "publish"},
                        {"id", 100 + n},
                        {"channel", "doc:d" + std::to_string(i)},
                        {"data", {{"n", n}}}});
                if (c.next_op("published", std::chrono::seconds(20))) acknowledged.fetch_add(1);
            }
        });
    }
    for (auto& t : threads) t.join();
    BOOST_TEST(acknowledged.load() == kClients * kPublishes);
}

BOOST_AUTO_TEST_SUITE_END()
