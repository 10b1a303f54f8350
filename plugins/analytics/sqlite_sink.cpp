#include "sqlite_sink.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <utility>

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

// Faults of the file's surroundings rather than of the file: they may pass (space freed, a
// permission given, a lock released), so they fail batches, never start-up.
bool is_environment_fault(int code) {
    switch (code & 0xff) {
        case SQLITE_FULL:
        case SQLITE_READONLY:
        case SQLITE_CANTOPEN:
        case SQLITE_PERM:
        case SQLITE_IOERR:
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
        case SQLITE_NOMEM:
            return true;
        default:
            return false;
    }
}

// After these the connection may be broken, read-only, or pointing at a moved file: the next
// batch opens the database again instead of failing on the same handle forever. A full
// database (SQLITE_FULL) needs no reopen: the next transaction tries again.
bool needs_reopen(int code) {
    switch (code & 0xff) {
        case SQLITE_READONLY:
        case SQLITE_CANTOPEN:
        case SQLITE_PERM:
        case SQLITE_IOERR:
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
            return true;
        default:
            return false;
    }
}

// The result code as its C name, so a log line can be matched with SQLite's documentation.
std::string code_name(int code) {
    static const std::pair<int, const char*> kNames[] = {
        {SQLITE_FULL, "SQLITE_FULL"},
        {SQLITE_READONLY, "SQLITE_READONLY"},
        {SQLITE_CANTOPEN, "SQLITE_CANTOPEN"},
        {SQLITE_PERM, "SQLITE_PERM"},
        {SQLITE_IOERR, "SQLITE_IOERR"},
        {SQLITE_BUSY, "SQLITE_BUSY"},
        {SQLITE_LOCKED, "SQLITE_LOCKED"},
        {SQLITE_NOMEM, "SQLITE_NOMEM"},
        {SQLITE_CORRUPT, "SQLITE_CORRUPT"},
        {SQLITE_NOTADB, "SQLITE_NOTADB"},
        {SQLITE_CONSTRAINT, "SQLITE_CONSTRAINT"},
    };
    std::string name = "SQLITE_ERROR";
    for (const auto& [value, text] : kNames) {
        if ((code & 0xff) == value) name = text;
    }
    if (code != (code & 0xff)) name += " extended=" + std::to_string(code);
    return name;
}

// A folder that cannot be made for want of permission, space or a working disk may be made
// later; one whose path runs through a file never will.
bool is_passing_folder_error(std::error_code ec) {
    return ec == std::errc::permission_denied || ec == std::errc::operation_not_permitted ||
           ec == std::errc::read_only_file_system || ec == std::errc::no_space_on_device ||
           ec == std::errc::io_error;
}

// Whether this process may create files (the database, its -wal and -shm) beside `path`.
bool folder_writable(const std::string& path) {
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (parent.empty()) parent = ".";
    return ::access(parent.c_str(), W_OK | X_OK) == 0;
}

}  // namespace

// Empty when there is no folder to make or it exists; else why it cannot be made, with
// last_code_ telling whether that may pass.
std::string SqliteSink::create_parent_folder() {
    std::filesystem::path parent = std::filesystem::path(path_).parent_path();
    std::error_code ec;
    if (std::filesystem::is_directory(path_, ec)) {
        last_code_ = SQLITE_ERROR;
        return "sqlite " + path_ + ": cannot open the database: it is a folder";
    }
    if (parent.empty() || std::filesystem::create_directories(parent, ec) || !ec) return "";
    last_code_ = is_passing_folder_error(ec) ? SQLITE_CANTOPEN : SQLITE_ERROR;
    return "sqlite " + path_ + ": cannot create folder " + parent.string() + ": " + ec.message() +
           " (SQLITE_CANTOPEN)";
}

namespace {

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

SqliteSink::SqliteSink(const std::string& path, uint64_t max_size_bytes)
    : path_(path), max_size_bytes_(max_size_bytes) {
    if (!open() && !is_environment_fault(last_code_)) throw std::runtime_error(open_error_);
}

bool SqliteSink::open() {
    open_error_ = create_parent_folder();
    if (!open_error_.empty()) return false;
    try {
        open_or_throw();
        open_error_.clear();
        return true;
    } catch (const std::runtime_error& e) {
        open_error_ = e.what();
        close();
        return false;
    }
}

void SqliteSink::open_or_throw() {
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path_.c_str(), &raw,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             nullptr);
    db_.reset(raw);
    if (rc != SQLITE_OK) throw std::runtime_error(failure("cannot open the database"));
    // SQLITE_OPEN_READWRITE falls back to read-only for a write-protected file; every write
    // would then fail until a reopen, so treat it as the failure it is.
    if (sqlite3_db_readonly(db_.get(), "main") == 1) {
        last_code_ = SQLITE_READONLY;
        throw std::runtime_error("sqlite " + path_ +
                                 ": cannot open the database: the file is read-only for this "
                                 "process (SQLITE_READONLY)");
    }
    sqlite3_busy_timeout(db_.get(), kBusyTimeoutMs);
    use_wal();
    cap_size();
    execute("PRAGMA synchronous=NORMAL");
    execute(kCreateTable);
    begin_ = prepare("BEGIN IMMEDIATE");
    insert_ = prepare(kInsert);
    commit_ = prepare("COMMIT");
    rollback_ = prepare("ROLLBACK");
}

// Statements first: sqlite3_close_v2 would otherwise keep the connection as a zombie.
void SqliteSink::close() {
    begin_.reset();
    insert_.reset();
    commit_.reset();
    rollback_.reset();
    db_.reset();
}

BatchResult SqliteSink::write_batch(std::span<const Row> rows) {
    if (!db_ && !open()) return BatchResult{0, open_error_};
    BatchResult result = store(rows);
    if (!result.ok() && needs_reopen(last_code_)) {
        close();
        open_error_ = result.error;
    }
    return result;
}

BatchResult SqliteSink::store(std::span<const Row> rows) {
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
    int code = last_code_;
    if (sqlite3_get_autocommit(db_.get()) == 0) run(rollback_.get(), "rollback");
    last_code_ = code;
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

// A size cap gives the same SQLITE_FULL as a full disk, before the disk is full. The pragma
// cannot shrink a larger file: that file is full at once, and says so on the next write.
void SqliteSink::cap_size() {
    if (max_size_bytes_ == 0) return;
    Statement page_size = prepare("PRAGMA page_size");
    if (sqlite3_step(page_size.get()) != SQLITE_ROW) {
        throw std::runtime_error(failure("cannot read the page size"));
    }
    uint64_t bytes_per_page = static_cast<uint64_t>(sqlite3_column_int64(page_size.get(), 0));
    uint64_t pages = max_size_bytes_ / std::max<uint64_t>(bytes_per_page, 1);
    std::string sql = "PRAGMA max_page_count=" + std::to_string(std::max<uint64_t>(pages, 1));
    Statement cap = prepare(sql.c_str());
    if (sqlite3_step(cap.get()) != SQLITE_ROW) {
        throw std::runtime_error(failure("cannot cap the size"));
    }
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
        last_code_ = SQLITE_ERROR;  // a lasting property of the file, not a passing fault
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
    last_code_ = db_ ? sqlite3_extended_errcode(db_.get()) : SQLITE_NOMEM;
    std::string text = "sqlite " + path_ + ": " + what + ": " + sqlite3_errmsg(db_.get()) + " (" +
                       code_name(last_code_);
    // The OS error says which of the reasons SQLite folds into one code it was (ENOSPC, EFBIG,
    // EIO). For a failed open it is the last of SQLite's attempts (read-only, say), so the
    // folder's permission is stated instead.
    int primary = last_code_ & 0xff;
    int os_error = db_ && (primary == SQLITE_IOERR || primary == SQLITE_FULL)
                       ? sqlite3_system_errno(db_.get())
                       : 0;
    if (os_error != 0) text += ", os error: " + std::string(std::strerror(os_error));
    if (primary == SQLITE_CANTOPEN && !folder_writable(path_)) {
        text += ", the folder is not writable by this process";
    }
    return text + ")";
}

}  // namespace bb::analytics
