#pragma once

#include <prometheus/gauge.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

// A few threads for the edge's blocking NATS round trips (recovery reads, acknowledged
// publishes), so an event loop never waits on the network. Tasks run in submission order per
// thread; a task must not throw (one that does is dropped with a log line). The queue is
// bounded so that a flood of commands answers `limit` instead of delaying everyone's work.
namespace bb::edge {

class TaskPool {
public:
    // `depth`, when given, follows the number of queued (not yet started) tasks.
    TaskPool(int threads, size_t max_queued, prometheus::Gauge* depth = nullptr);
    ~TaskPool();  // runs what is queued, then joins
    TaskPool(const TaskPool&) = delete;
    TaskPool& operator=(const TaskPool&) = delete;

    // False, with `task` dropped, when max_queued tasks are already waiting.
    [[nodiscard]] bool submit(std::function<void()> task);

private:
    void work();

    std::mutex mu_;
    std::condition_variable wake_;
    std::deque<std::function<void()>> tasks_;
    const size_t max_queued_;
    prometheus::Gauge* depth_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace bb::edge
