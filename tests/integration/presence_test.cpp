// Presence across two edge processes and a handler host (docs/PRESENCE.md).
#define BOOST_TEST_MODULE presence
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdio>
#include <map>
#include <random>

#include "integration/presence_cluster.hpp"
#include "integration/wait.hpp"

using namespace bb::itest;
using Statuses = std::map<std::string, std::string>;

namespace {

constexpr auto kSettle = std::chrono::seconds(5);

// Node a's events are handled in order (the binding is ordered per node), so once a marker
// user connected on a after some change shows up, that change has been handled too.
void settle_through_marker(PresenceCluster& cluster, PresenceView& view, char node,
                           Statuses expected, const std::string& marker) {
    auto m = cluster.connect(node, marker);
    expected[marker] = "online";
    BOOST_TEST_REQUIRE(view.converges_to(expected, kSettle), view.describe());
    m.reset();
    expected.erase(marker);
    BOOST_TEST_REQUIRE(view.converges_to(expected, kSettle), view.describe());
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_user_on_both_nodes_stays_online_until_both_connections_close) {
    PresenceCluster cluster;
    auto view = cluster.watch('b');
    Statuses expected{{"observer", "online"}};
    BOOST_TEST_REQUIRE(view->converges_to(expected, kSettle), view->describe());

    auto on_a = cluster.connect('a', "ann");
    auto on_b = cluster.connect('b', "ann");
    expected["ann"] = "online";
    BOOST_TEST_REQUIRE(view->converges_to(expected, kSettle), view->describe());

    on_a.reset();
    settle_through_marker(cluster, *view, 'a', expected, "marker-a");
    BOOST_TEST(view->users().at("ann") == "online");

    on_b.reset();
    expected.erase("ann");
    BOOST_TEST(view->converges_to(expected, kSettle), view->describe());
}

BOOST_AUTO_TEST_CASE(a_user_is_away_only_when_every_connection_is_away) {
    PresenceCluster cluster;
    auto view = cluster.watch('b');
    auto on_a = cluster.connect('a', "bob");
    auto on_b = cluster.connect('b', "bob");
    Statuses expected{{"observer", "online"}, {"bob", "online"}};
    BOOST_TEST_REQUIRE(view->converges_to(expected, kSettle), view->describe());

    on_a->send({{"op", "presence"}, {"id", 5}, {"status", "away"}});
    auto set = on_a->next_op("presence_set");
    BOOST_TEST_REQUIRE(set.has_value());
    BOOST_TEST(set->value("status", "") == "away");
    settle_through_marker(cluster, *view, 'a', expected, "marker-a");
    BOOST_TEST(view->users().at("bob") == "online");

    on_b->send({{"op", "presence"}, {"id", 6}, {"status", "away"}});
    expected["bob"] = "away";
    BOOST_TEST_REQUIRE(view->converges_to(expected, kSettle), view->describe());

    on_a->send({{"op", "presence"}, {"id", 7}, {"status", "online"}});
    expected["bob"] = "online";
    BOOST_TEST(view->converges_to(expected, kSettle), view->describe());

    // A status that is neither online nor away is refused like any bad command.
    on_a->send({{"op", "presence"}, {"id", 8}, {"status", "busy"}});
    auto error = on_a->next_op("error");
    BOOST_TEST_REQUIRE(error.has_value());
    BOOST_TEST(error->value("code", "") == "bad_request");
    BOOST_TEST(error->value("id", 0) == 8);
}

BOOST_AUTO_TEST_CASE(a_killed_node_turns_its_users_offline_within_the_window) {
    PresenceCluster cluster;
    auto view = cluster.watch('b');
    auto only_a = cluster.connect('a', "carl");
    auto both_a = cluster.connect('a', "dana");
    auto both_b = cluster.connect('b', "dana");
    auto only_b = cluster.connect('b', "erin");
    Statuses expected{
        {"observer", "online"}, {"carl", "online"}, {"dana", "online"}, {"erin", "online"}};
    BOOST_TEST_REQUIRE(view->converges_to(expected, kSettle), view->describe());

    auto killed_at = std::chrono::steady_clock::now();
    cluster.edge('a').kill_now();
    expected.erase("carl");
    // Heartbeats every 200 ms, 3 may be missed, checked every 100 ms: about 0.7 s; the
    // bound leaves room for a loaded 2-core machine.
    BOOST_TEST_REQUIRE(view->converges_to(expected, std::chrono::seconds(4)),
                       view->describe() << "\n"
                                        << cluster.logs());
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - killed_at);
    std::printf("kill -9 of node a noticed after %lld ms\n", static_cast<long long>(took.count()));
    // Not before the node could have missed its heartbeats (the last one may have come
    // up to one interval before the kill).
    BOOST_TEST(took.count() >= kHeartbeatMs * (kMissedHeartbeats - 1) - 50);
    // dana still has her connection on b, erin never left.
    BOOST_TEST(view->users().at("dana") == "online");
    BOOST_TEST(view->users().at("erin") == "online");
}

BOOST_AUTO_TEST_CASE(a_deactivated_user_goes_offline_and_is_closed_with_4010_everywhere) {
    PresenceCluster cluster;
    auto view = cluster.watch('b');
    auto on_a = cluster.connect('a', "fred");
    auto on_b = cluster.connect('b', "fred");
    auto other = cluster.connect('a', "gina");
    Statuses expected{{"observer", "online"}, {"fred", "online"}, {"gina", "online"}};
    BOOST_TEST_REQUIRE(view->converges_to(expected, kSettle), view->describe());

    cluster.publish_event("UserDeactivated", "User", "fred", {{"reason", "test"}});
    BOOST_TEST(on_a->close_code(std::chrono::seconds(5)) == 4010);
    BOOST_TEST(on_b->close_code(std::chrono::seconds(5)) == 4010);
    expected.erase("fred");
    BOOST_TEST(view->converges_to(expected, kSettle), view->describe());
    BOOST_TEST(other->close_code(std::chrono::milliseconds(200)) == -1);
}

// 200 random steps over two nodes; after each, a live subscriber agrees with the truth,
// and every 20 steps a new subscriber's snapshot plus changes does too.
BOOST_AUTO_TEST_CASE(snapshot_and_live_changes_equal_the_true_set_at_every_step) {
    const unsigned seed = 20261201;
    std::printf("presence random sequence seed=%u\n", seed);
    std::mt19937 rng(seed);
    PresenceCluster cluster;
    auto view = cluster.watch('b');

    struct Conn {
        std::string user;
        std::string status = "online";
        std::unique_ptr<WsClient> client;
    };
    std::vector<Conn> conns;
    const std::vector<std::string> users{"u1", "u2", "u3", "u4", "u5", "u6"};
    auto truth = [&] {
        Statuses t{{"observer", "online"}};
        for (const auto& c : conns) {
            auto& s = t[c.user];
            if (c.status == "online" || s.empty()) s = c.status;
        }
        return t;
    };
    for (int step = 1; step <= 200; ++step) {
        int action = static_cast<int>(rng() % 3);
        if (conns.empty() || (action == 0 && conns.size() < 10)) {
            char node = rng() % 2 ? 'a' : 'b';
            std::string user = users[rng() % users.size()];
            conns.push_back(Conn{user, "online", cluster.connect(node, user)});
        } else if (action == 1) {
            Conn& c = conns[rng() % conns.size()];
            c.status = c.status == "online" ? "away" : "online";
            c.client->send({{"op", "presence"}, {"id", step}, {"status", c.status}});
            BOOST_TEST_REQUIRE(c.client->next_op("presence_set").has_value());
        } else {
            conns.erase(conns.begin() + static_cast<long>(rng() % conns.size()));
        }
        Statuses t = truth();
        BOOST_TEST_REQUIRE(view->converges_to(t, kSettle),
                           "step " << step << ": view " << view->describe());
        if (step % 20 == 0) {
            auto fresh = cluster.watch(step % 40 == 0 ? 'a' : 'b', "7", "observer");
            BOOST_TEST_REQUIRE(fresh->converges_to(t, kSettle),
                               "step " << step << ": fresh " << fresh->describe());
        }
    }
}
