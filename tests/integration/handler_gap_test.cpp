// Per-aggregate order across a lost delivery: the host's NATS connection runs through a
// LoopbackCutter, which throws away what the server sends while an event is delivered and
// then cuts the connection. The event comes back only after its ack wait; the next event of
// its aggregate, published after the cut, arrives first and must wait for it. A binding
// without per-aggregate ordering runs that next event at once. With two processes of one
// group, gaps are normal and the consumer's ack floor ends each wait early.
#define BOOST_TEST_MODULE bb_itest_handler_gap
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <map>
#include <sstream>

#include "broker-bridge/subject.hpp"
#include "integration/bridge_fixture.hpp"
#include "integration/loopback_cutter.hpp"
#include "integration/wait.hpp"

using namespace bb::itest;
using namespace std::chrono_literals;

namespace {

std::string scripted(const std::string& name, const std::string& ordering,
                     const std::filesystem::path& log, const std::string& extra = "") {
    return "  - name: " + name +
           "\n    plugin: scripted\n    subjects: [\"events.>\"]\n    start: all\n"
           "    concurrency: 4\n    attempts: 5\n    timeout: 2s\n    ordering: " +
           ordering + "\n    config:\n      log_file: " + log.string() + "\n" + extra;
}

// Where each event was done in the log (its position), and with which attempt.
struct Done {
    size_t position = 0;
    int attempt = 0;
};
std::map<std::string, Done> done_events(const std::filesystem::path& path) {
    std::map<std::string, Done> out;
    auto log = read_handled_log(path);
    for (size_t i = 0; i < log.size(); ++i) {
        if (log[i].outcome == "done") out[log[i].id] = Done{i, log[i].attempt};
    }
    return out;
}

bool all_done(const std::filesystem::path& path, const std::vector<std::string>& ids) {
    auto done = done_events(path);
    for (const auto& id : ids) {
        if (!done.count(id)) return false;
    }
    return true;
}

// Deliveries the binding's consumer made so far; 0 when it cannot be read.
uint64_t delivered(const bb::NatsClient& client, const std::string& binding) {
    std::string durable = bb::durable_name(binding, "events.>");
    jsConsumerInfo* info = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (js_GetConsumerInfo(&info, client.js(), "EVENTS", durable.c_str(), nullptr, &jerr) !=
        NATS_OK) {
        return 0;
    }
    uint64_t n = info->Delivered.Consumer;
    jsConsumerInfo_Destroy(info);
    return n;
}

std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_text(const std::filesystem::path& path, const std::string& text) {
    std::ofstream(path) << text;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(handler_gap, BridgeFixture)

BOOST_AUTO_TEST_CASE(an_event_whose_delivery_was_lost_runs_before_the_next_of_its_aggregate) {
    LoopbackCutter cutter(server().port());
    auto ordered_log = dir() / "ordered.log";
    auto unordered_log = dir() / "unordered.log";
    // gap_wait far past the test: only the lost event coming back may end the wait.
    auto config = write_config(scripted("ordered", "per-aggregate", ordered_log) +
                                   scripted("unordered", "none", unordered_log),
                               "  gap_wait: 60s\n");
    std::string text = read_text(config);
    const std::string through_cutter = "nats://127.0.0.1:" + std::to_string(cutter.port());
    text.replace(text.find(server().url()), server().url().size(), through_cutter);
    write_text(config, text);
    BridgeProcess host(config, dir() / "host.log");
    BOOST_TEST_REQUIRE(host.start(), host.log_text());

    publish(make_event("Step", "warm-1", "warm"));
    BOOST_TEST_REQUIRE(wait_until(
        [&] { return all_done(ordered_log, {"warm-1"}) && all_done(unordered_log, {"warm-1"}); },
        10s));

    // a-1 is delivered to both bindings while everything the server sends is thrown away.
    cutter.swallow_replies();
    publish(make_event("Step", "a-1", "a"));
    BOOST_TEST_REQUIRE(wait_until(
        [&] {
            return delivered(client(), "ordered") >= 2 && delivered(client(), "unordered") >= 2;
        },
        10s, 10ms));
    cutter.cut();
    publish(make_event("Step", "a-2", "a"));
    publish(make_event("Step", "b-1", "b"));
    cutter.resume();

    const std::vector<std::string> ids{"a-1", "a-2", "b-1"};
    auto both_done = [&] { return all_done(ordered_log, ids) && all_done(unordered_log, ids); };
    BOOST_TEST_REQUIRE(wait_until(both_done, 20s), host.log_text());
    auto ordered = done_events(ordered_log);
    auto unordered = done_events(unordered_log);
    // a-1's first delivery was lost: it ran from its redelivery, after an ack wait.
    BOOST_TEST(ordered["a-1"].attempt >= 2);
    BOOST_TEST(unordered["a-1"].attempt >= 2);
    BOOST_TEST(ordered["a-1"].position < ordered["a-2"].position, "a-2 ran before a-1");
    // Without per-aggregate ordering nothing waits for the redelivery.
    BOOST_TEST(unordered["a-2"].position < unordered["a-1"].position,
               "the unordered binding waited for a-1");
    BOOST_TEST(unordered["b-1"].position < unordered["a-1"].position,
               "the unordered binding waited for a-1");
    for (const auto& h : read_handled_log(ordered_log)) BOOST_TEST(h.outcome == "done", h.id);
}

// Two processes of one group share the consumer, so each sees gaps where the other took
// deliveries. Those are answered by the other process: the ack floor passes them and the
// held events go on long before `gap_wait`.
BOOST_AUTO_TEST_CASE(in_a_group_the_ack_floor_ends_the_wait_for_the_other_process_deliveries) {
    constexpr int kEvents = 120;
    const std::string slow = "      sleep_ms_types: {Step: 5}\n";
    const std::string handlers = "  gap_wait: 60s\n  gap_poll_interval: 50ms\n  fetch_batch: 8\n";
    std::vector<std::filesystem::path> logs{dir() / "first.log", dir() / "second.log"};
    std::vector<std::unique_ptr<BridgeProcess>> hosts;
    for (size_t i = 0; i < logs.size(); ++i) {
        auto text =
            read_text(write_config(scripted("ordered", "per-aggregate", logs[i], slow), handlers));
        auto config = dir() / ("host-" + std::to_string(i) + ".yaml");
        write_text(config, text);
        hosts.push_back(std::make_unique<BridgeProcess>(
            config, dir() / ("host-" + std::to_string(i) + ".log")));
        BOOST_TEST_REQUIRE(hosts.back()->start(), hosts.back()->log_text());
    }
    std::vector<std::string> ids;
    for (int i = 0; i < kEvents; ++i) {
        std::string agg = "g" + std::to_string(i % 6);
        ids.push_back(agg + "-" + std::to_string(i / 6));
        publish(make_event("Step", ids.back(), agg));
    }
    auto done_anywhere = [&] {
        size_t n = 0;
        for (const auto& log : logs) n += done_events(log).size();
        return n;
    };
    BOOST_TEST(wait_until([&] { return done_anywhere() >= size_t{kEvents}; }, 20s),
               "done: " << done_anywhere());
    bool gaps_seen = false;
    for (const auto& host : hosts) {
        gaps_seen =
            gaps_seen || host->log_text().find("deliveries did not arrive") != std::string::npos;
    }
    BOOST_TEST(gaps_seen, "neither process saw the other's deliveries missing");
    BOOST_TEST(!read_handled_log(logs[0]).empty());
    BOOST_TEST(!read_handled_log(logs[1]).empty());
}

BOOST_AUTO_TEST_SUITE_END()
