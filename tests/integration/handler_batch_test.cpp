// The handler host's batched fetching and hand-off: full batches from the start when the
// consumer has nothing outstanding, per-aggregate order across drainer threads, and crash
// isolation after a crash that took a whole batch down.
#define BOOST_TEST_MODULE bb_itest_handler_batch
#include <boost/test/unit_test.hpp>

#include <map>
#include <set>

#include "broker-bridge/subject.hpp"
#include "integration/bridge_fixture.hpp"
#include "integration/wait.hpp"

using namespace bb::itest;
using namespace std::chrono_literals;

namespace {

std::string binding(const std::string& log, int concurrency, const std::string& extra) {
    return "  - name: scripted\n    plugin: scripted\n    subjects: [\"events.>\"]\n"
           "    start: all\n    concurrency: " +
           std::to_string(concurrency) + "\n    attempts: 3\n    timeout: 500ms\n" + extra +
           "    config:\n      log_file: " + log + "\n";
}

// The binding's consumer as the server sees it; -1 when it cannot be read.
int64_t ack_pending(const bb::NatsClient& client) {
    std::string durable = bb::durable_name("scripted", "events.>");
    jsConsumerInfo* info = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (js_GetConsumerInfo(&info, client.js(), "EVENTS", durable.c_str(), nullptr, &jerr) !=
        NATS_OK) {
        return -1;
    }
    int64_t n = info->NumAckPending;
    jsConsumerInfo_Destroy(info);
    return n;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(handler_batch, BridgeFixture)

// A consumer with nothing outstanding cannot have events of a crash coming back: the binding
// skips careful single fetches and takes `concurrency + fetch_batch` events at once, even
// with a careful window far longer than the test.
BOOST_AUTO_TEST_CASE(a_fresh_consumer_fetches_full_batches_from_the_start) {
    for (int i = 0; i < 40; ++i) publish(make_event("Slow", "slow-" + std::to_string(i)));
    start_bridge(binding(handled_log().string(), 1, "") + "      sleep_ms_types: {Slow: 400}\n",
                 "  fetch_batch: 20\n  careful_window: 1h\n");
    BOOST_TEST(wait_until([&] { return ack_pending(client()) == 21; }, 10s, 20ms),
               "ack pending: " << ack_pending(client()));
    // Never more than the binding may run plus one batch waiting.
    BOOST_TEST(ack_pending(client()) <= 21);
}

// Drainers on several threads take events from one ready queue; an aggregate's next event
// is queued only once the one before it is answered, so each aggregate runs in order.
BOOST_AUTO_TEST_CASE(a_batch_hand_off_keeps_each_aggregate_in_order) {
    constexpr int kAggregates = 5;
    constexpr int kPerAggregate = 40;
    for (int i = 0; i < kPerAggregate; ++i) {
        for (int a = 0; a < kAggregates; ++a) {
            std::string agg = "order-" + std::to_string(a);
            publish(make_event("Step", agg + "-" + std::to_string(i), agg));
        }
    }
    // Slow enough calls that the binding spreads them over all eight threads.
    start_bridge(binding(handled_log().string(), 8, "    ordering: per-aggregate\n") +
                     "      sleep_ms_types: {Step: 3}\n",
                 "  fetch_batch: 64\n");
    BOOST_TEST_REQUIRE(
        wait_until([&] { return handled().size() >= size_t{kAggregates * kPerAggregate}; }, 30s));
    std::map<std::string, int> next;  // aggregate -> index expected next
    std::set<std::string> seen;
    for (const auto& h : handled()) {
        BOOST_TEST(h.outcome == "done");
        BOOST_TEST(seen.insert(h.id).second, "handled twice: " << h.id);
        auto dash = h.id.rfind('-');
        std::string agg = h.id.substr(0, dash);
        int index = std::stoi(h.id.substr(dash + 1));
        BOOST_TEST(index == next[agg], h.id << " ran out of order");
        next[agg] = index + 1;
    }
    BOOST_TEST(seen.size() == size_t{kAggregates * kPerAggregate});
}

// The first process takes a whole batch with the poison event and crashes: the batch-mates
// it had not answered come back delivered twice. The restarted process finds deliveries
// outstanding, so it fetches one at a time and runs each suspect alone: the poison event
// crashes it without using up another delivery of theirs, and none is dead-lettered although
// attempts is only 3 (a batch fetch on restart would charge them on every crash).
BOOST_AUTO_TEST_CASE(a_poison_event_in_a_full_batch_is_isolated_after_the_crash) {
    for (int i = 0; i < 30; ++i) publish(make_event("Fine", "fine-" + std::to_string(i)));
    publish(make_event("Crash", "crash-1"));
    for (int i = 30; i < 60; ++i) publish(make_event("Fine", "fine-" + std::to_string(i)));
    // Fine events take a moment, so the crash finds batch-mates unanswered.
    start_bridge(binding(handled_log().string(), 4, "") +
                     "      abort_types: [Crash]\n      sleep_ms_types: {Fine: 20}\n",
                 "  fetch_batch: 64\n");
    bool dead_lettered = wait_until(
        [&] {
            if (bridge().exited()) BOOST_TEST_REQUIRE(bridge().start());
            return stream_messages("DLQ") >= 1;
        },
        60s, 50ms);
    BOOST_TEST_REQUIRE(dead_lettered, bridge().log_text());
    std::set<std::string> done;
    BOOST_TEST(wait_until(
        [&] {
            if (bridge().exited()) BOOST_TEST_REQUIRE(bridge().start());
            done.clear();
            for (const auto& h : handled()) {
                if (h.outcome == "done") done.insert(h.id);
            }
            return done.size() == 60;
        },
        30s));
    auto dlq = dlq_messages();
    BOOST_TEST_REQUIRE(dlq.size() == 1u);
    BOOST_TEST(*dlq[0].header("ce-id") == "crash-1");
    // The first crash took batch-mates down with it: the batch was fetched whole.
    int redelivered_fine = 0;
    for (const auto& h : handled()) redelivered_fine += h.type == "Fine" && h.attempt > 1;
    BOOST_TEST(redelivered_fine > 0);
}

// Dead letters go out without waiting on the handler thread; each original is terminated
// only after its DLQ entry is acknowledged: one entry per event, none handled again.
BOOST_AUTO_TEST_CASE(pipelined_dead_letters_make_one_entry_each_and_terminate_the_original) {
    constexpr int kEvents = 80;
    for (int i = 0; i < kEvents; ++i) publish(make_event("Bad", "bad-" + std::to_string(i)));
    start_bridge(binding(handled_log().string(), 8, "") + "      reject_types: [Bad]\n");
    BOOST_TEST_REQUIRE(
        wait_until([&] { return stream_messages("DLQ") >= uint64_t{kEvents}; }, 20s, 20ms));
    BOOST_TEST_REQUIRE(wait_until([&] { return ack_pending(client()) == 0; }, 10s, 20ms));
    std::set<std::string> ids;
    for (const auto& d : dlq_messages()) {
        BOOST_TEST(*d.header("Bridge-Dlq-Reason") == "reject");
        ids.insert(*d.header("ce-id"));
    }
    BOOST_TEST(ids.size() == size_t{kEvents});
    BOOST_TEST(stream_messages("DLQ") == uint64_t{kEvents});
    BOOST_TEST(handled().size() == size_t{kEvents}, "an event was handled again");
}

BOOST_AUTO_TEST_SUITE_END()
