#include "broker-bridge/edge/connection_limits.hpp"

namespace bb::edge {
namespace {

void release(std::unordered_map<std::string, int64_t>& counts, const std::string& key) {
    auto it = counts.find(key);
    if (it != counts.end() && --it->second <= 0) counts.erase(it);
}

}  // namespace

ConnectionLimits::ConnectionLimits(const EdgeLimits& limits)
    : limits_(limits),
      new_connections_(limits.new_connections_per_second,
                       std::max<int64_t>(1, limits.new_connections_per_second)) {}

std::string ConnectionLimits::admit(const std::string& address) {
    std::lock_guard lock(mu_);
    if (total_ >= limits_.max_connections) return "capacity";
    if (limits_.new_connections_per_second > 0 && !new_connections_.allow()) return "rate";
    int64_t& here = per_address_[address];
    if (limits_.max_connections_per_ip > 0 && here >= limits_.max_connections_per_ip) {
        if (here == 0) per_address_.erase(address);
        return "address";
    }
    ++here;
    ++total_;
    return "";
}

void ConnectionLimits::release_address(const std::string& address) {
    std::lock_guard lock(mu_);
    --total_;
    release(per_address_, address);
}

bool ConnectionLimits::add_user(const std::string& user) {
    std::lock_guard lock(mu_);
    int64_t& n = per_user_[user];
    if (n >= limits_.max_connections_per_user) return false;
    ++n;
    return true;
}

void ConnectionLimits::release_user(const std::string& user) {
    std::lock_guard lock(mu_);
    release(per_user_, user);
}

}  // namespace bb::edge
