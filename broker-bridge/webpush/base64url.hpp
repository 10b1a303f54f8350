#pragma once

#include <optional>
#include <string>
#include <string_view>

// Base64 with the URL and filename safe alphabet (RFC 4648 section 5), the form Web Push
// uses for keys, salts and tokens. Hand-written: OpenSSL's EVP_EncodeBlock knows only the
// standard alphabet and its decoder skips white space, where a key must be refused.
namespace bb::webpush {

// Without padding, as browsers and RFC 8292 write it.
std::string base64url_encode(std::string_view bytes);

// Accepts text with or without '=' padding; nullopt for any other character or an
// impossible length.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace bb::webpush
