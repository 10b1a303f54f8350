#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

#include "broker-bridge/result.hpp"

// NIST P-256 keys as Web Push spells them: a public key is the 65-byte uncompressed point
// (0x04 || X || Y), a private key the 32-byte scalar. Everything goes through OpenSSL 3's
// EVP interfaces; the EC_KEY family is deprecated there.
namespace bb::webpush {

template <auto FreeFn>
struct OsslFree {
    template <typename T>
    void operator()(T* handle) const noexcept {
        FreeFn(handle);
    }
};

using EvpPkey = std::unique_ptr<EVP_PKEY, OsslFree<&EVP_PKEY_free>>;

inline constexpr std::size_t kPublicKeyBytes = 65;
inline constexpr std::size_t kPrivateKeyBytes = 32;

// What OpenSSL's error queue says (empties it), or `fallback` when it is empty.
std::string openssl_error(std::string_view fallback);

Result<EvpPkey> p256_generate();
// From the 32-byte scalar; the public half is derived. Refuses 0 and values >= the order.
Result<EvpPkey> p256_from_private(std::string_view scalar);
// From the 65-byte uncompressed point; refuses a point that is not on the curve.
Result<EvpPkey> p256_from_public(std::string_view point);
// From a PEM private key (PKCS#8 "PRIVATE KEY" or SEC 1 "EC PRIVATE KEY"); refuses an
// encrypted key (it never prompts) and any curve but P-256.
Result<EvpPkey> p256_from_pem(std::string_view pem);

std::string p256_public_bytes(EVP_PKEY* key);   // 65 bytes
std::string p256_private_bytes(EVP_PKEY* key);  // 32 bytes
std::string p256_private_pem(EVP_PKEY* key);    // PKCS#8 PEM text

// The ECDH shared secret (the X coordinate, 32 bytes) of `mine` with `peer`.
Result<std::string> p256_ecdh(EVP_PKEY* mine, EVP_PKEY* peer);

}  // namespace bb::webpush
