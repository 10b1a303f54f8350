#include "key_names.hpp"

#include <openssl/evp.h>

#include <array>

namespace bb::push {
namespace {

constexpr char kHex[] = "0123456789abcdef";

std::string sha256_hex_prefix(std::string_view text, std::size_t hex_chars) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int len = 0;
    EVP_Digest(text.data(), text.size(), digest.data(), &len, EVP_sha256(), nullptr);
    std::string out;
    for (unsigned int i = 0; i < len && out.size() < hex_chars; ++i) {
        out += kHex[digest[i] >> 4];
        out += kHex[digest[i] & 0xF];
    }
    return out;
}

}  // namespace

std::string device_id(std::string_view endpoint) { return sha256_hex_prefix(endpoint, 32); }

std::string user_key(std::string_view user) {
    std::string key = "user.";
    for (char ch : user) {
        const auto c = static_cast<unsigned char>(ch);
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (plain) {
            key += ch;
        } else {
            key += '=';
            key += kHex[c >> 4];
            key += kHex[c & 0xF];
        }
    }
    return key;
}

std::string sent_key(std::string_view binding, std::string_view event_id, std::string_view device) {
    std::string key = "sent.";
    key += binding;
    key += '.';
    key += sha256_hex_prefix(event_id, 32);
    key += '.';
    key += device;
    return key;
}

}  // namespace bb::push
