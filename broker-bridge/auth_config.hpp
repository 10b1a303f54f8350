#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "broker-bridge/config_node.hpp"

// `edge.auth`: the keys that sign client tokens, and the claims every token must carry.
// The algorithm belongs to the key, never to the token: a token is checked only with the
// algorithm configured for the key it names (by `kid`).
namespace bb {

struct JwtKey {
    std::string kid;              // empty: the key tokens without a `kid` use
    std::string alg;              // HS256 | RS256 | ES256
    std::string secret;           // HS256: the raw bytes, at least 32
    std::string public_key_pem;   // RS256 (RSA, 2048 bits or more) | ES256 (EC P-256)
    std::string private_key_pem;  // optional, only for minting development tokens
};

struct AuthConfig {
    std::vector<JwtKey> keys;
    std::string issuer;    // empty: `iss` is not compared
    std::string audience;  // empty: a token carrying `aud` is refused (RFC 7519 4.1.3)
    std::chrono::milliseconds leeway{5000};
    std::vector<JwtKey> subscription_keys;  // for `token` channels; empty: same as keys
};

inline constexpr size_t kMinHmacSecretBytes = 32;
inline constexpr int kMinRsaBits = 2048;
inline constexpr std::chrono::milliseconds kMaxLeeway{10 * 60 * 1000};

// Reads `edge.auth`:
//   issuer: https://auth.example.com
//   audience: broker-bridge
//   leeway: 5s
//   keys:
//     - {kid: k1, alg: HS256, secret: "${BB_JWT_SECRET}"}
//     - {kid: k2, alg: RS256, public_key_file: keys/rs.pub.pem}   # relative to config_dir
//   subscription_keys: [...]   # same shape; omitted: `keys`
// Throws ConfigError through Node::fail (file:line:col and YAML path); the text never holds
// a secret.
AuthConfig read_auth_config(const config::Node& n, const std::filesystem::path& config_dir);

// Why a key list cannot be used: `index` is the key at fault (keys.size() for the list as a
// whole) and `field` its YAML field ("" for the key itself).
struct KeyProblem {
    size_t index = 0;
    std::string field;
    std::string what;
};

// Checks keys read from anywhere (YAML, tests, a caller building AuthConfig by hand): not
// empty, a known alg, an HS256 secret of kMinHmacSecretBytes or more, a PEM public key of the
// alg's type, a private key (if any) that belongs to it, unique kids, at most one key without
// a kid. nullopt when every key is usable. kShape (check-config --offline) checks only which
// fields each alg takes, not the secret's length or the PEM content.
enum class KeyCheck { kFull, kShape };
std::optional<KeyProblem> check_jwt_keys(const std::vector<JwtKey>& keys,
                                         KeyCheck check = KeyCheck::kFull);

}  // namespace bb
