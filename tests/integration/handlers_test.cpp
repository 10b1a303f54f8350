#define BOOST_TEST_MODULE bb_itest_handlers
#include <boost/test/unit_test.hpp>

#include <sqlite3.h>

#include <fstream>
#include <set>

#include "broker-bridge/cli/commands.hpp"
#include "broker-bridge/provisioner.hpp"

#include "broker-bridge/subject.hpp"
#include "integration/bridge_fixture.hpp"
#include "integration/wait.hpp"

using namespace bb::itest;
using namespace std::chrono_literals;

namespace {

// A scripted binding on every event subject, with short test intervals.
std::string scripted_binding(const std::string& log, const std::string& script,
                             const std::string& extra = "") {
    return "  - name: scripted\n"
           "    plugin: scripted\n"
           "    subjects: [\"events.>\"]\n"
           "    start: all\n"
           "    concurrency: 4\n"
           "    attempts: 3\n"
           "    timeout: 2s\n"
           "    backoff: { initial: 200ms, factor: 2, max: 2s, jitter: 0 }\n" +
           extra +
           "    config:\n"
           "      log_file: " +
           log + "\n" + script;
}

// One handler thread, a 300 ms timeout and a Slow event that takes 1.2 s: the Slow call
// overruns and stays stuck in the plugin while later events wait or are served.
std::string slow_and_fast_binding(const std::string& log) {
    return "  - name: scripted\n    plugin: scripted\n    subjects: [\"events.>\"]\n"
           "    start: all\n    concurrency: 1\n    attempts: 5\n    timeout: 300ms\n"
           "    backoff: { initial: 5s, factor: 1, max: 5s, jitter: 0 }\n"
           "    config:\n      log_file: " +
           log + "\n      sleep_ms_types: { Slow: 1200 }\n";
}

int64_t sqlite_count(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, 1000);
    sqlite3_stmt* st = nullptr;
    int64_t n = -1;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(handler_host, BridgeFixture)

BOOST_AUTO_TEST_CASE(published_events_become_one_analytics_row_each) {
    std::string db = (dir() / "analytics.db").string();
    start_bridge(
        "  - name: analytics\n    plugin: analytics\n    subjects: [\"events.>\"]\n"
        "    start: all\n    concurrency: 4\n    config:\n      path: " +
        db + "\n");
    for (int i = 0; i < 200; ++i) publish(make_event("UserCreated", "ev-" + std::to_string(i)));
    // A producer publishing twice: JetStream drops it inside the duplicate window.
    for (int i = 0; i < 20; ++i) publish(make_event("UserCreated", "ev-" + std::to_string(i)));
    BOOST_TEST(
        wait_until([&] { return sqlite_count(db, "SELECT count(*) FROM events") == 200; }, 20s));
    BOOST_TEST(sqlite_count(db,
                            "SELECT count(*) FROM events WHERE id='ev-7' AND "
                            "type='UserCreated' AND aggregate_type='Test' AND "
                            "correlation_id='corr-ev-7'") == 1);
}

BOOST_AUTO_TEST_CASE(a_failing_handler_is_retried_on_the_backoff_schedule) {
    start_bridge(scripted_binding(handled_log().string(), "      fail_times: 2\n"));
    publish(make_event("UserCreated", "flaky-1"));
    BOOST_TEST_REQUIRE(wait_until([&] { return handled("flaky-1").size() >= 3; }, 20s));
    auto calls = handled("flaky-1");
    BOOST_REQUIRE_EQUAL(calls.size(), 3u);
    BOOST_TEST(calls[0].attempt == 1);
    BOOST_TEST(calls[1].attempt == 2);
    BOOST_TEST(calls[2].attempt == 3);
    BOOST_TEST(calls[2].outcome == "done");
    // Never earlier than the schedule: 200 ms, then 400 ms (jitter 0).
    BOOST_TEST(calls[1].unix_ms - calls[0].unix_ms >= 200);
    BOOST_TEST(calls[2].unix_ms - calls[1].unix_ms >= 400);
    BOOST_TEST(dlq_messages().empty());
}

BOOST_AUTO_TEST_CASE(an_always_failing_event_reaches_the_dlq_with_every_header) {
    start_bridge(scripted_binding(handled_log().string(), "      fail_types: [Broken]\n"));
    auto e = make_event("Broken", "broken-1");
    e.extra_headers.emplace_back("x-tenant", "acme");
    publish(e);
    for (int i = 0; i < 20; ++i) publish(make_event("Fine", "fine-" + std::to_string(i)));
    BOOST_TEST_REQUIRE(wait_until([&] { return stream_messages("DLQ") == 1; }, 20s));
    auto dead = dlq_messages();
    BOOST_REQUIRE_EQUAL(dead.size(), 1u);
    const auto& d = dead[0];
    BOOST_TEST(d.subject == "dlq.scripted.events.test.Broken");
    BOOST_TEST(*d.header("Bridge-Dlq-Reason") == "exhausted");
    BOOST_TEST(*d.header("Bridge-Dlq-Attempts") == "3");
    BOOST_TEST(*d.header("Bridge-Dlq-Binding") == "scripted");
    BOOST_TEST(*d.header("Bridge-Dlq-Plugin") == "scripted");
    BOOST_TEST(*d.header("Bridge-Dlq-Stream") == "EVENTS");
    BOOST_TEST(*d.header("Bridge-Dlq-Original-Subject") == "events.test.Broken");
    BOOST_TEST(*d.header("Bridge-Dlq-Replays") == "0");
    BOOST_TEST(d.header("Bridge-Dlq-Stream-Seq") != nullptr);
    BOOST_TEST(d.header("Bridge-Dlq-First-Failed-At") != nullptr);
    BOOST_TEST(d.header("Bridge-Dlq-Failed-At") != nullptr);
    BOOST_TEST(d.header("Bridge-Dlq-Error")->find("always fails") != std::string::npos);
    BOOST_TEST(*d.header("ce-id") == "broken-1");
    BOOST_TEST(*d.header("ce-correlationid") == "corr-broken-1");
    BOOST_TEST(*d.header("x-tenant") == "acme");
    BOOST_TEST(d.body == R"({"n":1})");
    // On a starved machine a call can overrun its timeout and be answered by the host's
    // timer; its own log line then comes when it returns, after the DLQ entry.
    BOOST_TEST(wait_until([&] { return handled("broken-1").size() == 3u; }, 10s),
               bridge().log_text());
    BOOST_TEST(wait_until([&] { return handled().size() == 23; }, 10s));
}

BOOST_AUTO_TEST_CASE(a_rejected_event_goes_to_the_dlq_without_retries) {
    start_bridge(scripted_binding(handled_log().string(), "      reject_types: [Bad]\n"));
    publish(make_event("Bad", "bad-1"));
    BOOST_TEST_REQUIRE(wait_until([&] { return stream_messages("DLQ") == 1; }, 20s));
    auto d = dlq_messages().at(0);
    BOOST_TEST(*d.header("Bridge-Dlq-Reason") == "reject");
    BOOST_TEST(*d.header("Bridge-Dlq-Attempts") == "1");
    BOOST_TEST(wait_until([&] { return handled("bad-1").size() == 1u; }, 10s));
}

BOOST_AUTO_TEST_CASE(a_message_that_is_not_an_envelope_is_dead_lettered_as_invalid) {
    start_bridge(scripted_binding(handled_log().string(), ""));
    publish_raw("events.test.Garbage", {{"Nats-Msg-Id", "garbage-1"}}, "not an event");
    // A subject smuggling attempt in an attribute is refused before any handler sees it.
    publish_raw("events.test.Evil",
                {{"ce-specversion", "1.0"},
                 {"ce-id", "evil-1"},
                 {"ce-type", "Evil"},
                 {"ce-source", "x"},
                 {"ce-subject", "a b"},
                 {"ce-aggregatetype", "Test"}},
                "{}");
    BOOST_TEST_REQUIRE(wait_until([&] { return stream_messages("DLQ") == 2; }, 20s));
    for (const auto& d : dlq_messages()) {
        BOOST_TEST(*d.header("Bridge-Dlq-Reason") == "invalid");
        BOOST_TEST(*d.header("Bridge-Dlq-Attempts") == "1");
    }
    BOOST_TEST(handled().empty());
}

// Plugins built on plugin.hpp ask for data_json on demand. MessagePack data that JSON
// cannot hold (a bin value) is handled by a plugin that never reads it as JSON; for one that
// does, the read throws, nothing after it runs, and the event is dead-lettered as invalid.
BOOST_AUTO_TEST_CASE(data_that_cannot_be_json_is_invalid_only_where_a_plugin_reads_it_as_json) {
    start_bridge(scripted_binding(handled_log().string(),
                                  "      emit_types: { NeedsJson: Followed }\n"));
    const std::string map_with_bin("\x81\xa1k\xc4\x01\x00", 6);  // {"k": bin [0x00]}
    auto plain = make_event("Plain", "bin-1");
    auto needs_json = make_event("NeedsJson", "bin-2");
    for (bb::Event* e : {&plain, &needs_json}) {
        e->format = bb::DataFormat::kMsgpack;
        e->data = map_with_bin;
        publish(*e);
    }

    BOOST_TEST_REQUIRE(wait_until([&] { return stream_messages("DLQ") == 1; }, 20s));
    auto d = dlq_messages().at(0);
    BOOST_TEST(*d.header("ce-id") == "bin-2");
    BOOST_TEST(*d.header("Bridge-Dlq-Reason") == "invalid");
    BOOST_TEST(d.header("Bridge-Dlq-Error")->find("bin value") != std::string::npos);
    BOOST_TEST_REQUIRE(wait_until([&] { return handled("bin-1").size() == 1u; }, 10s));
    BOOST_TEST(handled("bin-1").at(0).outcome == "done");
    BOOST_TEST(handled("bin-2").empty());      // the throw ended the call before its log line
    BOOST_TEST(stream_messages("EVENTS") == 2);  // no follow-up was published
}

BOOST_AUTO_TEST_CASE(a_filter_skips_non_matching_events_and_acknowledges_them) {
    start_bridge(
        scripted_binding(handled_log().string(), "", "    filter: 'type == \"Wanted\"'\n"));
    publish(make_event("Unwanted", "u-1"));
    publish(make_event("Wanted", "w-1"));
    BOOST_TEST_REQUIRE(wait_until([&] { return handled("w-1").size() == 1; }, 20s));
    BOOST_TEST(handled("u-1").empty());
}

BOOST_AUTO_TEST_CASE(a_later_event_of_an_aggregate_waits_for_an_earlier_retried_one) {
    start_bridge(scripted_binding(handled_log().string(), "      fail_times: 2\n",
                                  "    ordering: per-aggregate\n"));
    publish(make_event("Step", "b-1", "order-2"));
    publish(make_event("Step", "b-2", "order-2"));
    publish(make_event("Other", "c-1", "order-3"));
    BOOST_TEST_REQUIRE(
        wait_until([&] { return handled("b-2").size() == 3 && handled("c-1").size() == 3; }, 30s));
    // Every call for b-2 comes after b-1's final, successful attempt.
    auto b1 = handled("b-1");
    BOOST_REQUIRE_EQUAL(b1.size(), 3u);
    BOOST_TEST(b1.back().outcome == "done");
    std::vector<Handled> all = handled();
    size_t b1_done = 0, b2_first = 0;
    for (size_t i = 0; i < all.size(); ++i) {
        if (all[i].id == "b-1" && all[i].outcome == "done") b1_done = i;
        if (all[i].id == "b-2" && b2_first == 0) b2_first = i;
    }
    BOOST_TEST(b2_first > b1_done);
}

BOOST_AUTO_TEST_CASE(a_handler_that_crashes_its_process_ends_in_the_dlq_after_restarts) {
    // A short timeout keeps the ack wait short: each crash costs one ack wait to redeliver.
    start_bridge(
        "  - name: scripted\n    plugin: scripted\n    subjects: [\"events.>\"]\n"
        "    start: all\n    concurrency: 4\n    attempts: 2\n    timeout: 500ms\n"
        "    config:\n      log_file: " +
        handled_log().string() +
        "\n"
        "      abort_types: [Crash]\n");
    publish(make_event("Crash", "crash-1"));
    for (int i = 0; i < 10; ++i) publish(make_event("Fine", "fine-" + std::to_string(i)));
    // Restart the process whenever it dies, as a supervisor would, until the DLQ has it.
    bool dead_lettered = wait_until(
        [&] {
            if (bridge().exited()) BOOST_TEST_REQUIRE(bridge().start());
            return stream_messages("DLQ") == 1;
        },
        60s, 50ms);
    BOOST_TEST_REQUIRE(dead_lettered, bridge().log_text());
    auto d = dlq_messages().at(0);
    BOOST_TEST(*d.header("Bridge-Dlq-Reason") == "max_deliveries");
    BOOST_TEST(*d.header("ce-id") == "crash-1");
    std::set<std::string> done;
    BOOST_TEST(wait_until(
        [&] {
            done.clear();
            for (const auto& h : handled()) {
                if (h.outcome == "done") done.insert(h.id);
            }
            return done.size() == 10;
        },
        30s));
    // The events that shared a batch with the crashing one lost deliveries to its crashes,
    // yet none of them was dead-lettered.
    BOOST_TEST(stream_messages("DLQ") == 1u);
}

// Bindings on the presence stream crash-loop like any other: the advisory listener of
// that stream dead-letters the event, which names the stream it came from.
BOOST_AUTO_TEST_CASE(a_crash_loop_on_the_presence_stream_ends_in_the_dlq) {
    start_bridge(
        "  - name: scripted\n    plugin: scripted\n    stream: presence\n"
        "    subjects: [\"presence.>\"]\n    start: all\n    attempts: 2\n"
        "    timeout: 500ms\n    config:\n      log_file: " +
            handled_log().string() + "\n      abort_types: [Crash]\n",
        "streams:\n  presence: { name: PRESENCE, subjects: [\"presence.>\"], max_age: 1m }\n");
    auto wire = bb::encode(make_event("Crash", "presence-crash-1"), "presence");
    BOOST_TEST_REQUIRE(wire.ok());
    publish_raw(wire->subject, wire->headers, wire->body);
    bool dead_lettered = wait_until(
        [&] {
            if (bridge().exited()) BOOST_TEST_REQUIRE(bridge().start());
            return stream_messages("DLQ") == 1;
        },
        30s, 50ms);
    BOOST_TEST_REQUIRE(dead_lettered, bridge().log_text());
    auto d = dlq_messages().at(0);
    BOOST_TEST(*d.header("Bridge-Dlq-Reason") == "max_deliveries");
    BOOST_TEST(*d.header("ce-id") == "presence-crash-1");
    BOOST_TEST(*d.header("Bridge-Dlq-Stream") == "PRESENCE");
    BOOST_TEST(*d.header("Bridge-Dlq-Original-Subject") == wire->subject);
}

BOOST_AUTO_TEST_CASE(a_handler_that_overruns_its_timeout_counts_as_a_failed_attempt) {
    start_bridge(
        "  - name: scripted\n    plugin: scripted\n    subjects: [\"events.>\"]\n"
        "    start: all\n    attempts: 2\n    timeout: 300ms\n"
        "    backoff: { initial: 100ms, factor: 1, max: 100ms, jitter: 0 }\n"
        "    config:\n      log_file: " +
        handled_log().string() +
        "\n"
        "      sleep_ms_types: { Slow: 1500 }\n");
    publish(make_event("Slow", "slow-1"));
    BOOST_TEST_REQUIRE(wait_until([&] { return stream_messages("DLQ") == 1; }, 20s));
    auto d = dlq_messages().at(0);
    BOOST_TEST(*d.header("Bridge-Dlq-Reason") == "exhausted");
    BOOST_TEST(d.header("Bridge-Dlq-Error")->find("timed out") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_handler_that_reports_progress_outlasts_its_timeout_and_is_acked_once) {
    // 1.2 s of work against a 300 ms timeout and an 800 ms ack wait (timeout + ack_margin):
    // without in_progress both the host and JetStream would give the event to someone else.
    start_bridge(
        "  - name: scripted\n    plugin: scripted\n    subjects: [\"events.>\"]\n"
        "    start: all\n    concurrency: 1\n    attempts: 3\n    timeout: 300ms\n"
        "    backoff: { initial: 100ms, factor: 1, max: 100ms, jitter: 0 }\n"
        "    config:\n      log_file: " +
        handled_log().string() + "\n      sleep_ms_types: { Slow: 1200 }\n" +
        "      in_progress_ms: 100\n");
    publish(make_event("Slow", "slow-alive"));
    BOOST_TEST_REQUIRE(wait_until([&] { return !handled("slow-alive").empty(); }, 20s));
    auto calls = handled("slow-alive");
    BOOST_TEST(calls.size() == 1u);
    BOOST_TEST(calls[0].outcome == "done");
    BOOST_TEST(calls[0].attempt == 1);
    // Acknowledged once: nothing pending, nothing redelivered, one delivery in all. A later
    // event on the same single worker proves the consumer moved on past it.
    publish(make_event("Fast", "fast-after"));
    BOOST_TEST_REQUIRE(wait_until([&] { return !handled("fast-after").empty(); }, 20s));
    std::string durable = bb::durable_name("scripted", "events.>");
    int64_t redelivered = -1;
    uint64_t delivered = 0;
    // Acks are asynchronous: wait until the server has seen both.
    bool settled = wait_until(
        [&] {
            jsConsumerInfo* info = nullptr;
            jsErrCode jerr = static_cast<jsErrCode>(0);
            if (js_GetConsumerInfo(&info, client().js(), "EVENTS", durable.c_str(), nullptr,
                                   &jerr) != NATS_OK) {
                return false;
            }
            bool idle = info->NumAckPending == 0;
            redelivered = info->NumRedelivered;
            delivered = info->Delivered.Consumer;
            jsConsumerInfo_Destroy(info);
            return idle;
        },
        10s, 50ms);
    BOOST_TEST(settled);
    BOOST_TEST(redelivered == 0);
    BOOST_TEST(delivered == 2u);
    BOOST_TEST(handled("slow-alive").size() == 1u);
    BOOST_TEST(stream_messages("DLQ") == 0u);
    BOOST_TEST(bridge().log_text().find("overran its timeout") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(shutdown_mid_stream_loses_nothing) {
    std::string db = (dir() / "analytics.db").string();
    std::string binding =
        "  - name: analytics\n    plugin: analytics\n    subjects: [\"events.>\"]\n"
        "    start: all\n    concurrency: 4\n    config:\n      path: " +
        db + "\n";
    start_bridge(binding);
    for (int i = 0; i < 3000; ++i) publish(make_event("UserCreated", "s-" + std::to_string(i)));
    wait_until([&] { return sqlite_count(db, "SELECT count(*) FROM events") > 100; }, 20s);
    BOOST_TEST(bridge().stop() == 0);
    BOOST_TEST_REQUIRE(bridge().start());
    bool all_stored =
        wait_until([&] { return sqlite_count(db, "SELECT count(*) FROM events") == 3000; }, 30s);
    std::string log = bridge().log_text();
    BOOST_TEST(all_stored, "rows: " << sqlite_count(db, "SELECT count(*) FROM events") << "\n"
                                    << log.substr(log.size() > 4000 ? log.size() - 4000 : 0));
}

BOOST_AUTO_TEST_CASE(a_follow_up_event_is_published_once_however_often_its_source_is_handled) {
    start_bridge(scripted_binding(handled_log().string(),
                                  "      emit_types: { UserCreated: WelcomeQueued }\n"));
    auto source = make_event("UserCreated", "user-created-1", "u-9");
    auto wire = bb::encode(source, "events");
    BOOST_TEST_REQUIRE(wire.ok());
    // The same event stored twice (two Nats-Msg-Ids), as a redelivery would present it again.
    bb::Headers headers;
    for (const auto& h : wire->headers) {
        if (h.first != "Nats-Msg-Id") headers.push_back(h);
    }
    headers.emplace_back("Nats-Msg-Id", "copy-1");
    publish_raw(wire->subject, headers, wire->body);
    headers.back().second = "copy-2";
    publish_raw(wire->subject, headers, wire->body);
    BOOST_TEST_REQUIRE(wait_until(
        [&] {
            int done = 0;
            for (const auto& h : handled())
                done += (h.type == "UserCreated" && h.outcome == "done");
            return done == 2;
        },
        20s));
    BOOST_TEST_REQUIRE(wait_until([&] { return handled().size() >= 3; }, 20s));
    std::vector<StoredMessage> follow_ups;
    for (uint64_t seq = 1; seq <= stream_messages("EVENTS") + 1; ++seq) {
        auto m = stream_message("EVENTS", seq);
        if (m && m->subject == "events.test.WelcomeQueued") follow_ups.push_back(*m);
    }
    BOOST_REQUIRE_EQUAL(follow_ups.size(), 1u);
    const auto& f = follow_ups[0];
    BOOST_TEST(*f.header("ce-causationid") == "user-created-1");
    BOOST_TEST(*f.header("ce-correlationid") == "corr-user-created-1");
    BOOST_TEST(*f.header("ce-subject") == "u-9");
    BOOST_TEST(*f.header("ce-id") != "user-created-1");
}

BOOST_AUTO_TEST_CASE(consumers_that_no_binding_uses_are_removed_and_foreign_ones_kept) {
    std::string two = scripted_binding(handled_log().string(), "") +
                      "  - name: second\n    plugin: scripted\n    subjects: [events.x.>]\n";
    start_bridge(two);
    BOOST_TEST(bridge().stop() == 0);
    // A consumer some other application made on the same stream.
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = "someone_else";
    cc.AckPolicy = js_AckExplicit;
    jsConsumerInfo* ci = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    BOOST_TEST_REQUIRE(js_AddConsumer(&ci, client().js(), "EVENTS", &cc, nullptr, &jerr) ==
                       NATS_OK);
    jsConsumerInfo_Destroy(ci);
    start_bridge(scripted_binding(handled_log().string(), ""));
    auto exists = [&](const std::string& name) {
        jsConsumerInfo* info = nullptr;
        natsStatus st =
            js_GetConsumerInfo(&info, client().js(), "EVENTS", name.c_str(), nullptr, &jerr);
        jsConsumerInfo_Destroy(info);
        return st == NATS_OK;
    };
    BOOST_TEST(exists(bb::durable_name("scripted", "events.>")));
    BOOST_TEST(!exists(bb::durable_name("second", "events.x.>")));
    BOOST_TEST(exists("someone_else"));
}

BOOST_AUTO_TEST_CASE(a_replayed_event_that_fails_again_accumulates_its_history) {
    start_bridge(scripted_binding(handled_log().string(), "      reject_types: [Bad]\n") +
                 "  - name: bystander\n    plugin: scripted\n    subjects: [\"events.>\"]\n"
                 "    start: all\n    config:\n      log_file: " +
                 (dir() / "bystander.log").string() + "\n");
    auto e = make_event("Bad", "bad-replayed");
    e.extra_headers.emplace_back("x-tenant", "acme");
    publish(e);
    BOOST_TEST_REQUIRE(wait_until([&] { return stream_messages("DLQ") == 1; }, 20s));
    uint64_t first_seq = bb::stream_status(client().js(), "DLQ")->last_seq;
    bb::cli::DlqOptions o;
    o.config = (dir() / "config.yaml").string();
    o.seq = first_seq;
    BOOST_TEST_REQUIRE(bb::cli::dlq_replay(o) == 0);
    // The replay fails again: a new entry whose counters carry on from the first.
    BOOST_TEST_REQUIRE(wait_until(
        [&] {
            auto st = bb::stream_status(client().js(), "DLQ");
            return st && st->last_seq > first_seq && st->messages == 1;
        },
        20s));
    auto again = stream_message("DLQ", bb::stream_status(client().js(), "DLQ")->last_seq);
    BOOST_TEST_REQUIRE(again.has_value());
    BOOST_TEST(*again->header("Bridge-Dlq-Replays") == "1");
    BOOST_TEST(*again->header("Bridge-Dlq-Original-Subject") == "events.test.Bad");
    BOOST_TEST(again->subject == "dlq.scripted.events.test.Bad");
    BOOST_TEST(*again->header("ce-correlationid") == "corr-bad-replayed");
    BOOST_TEST(*again->header("x-tenant") == "acme");
    BOOST_TEST(wait_until([&] { return handled("bad-replayed").size() == 2u; }, 10s));
    // The other binding handled the original once and skipped the replay.
    std::ifstream bystander(dir() / "bystander.log");
    std::string line;
    int lines = 0;
    while (std::getline(bystander, line)) lines += line.find("bad-replayed") != std::string::npos;
    BOOST_TEST(lines == 1);
}

BOOST_AUTO_TEST_CASE(with_no_stand_in_threads_allowed_new_work_waits_for_a_stuck_handler) {
    start_bridge(slow_and_fast_binding(handled_log().string()), "  max_stuck_threads: 0\n");
    publish(make_event("Slow", "slow-2"));
    publish(make_event("Fast", "fast-2"));
    BOOST_TEST_REQUIRE(
        wait_until([&] { return !handled("fast-2").empty() && !handled("slow-2").empty(); }, 20s));
    // The slow call is logged when it returns; the fast one could start only after that.
    BOOST_TEST(handled("fast-2")[0].unix_ms >= handled("slow-2")[0].unix_ms);
}

BOOST_AUTO_TEST_CASE(a_stand_in_thread_serves_new_work_while_a_handler_is_stuck) {
    start_bridge(slow_and_fast_binding(handled_log().string()));
    publish(make_event("Slow", "slow-3"));
    publish(make_event("Fast", "fast-3"));
    BOOST_TEST_REQUIRE(
        wait_until([&] { return !handled("fast-3").empty() && !handled("slow-3").empty(); }, 20s));
    BOOST_TEST(handled("fast-3")[0].unix_ms < handled("slow-3")[0].unix_ms);
}

BOOST_AUTO_TEST_CASE(a_bucket_declared_in_config_serves_plugins_as_idempotency_keys) {
    start_bridge(scripted_binding(handled_log().string(), "      once_bucket: once\n"),
                 "buckets:\n  - { name: once, ttl: 1h }\n");
    auto wire = bb::encode(make_event("Pay", "pay-1"), "events");
    BOOST_TEST_REQUIRE(wire.ok());
    bb::Headers headers;
    for (const auto& h : wire->headers) {
        if (h.first != "Nats-Msg-Id") headers.push_back(h);
    }
    for (const char* copy : {"copy-a", "copy-b"}) {
        auto with_id = headers;
        with_id.emplace_back("Nats-Msg-Id", copy);
        publish_raw(wire->subject, with_id, wire->body);
    }
    BOOST_TEST_REQUIRE(wait_until([&] { return handled("pay-1").size() == 2; }, 20s));
    std::multiset<std::string> outcomes;
    for (const auto& h : handled("pay-1")) outcomes.insert(h.outcome);
    BOOST_TEST(outcomes.count("done") == 1u);
    BOOST_TEST(outcomes.count("duplicate") == 1u);
}

BOOST_AUTO_TEST_CASE(a_plugin_that_asks_for_a_timer_gets_ticks) {
    start_bridge(scripted_binding(handled_log().string(), "      tick_ms: 50\n"));
    BOOST_TEST(wait_until(
        [&] {
            int ticks = 0;
            for (const auto& h : handled()) ticks += h.outcome == "tick";
            return ticks >= 5;
        },
        10s));
}

BOOST_AUTO_TEST_SUITE_END()
