#pragma once

#include "event_sink.hpp"

#include <libpq-fe.h>

#include <memory>
#include <string>

namespace bb::analytics {

// Stores rows in a PostgreSQL table (default `events`), created when missing, through libpq.
// Made on the host's start-up thread, then used only by the batch writer thread.
//
// A batch is one multi-row `INSERT ... ON CONFLICT (id) DO NOTHING` (several inside one
// transaction when the batch outgrows one statement's parameters), so a row whose id is
// stored already, by this process or by another replica, changes nothing. A batch is
// answered only after the server confirmed the commit (synchronous_commit as the server
// has it: on by default).
//
// A broken connection (the server restarted, a network cut) is reopened at the next batch;
// a batch that broke the connection is tried once more at once on a fresh one, which is safe
// because a row stored by a commit whose answer was lost is kept once.
class PostgresSink final : public EventSink {
public:
    // Connects and creates the table when missing. Throws std::runtime_error naming the
    // server (never the password) when the connection string is malformed, the server cannot
    // be reached or refuses the login, or the table cannot hold the rows.
    PostgresSink(const std::string& dsn, const std::string& table);

    BatchResult write_batch(std::span<const Row> rows) override;

    // host:port/database, for logs and errors.
    const std::string& server() const { return server_; }

private:
    struct Finish {
        void operator()(PGconn* conn) const noexcept { PQfinish(conn); }
    };
    using Connection = std::unique_ptr<PGconn, Finish>;

    bool connect(std::string& error);
    void create_table();
    BatchResult insert(std::span<const Row> rows);
    // Runs `sql` without parameters; "" when it succeeded, else the error with `what`.
    std::string execute(const char* sql, const char* what);
    std::string insert_chunk(std::span<const Row> rows, size_t& inserted);
    std::string failure(const char* what) const;

    std::string dsn_;
    std::string table_;  // a plain identifier (checked by the config), used quoted
    std::string server_;
    Connection conn_;
};

}  // namespace bb::analytics
