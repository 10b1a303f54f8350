#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

// A few threads for the edge's blocking NATS round trips (recovery reads, acknowledged
// publishes), so an event loop never waits on the network. Tasks run in submission order per
// thread; a task must not throw (one that does is dropped with a log line).
namespace bb::edge {

class TaskPool {
public:
    explicit TaskPool(int threads);
    ~TaskPool();  // runs what is queued, then joins
    TaskPool(const TaskPool&) = delete;
    TaskPool& operator=(const TaskPool&) = delete;

    void submit(std::function<void()> task);

private:
    void work();

    std::mutex mu_;
    std::condition_variable wake_;
    std::deque<std::function<void()>> tasks_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace bb::edge
