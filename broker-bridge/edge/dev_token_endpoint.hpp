#pragma once

#include <string>
#include <string_view>

#include "broker-bridge/edge_config.hpp"

// The development token endpoint (edge.dev_tokens): POST /dev/token with
// {"user": "u-42", "orgs": ["7", 8]} answers {"token": "<JWT>", "expires_in_ms": N}. The demo
// page's login form uses it; it exists only when the config enables it.
namespace bb::edge {

inline constexpr const char* kDevTokenPath = "/dev/token";
inline constexpr size_t kMaxDevTokenRequest = 4096;

struct HttpReply {
    int status = 200;
    std::string body;  // JSON: the token, or {"error": "..."} naming what was wrong
};

// Checks the request body and mints the token. `now_s` is the Unix time in seconds.
HttpReply mint_dev_token_reply(const AuthConfig& auth, const DevTokenConfig& config,
                               std::string_view body, int64_t now_s);

}  // namespace bb::edge
