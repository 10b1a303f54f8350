// The analytics store failing under the daemon: a PostgreSQL table the sink's role may no
// longer insert into (a permission error), and one whose inserts fail with SQLSTATE 53100
// disk_full, as a full disk makes them fail. The events are retried, neither acknowledged
// nor dead-lettered, and all land once the fault is cleared.
//
// PostgreSQL rather than SQLite: the SQLite sink keeps its file open, so a chmod or a
// read-only folder does not reach it, and max_page_count is a setting of the sink's own
// connection; a server refusing writes to a live connection is what a full disk or a revoked
// grant looks like.
#include <boost/test/unit_test.hpp>

#include <sstream>

#include "integration/bridge_fixture.hpp"
#include "integration/event_feed.hpp"
#include "integration/fault_support.hpp"
#include "integration/postgres_server.hpp"
#include "integration/wait.hpp"

using namespace bb::itest;
using namespace std::chrono_literals;

namespace {

// One server for the suite: initdb takes seconds.
PostgresServer& pg() {
    static PostgresServer server;
    return server;
}

// A role that owns its table but is no superuser, so a REVOKE binds it.
std::string writer_dsn() {
    static bool created = [] {
        pg_value(pg().dsn(), "CREATE ROLE bridge_writer LOGIN");
        pg_value(pg().dsn(), "GRANT USAGE, CREATE ON SCHEMA public TO bridge_writer");
        return true;
    }();
    (void)created;
    std::string dsn = pg().dsn();
    return dsn.replace(dsn.find("user=postgres"), 13, "user=bridge_writer");
}

std::string binding(const std::string& table) {
    return "  - name: analytics\n    plugin: analytics\n    subjects: [\"events.>\"]\n"
           "    start: all\n    concurrency: 4\n    attempts: 1000\n    timeout: 2s\n"
           "    backoff: { initial: 100ms, factor: 2, max: 300ms, jitter: 0 }\n"
           "    config:\n      sink: postgres\n      dsn: \"" +
           writer_dsn() + "\"\n      table: " + table + "\n";
}

size_t count_of(const std::string& text, const std::string& phrase) {
    size_t n = 0;
    for (size_t at = text.find(phrase); at != std::string::npos; at = text.find(phrase, at + 1)) {
        ++n;
    }
    return n;
}

struct StoreFault {
    std::string name;
    std::string inject;  // SQL run as the superuser
    std::string clear;
    std::string error;  // what the host logs as the store's error
};

// Publishes events while `fault` holds, checks they wait unacknowledged and undead, clears
// it, and checks every one lands exactly once.
void run_store_fault(BridgeFixture& f, const std::string& table, const StoreFault& fault) {
    const int events = static_cast<int>(env_number("BB_FAULT_STORE_EVENTS", 300));
    const auto hold = std::chrono::milliseconds(env_number("BB_FAULT_STORE_MS", 3000));
    std::string rows_sql =
        "SELECT count(*) FROM " + table + " WHERE id LIKE '" + fault.name + "-%'";
    size_t failing_before = count_of(f.bridge().log_text(), "analytics store failing");

    pg_value(pg().dsn(), fault.inject);
    Stopwatch clock;
    EventFeed feed(f.client(), fault.name, events, [](int n) {
        return fault_event("Stored", "agg-" + std::to_string(n % 16), "{\"n\":1}");
    });
    feed.join();
    BOOST_TEST_REQUIRE(feed.given_up() == 0);
    bool noticed = wait_until(
        [&] {
            std::string log = f.bridge().log_text();
            return count_of(log, "analytics store failing") > failing_before &&
                   log.find(fault.error) != std::string::npos;
        },
        20s, 20ms);
    BOOST_TEST(noticed, "the host never logged the store failing:\n"
                            << tail(f.bridge().log_text()));
    // The fault holds its full length; meanwhile nothing is stored, acknowledged or dead.
    bool leaked = wait_until(
        [&] { return pg_count(pg().dsn(), rows_sql) != 0 || f.stream_messages("DLQ") != 0; },
        hold - std::chrono::milliseconds(clock.ms()), 50ms);
    int64_t unacked = ack_pending(f.client().js(), "EVENTS");
    BOOST_TEST(!leaked, "rows stored or events dead-lettered during the fault");
    BOOST_TEST(unacked > 0, "no event held unacknowledged during the fault");

    pg_value(pg().dsn(), fault.clear);
    Stopwatch recovery;
    bool landed = wait_until([&] { return pg_count(pg().dsn(), rows_sql) == events; }, 30s, 50ms);
    int64_t landed_ms = recovery.ms();
    BOOST_TEST(wait_until([&] { return consumers_idle(f.client().js(), "EVENTS", 1); }, 20s));
    int64_t distinct = pg_count(pg().dsn(), "SELECT count(DISTINCT id) FROM " + table +
                                                " WHERE id LIKE '" + fault.name + "-%'");
    int64_t rows = pg_count(pg().dsn(), rows_sql);
    std::ostringstream fig;
    fig << "events=" << events << " fault_ms=" << hold.count()
        << " unacked_during_fault=" << unacked << " dlq=" << f.stream_messages("DLQ")
        << " losses=" << events - distinct << " duplicates=" << rows - distinct
        << " all_landed_after_clear_ms=" << landed_ms;
    print_figures("store-" + fault.name, fig.str());
    BOOST_TEST(landed, "rows: " << rows << "\n" << tail(f.bridge().log_text()));
    BOOST_TEST(events - distinct == 0);
    BOOST_TEST(rows - distinct == 0);
    BOOST_TEST(f.stream_messages("DLQ") == 0u);
    BOOST_TEST(f.bridge().log_text().find("analytics store recovered") != std::string::npos);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(faults, BridgeFixture)

BOOST_AUTO_TEST_CASE(a_store_that_refuses_writes_holds_events_until_it_accepts_them_again) {
    const std::string table = "fault_events";
    start_bridge(binding(table));
    const std::string function =
        "CREATE OR REPLACE FUNCTION fault_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' "
        "USING ERRCODE = 'disk_full'; END $$";
    pg_value(pg().dsn(), function);

    run_store_fault(
        *this, table,
        {"permission", "REVOKE INSERT ON " + table + " FROM bridge_writer",
         "GRANT INSERT ON " + table + " TO bridge_writer", "permission denied for table " + table});
    run_store_fault(*this, table,
                    {"diskfull",
                     "CREATE TRIGGER fault_disk_full BEFORE INSERT ON " + table +
                         " FOR EACH STATEMENT EXECUTE FUNCTION fault_disk_full()",
                     "DROP TRIGGER fault_disk_full ON " + table, "No space left on device"});
}

BOOST_AUTO_TEST_SUITE_END()
