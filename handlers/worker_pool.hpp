#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "broker-bridge/config.hpp"

namespace bb::handlers {

// The threads that run plugin handlers, shared by every binding of a process. Work waits in
// one queue per priority; a free thread always takes high before normal before low, which
// only matters when the pool is saturated (more work fetched than threads).
//
// A handler that overruns its timeout cannot be killed. The binding that notices calls
// add_replacement() so the pool keeps its working size while that thread is stuck, up to a
// cap; when the stuck task finally returns, release_replacement() lets one thread leave.
//
// Owned by the handler host; thread-safe; the destructor stops taking work, runs nothing
// more that is queued, and joins every thread that is not stuck.
class WorkerPool {
public:
    using Task = std::function<void()>;

    WorkerPool(int threads, int max_extra_threads);
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    void submit(Priority priority, Task task);

    // Starts one more thread to stand in for a stuck one; false when the cap is reached.
    bool add_replacement();
    // The overdue task has returned: the pool shrinks back by one thread.
    void release_replacement();

    // Stops the pool: queued tasks are dropped (their messages go back to JetStream by
    // AckWait or explicit nak from the caller), running ones are waited for up to `deadline`.
    // Returns the number of tasks still running at the deadline.
    int stop(std::chrono::milliseconds deadline);

    int queued() const;
    // Whether tasks of a higher priority than `p` (or of `p` itself) wait for a thread; a
    // task that loops over many events asks, to give its thread up in time.
    bool waiting_above(Priority p) const;
    bool waiting_at(Priority p) const;

private:
    void run();

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable idle_;
    std::deque<Task> queues_[3];
    std::atomic<int> waiting_[3] = {0, 0, 0};  // sizes of queues_, read without the lock
    std::vector<std::thread> threads_;
    int target_threads_;
    int live_threads_ = 0;
    int running_ = 0;
    int extra_threads_ = 0;
    int max_extra_threads_;
    bool stopping_ = false;
};

}  // namespace bb::handlers
