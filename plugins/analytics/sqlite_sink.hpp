#pragma once

#include "event_sink.hpp"

#include <sqlite3.h>

#include <memory>
#include <string>

namespace bb::analytics {

// Stores rows in the SQLite table `events`, created when missing. Made on the host's start-up
// thread, then used only by the batch writer thread.
//
// Durability: WAL with synchronous=NORMAL. A committed batch survives a crash of this process
// (it is in the WAL file); after a power loss or kernel crash the last batches before the
// next checkpoint may be lost. That is the trade SQLite documents for WAL + NORMAL.
class SqliteSink final : public EventSink {
public:
    // Opens or creates the database file (and its folder). Throws std::runtime_error naming
    // the path when the file cannot be opened, is not a database, or cannot use WAL.
    explicit SqliteSink(const std::string& path);

    BatchResult write_batch(std::span<const Row> rows) override;

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

    Statement prepare(const char* sql);
    void execute(const char* sql);
    void use_wal();
    // Steps a statement that returns no rows to the end; SQLite's error text, or "" when done.
    std::string run(sqlite3_stmt* statement, const char* what);
    std::string failure(const char* what);

    std::string path_;
    Database db_;  // declared before the statements, which must be finalized first
    Statement begin_;
    Statement insert_;
    Statement commit_;
    Statement rollback_;
};

}  // namespace bb::analytics
