#include "broker-bridge/edge/task_pool.hpp"

#include "broker-bridge/log.hpp"

namespace bb::edge {

TaskPool::TaskPool(int threads, size_t max_queued, prometheus::Gauge* depth)
    : max_queued_(max_queued), depth_(depth) {
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

bool TaskPool::submit(std::function<void()> task) {
    {
        std::lock_guard lock(mu_);
        if (tasks_.size() >= max_queued_) return false;
        tasks_.push_back(std::move(task));
        if (depth_) depth_->Set(static_cast<double>(tasks_.size()));
    }
    wake_.notify_one();
    return true;
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
            if (depth_) depth_->Set(static_cast<double>(tasks_.size()));
        }
        try {
            task();
        } catch (const std::exception& e) {
            log::error("edge task failed", {{"error", e.what()}});
        }
    }
}

}  // namespace bb::edge
