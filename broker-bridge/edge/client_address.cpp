#include "broker-bridge/edge/client_address.hpp"

#include <algorithm>

namespace bb::edge {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool trusted(std::string_view address, const std::vector<std::string>& proxies) {
    return std::find(proxies.begin(), proxies.end(), address) != proxies.end();
}

}  // namespace

std::string client_address(std::string_view peer, std::string_view forwarded_for,
                           const std::vector<std::string>& trusted_proxies) {
    if (!trusted(peer, trusted_proxies)) return std::string(peer);
    std::string_view rest = forwarded_for;
    while (!rest.empty()) {
        size_t comma = rest.rfind(',');
        std::string_view hop =
            trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
        if (hop.empty() || hop.size() > 64) continue;
        if (!trusted(hop, trusted_proxies)) return std::string(hop);
    }
    return std::string(peer);
}

}  // namespace bb::edge
