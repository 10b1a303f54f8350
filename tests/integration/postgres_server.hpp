#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace bb::itest {

// A real PostgreSQL server for one test suite, from Debian's postgresql package
// (BB_PG_BIN_DIR): initdb into a temporary folder, then postgres on a free loopback port with
// its unix socket in that folder, fsync off (a test needs no crash safety). initdb and
// postgres refuse to run as root, so a root test runs them as the `postgres` user, which
// then owns the folder. Trust authentication, user `postgres`. The server is stopped by its
// PID (fast shutdown) and the folder removed when this object goes. Throws from the
// constructor when the binaries are missing or the server does not come up, so the test
// fails in setup instead of being skipped. Drive it from the test thread.
class PostgresServer {
public:
    PostgresServer();
    ~PostgresServer();
    PostgresServer(const PostgresServer&) = delete;
    PostgresServer& operator=(const PostgresServer&) = delete;

    // A libpq connection string for database `postgres` over TCP on loopback.
    std::string dsn() const;
    int port() const { return port_; }
    bool running() const { return pid_ > 0; }

    // Fast shutdown (SIGINT: open connections are cut), SIGKILL after 10 s. Safe when stopped.
    void stop();
    // Starts again on the same port with the same data: stored rows survive.
    void restart();

private:
    void run_initdb();
    void start();
    bool wait_until_accepting();
    pid_t spawn(const std::vector<std::string>& args, const std::filesystem::path& log);
    std::string log_tail() const;

    std::filesystem::path dir_;
    uid_t uid_ = 0;  // whom initdb and postgres run as
    gid_t gid_ = 0;
    bool switch_user_ = false;
    int port_ = -1;
    pid_t pid_ = -1;
};

// The first column of the first row of `sql`, nullopt for NULL or no row; throws
// std::runtime_error with the server's message when the query fails.
std::optional<std::string> pg_value(const std::string& dsn, const std::string& sql);
// `SELECT count(*) ...` as a number; -1 when the server cannot be reached.
long pg_count(const std::string& dsn, const std::string& sql);

}  // namespace bb::itest
