#include "broker-bridge/nkey.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <vector>

namespace bb {
namespace {

// Version bytes of the nkeys format (github.com/nats-io/nkeys, strkey.go).
constexpr uint8_t kPrefixSeed = 18 << 3;  // base32 "S..."
constexpr uint8_t kPrefixUser = 20 << 3;  // base32 "U..."
constexpr size_t kRawKeySize = 32;
constexpr std::string_view kBase32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

// CRC-16/XMODEM (polynomial 0x1021, initial 0), which nkeys appends little-endian.
uint16_t crc16(const uint8_t* data, size_t size) {
    uint16_t crc = 0;
    for (size_t i = 0; i < size; ++i) {
        crc ^= static_cast<uint16_t>(data[i]) << 8;
        for (int bit = 0; bit < 8; ++bit) {
            crc = (crc & 0x8000) != 0 ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                                      : static_cast<uint16_t>(crc << 1);
        }
    }
    return crc;
}

// Decoded seed bytes are the private key: wiped when dropped.
struct SecretBytes {
    std::vector<uint8_t> bytes;
    SecretBytes() = default;
    SecretBytes(const SecretBytes&) = delete;
    SecretBytes& operator=(const SecretBytes&) = delete;
    ~SecretBytes() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

// Fills `out`; false on a character outside the alphabet. nkeys carry no padding.
bool base32_decode(std::string_view text, std::vector<uint8_t>& out) {
    uint32_t buffer = 0;
    int bits = 0;
    for (char c : text) {
        size_t value = kBase32Alphabet.find(c);
        if (value == std::string_view::npos) return false;
        buffer = (buffer << 5) | static_cast<uint32_t>(value);
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<uint8_t>(buffer >> bits));
        }
    }
    return true;
}

std::string base32_encode(const std::vector<uint8_t>& data) {
    std::string out;
    uint32_t buffer = 0;
    int bits = 0;
    for (uint8_t byte : data) {
        buffer = (buffer << 8) | byte;
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out += kBase32Alphabet[(buffer >> bits) & 31];
        }
    }
    if (bits > 0) out += kBase32Alphabet[(buffer << (5 - bits)) & 31];
    return out;
}

struct EvpKeyFree {
    void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};

std::optional<std::array<uint8_t, kRawKeySize>> ed25519_public(const uint8_t* seed) {
    std::unique_ptr<EVP_PKEY, EvpKeyFree> key(
        EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed, kRawKeySize));
    if (!key) return std::nullopt;
    std::array<uint8_t, kRawKeySize> pub{};
    size_t size = pub.size();
    if (EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &size) != 1 || size != pub.size()) {
        return std::nullopt;
    }
    return pub;
}

}  // namespace

Result<std::string> nkey_public_from_seed(std::string_view seed) {
    SecretBytes secret;
    std::vector<uint8_t>& raw = secret.bytes;
    raw.reserve(seed.size());  // no reallocation: every copy of the secret gets wiped
    if (!base32_decode(seed, raw)) return Error{"nkey seed is not base32 text"};
    if (raw.size() != 2 + kRawKeySize + 2) return Error{"nkey seed has the wrong length"};

    uint16_t stored = static_cast<uint16_t>(raw[34] | (raw[35] << 8));
    if (crc16(raw.data(), 34) != stored) return Error{"nkey seed checksum does not match"};
    uint8_t seed_prefix = raw[0] & 0xf8;
    uint8_t type_prefix = static_cast<uint8_t>(((raw[0] & 0x07) << 5) | ((raw[1] & 0xf8) >> 3));
    if (seed_prefix != kPrefixSeed) return Error{"nkey is not a seed (it should start with S)"};
    if (type_prefix != kPrefixUser) return Error{"nkey seed is not a user seed (SU...)"};

    auto pub = ed25519_public(raw.data() + 2);
    if (!pub) return Error{"nkey seed was refused by OpenSSL's ed25519"};
    std::vector<uint8_t> encoded{kPrefixUser};
    encoded.insert(encoded.end(), pub->begin(), pub->end());
    uint16_t crc = crc16(encoded.data(), encoded.size());
    encoded.push_back(static_cast<uint8_t>(crc & 0xff));
    encoded.push_back(static_cast<uint8_t>(crc >> 8));
    return base32_encode(encoded);
}

Result<std::string> read_nkey_seed_file(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) return Error{"cannot read nkey seed file " + file.string()};
    std::string line;
    while (std::getline(in, line)) {
        size_t begin = line.find_first_not_of(" \t\r");
        if (begin == std::string::npos) continue;
        size_t end = line.find_last_not_of(" \t\r");
        std::string_view token = std::string_view(line).substr(begin, end - begin + 1);
        if (token.size() > 2 && token.substr(0, 2) == "SU") return std::string(token);
    }
    return Error{"no user nkey seed (a line starting with SU) in " + file.string()};
}

}  // namespace bb
