#include "handlers/worker_pool.hpp"

namespace bb::handlers {

WorkerPool::WorkerPool(int threads, int max_extra_threads)
    : target_threads_(threads), max_extra_threads_(max_extra_threads) {
    std::lock_guard lock(mutex_);
    for (int i = 0; i < threads; ++i) {
        threads_.emplace_back([this] { run(); });
        ++live_threads_;
    }
}

WorkerPool::~WorkerPool() {
    stop(std::chrono::milliseconds(0));
    // A detached thread whose task has returned still touches this object on its way out;
    // a task stuck for good is given a bounded wait (the process is ending then anyway).
    std::unique_lock lock(mutex_);
    idle_.wait_for(lock, std::chrono::seconds(2), [this] { return live_threads_ == 0; });
}

void WorkerPool::submit(Priority priority, Task task) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        queues_[static_cast<int>(priority)].push_back(std::move(task));
        waiting_[static_cast<int>(priority)].fetch_add(1, std::memory_order_relaxed);
    }
    wake_.notify_one();
}

bool WorkerPool::add_replacement() {
    std::lock_guard lock(mutex_);
    if (stopping_ || extra_threads_ >= max_extra_threads_) return false;
    ++extra_threads_;
    ++live_threads_;
    threads_.emplace_back([this] { run(); });
    return true;
}

void WorkerPool::release_replacement() {
    std::lock_guard lock(mutex_);
    if (extra_threads_ > 0) --extra_threads_;
}

void WorkerPool::run() {
    std::unique_lock lock(mutex_);
    while (true) {
        wake_.wait(lock, [this] {
            return stopping_ || !queues_[0].empty() || !queues_[1].empty() ||
                   !queues_[2].empty();
        });
        if (stopping_) break;
        Task task;
        for (int p = 0; p < 3; ++p) {
            if (!queues_[p].empty()) {
                task = std::move(queues_[p].front());
                queues_[p].pop_front();
                waiting_[p].fetch_sub(1, std::memory_order_relaxed);
                break;
            }
        }
        ++running_;
        lock.unlock();
        task();  // tasks catch their own exceptions: the binding wraps every handler call
        lock.lock();
        --running_;
        idle_.notify_all();
        // A stuck task has returned and its stand-in is no longer needed: one thread leaves.
        if (live_threads_ > target_threads_ + extra_threads_) break;
    }
    --live_threads_;
    idle_.notify_all();
}

int WorkerPool::stop(std::chrono::milliseconds deadline) {
    std::unique_lock lock(mutex_);
    stopping_ = true;
    for (int p = 0; p < 3; ++p) {
        queues_[p].clear();
        waiting_[p].store(0, std::memory_order_relaxed);
    }
    wake_.notify_all();
    idle_.wait_for(lock, deadline, [this] { return running_ == 0; });
    int still_running = running_;
    std::vector<std::thread> threads = std::move(threads_);
    threads_.clear();
    lock.unlock();
    for (auto& t : threads) {
        // A thread stuck in a plugin cannot be joined without hanging shutdown forever; it
        // is detached and the process exit ends it.
        if (still_running > 0) {
            t.detach();
        } else if (t.joinable()) {
            t.join();
        }
    }
    return still_running;
}

int WorkerPool::queued() const {
    std::lock_guard lock(mutex_);
    return static_cast<int>(queues_[0].size() + queues_[1].size() + queues_[2].size());
}
bool WorkerPool::waiting_above(Priority p) const {
    for (int q = 0; q < static_cast<int>(p); ++q) {
        if (waiting_[q].load(std::memory_order_relaxed) > 0) return true;
    }
    return false;
}

bool WorkerPool::waiting_at(Priority p) const {
    return waiting_[static_cast<int>(p)].load(std::memory_order_relaxed) > 0;
}

}  // namespace bb::handlers
