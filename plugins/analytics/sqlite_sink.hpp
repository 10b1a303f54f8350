#pragma once

#include "event_sink.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>

namespace bb::analytics {

// Stores rows in the SQLite table `events`, created when missing. Made on the host's start-up
// thread, then used only by the batch writer thread.
//
// Durability: WAL with synchronous=NORMAL. A committed batch survives a crash of this process
// (it is in the WAL file); after a power loss or kernel crash the last batches before the
// next checkpoint may be lost. That is the trade SQLite documents for WAL + NORMAL.
//
// Faults of the file's surroundings (a full disk or size cap, a read-only file, a folder the
// process may not write, an I/O error) fail the batch, whose events the host retries. After
// an error that may have left the connection unusable or read-only, the next batch opens the
// database again, so the sink recovers by itself once the cause is gone.
class SqliteSink final : public EventSink {
public:
    // Opens or creates the database file (and its folder). `max_size_bytes` caps the file
    // (PRAGMA max_page_count; 0: no cap). Throws std::runtime_error naming the path when the
    // file is not a database or cannot use WAL; a fault of the surroundings (see above) is
    // kept in open_error() instead and the database is opened by a later batch.
    SqliteSink(const std::string& path, uint64_t max_size_bytes);

    BatchResult write_batch(std::span<const Row> rows) override;

    // Why the database is not open now; empty when it is.
    const std::string& open_error() const { return open_error_; }

private:
    template <auto DestroyFn>
    struct CDestroy {
        template <typename T>
        void operator()(T* handle) const noexcept {
            DestroyFn(handle);
        }
    };
    using Database = std::unique_ptr<sqlite3, CDestroy<&sqlite3_close_v2>>;
    using Statement = std::unique_ptr<sqlite3_stmt, CDestroy<&sqlite3_finalize>>;

    // Opens and sets up the database; on failure closes it, sets open_error_ and last_code_.
    bool open();
    void open_or_throw();
    std::string create_parent_folder();
    void close();
    BatchResult store(std::span<const Row> rows);
    Statement prepare(const char* sql);
    void execute(const char* sql);
    void use_wal();
    void cap_size();
    // Steps a statement that returns no rows to the end; SQLite's error text, or "" when done.
    std::string run(sqlite3_stmt* statement, const char* what);
    std::string failure(const char* what);

    std::string path_;
    uint64_t max_size_bytes_;
    std::string open_error_;
    int last_code_ = SQLITE_OK;  // extended result code of the last failure
    Database db_;                // declared before the statements, which must be finalized first
    Statement begin_;
    Statement insert_;
    Statement commit_;
    Statement rollback_;
};

}  // namespace bb::analytics
