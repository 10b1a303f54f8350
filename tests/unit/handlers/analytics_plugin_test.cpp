// The analytics plugin through the real loader and a real SQLite file, with the fake host
// table recording its metrics and log lines.
#include "handlers/plugin_loader.hpp"

#include "unit/handlers/plugin_harness.hpp"

#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <latch>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using bb::test::FakeHost;
using bb::test::make_event;
using bb::test::PluginInstance;
using bb::test::TempDir;
using bb::test::TestEvent;

namespace {

// A second connection, as a report query would open one.
class Database {
public:
    explicit Database(const std::string& path) {
        if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
            throw std::runtime_error("open " + path + ": " + sqlite3_errmsg(db_));
        }
    }
    ~Database() { sqlite3_close(db_); }
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    void execute(const std::string& sql) {
        char* error = nullptr;
        if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
            std::string text = error != nullptr ? error : "unknown";
            sqlite3_free(error);
            throw std::runtime_error(sql + ": " + text);
        }
    }

    // The first column of the first row, NULL as nullopt.
    std::optional<std::string> value(const std::string& sql) {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
            throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
        }
        std::optional<std::string> out;
        if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
            out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
        }
        sqlite3_finalize(s);
        return out;
    }

    long count(const std::string& where = "1") {
        return std::stol(value("SELECT count(*) FROM events WHERE " + where).value_or("-1"));
    }

private:
    sqlite3* db_ = nullptr;
};

struct AnalyticsFixture {
    bb::handlers::LoadedPlugin plugin = bb::handlers::load_plugin("analytics", {BB_PLUGIN_DIR});
    FakeHost host;
    TempDir dir;

    std::string db_path() const { return (dir / "analytics.db").string(); }
    std::string config(const std::string& rest = "") const {
        return "path: " + db_path() + "\n" + rest;
    }
};

using Answers = std::vector<std::pair<std::string, bb::test::Answer>>;  // event id, answer

// `threads` threads released together, each handling `each` events made by `event(t, i)`.
template <typename MakeEvent>
Answers handle_concurrently(const PluginInstance& instance, int threads, int each,
                            MakeEvent event) {
    Answers answers;
    std::mutex mutex;
    std::latch start(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            start.arrive_and_wait();
            for (int i = 0; i < each; ++i) {
                TestEvent ev = event(t, i);
                auto answer = instance.handle(ev);
                std::lock_guard lock(mutex);
                answers.emplace_back(ev.id, std::move(answer));
            }
        });
    }
    for (auto& w : workers) w.join();
    return answers;
}

std::string id_of(int t, int i) { return "ev-" + std::to_string(t) + "-" + std::to_string(i); }

}  // namespace

BOOST_FIXTURE_TEST_SUITE(analytics_plugin, AnalyticsFixture)

BOOST_AUTO_TEST_CASE(every_event_handled_from_several_threads_becomes_one_row) {
    constexpr int kThreads = 8;
    constexpr int kEach = 100;
    PluginInstance instance(plugin.descriptor(), host, config());

    auto answers = handle_concurrently(instance, kThreads, kEach,
                                       [](int t, int i) { return make_event(id_of(t, i)); });

    for (const auto& [id, a] : answers) BOOST_TEST(a.result == BB_RESULT_DONE, a.error);
    Database db(db_path());
    BOOST_TEST(db.count() == kThreads * kEach);
    BOOST_TEST(host.counter("rows_written_total") == kThreads * kEach);
}

BOOST_AUTO_TEST_CASE(concurrent_events_share_transactions) {
    constexpr int kThreads = 8;
    constexpr int kEach = 50;
    PluginInstance instance(plugin.descriptor(), host, config());

    handle_concurrently(instance, kThreads, kEach,
                        [](int t, int i) { return make_event(id_of(t, i)); });

    double batches = host.counter("batches_total");
    BOOST_TEST_MESSAGE("batches for " << kThreads * kEach << " events: " << batches);
    BOOST_TEST(batches >= 1.0);
    BOOST_TEST(batches < kThreads * kEach);
}

BOOST_AUTO_TEST_CASE(batch_max_bounds_the_rows_of_one_transaction) {
    constexpr int kThreads = 4;
    constexpr int kEach = 25;
    PluginInstance instance(plugin.descriptor(), host, config("batch_max: 1"));

    handle_concurrently(instance, kThreads, kEach,
                        [](int t, int i) { return make_event(id_of(t, i)); });

    BOOST_TEST(host.counter("batches_total") == kThreads * kEach);
    BOOST_TEST(host.counter("rows_written_total") == kThreads * kEach);
}

BOOST_AUTO_TEST_CASE(the_same_event_id_twice_leaves_one_row) {
    PluginInstance instance(plugin.descriptor(), host, config());
    TestEvent first = make_event("ev-dup");
    TestEvent redelivered = first;
    redelivered.attempt = 2;
    redelivered.data_json = R"({"name":"changed"})";

    BOOST_TEST(instance.handle(first).result == BB_RESULT_DONE);
    BOOST_TEST(instance.handle(redelivered).result == BB_RESULT_DONE);
    // Duplicate publishes racing each other on several threads, in shared batches.
    auto answers = handle_concurrently(
        instance, 4, 30, [](int, int i) { return make_event("ev-race-" + std::to_string(i)); });

    for (const auto& [id, a] : answers) BOOST_TEST(a.result == BB_RESULT_DONE, a.error);
    Database db(db_path());
    BOOST_TEST(db.count("id = 'ev-dup'") == 1);
    BOOST_TEST(db.value("SELECT data FROM events WHERE id = 'ev-dup'").value_or("") ==
               R"({"name":"Priya"})");  // the first copy is kept
    BOOST_TEST(db.count() == 1 + 30);
    BOOST_TEST(host.counter("rows_written_total") == 1 + 30);
}

BOOST_AUTO_TEST_CASE(a_row_holds_the_event_attributes_and_null_for_absent_ones) {
    PluginInstance instance(plugin.descriptor(), host, config());
    TestEvent ev = make_event("ev-42", "MessageSent");
    ev.aggregate_type = "chat";
    ev.subject = "room-7";
    ev.causation_id = "";
    ev.data_json = R"({"text":"vamos almoçar? 🍲","len":16})";
    ev.stream_seq = 9'007'199'254'740'993ULL;  // above 2^53: stored as an exact integer

    BOOST_TEST(instance.handle(ev).result == BB_RESULT_DONE);

    Database db(db_path());
    auto column = [&](const std::string& name) {
        return db.value("SELECT " + name + " FROM events WHERE id = 'ev-42'");
    };
    BOOST_TEST(column("type").value_or("") == "MessageSent");
    BOOST_TEST(column("aggregate_type").value_or("") == "chat");
    BOOST_TEST(column("aggregate_id").value_or("") == "room-7");
    BOOST_TEST(column("source").value_or("") == "user-service");
    BOOST_TEST(column("user_id").value_or("") == "actor-1");
    BOOST_TEST(column("correlation_id").value_or("") == "corr-1");
    BOOST_TEST(!column("causation_id").has_value());
    BOOST_TEST(column("time").value_or("") == "2026-11-30T08:00:00.015Z");
    BOOST_TEST(column("data").value_or("") == ev.data_json);
    BOOST_TEST(column("json_extract(data, '$.len')").value_or("") == "16");
    BOOST_TEST(column("stream_seq").value_or("") == "9007199254740993");
    auto received = column("received_at").value_or("");
    BOOST_TEST(received.size() == 24u);  // 2026-12-04T16:40:00.123Z
    BOOST_TEST(column("julianday(received_at) IS NOT NULL").value_or("") == "1");
}

BOOST_AUTO_TEST_CASE(done_means_another_connection_already_sees_the_row) {
    PluginInstance instance(plugin.descriptor(), host, config("batch_wait_ms: 20"));
    Database db(db_path());

    for (int i = 0; i < 20; ++i) {
        auto answer = instance.handle(make_event("ev-" + std::to_string(i)));
        BOOST_TEST_REQUIRE(answer.result == BB_RESULT_DONE);
        BOOST_TEST(db.count() == i + 1);
    }
    BOOST_TEST(db.value("PRAGMA journal_mode").value_or("") == "wal");
}

BOOST_AUTO_TEST_CASE(a_lone_caller_does_not_wait_out_batch_wait) {
    // With one caller no second row can join its batch; waiting would cost a second each.
    PluginInstance instance(plugin.descriptor(), host, config("batch_wait_ms: 1000"));

    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 5; ++i) instance.handle(make_event("ev-" + std::to_string(i)));
    auto elapsed = std::chrono::steady_clock::now() - start;

    BOOST_TEST(elapsed < std::chrono::milliseconds(1000));
    BOOST_TEST(host.counter("batches_total") == 5.0);
}

BOOST_AUTO_TEST_CASE(a_failed_commit_answers_retry_for_its_rows_and_stores_none_of_them) {
    {
        // A trigger stands in for a store that refuses a transaction.
        Database setup(db_path());
        setup.execute(
            "CREATE TABLE events (id TEXT PRIMARY KEY NOT NULL, type TEXT, aggregate_type TEXT,"
            " aggregate_id TEXT, source TEXT, user_id TEXT, correlation_id TEXT,"
            " causation_id TEXT, time TEXT, data TEXT, stream_seq INTEGER, received_at TEXT);"
            "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.type = 'Poison'"
            " BEGIN SELECT RAISE(ABORT, 'poison row refused'); END;");
    }
    PluginInstance instance(plugin.descriptor(), host, config("batch_wait_ms: 50"));

    auto answers = handle_concurrently(instance, 8, 10, [](int t, int i) {
        return make_event(id_of(t, i), t == 0 && i == 0 ? "Poison" : "UserCreated");
    });

    // Which healthy rows shared the poison row's transaction depends on timing; what must
    // hold for each one is: done and stored, or retried with SQLite's error and not stored.
    Database db(db_path());
    size_t retried = 0;
    for (const auto& [id, a] : answers) {
        BOOST_TEST_CONTEXT("event " << id) {
            if (a.result == BB_RESULT_RETRY) {
                ++retried;
                BOOST_TEST(a.error.find("poison row refused") != std::string::npos, a.error);
                BOOST_TEST(db.count("id = '" + id + "'") == 0);
            } else {
                BOOST_TEST(a.result == BB_RESULT_DONE);
                BOOST_TEST(db.count("id = '" + id + "'") == 1);
            }
        }
    }
    BOOST_TEST_MESSAGE("events retried with the poison row: " << retried);
    BOOST_TEST(retried >= 1u);
    BOOST_TEST(db.count() == static_cast<long>(answers.size() - retried));
    BOOST_TEST(db.count("type = 'Poison'") == 0);
    BOOST_TEST(host.counter("rows_written_total") == static_cast<double>(answers.size() - retried));
    auto lines = host.lines();
    size_t failing = 0;
    for (const auto& l : lines) failing += l.text.rfind("analytics store failing", 0) == 0;
    BOOST_TEST(failing >= 1u);

    // The store recovers: once the cause is gone the same event is stored on its retry.
    db.execute("DROP TRIGGER refuse");
    TestEvent poison = make_event(id_of(0, 0), "Poison");
    poison.attempt = 2;
    BOOST_TEST(instance.handle(poison).result == BB_RESULT_DONE);
    BOOST_TEST(db.count("type = 'Poison'") == 1);
}

BOOST_AUTO_TEST_CASE(rows_survive_a_restart_and_redelivery_after_it_adds_none) {
    {
        PluginInstance before(plugin.descriptor(), host, config());
        for (int i = 0; i < 10; ++i) before.handle(make_event("ev-" + std::to_string(i)));
    }
    FakeHost after_host;
    PluginInstance after(plugin.descriptor(), after_host, config());

    for (int i = 0; i < 10; ++i) {
        auto ev = make_event("ev-" + std::to_string(i));
        ev.attempt = 2;
        BOOST_TEST(after.handle(ev).result == BB_RESULT_DONE);
    }

    Database db(db_path());
    BOOST_TEST(db.count() == 10);
    BOOST_TEST(after_host.counter("rows_written_total") == 0.0);
}

BOOST_AUTO_TEST_CASE(a_bad_config_fails_create_with_a_message_naming_the_key) {
    const std::map<std::string, std::string> cases = {
        {"batch_size: 10", "analytics config: batch_size: unknown key"},
        {"batch_max: 0", "batch_max: expected an integer from 1 to 10000, found 0"},
        {"batch_max: lots", "batch_max: expected an integer from 1 to 10000, found 'lots'"},
        {"batch_wait_ms: [5]", "batch_wait_ms: expected an integer"},
        {"batch_max: 8\nbatch_max: 16", "batch_max: repeated key"},
        {"path: ''", "path: expected a file path"},
        {"- path", "expected a map"},
        {"path: [", "analytics config: yaml-cpp: error at line"},
        {"path: ':memory:'", "journal mode expected wal, found memory"},
        {"max_size: 64MB", "max_size: expected a size from 64KiB to 16TiB such as 64MiB"},
        {"max_size: 1KiB", "max_size: expected a size from 64KiB"},
        {"max_size: -5", "max_size: expected a size"},
        {"max_size: 64MiB\nsink: postgres\ndsn: x", "max_size: only with sink: sqlite"},
    };
    for (const auto& [text, expected] : cases) {
        BOOST_TEST_CONTEXT("config '" << text << "'") {
            auto error = bb::test::create_error(plugin.descriptor(), host, text);
            BOOST_TEST(error.value_or("(created)").find(expected) != std::string::npos,
                       error.value_or("(created)"));
        }
    }
}

BOOST_AUTO_TEST_CASE(an_unusable_database_path_fails_create_naming_it) {
    std::string not_a_folder = (dir / "file").string();
    { std::ofstream(not_a_folder) << "x"; }
    std::string not_a_database = (dir / "text.db").string();
    { std::ofstream(not_a_database) << std::string(4096, 'x'); }

    auto under_file =
        bb::test::create_error(plugin.descriptor(), host, "path: " + not_a_folder + "/a.db");
    auto garbage = bb::test::create_error(plugin.descriptor(), host, "path: " + not_a_database);

    BOOST_TEST(under_file.value_or("").find(not_a_folder) != std::string::npos);
    BOOST_TEST(garbage.value_or("").find(not_a_database) != std::string::npos);
    BOOST_TEST(garbage.value_or("").find("not a database") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(opening_the_store_is_logged_once_with_its_settings) {
    PluginInstance instance(plugin.descriptor(), host, config());

    auto lines = host.lines();
    BOOST_TEST_REQUIRE(lines.size() == 1u);
    BOOST_TEST(lines[0].level == BB_LOG_INFO);
    BOOST_TEST(lines[0].text == "analytics store opened path=" + db_path() +
                                    " max_size_bytes=0 batch_max=256 batch_wait_ms=5");
}

// SQLITE_FULL from a size cap takes the same path as from a full disk: the events are
// retried, and the file takes them once there is room (a larger cap after a restart).
BOOST_AUTO_TEST_CASE(a_full_store_retries_its_events_until_a_larger_cap_takes_them) {
    std::vector<std::string> held;
    size_t stored = 0;
    {
        PluginInstance capped(plugin.descriptor(), host, config("max_size: 64KiB"));
        for (int i = 0; i < 5000 && held.size() < 20; ++i) {
            auto ev = make_event("ev-" + std::to_string(i));
            auto answer = capped.handle(ev);
            if (answer.result == BB_RESULT_DONE) {
                ++stored;
                continue;
            }
            BOOST_TEST_REQUIRE(answer.result == BB_RESULT_RETRY);
            BOOST_TEST(answer.error.find(db_path()) != std::string::npos, answer.error);
            BOOST_TEST(answer.error.find("SQLITE_FULL") != std::string::npos, answer.error);
            held.push_back(ev.id);
        }
    }
    BOOST_TEST_MESSAGE("stored under the 64 KiB cap: " << stored);
    BOOST_TEST_REQUIRE(held.size() == 20u);
    BOOST_TEST(stored > 0u);
    BOOST_TEST(host.lines().at(1).text.find("analytics store failing path=" + db_path()) == 0u);

    FakeHost after_host;
    PluginInstance raised(plugin.descriptor(), after_host, config("max_size: 1MiB"));
    for (const auto& id : held) {
        auto ev = make_event(id);
        ev.attempt = 2;
        BOOST_TEST(raised.handle(ev).result == BB_RESULT_DONE);
    }
    Database db(db_path());
    BOOST_TEST(db.count() == static_cast<long>(stored + held.size()));
}

// A real I/O error on the open file: a file-size limit of one byte makes every write fail
// with EFBIG (SQLITE_IOERR). The sink reopens the database once writes work again.
BOOST_AUTO_TEST_CASE(an_io_error_is_retried_and_the_store_reopens_once_writes_work) {
    PluginInstance instance(plugin.descriptor(), host, config());
    BOOST_TEST_REQUIRE(instance.handle(make_event("before")).result == BB_RESULT_DONE);

    rlimit saved{};
    BOOST_TEST_REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
    auto old_handler = signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of the default termination
    rlimit tiny = saved;
    tiny.rlim_cur = 1;
    BOOST_TEST_REQUIRE(setrlimit(RLIMIT_FSIZE, &tiny) == 0);
    std::vector<bb::test::Answer> during;
    for (int i = 0; i < 3; ++i) during.push_back(instance.handle(make_event("held")));
    setrlimit(RLIMIT_FSIZE, &saved);
    signal(SIGXFSZ, old_handler);

    for (const auto& answer : during) {
        BOOST_TEST(answer.result == BB_RESULT_RETRY);
        BOOST_TEST(answer.error.find(db_path()) != std::string::npos, answer.error);
        BOOST_TEST(answer.error.find("SQLITE_IOERR") != std::string::npos, answer.error);
    }
    auto held = make_event("held");
    held.attempt = 4;
    BOOST_TEST(instance.handle(held).result == BB_RESULT_DONE);
    Database db(db_path());
    BOOST_TEST(db.count() == 2);
    auto lines = host.lines();
    BOOST_TEST(lines.back().text == "analytics store recovered path=" + db_path());
}

BOOST_AUTO_TEST_SUITE_END()
