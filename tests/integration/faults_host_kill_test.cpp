// The fault suite (bb_itest_faults): real processes killed, servers lost and stores broken
// while events flow, and the counts afterwards. Sizes come from BB_FAULT_* environment
// variables so scripts/soak runs the same tests longer; each test prints a "figures" line.
//
// This file: the handler host SIGKILLed at moments drawn from a printed seed while events
// flow into the analytics plugin's SQLite table.
#define BOOST_TEST_MODULE bb_itest_faults
#include <boost/test/unit_test.hpp>

#include <random>
#include <sstream>
#include <vector>

#include "integration/bridge_fixture.hpp"
#include "integration/event_feed.hpp"
#include "integration/fault_support.hpp"
#include "integration/wait.hpp"

using namespace bb::itest;
using namespace std::chrono_literals;

namespace {

// A short timeout keeps the ack wait (timeout + ack_margin, 1.5 s) short, so the events a
// killed host held come back quickly. Enough attempts that no event reaches the DLQ for
// having been in flight at every kill.
std::string analytics_binding(const std::filesystem::path& db) {
    return "  - name: analytics\n    plugin: analytics\n    subjects: [\"events.>\"]\n"
           "    start: all\n    concurrency: 8\n    attempts: 50\n    timeout: 1s\n"
           "    backoff: { initial: 100ms, factor: 2, max: 1s, jitter: 0 }\n"
           "    config:\n      path: " +
           db.string() + "\n";
}

// Row counts at which the kills happen, drawn from `seed`, ascending, inside the flow.
std::vector<int64_t> kill_points(uint32_t seed, int kills, int64_t events) {
    std::mt19937 random(seed);
    std::uniform_int_distribution<int64_t> at(events / 20, events * 17 / 20);
    std::vector<int64_t> points;
    for (int i = 0; i < kills; ++i) points.push_back(at(random));
    std::sort(points.begin(), points.end());
    return points;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(faults, BridgeFixture)

BOOST_AUTO_TEST_CASE(a_handler_host_killed_repeatedly_loses_and_duplicates_no_event) {
    const int events = static_cast<int>(env_number("BB_FAULT_EVENTS", 20000));
    const int kills = static_cast<int>(env_number("BB_FAULT_KILLS", 5));
    const auto seed = static_cast<uint32_t>(env_number("BB_FAULT_SEED", 20261201));
    BOOST_TEST_MESSAGE("host kills: seed=" << seed << " (BB_FAULT_SEED) events=" << events
                                           << " kills=" << kills);
    auto db = dir() / "analytics.db";
    start_bridge(analytics_binding(db));
    auto rows = [&] { return sqlite_count(db, "SELECT count(*) FROM events"); };
    // Long soak runs get time in proportion to their size.
    const auto flow_deadline = std::chrono::seconds(60 + events / 1000);

    Stopwatch clock;
    EventFeed feed(client(), "kill", events, [](int n) {
        return fault_event("Counted", "agg-" + std::to_string(n % 64),
                           "{\"n\":" + std::to_string(n) + "}");
    });
    std::mt19937 random(seed + 1);
    std::uniform_int_distribution<int> extra_delay_ms(0, 200);
    std::vector<int64_t> recovery_ms;
    int done_kills = 0;
    for (int64_t point : kill_points(seed, kills, events)) {
        BOOST_TEST_REQUIRE(wait_until([&] { return rows() >= point; }, flow_deadline),
                           "stuck at " << rows() << " rows:\n"
                                       << tail(bridge().log_text()));
        // The moment itself is random, not a condition: a kill mid-batch is the point.
        std::this_thread::sleep_for(std::chrono::milliseconds(extra_delay_ms(random)));
        int64_t at_kill = rows();
        Stopwatch since_kill;
        bridge().kill_now();
        ++done_kills;
        BOOST_TEST_REQUIRE(bridge().start(20s), "no restart:\n" << tail(bridge().log_text()));
        int64_t ready_ms = since_kill.ms();
        // Recovered once rows grow again (or every event is stored).
        BOOST_TEST_REQUIRE(wait_until([&] { return rows() > at_kill || rows() == events; }, 30s));
        recovery_ms.push_back(since_kill.ms());
        BOOST_TEST_MESSAGE("kill " << done_kills << " at " << at_kill << " rows, " << clock.ms()
                                   << " ms: host ready after " << ready_ms
                                   << " ms, rows growing after " << recovery_ms.back() << " ms");
    }
    feed.join();
    BOOST_TEST_REQUIRE(feed.given_up() == 0);
    bool all_stored = wait_until([&] { return rows() == events; }, flow_deadline, 50ms);
    BOOST_TEST(wait_until([&] { return consumers_idle(client().js(), "EVENTS", 1); }, 30s, 50ms),
               "a consumer still has events pending");
    int64_t stored = rows();
    int64_t distinct = sqlite_count(db, "SELECT count(DISTINCT id) FROM events");
    int64_t ours = sqlite_count(db,
                                "SELECT count(DISTINCT stream_seq) FROM events "
                                "WHERE id LIKE 'kill-%'");
    int64_t losses = events - distinct;
    int64_t duplicates = stored - distinct;
    int64_t slowest =
        recovery_ms.empty() ? 0 : *std::max_element(recovery_ms.begin(), recovery_ms.end());
    std::ostringstream fig;
    fig << "events=" << events << " kills=" << done_kills << " seed=" << seed << " rows=" << stored
        << " losses=" << losses << " duplicates=" << duplicates << " dlq=" << stream_messages("DLQ")
        << " max_recovery_ms=" << slowest << " total_ms=" << clock.ms();
    print_figures("host-kill", fig.str());
    BOOST_TEST(all_stored);
    BOOST_TEST(done_kills >= kills);
    BOOST_TEST(losses == 0);
    BOOST_TEST(duplicates == 0);
    BOOST_TEST(ours == events);  // one row per stored message, each from its own sequence
    BOOST_TEST(stream_messages("DLQ") == 0u);  // no event failed, so none is dead
}

BOOST_AUTO_TEST_SUITE_END()
