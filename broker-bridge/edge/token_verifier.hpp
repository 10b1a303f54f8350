#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "broker-bridge/auth_config.hpp"
#include "broker-bridge/result.hpp"

// JWT checks for the WebSocket edge (RFC 7519, JWS compact form only).
namespace bb::edge {

inline constexpr size_t kMaxTokenBytes = 8 * 1024;
inline constexpr int kMaxClaimsDepth = 32;

struct Claims {
    std::string sub;
    int64_t exp = 0;  // unix seconds; 0: the token has no exp
    nlohmann::json all;
};

// Verifies tokens against the configured keys. The key is chosen by the header's `kid` (no
// kid: the key configured without one, or the only key), and the header's `alg` must equal
// that key's alg: `alg: none` and HS256-signed-with-the-RSA-public-key tokens fail there.
// Keys come from the config alone; `jku`, `jwk` and `x5u` headers are ignored.
//
// Immutable after construction: verify() and verify_subscription() may run on any number of
// threads at once. Copies share the parsed keys.
//
// A refusal's Error::what starts with one of these phrases, then may explain further:
//   "malformed token", "algorithm not allowed", "unknown kid", "bad signature",
//   "token expired", "token not yet valid", "wrong issuer", "wrong audience", "wrong channel".
// The text never holds the token, any part of it, or key material.
class TokenVerifier {
public:
    // Throws ConfigError when a key is unusable (see check_jwt_keys).
    explicit TokenVerifier(const AuthConfig& config);

    // `now`: unix seconds.
    Result<Claims> verify(std::string_view token, int64_t now) const;

    // For channels whose rule is `token`: verified with subscription_keys, and the `channel`
    // claim must equal `channel` exactly.
    Result<Claims> verify_subscription(std::string_view token, std::string_view channel,
                                       int64_t now) const;

    struct KeyRing;  // parsed keys; defined in the .cpp

private:
    Result<Claims> verify_with(const KeyRing& ring, std::string_view token, int64_t now) const;
    Result<Claims> check_claims(nlohmann::json payload, int64_t now) const;

    std::shared_ptr<const KeyRing> keys_;
    std::shared_ptr<const KeyRing> subscription_keys_;
    std::string issuer_;
    std::string audience_;
    std::chrono::milliseconds leeway_;
};

// Mints an HS256 development token with the first HS256 key of config.keys (its kid in the
// header). `iss` and `aud` are filled from the config when `claims` lacks them, so the token
// passes this config's verifier; nothing else is added (set `sub`, `exp` yourself).
Result<std::string> mint_dev_token(const AuthConfig& config, const nlohmann::json& claims);

}  // namespace bb::edge
