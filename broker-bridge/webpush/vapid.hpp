#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "broker-bridge/result.hpp"
#include "broker-bridge/webpush/p256.hpp"

// Voluntary Application Server Identification (RFC 8292): the application server signs a
// short-lived ES256 JWT per push service origin and sends it with its public key.
namespace bb::webpush {

struct VapidKey {
    EvpPkey key;
    std::string public_key;  // base64url of the 65-byte point: the browser's applicationServerKey
};

// From the text an operator configures: the base64url 32-byte private scalar that
// `broker-bridge vapid-keys` and the web-push tools print, or a PEM private key.
Result<VapidKey> read_vapid_key(std::string_view text);

// A new key pair as `broker-bridge vapid-keys` prints it.
struct VapidKeyPair {
    std::string public_key;   // base64url uncompressed point (applicationServerKey)
    std::string private_key;  // base64url 32-byte scalar
    std::string private_pem;  // the same private key as PKCS#8 PEM
};
Result<VapidKeyPair> generate_vapid_key_pair();

// The signed JWT: header {"typ":"JWT","alg":"ES256"}, claims aud (the push service's origin,
// "https://push.example.net"), exp (Unix seconds, at most 24 h ahead per RFC 8292) and sub
// (a mailto: or https: contact). The signature is JOSE's raw R || S, not DER.
Result<std::string> vapid_token(const VapidKey& key, std::string_view audience,
                                std::string_view subject, int64_t expires_unix);

// The Authorization header value: "vapid t=<token>, k=<public key>".
std::string vapid_authorization(const VapidKey& key, std::string_view token);

}  // namespace bb::webpush
