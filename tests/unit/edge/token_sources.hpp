#pragma once

#include <jwt.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <string_view>

// Keys and tokens made without our code: OpenSSL generates the keys at test time, libjwt 1.10
// and Python's PyJWT (the Debian python3-jwt package) sign the tokens. A test that passes
// against them shows we speak the standard, not merely agree with ourselves.
namespace bb::test {

struct KeyPair {
    std::string private_pem;  // PKCS#8
    std::string public_pem;   // SubjectPublicKeyInfo
};

KeyPair generate_rsa(int bits);
KeyPair generate_ec(int curve_nid);
// Generated once per test run (RSA key generation takes a moment).
const KeyPair& rsa_2048();
const KeyPair& ec_p256();

// A token signed by libjwt. `key` is the HMAC secret or the private key PEM; `kid` goes into
// the header when not empty.
std::string libjwt_token(jwt_alg_t alg, std::string_view key, const nlohmann::json& claims,
                         const std::string& kid = "");

// A token signed by PyJWT through the Debian interpreter (BB_DEBIAN_PYTHON). Throws with the
// interpreter's output when it fails, e.g. when python3-jwt is missing.
std::string pyjwt_token(const std::string& alg, const std::string& key,
                        const nlohmann::json& claims, const std::string& kid);

// HS256 over header and payload given as raw JSON text, for headers and payloads no library
// would produce (duplicate names, deep nesting, odd typ). Signed with OpenSSL's HMAC.
std::string raw_hs256_token(std::string_view header_json, std::string_view payload_json,
                            std::string_view secret);

std::string base64url(std::string_view bytes);
std::string from_base64url(std::string_view text);  // lenient; for inspecting tokens

// A fresh directory under /tmp, removed with everything in it when dropped.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path write(const std::string& name, std::string_view content) const;

private:
    std::filesystem::path path_;
};

}  // namespace bb::test
