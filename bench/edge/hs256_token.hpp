// HS256 JWTs for the load generator's clients, signed with the secret of the bench
// config: 10,000 clients need 10,000 tokens of distinct `sub`, too many to ask
// `broker-bridge token` for one by one.
#pragma once

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <ctime>
#include <string>
#include <string_view>

namespace bench {

inline std::string base64url(std::string_view in) {
    std::string out((in.size() + 2) / 3 * 4 + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(in.data()),
                            static_cast<int>(in.size()));
    out.resize(static_cast<size_t>(n));
    while (!out.empty() && out.back() == '=') out.pop_back();
    for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
    return out;
}

inline std::string hs256_token(std::string_view secret, const std::string& sub,
                               const std::string& issuer, const std::string& audience) {
    long now = static_cast<long>(std::time(nullptr));
    std::string claims = "{\"sub\":\"" + sub + "\",\"iat\":" + std::to_string(now) +
                         ",\"exp\":" + std::to_string(now + 86400);
    if (!issuer.empty()) claims += ",\"iss\":\"" + issuer + "\"";
    if (!audience.empty()) claims += ",\"aud\":\"" + audience + "\"";
    claims += "}";
    std::string input = base64url(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url(claims);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
    return input + "." + base64url(std::string_view(reinterpret_cast<char*>(mac), len));
}

}  // namespace bench
