#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "broker-bridge/edge/rate_limiter.hpp"
#include "broker-bridge/edge_config.hpp"

// Process-wide connection counts shared by all event loops: total, per client address, per
// user, and the rate of new connections. Thread-safe.
namespace bb::edge {

class ConnectionLimits {
public:
    explicit ConnectionLimits(const EdgeLimits& limits);

    // A new connection from `address`: "" when admitted (release_address() later), else the
    // refusal reason (capacity, rate, address).
    std::string admit(const std::string& address);
    void release_address(const std::string& address);

    // A connection authenticated as `user`; false past max_connections_per_user.
    bool add_user(const std::string& user);
    void release_user(const std::string& user);

private:
    const EdgeLimits limits_;
    std::mutex mu_;
    int64_t total_ = 0;
    std::unordered_map<std::string, int64_t> per_address_;
    std::unordered_map<std::string, int64_t> per_user_;
    RateLimiter new_connections_;
};

}  // namespace bb::edge
