// The analytics plugin's PostgreSQL sink against a real PostgreSQL 15: through the plugin
// loader with the fake host table, straight through the sink for batches larger than one
// statement, and inside the real daemon with a real nats-server.
#define BOOST_TEST_MODULE bb_itest_postgres
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <latch>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "handlers/plugin_loader.hpp"
#include "integration/bridge_fixture.hpp"
#include "integration/postgres_server.hpp"
#include "integration/wait.hpp"
#include "plugins/analytics/postgres_sink.hpp"
#include "unit/handlers/plugin_harness.hpp"

using namespace bb::itest;
using namespace std::chrono_literals;
using bb::test::FakeHost;
using bb::test::make_event;
using bb::test::PluginInstance;
using bb::test::TestEvent;

namespace {

// One server for the whole suite (initdb costs about a second); each test its own table.
PostgresServer& pg() {
    static PostgresServer server;
    return server;
}

std::string fresh_table() {
    static std::atomic<int> next{0};
    return "events_" + std::to_string(++next);
}

struct PgFixture {
    bb::handlers::LoadedPlugin plugin = bb::handlers::load_plugin("analytics", {BB_PLUGIN_DIR});
    FakeHost host;
    std::string table = fresh_table();

    std::string config(const std::string& rest = "") const {
        return "sink: postgres\ndsn: \"" + pg().dsn() + "\"\ntable: " + table + "\n" + rest;
    }
    long count(const std::string& where = "true") const {
        return pg_count(pg().dsn(), "SELECT count(*) FROM " + table + " WHERE " + where);
    }
    std::optional<std::string> value(const std::string& sql) const {
        return pg_value(pg().dsn(), sql);
    }
    size_t log_lines_starting(const std::string& phrase) const {
        size_t n = 0;
        for (const auto& l : host.lines()) n += l.text.rfind(phrase, 0) == 0;
        return n;
    }
};

std::string id_of(int t, int i) { return "ev-" + std::to_string(t) + "-" + std::to_string(i); }

// `threads` threads released together, each handling `each` events; the answers by id.
std::map<std::string, bb::test::Answer> handle_concurrently(const PluginInstance& instance,
                                                            int threads, int each) {
    std::map<std::string, bb::test::Answer> answers;
    std::mutex mutex;
    std::latch start(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            start.arrive_and_wait();
            for (int i = 0; i < each; ++i) {
                auto answer = instance.handle(make_event(id_of(t, i)));
                std::lock_guard lock(mutex);
                answers[id_of(t, i)] = answer;
            }
        });
    }
    for (auto& w : workers) w.join();
    return answers;
}

bb::analytics::Row row_of(const std::string& id, const std::string& type = "UserCreated") {
    bb::analytics::Row row;
    row.id = id;
    row.type = type;
    row.data = R"({"n":1})";
    row.stream_seq = 7;
    row.received_at = "2026-12-01T08:00:00.000Z";
    return row;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(postgres_sink, PgFixture)

BOOST_AUTO_TEST_CASE(events_from_several_threads_become_one_row_each_in_shared_transactions) {
    PluginInstance instance(plugin.descriptor(), host, config());

    auto answers = handle_concurrently(instance, 8, 50);

    for (const auto& [id, a] : answers) BOOST_TEST(a.result == BB_RESULT_DONE, id << a.error);
    BOOST_TEST(count() == 400);
    BOOST_TEST(host.counter("rows_written_total") == 400.0);
    BOOST_TEST(host.counter("batches_total") < 400.0);  // group commit
}

BOOST_AUTO_TEST_CASE(the_same_event_id_again_or_from_another_replica_leaves_one_row) {
    PluginInstance first(plugin.descriptor(), host, config());
    FakeHost other_host;
    PluginInstance second_replica(plugin.descriptor(), other_host, config());
    TestEvent original = make_event("ev-dup");
    TestEvent redelivered = original;
    redelivered.attempt = 2;
    redelivered.data_json = R"({"name":"changed"})";

    BOOST_TEST(first.handle(original).result == BB_RESULT_DONE);
    BOOST_TEST(first.handle(redelivered).result == BB_RESULT_DONE);
    BOOST_TEST(second_replica.handle(redelivered).result == BB_RESULT_DONE);
    // Both replicas racing on the same ids, in shared batches.
    std::thread a([&] { handle_concurrently(first, 4, 30); });
    std::thread b([&] { handle_concurrently(second_replica, 4, 30); });
    a.join();
    b.join();

    BOOST_TEST(count("id = 'ev-dup'") == 1);
    BOOST_TEST(value("SELECT data FROM " + table + " WHERE id = 'ev-dup'").value_or("") ==
               R"({"name":"Priya"})");  // the first copy is kept
    BOOST_TEST(count() == 1 + 4 * 30);
    BOOST_TEST(host.counter("rows_written_total") + other_host.counter("rows_written_total") ==
               1.0 + 4 * 30);
}

BOOST_AUTO_TEST_CASE(a_row_holds_the_event_attributes_and_null_for_absent_ones) {
    PluginInstance instance(plugin.descriptor(), host, config());
    TestEvent ev = make_event("ev-42", "MessageSent");
    ev.aggregate_type = "chat";
    ev.subject = "room-7";
    ev.causation_id = "";
    ev.data_json = R"({"text":"vamos almoçar? 🍲","len":16})";
    ev.stream_seq = 9'007'199'254'740'993ULL;

    BOOST_TEST(instance.handle(ev).result == BB_RESULT_DONE);

    auto column = [&](const std::string& expr) {
        return value("SELECT " + expr + " FROM " + table + " WHERE id = 'ev-42'");
    };
    BOOST_TEST(column("type").value_or("") == "MessageSent");
    BOOST_TEST(column("aggregate_type").value_or("") == "chat");
    BOOST_TEST(column("aggregate_id").value_or("") == "room-7");
    BOOST_TEST(column("user_id").value_or("") == "actor-1");
    BOOST_TEST(!column("causation_id").has_value());
    BOOST_TEST(column("time").value_or("") == "2026-11-30T08:00:00.015Z");
    BOOST_TEST(column("data").value_or("") == ev.data_json);
    BOOST_TEST(column("data::jsonb ->> 'text'").value_or("") == "vamos almoçar? 🍲");
    BOOST_TEST(column("stream_seq").value_or("") == "9007199254740993");
    BOOST_TEST(column("received_at > now() - interval '1 minute'").value_or("") == "t");
}

BOOST_AUTO_TEST_CASE(a_batch_larger_than_one_statement_is_stored_whole_or_not_at_all) {
    bb::analytics::PostgresSink sink(pg().dsn(), table);
    std::vector<bb::analytics::Row> rows;
    for (int i = 0; i < 2500; ++i) rows.push_back(row_of("big-" + std::to_string(i)));

    auto stored = sink.write_batch(rows);
    auto again = sink.write_batch(rows);

    BOOST_TEST(stored.ok(), stored.error);
    BOOST_TEST(stored.inserted == 2500u);
    BOOST_TEST(again.ok(), again.error);
    BOOST_TEST(again.inserted == 0u);
    BOOST_TEST(count() == 2500);

    // A row the table refuses, in the third statement, takes the first two with it.
    pg_value(pg().dsn(), "ALTER TABLE " + table + " ADD CHECK (type <> 'Poison')");
    std::vector<bb::analytics::Row> poisoned;
    for (int i = 0; i < 2500; ++i) {
        poisoned.push_back(row_of("p-" + std::to_string(i), i == 2200 ? "Poison" : "Fine"));
    }
    auto refused = sink.write_batch(poisoned);
    BOOST_TEST(!refused.ok());
    BOOST_TEST(refused.error.find("violates check constraint") != std::string::npos, refused.error);
    BOOST_TEST(count("id LIKE 'p-%'") == 0);
}

BOOST_AUTO_TEST_CASE(replicas_creating_a_new_table_at_once_all_start) {
    std::vector<std::optional<std::string>> errors(6);
    std::latch start(6);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < errors.size(); ++i) {
        threads.emplace_back([&, i] {
            FakeHost own;
            start.arrive_and_wait();
            errors[i] = bb::test::create_error(plugin.descriptor(), own, config());
        });
    }
    for (auto& t : threads) t.join();
    for (const auto& e : errors) BOOST_TEST(!e.has_value(), e.value_or(""));
}

BOOST_AUTO_TEST_CASE(a_server_stopped_mid_stream_fails_events_for_retry_and_loses_none) {
    PluginInstance instance(plugin.descriptor(), host, config("batch_wait_ms: 2"));
    constexpr int kThreads = 4;
    constexpr int kEach = 150;
    std::atomic<int> done{0};
    std::atomic<int> retried{0};
    std::latch start(kThreads + 1);
    std::vector<std::thread> workers;
    for (int t = 0; t < kThreads; ++t) {
        workers.emplace_back([&, t] {
            start.arrive_and_wait();
            auto deadline = std::chrono::steady_clock::now() + 40s;
            for (int i = 0; i < kEach; ++i) {
                // As the host does: a retried event comes back until it is done.
                while (instance.handle(make_event(id_of(t, i))).result != BB_RESULT_DONE) {
                    ++retried;
                    if (std::chrono::steady_clock::now() > deadline) return;
                    std::this_thread::sleep_for(20ms);
                }
                ++done;
            }
        });
    }
    start.arrive_and_wait();
    BOOST_TEST_REQUIRE(wait_until([&] { return done.load() >= 100; }, 20s));
    pg().stop();
    bool failing = wait_until([&] { return retried.load() >= kThreads; }, 20s);
    int done_while_down = done.load();
    pg().restart();
    for (auto& w : workers) w.join();

    BOOST_TEST(failing, "no event was answered retry while the server was down");
    BOOST_TEST(done_while_down < kThreads * kEach);  // the outage fell mid-stream
    BOOST_TEST(done.load() == kThreads * kEach);
    BOOST_TEST(count() == kThreads * kEach);
    BOOST_TEST(count("id LIKE 'ev-%'") == kThreads * kEach);
    BOOST_TEST(log_lines_starting("analytics store failing") >= 1u);
    BOOST_TEST(log_lines_starting("analytics store recovered") >= 1u);
}

BOOST_AUTO_TEST_CASE(a_config_the_sink_cannot_use_fails_create_naming_the_problem) {
    // Port 1 on loopback: nothing listens there.
    std::string unreachable = "host=127.0.0.1 port=1 user=app password=hunter2 dbname=stats";
    const std::map<std::string, std::string> cases = {
        {"sink: mysql", "sink: expected sqlite or postgres, found 'mysql'"},
        {"sink: postgres", "dsn: required with sink: postgres"},
        {"sink: postgres\ndsn: x=y\npath: a.db", "path: only with sink: sqlite"},
        {"dsn: \"host=x\"", "dsn: only with sink: postgres"},
        {"sink: postgres\ndsn: \"h=1\"\ntable: Bad-Name", "table: expected 1 to 63 characters"},
        {"sink: postgres\ndsn: nonsense", "postgres: malformed dsn: missing \"=\""},
        {"sink: postgres\ndsn: \"" + unreachable + "\"",
         "postgres 127.0.0.1:1/stats: cannot connect"},
        {"sink: postgres\ndsn: \"" + pg().dsn() + " dbname=missing\"",
         "database \"missing\" does not exist"},
    };
    for (const auto& [text, expected] : cases) {
        BOOST_TEST_CONTEXT("config '" << text << "'") {
            auto error = bb::test::create_error(plugin.descriptor(), host, text);
            BOOST_TEST(error.value_or("(created)").find(expected) != std::string::npos,
                       error.value_or("(created)"));
            BOOST_TEST(error.value_or("").find("hunter2") == std::string::npos);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_table_without_the_columns_stops_start_up) {
    pg_value(pg().dsn(), "CREATE TABLE " + table + " (id TEXT, type TEXT)");

    auto error = bb::test::create_error(plugin.descriptor(), host, config());

    BOOST_TEST(error.value_or("(created)").find("table cannot take the rows") != std::string::npos,
               error.value_or("(created)"));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------
// Inside the real daemon, with a real nats-server.

namespace {

// True when every consumer of EVENTS has delivered `messages` and has none unacknowledged.
bool all_acknowledged(jsCtx* js, uint64_t messages) {
    jsConsumerInfoList* list = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (js_Consumers(&list, js, "EVENTS", nullptr, &jerr) != NATS_OK) return false;
    bool all = list->Count > 0;
    for (int i = 0; i < list->Count; ++i) {
        const jsConsumerInfo* c = list->List[i];
        all = all && c->Delivered.Stream >= messages && c->NumAckPending == 0 && c->NumPending == 0;
    }
    jsConsumerInfoList_Destroy(list);
    return all;
}

std::string pg_binding(const std::string& table, const std::string& dsn) {
    return "  - name: analytics\n    plugin: analytics\n    subjects: [\"events.>\"]\n"
           "    start: all\n    concurrency: 4\n    attempts: 1000\n"
           "    backoff: { initial: 50ms, factor: 2, max: 300ms, jitter: 0 }\n"
           "    config:\n      sink: postgres\n      dsn: \"" +
           dsn + "\"\n      table: " + table + "\n";
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(postgres_in_the_daemon, BridgeFixture)

BOOST_AUTO_TEST_CASE(published_and_redelivered_events_land_once_each) {
    std::string table = fresh_table();
    start_bridge(pg_binding(table, pg().dsn()));
    for (int i = 0; i < 200; ++i) publish(make_event("UserCreated", "ev-" + std::to_string(i)));
    // The same events stored again under new Nats-Msg-Ids, as a redelivery presents them.
    for (int i = 0; i < 20; ++i) {
        auto wire = bb::encode(make_event("UserCreated", "ev-" + std::to_string(i)), "events");
        BOOST_TEST_REQUIRE(wire.ok());
        BOOST_TEST_REQUIRE(
            client()
                .js_publish(wire->subject, wire->headers, wire->body, "again-" + std::to_string(i))
                .ok());
    }
    std::string sql = "SELECT count(*) FROM " + table;
    BOOST_TEST(wait_until([&] { return pg_count(pg().dsn(), sql) == 200; }, 20s));
    BOOST_TEST_REQUIRE(stream_messages("EVENTS") == 220u);
    // Every copy handled (none left pending), and still one row each.
    BOOST_TEST(wait_until([&] { return all_acknowledged(client().js(), 220); }, 20s));
    BOOST_TEST(pg_count(pg().dsn(), sql + " WHERE id = 'ev-7' AND correlation_id = 'corr-ev-7'") ==
               1);
    BOOST_TEST(pg_count(pg().dsn(), sql) == 200);
}

BOOST_AUTO_TEST_CASE(postgres_stopped_mid_stream_loses_no_event) {
    std::string table = fresh_table();
    std::string sql = "SELECT count(*) FROM " + table;
    start_bridge(pg_binding(table, pg().dsn()));
    for (int i = 0; i < 300; ++i) publish(make_event("UserCreated", "a-" + std::to_string(i)));
    BOOST_TEST_REQUIRE(wait_until([&] { return pg_count(pg().dsn(), sql) >= 50; }, 20s));

    pg().stop();
    for (int i = 0; i < 300; ++i) publish(make_event("UserCreated", "b-" + std::to_string(i)));
    bool failing = wait_until(
        [&] { return bridge().log_text().find("analytics store failing") != std::string::npos; },
        20s, 20ms);
    pg().restart();

    BOOST_TEST(failing, "the daemon never saw the store fail");
    bool all = wait_until([&] { return pg_count(pg().dsn(), sql) == 600; }, 30s, 50ms);
    std::string log = bridge().log_text();
    BOOST_TEST(all, "rows: " << pg_count(pg().dsn(), sql) << "\n"
                             << log.substr(log.size() > 4000 ? log.size() - 4000 : 0));
    BOOST_TEST(pg_count(pg().dsn(), "SELECT count(DISTINCT id) FROM " + table) == 600);
    BOOST_TEST(log.find("analytics store recovered") != std::string::npos);
    BOOST_TEST(dlq_messages().empty());
}

BOOST_AUTO_TEST_CASE(an_unreachable_database_stops_start_up_naming_the_binding) {
    std::string dsn = "host=127.0.0.1 port=1 user=app password=hunter2 dbname=stats";
    BridgeProcess daemon(write_config(pg_binding(fresh_table(), dsn)), dir() / "refused.log");

    BOOST_TEST(!daemon.start(20s));
    int status = 0;
    BOOST_TEST(wait_until([&] { return daemon.exited(&status); }, 10s));
    std::string log = daemon.log_text();
    BOOST_TEST(log.find("binding analytics: plugin analytics refused its config: postgres "
                        "127.0.0.1:1/stats: cannot connect") != std::string::npos,
               log);
    BOOST_TEST(log.find("hunter2") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
