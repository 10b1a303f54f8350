#include "sqlite_sink.hpp"

#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace bb::analytics {
namespace {

// Another process on this machine (a second host replica, a report that checkpoints) may hold
// the write lock for a moment; WAL readers never block the writer.
constexpr int kBusyTimeoutMs = 5000;

constexpr const char* kCreateTable = R"sql(
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY NOT NULL,
    type TEXT,
    aggregate_type TEXT,
    aggregate_id TEXT,
    source TEXT,
    user_id TEXT,
    correlation_id TEXT,
    causation_id TEXT,
    time TEXT,
    data TEXT,
    stream_seq INTEGER,
    received_at TEXT
))sql";

// DO NOTHING rather than REPLACE: the first stored copy of an event is the one kept, and a
// redelivery neither rewrites it nor fails the batch it arrives in.
constexpr const char* kInsert = R"sql(
INSERT INTO events (id, type, aggregate_type, aggregate_id, source, user_id, correlation_id,
                    causation_id, time, data, stream_seq, received_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
ON CONFLICT(id) DO NOTHING)sql";

void create_parent_folder(const std::string& path) {
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (parent.empty()) return;
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
        throw std::runtime_error("sqlite " + path + ": cannot create folder " + parent.string() +
                                 ": " + ec.message());
    }
}

// Borrowed (SQLITE_STATIC): the row outlives the statement's use of it in write_batch.
void bind_text(sqlite3_stmt* statement, int index, const std::string& value, bool nullable) {
    if (value.empty() && nullable) {
        sqlite3_bind_null(statement, index);
        return;
    }
    sqlite3_bind_text64(statement, index, value.data(), value.size(), SQLITE_STATIC, SQLITE_UTF8);
}

void bind_row(sqlite3_stmt* s, const Row& row) {
    bind_text(s, 1, row.id, false);
    bind_text(s, 2, row.type, true);
    bind_text(s, 3, row.aggregate_type, true);
    bind_text(s, 4, row.aggregate_id, true);
    bind_text(s, 5, row.source, true);
    bind_text(s, 6, row.user_id, true);
    bind_text(s, 7, row.correlation_id, true);
    bind_text(s, 8, row.causation_id, true);
    bind_text(s, 9, row.time, true);
    bind_text(s, 10, row.data, true);
    sqlite3_bind_int64(s, 11, static_cast<sqlite3_int64>(row.stream_seq));
    bind_text(s, 12, row.received_at, true);
}

}  // namespace

SqliteSink::SqliteSink(const std::string& path) : path_(path) {
    create_parent_folder(path);
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             nullptr);
    db_.reset(raw);
    if (rc != SQLITE_OK) throw std::runtime_error(failure("cannot open the database"));
    sqlite3_busy_timeout(db_.get(), kBusyTimeoutMs);
    use_wal();
    execute("PRAGMA synchronous=NORMAL");
    execute(kCreateTable);
    begin_ = prepare("BEGIN IMMEDIATE");
    insert_ = prepare(kInsert);
    commit_ = prepare("COMMIT");
    rollback_ = prepare("ROLLBACK");
}

BatchResult SqliteSink::write_batch(std::span<const Row> rows) {
    BatchResult result;
    // IMMEDIATE takes the write lock now, so a busy database fails here, before any insert.
    std::string error = run(begin_.get(), "begin");
    for (size_t i = 0; error.empty() && i < rows.size(); ++i) {
        bind_row(insert_.get(), rows[i]);
        error = run(insert_.get(), "insert");
        if (error.empty()) result.inserted += static_cast<size_t>(sqlite3_changes(db_.get()));
    }
    if (error.empty()) error = run(commit_.get(), "commit");
    if (error.empty()) return result;

    // Some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM) end the transaction by themselves.
    if (sqlite3_get_autocommit(db_.get()) == 0) run(rollback_.get(), "rollback");
    return BatchResult{0, error};
}

SqliteSink::Statement SqliteSink::prepare(const char* sql) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr) !=
        SQLITE_OK) {
        throw std::runtime_error(failure("cannot prepare a statement"));
    }
    return Statement(raw);
}

void SqliteSink::execute(const char* sql) {
    if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
        throw std::runtime_error(failure("cannot set up the events table"));
    }
}

// The pragma answers with the mode in force: a database that cannot use WAL (in memory,
// read-only) says so instead of failing.
void SqliteSink::use_wal() {
    Statement pragma = prepare("PRAGMA journal_mode=WAL");
    if (sqlite3_step(pragma.get()) != SQLITE_ROW) {
        throw std::runtime_error(failure("cannot set the journal mode"));
    }
    const unsigned char* text = sqlite3_column_text(pragma.get(), 0);
    std::string mode = text != nullptr ? reinterpret_cast<const char*>(text) : "";
    if (mode != "wal") {
        throw std::runtime_error("sqlite " + path_ + ": journal mode expected wal, found " + mode +
                                 " (analytics needs a writable database file)");
    }
}

std::string SqliteSink::run(sqlite3_stmt* statement, const char* what) {
    int rc = sqlite3_step(statement);
    std::string error;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) error = failure(what);
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
    return error;
}

std::string SqliteSink::failure(const char* what) {
    // sqlite3_errmsg accepts NULL (a failed open without a handle) and says "out of memory".
    return "sqlite " + path_ + ": " + what + ": " + sqlite3_errmsg(db_.get());
}

}  // namespace bb::analytics
