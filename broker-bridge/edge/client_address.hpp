#pragma once

#include <string>
#include <string_view>
#include <vector>

// The address a connection is counted under. The peer address, unless the peer is a trusted
// proxy: then X-Forwarded-For is read from its right end, skipping trusted proxies, and the
// first other address is the client's. A forged left part of the header is never reached.
namespace bb::edge {

std::string client_address(std::string_view peer, std::string_view forwarded_for,
                           const std::vector<std::string>& trusted_proxies);

}  // namespace bb::edge
