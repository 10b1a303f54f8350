#include "batch_writer.hpp"

#include <algorithm>
#include <exception>
#include <utility>
#include <vector>

namespace bb::analytics {

BatchWriter::BatchWriter(std::unique_ptr<EventSink> sink, BatchPolicy policy,
                         BatchObserver observer)
    : sink_(std::move(sink)),
      policy_(policy),
      observer_(std::move(observer)),
      writer_([this] { run(); }) {}

BatchWriter::~BatchWriter() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    rows_waiting_.notify_one();
    writer_.join();
}

WriteResult BatchWriter::write(Row row) {
    Ticket ticket(std::move(row));
    std::unique_lock lock(mutex_);
    if (stopping_) return WriteResult{false, "analytics store is shutting down"};
    ++callers_;
    most_callers_ = std::max(most_callers_, callers_);
    queue_.push_back(&ticket);
    rows_waiting_.notify_one();
    batch_done_.wait(lock, [&] { return ticket.finished; });
    --callers_;
    return WriteResult{ticket.committed, std::move(ticket.error)};
}

void BatchWriter::run() {
    std::vector<Ticket*> batch;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            rows_waiting_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, and nothing left to store
            wait_for_fuller_batch(lock);
            take_batch(batch);
        }
        BatchResult result = store(batch);
        report(batch.size(), result);
        {
            std::lock_guard lock(mutex_);
            for (Ticket* ticket : batch) {
                ticket->finished = true;
                ticket->committed = result.ok();
                ticket->error = result.error;
            }
        }
        batch_done_.notify_all();
    }
}

void BatchWriter::wait_for_fuller_batch(std::unique_lock<std::mutex>& lock) {
    auto deadline = std::chrono::steady_clock::now() + policy_.max_wait;
    rows_waiting_.wait_until(lock, deadline, [&] {
        return stopping_ || queue_.size() >= policy_.max_rows || queue_.size() >= most_callers_;
    });
}

void BatchWriter::take_batch(std::vector<Ticket*>& batch) {
    batch.clear();
    size_t n = std::min(queue_.size(), policy_.max_rows);
    batch.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
}

// The tickets' callers are blocked until `finished`, so their rows can be read unlocked.
BatchResult BatchWriter::store(std::vector<Ticket*>& batch) noexcept {
    try {
        std::vector<Row> rows;
        rows.reserve(batch.size());
        for (Ticket* ticket : batch) rows.push_back(std::move(ticket->row));
        return sink_->write_batch(rows);
    } catch (const std::exception& e) {
        std::string what = e.what();
        return BatchResult{0, what.empty() ? "exception without text while storing" : what};
    } catch (...) {
        return BatchResult{0, "non-standard exception while storing a batch"};
    }
}

void BatchWriter::report(size_t rows, const BatchResult& result) noexcept {
    if (!observer_) return;
    try {
        observer_(rows, result);
    } catch (...) {
        // Metrics and logs must not keep callers from their answer.
    }
}

}  // namespace bb::analytics
