#pragma once

#include "event_sink.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace bb::analytics {

struct BatchPolicy {
    size_t max_rows = 256;
    std::chrono::milliseconds max_wait{5};
};

struct WriteResult {
    bool committed = false;
    std::string error;  // why the batch holding the row failed
};

// Group commit: callers on many threads hand in one row each and block; one writer thread
// stores the waiting rows in one transaction and then answers every caller of that batch
// with the same outcome. A caller therefore returns only once its row is committed (or its
// batch is known to have failed), and transactions stay few under load.
//
// The writer starts a batch as soon as one row waits, and lets it grow for up to max_wait or
// max_rows, but not while every caller it has ever seen at once is already waiting: then no
// other row can come (a binding with concurrency 1 would otherwise pay max_wait per event).
//
// Owned by the plugin instance; the destructor stores what is queued, then joins the writer.
// write() must not be called once destruction has begun (plugin.h: no handle() during
// destroy()).
class BatchWriter {
public:
    // Called on the writer thread after each batch, before its callers are answered, so a
    // metric counted there already includes every row a caller saw committed.
    using BatchObserver = std::function<void(size_t rows, const BatchResult& result)>;

    BatchWriter(std::unique_ptr<EventSink> sink, BatchPolicy policy, BatchObserver observer);
    ~BatchWriter();
    BatchWriter(const BatchWriter&) = delete;
    BatchWriter& operator=(const BatchWriter&) = delete;

    // Thread-safe; blocks until the batch holding `row` is committed or has failed.
    WriteResult write(Row row);

private:
    // Lives on the caller's stack while it waits; the writer fills the outcome.
    struct Ticket {
        explicit Ticket(Row r) : row(std::move(r)) {}

        Row row;
        bool finished = false;
        bool committed = false;
        std::string error;
    };

    void run();
    void wait_for_fuller_batch(std::unique_lock<std::mutex>& lock);
    void take_batch(std::vector<Ticket*>& batch);
    BatchResult store(std::vector<Ticket*>& batch) noexcept;
    void report(size_t rows, const BatchResult& result) noexcept;

    std::unique_ptr<EventSink> sink_;  // writer thread only, after construction
    const BatchPolicy policy_;
    BatchObserver observer_;

    std::mutex mutex_;
    std::condition_variable rows_waiting_;  // wakes the writer
    std::condition_variable batch_done_;    // wakes callers
    std::deque<Ticket*> queue_;
    size_t callers_ = 0;       // callers inside write() now
    size_t most_callers_ = 0;  // the most ever inside write() at once
    bool stopping_ = false;

    std::thread writer_;  // last: starts once everything it uses exists
};

}  // namespace bb::analytics
