#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace bb::email {

// Calls `beat` every `every` on a thread of its own until destroyed. libcurl blocks inside
// curl_easy_perform (and inside curl_multi_perform too, while it waits for the reply to the
// end of the data), so the heartbeat of a long send cannot come from the sending thread.
class KeepAlive {
public:
    KeepAlive(std::chrono::milliseconds every, std::function<void()> beat)
        : every_(every), beat_(std::move(beat)) {
        if (beat_) thread_ = std::thread([this] { loop(); });
    }
    ~KeepAlive() {
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        changed_.notify_all();
        if (thread_.joinable()) thread_.join();
    }
    KeepAlive(const KeepAlive&) = delete;
    KeepAlive& operator=(const KeepAlive&) = delete;

private:
    void loop() {
        std::unique_lock lock(mutex_);
        while (!changed_.wait_for(lock, every_, [this] { return done_; })) {
            lock.unlock();
            beat_();
            lock.lock();
        }
    }

    std::chrono::milliseconds every_;
    std::function<void()> beat_;
    std::mutex mutex_;
    std::condition_variable changed_;
    bool done_ = false;
    std::thread thread_;
};

}  // namespace bb::email
