// The analytics plugin's SQLite store failing under the daemon with the real errors: a file
// at its size cap (SQLITE_FULL, the path a full disk takes), a folder the daemon may not
// write (SQLITE_CANTOPEN) and a read-only file (SQLITE_READONLY). The events are retried,
// neither acknowledged nor dead-lettered, and all land once, after the cause is gone.
//
// The SQLite sink keeps its file open and root ignores permission bits, so the permission
// cases start the daemon against files it may not write, and under the unprivileged user
// `nobody` when the test runs as root (in CI it does); the store then has to open the file
// again by itself once it may. The size cap (`max_size`) is raised by a restart, as a user
// would raise it.
#include <boost/test/unit_test.hpp>

#include <pwd.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <memory>
#include <sstream>

#include "integration/bridge_fixture.hpp"
#include "integration/event_feed.hpp"
#include "integration/fault_support.hpp"
#include "integration/wait.hpp"

using namespace bb::itest;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string binding(const fs::path& db, const std::string& extra = "") {
    return "  - name: analytics\n    plugin: analytics\n    subjects: [\"events.>\"]\n"
           "    start: all\n    concurrency: 4\n    attempts: 1000\n    timeout: 2s\n"
           "    backoff: { initial: 100ms, factor: 2, max: 300ms, jitter: 0 }\n"
           "    config:\n      path: " +
           db.string() + "\n" + extra;
}

std::string whole_log(const BridgeFixture& f) {
    std::ifstream in(f.dir() / "bridge.log");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// Lines of `log` holding every one of `parts`.
size_t lines_with(const std::string& log, std::initializer_list<std::string> parts) {
    std::istringstream in(log);
    size_t n = 0;
    for (std::string line; std::getline(in, line);) {
        bool all = true;
        for (const auto& part : parts) all = all && line.find(part) != std::string::npos;
        n += all;
    }
    return n;
}

std::string first_line_with(const std::string& log, std::initializer_list<std::string> parts) {
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);) {
        bool all = true;
        for (const auto& part : parts) all = all && line.find(part) != std::string::npos;
        if (all) return line;
    }
    return "";
}

struct StoreFault {
    std::string name;                  // id prefix and figures scenario
    fs::path db;                       // the analytics file
    std::string code;                  // the SQLite result code the log must name
    bool rows_readable_during = true;  // false: reading the file would create its -shm as root
    std::function<void()> clear;       // removes the cause (may restart the daemon)
    // The same process goes on once the cause is gone, so it logs "analytics store
    // recovered"; a restart that clears the cause starts a process that never failed.
    bool same_process_recovers = true;
};

// Publishes events while the fault holds, checks they wait unacknowledged and undead with
// the error logged, clears the fault and checks every event lands exactly once.
void run_store_fault(BridgeFixture& f, const StoreFault& fault) {
    const int events = static_cast<int>(env_number("BB_FAULT_STORE_EVENTS", 300));
    const auto hold = std::chrono::milliseconds(env_number("BB_FAULT_STORE_MS", 2000));
    const std::string rows_sql = "SELECT count(*) FROM events WHERE id LIKE '" + fault.name + "-%'";
    auto rows = [&](const std::string& sql) {
        return std::max<int64_t>(0, sqlite_count(fault.db, sql));
    };

    Stopwatch clock;
    // About 1 KB a row: 300 events need several times the 64 KiB cap of the full case.
    const std::string data = "{\"pad\":\"" + std::string(1000, 'x') + "\"}";
    EventFeed feed(f.client(), fault.name, events, [&](int n) {
        return fault_event("Stored", "agg-" + std::to_string(n % 16), data);
    });
    feed.join();
    BOOST_TEST_REQUIRE(feed.given_up() == 0);
    // The codes differ between the cases, so an earlier case's line cannot answer for this one.
    bool noticed = wait_until(
        [&] {
            return lines_with(whole_log(f),
                              {"analytics store failing", fault.db.string(), fault.code}) > 0;
        },
        20s, 20ms);
    BOOST_TEST_REQUIRE(noticed, "no 'analytics store failing' line naming the file and "
                                    << fault.code << ":\n"
                                    << tail(whole_log(f)));
    BOOST_TEST_MESSAGE(first_line_with(whole_log(f), {"analytics store failing", fault.code}));
    int64_t stored_during = fault.rows_readable_during ? rows(rows_sql) : 0;
    bool leaked = wait_until(
        [&] {
            return f.stream_messages("DLQ") != 0 ||
                   (fault.rows_readable_during && rows(rows_sql) >= events);
        },
        hold - std::chrono::milliseconds(clock.ms()), 50ms);
    int64_t unacked = ack_pending(f.client().js(), "EVENTS");
    std::string log = whole_log(f);
    size_t errors_seen = lines_with(log, {"analytics store failing", fault.code});
    size_t retries = lines_with(log, {"attempt failed", "binding=analytics", fault.code});
    BOOST_TEST(!leaked, "every event stored or some dead-lettered during the fault");
    BOOST_TEST(unacked > 0, "no event held unacknowledged during the fault");
    BOOST_TEST(retries > 0u, "no attempt failed with " << fault.code);

    fault.clear();
    Stopwatch recovery;
    bool landed = wait_until([&] { return rows(rows_sql) == events; }, 30s, 50ms);
    int64_t landed_ms = recovery.ms();
    BOOST_TEST(wait_until([&] { return consumers_idle(f.client().js(), "EVENTS", 1); }, 20s));
    int64_t distinct =
        rows("SELECT count(DISTINCT id) FROM events WHERE id LIKE '" + fault.name + "-%'");
    int64_t stored = rows(rows_sql);
    std::ostringstream fig;
    fig << "events=" << events << " error=" << fault.code << " errors_seen=" << errors_seen
        << " retries=" << retries << " stored_during_fault=" << stored_during
        << " unacked_during_fault=" << unacked << " dlq=" << f.stream_messages("DLQ")
        << " losses=" << events - distinct << " duplicates=" << stored - distinct
        << " all_landed_after_clear_ms=" << landed_ms;
    print_figures("sqlite-" + fault.name, fig.str());
    BOOST_TEST(landed, "rows: " << stored << "\n" << tail(whole_log(f)));
    BOOST_TEST(events - distinct == 0, "losses");
    BOOST_TEST(stored - distinct == 0, "duplicates");
    BOOST_TEST(f.stream_messages("DLQ") == 0u);
    if (fault.same_process_recovers) {
        BOOST_TEST(lines_with(whole_log(f), {"analytics store recovered", fault.db.string()}) > 0u);
    }
}

// The user the daemon runs as in the permission cases: `nobody` when the test is root,
// since root may write any file whatever its mode; the test's own user otherwise.
struct DaemonUser {
    uid_t uid = geteuid();
    gid_t gid = getegid();
    DaemonUser() {
        if (geteuid() != 0) return;
        const passwd* nobody = getpwnam("nobody");
        uid = nobody != nullptr ? nobody->pw_uid : 65534;
        gid = nobody != nullptr ? nobody->pw_gid : 65534;
    }
};

std::unique_ptr<BridgeProcess> start_as(BridgeFixture& f, const DaemonUser& user,
                                        const std::string& bindings) {
    auto daemon = std::make_unique<BridgeProcess>(f.write_config(bindings), f.dir() / "bridge.log");
    if (geteuid() == 0) daemon->run_as(user.uid, user.gid);
    BOOST_TEST_REQUIRE(daemon->start(), "broker-bridge did not start:\n"
                                            << tail(daemon->log_text()));
    return daemon;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(faults_sqlite, BridgeFixture)

BOOST_AUTO_TEST_CASE(a_store_at_its_size_cap_holds_events_until_a_larger_cap_takes_them) {
    const fs::path db = dir() / "store" / "analytics.db";
    start_bridge(binding(db, "      max_size: 64KiB\n"));

    run_store_fault(*this, {"full", db, "SQLITE_FULL", true,
                            [&] {
                                bridge().stop();
                                start_bridge(binding(db, "      max_size: 64MiB\n"));
                            },
                            false});
}

BOOST_AUTO_TEST_CASE(a_store_the_daemon_may_not_write_holds_events_until_it_may) {
    const DaemonUser user;
    const fs::path store = dir() / "store";
    const fs::path db = store / "analytics.db";
    BOOST_TEST_MESSAGE("daemon runs as uid " << user.uid << " gid " << user.gid);
    fs::permissions(dir(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec);
    fs::create_directory(store);
    BOOST_TEST_REQUIRE(chown(store.c_str(), user.uid, user.gid) == 0);
    const auto read_only_folder = fs::perms::owner_read | fs::perms::owner_exec;
    const auto writable_folder = read_only_folder | fs::perms::owner_write;

    // A folder it may not create the file in: the store cannot open at start-up.
    fs::permissions(store, read_only_folder);
    auto daemon = start_as(*this, user, binding(db));
    run_store_fault(*this, {"folder", db, "SQLITE_CANTOPEN", false,
                            [&] { fs::permissions(store, writable_folder); }});

    // A file it may read but not write: SQLite opens it read-only, so it must be reopened.
    daemon->stop();
    fs::permissions(db, fs::perms::owner_read);
    daemon = start_as(*this, user, binding(db));
    run_store_fault(*this, {"readonly", db, "SQLITE_READONLY", false, [&] {
                                fs::permissions(db, fs::perms::owner_read | fs::perms::owner_write);
                            }});
}

BOOST_AUTO_TEST_SUITE_END()
