#include "broker-bridge/edge/task_pool.hpp"

#include "broker-bridge/log.hpp"

namespace bb::edge {

TaskPool::TaskPool(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
}

TaskPool::~TaskPool() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
}

void TaskPool::submit(std::function<void()> task) {
    {
        std::lock_guard lock(mu_);
        tasks_.push_back(std::move(task));
    }
    wake_.notify_one();
}

void TaskPool::work() {
    while (true) {
        std::function<void()> task;
        {
            std::unique_lock lock(mu_);
            wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
            if (tasks_.empty()) return;
            task = std::move(tasks_.front());
            tasks_.pop_front();
        }
        try {
            task();
        } catch (const std::exception& e) {
            log::error("edge task failed", {{"error", e.what()}});
        }
    }
}

}  // namespace bb::edge
