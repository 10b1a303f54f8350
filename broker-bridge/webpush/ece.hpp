#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "broker-bridge/result.hpp"
#include "broker-bridge/webpush/p256.hpp"

// Web Push message encryption (RFC 8291): the `aes128gcm` content coding of RFC 8188 with
// keys from ECDH on P-256 and HKDF-SHA-256, one record per message.
namespace bb::webpush {

// RFC 8188 header: salt (16), record size (4), key id length (1), key id = sender key (65).
inline constexpr std::size_t kHeaderBytes = 16 + 4 + 1 + kPublicKeyBytes;
// The padding delimiter of the last record and the AES-GCM tag.
inline constexpr std::size_t kRecordOverheadBytes = 1 + 16;
// RFC 8030 section 7.2: a push service must accept at least 4096 bytes of message body, and
// may refuse more; RFC 8291 section 4 counts the header and record overhead in it.
inline constexpr std::size_t kMaxBodyBytes = 4096;
inline constexpr std::size_t kMaxPlaintextBytes =
    kMaxBodyBytes - kHeaderBytes - kRecordOverheadBytes;  // 3993
inline constexpr std::size_t kSaltBytes = 16;
inline constexpr std::size_t kAuthSecretBytes = 16;

// A subscription's keys, as the browser's PushSubscription gives them (base64url).
struct UserAgentKeys {
    EvpPkey public_key;
    std::string public_bytes;  // p256dh, 65 bytes
    std::string auth_secret;   // auth, 16 bytes
};

// Refuses keys of the wrong length, a point off the curve and text that is not base64url,
// naming which key was wrong.
Result<UserAgentKeys> read_user_agent_keys(std::string_view p256dh, std::string_view auth);

// The encrypted body for one user agent, with a fresh sender key and salt.
Result<std::string> encrypt(std::string_view plaintext, const UserAgentKeys& receiver);

// The same with the sender key and salt given: deterministic, for known-answer tests.
Result<std::string> encrypt_with(std::string_view plaintext, const UserAgentKeys& receiver,
                                 EVP_PKEY* sender, std::string_view salt);

}  // namespace bb::webpush
