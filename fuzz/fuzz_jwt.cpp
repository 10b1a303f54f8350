// The JWT parser and verifier of the edge. The keys are fixed: an HS256 secret (kid "hs"),
// an RS256 and an ES256 public key (kids "rs" and "es"), so committed tokens stay valid.
// The first byte chooses the input's shape:
//   't'  a whole token as a client sends it (verify and verify_subscription)
//   's'  header JSON, a newline, payload JSON: signed here with the HS256 secret, so the
//        claim checks see arbitrary JSON behind a good signature
// The clock is fixed at kNow; a token that passes must have a string `sub` and, if it has an
// exp, one that is not before kNow minus the leeway.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "broker-bridge/auth_config.hpp"
#include "broker-bridge/edge/token_verifier.hpp"
#include "broker-bridge/envelope.hpp"
#include "fuzz/fuzz_check.hpp"

namespace {

constexpr int64_t kNow = 1900000000;  // 2030-03-17
constexpr std::string_view kSecret = "fuzz-hs256-secret-0123456789abcdef";

constexpr const char* kRsaPublic = R"(-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwMTmMtwQykwaEyy3gR3l
fg8qmjlka8Hwj+hjimGPgbRplMuyaAbTTw1Hj+I1NRqoYKPgUIbhTuTRCVZs0HMu
1aPvI6rw9s1Xo0h+9tqC+cqJh0UfbXIg+JXSGajajbF8gufNFGJuzQpwEyVu+AUK
VZ7N0s/4EiMXvOBObVhDAxUH+gwkVBm1dAb3xGOzQS6n1b+l/KXB5yThB1N5+wmI
BHMD7dP/XlqlsvSBSN4uxwaMoI2ZBA9TaW8RfVMeYgYkSg8774TVVkPv8Hy0bv8r
p8UmR4ijVZVtiD8NymTkGh2Qm3PXrIyKH8IfxkIwB+OJ+YkTpV+88RmHeYEFWmT0
PQIDAQAB
-----END PUBLIC KEY-----
)";

constexpr const char* kEcPublic = R"(-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEIN+uaw7DGu+LVaDTZEdiSxFUUzMU
1BNqykhetwLky9YEN6j0cWQ4TikxkPpKCR8E6O2JnEpubcH3tsCnNYBElA==
-----END PUBLIC KEY-----
)";

bb::AuthConfig fuzz_auth() {
    bb::AuthConfig auth;
    auth.keys.push_back({"hs", "HS256", std::string(kSecret), "", ""});
    auth.keys.push_back({"rs", "RS256", "", kRsaPublic, ""});
    auth.keys.push_back({"es", "ES256", "", kEcPublic, ""});
    auth.issuer = "https://auth.example.com";
    auth.audience = "broker-bridge";
    return auth;
}

const bb::edge::TokenVerifier& verifier() {
    static const bb::edge::TokenVerifier v(fuzz_auth());
    return v;
}

std::string base64url(std::string_view bytes) {
    std::string text = bb::base64_encode(bytes);
    while (!text.empty() && text.back() == '=') text.pop_back();
    for (char& c : text) {
        if (c == '+') c = '-';
        if (c == '/') c = '_';
    }
    return text;
}

std::string hs256_token(std::string_view header, std::string_view payload) {
    std::string signing_input = base64url(header) + "." + base64url(payload);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_size = 0;
    HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
         reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac,
         &mac_size);
    return signing_input + "." +
           base64url(std::string_view(reinterpret_cast<const char*>(mac), mac_size));
}

void check_verified(const bb::Result<bb::edge::Claims>& claims) {
    if (!claims) {
        BB_FUZZ_CHECK(!claims.error().what.empty());
        return;
    }
    BB_FUZZ_CHECK(claims->all.is_object());
    BB_FUZZ_CHECK(claims->exp == 0 || claims->exp >= kNow - 6);  // leeway 5 s, exp rounded down
}

void verify_token(std::string_view token) {
    check_verified(verifier().verify(token, kNow));
    check_verified(verifier().verify_subscription(token, "doc:1", kNow));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (data[0] == 't') {
        verify_token(input);
    } else if (data[0] == 's') {
        size_t newline = input.find('\n');
        if (newline == std::string_view::npos) return 0;
        verify_token(hs256_token(input.substr(0, newline), input.substr(newline + 1)));
    }
    return 0;
}
