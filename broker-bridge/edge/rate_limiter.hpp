#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

// A token bucket: `rate` tokens a second, at most `burst` saved up. Not thread-safe.
namespace bb::edge {

class RateLimiter {
public:
    using Clock = std::chrono::steady_clock;

    RateLimiter(int64_t rate, int64_t burst)
        : rate_(static_cast<double>(rate)), burst_(static_cast<double>(burst)), tokens_(burst_) {}

    bool allow(Clock::time_point now = Clock::now()) {
        std::chrono::duration<double> elapsed = now - last_;
        last_ = now;
        tokens_ = std::min(burst_, tokens_ + elapsed.count() * rate_);
        if (tokens_ < 1.0) return false;
        tokens_ -= 1.0;
        return true;
    }

private:
    double rate_;
    double burst_;
    double tokens_;
    Clock::time_point last_ = Clock::now();
};

}  // namespace bb::edge
