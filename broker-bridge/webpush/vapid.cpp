#include "broker-bridge/webpush/vapid.hpp"

#include <openssl/ecdsa.h>
#include <openssl/err.h>

#include <nlohmann/json.hpp>

#include <array>
#include <cctype>
#include <vector>

#include "broker-bridge/webpush/base64url.hpp"

namespace bb::webpush {
namespace {

using MdCtx = std::unique_ptr<EVP_MD_CTX, OsslFree<&EVP_MD_CTX_free>>;
using EcdsaSig = std::unique_ptr<ECDSA_SIG, OsslFree<&ECDSA_SIG_free>>;

constexpr std::size_t kCoordinateBytes = 32;

// OpenSSL signs ECDSA as DER SEQUENCE { r, s }; JWS ES256 (RFC 7518 section 3.4) wants the
// two integers as fixed 32-byte big-endian halves.
Result<std::string> der_to_jose(const std::vector<unsigned char>& der) {
    const unsigned char* p = der.data();
    EcdsaSig sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
    if (!sig) return make_error(openssl_error("cannot read the ECDSA signature"));
    const BIGNUM* r = nullptr;
    const BIGNUM* s = nullptr;
    ECDSA_SIG_get0(sig.get(), &r, &s);
    std::array<unsigned char, 2 * kCoordinateBytes> raw{};
    if (BN_bn2binpad(r, raw.data(), kCoordinateBytes) < 0 ||
        BN_bn2binpad(s, raw.data() + kCoordinateBytes, kCoordinateBytes) < 0) {
        return make_error("the ECDSA signature does not fit P-256");
    }
    return std::string(reinterpret_cast<const char*>(raw.data()), raw.size());
}

Result<std::string> sign_es256(EVP_PKEY* key, std::string_view input) {
    MdCtx ctx(EVP_MD_CTX_new());
    size_t len = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
        return make_error(openssl_error("cannot sign the VAPID token"));
    }
    std::vector<unsigned char> der(len);
    if (EVP_DigestSign(ctx.get(), der.data(), &len,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
        return make_error(openssl_error("cannot sign the VAPID token"));
    }
    der.resize(len);
    return der_to_jose(der);
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
        text.remove_prefix(1);
    }
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.remove_suffix(1);
    }
    return text;
}

}  // namespace

Result<VapidKey> read_vapid_key(std::string_view text) {
    text = trim(text);
    Result<EvpPkey> key = make_error("no key");
    if (text.starts_with("-----BEGIN")) {
        key = p256_from_pem(text);
    } else {
        auto scalar = base64url_decode(text);
        if (!scalar) {
            return make_error(
                "neither a PEM key nor base64url text (a VAPID private key is "
                "the base64url 32-byte scalar that `broker-bridge vapid-keys` "
                "prints)");
        }
        key = p256_from_private(*scalar);
    }
    if (!key) return key.error();
    std::string public_key = base64url_encode(p256_public_bytes(key->get()));
    return VapidKey{std::move(*key), std::move(public_key)};
}

Result<VapidKeyPair> generate_vapid_key_pair() {
    auto key = p256_generate();
    if (!key) return key.error();
    VapidKeyPair pair;
    pair.public_key = base64url_encode(p256_public_bytes(key->get()));
    pair.private_key = base64url_encode(p256_private_bytes(key->get()));
    pair.private_pem = p256_private_pem(key->get());
    if (pair.public_key.empty() || pair.private_key.empty() || pair.private_pem.empty()) {
        return make_error(openssl_error("cannot export the new key"));
    }
    return pair;
}

Result<std::string> vapid_token(const VapidKey& key, std::string_view audience,
                                std::string_view subject, int64_t expires_unix) {
    const nlohmann::json claims = {{"aud", audience}, {"exp", expires_unix}, {"sub", subject}};
    std::string input = base64url_encode(R"({"typ":"JWT","alg":"ES256"})");
    input += '.';
    input +=
        base64url_encode(claims.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    auto signature = sign_es256(key.key.get(), input);
    if (!signature) return signature.error();
    return input + "." + base64url_encode(*signature);
}

std::string vapid_authorization(const VapidKey& key, std::string_view token) {
    return "vapid t=" + std::string(token) + ", k=" + key.public_key;
}

}  // namespace bb::webpush
