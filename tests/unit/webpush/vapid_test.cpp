// VAPID keys and tokens (RFC 8292): what `vapid-keys` prints reads back, and a token
// verifies with OpenSSL against the public key it carries.
#include <boost/test/unit_test.hpp>

#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "broker-bridge/webpush/base64url.hpp"
#include "broker-bridge/webpush/vapid.hpp"

using namespace bb::webpush;

namespace {

std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
        size_t at = text.find(sep, start);
        parts.push_back(text.substr(start, at - start));
        if (at == std::string::npos) return parts;
        start = at + 1;
    }
}

// Verifies an ES256 JWS with OpenSSL alone: the raw R || S turned back into DER.
bool es256_verifies(const std::string& token, const std::string& public_key_b64) {
    auto parts = split(token, '.');
    if (parts.size() != 3) return false;
    auto sig = base64url_decode(parts[2]);
    auto point = base64url_decode(public_key_b64);
    if (!sig || sig->size() != 64 || !point) return false;
    auto key = p256_from_public(*point);
    if (!key) return false;
    ECDSA_SIG* ecdsa = ECDSA_SIG_new();
    auto* raw = reinterpret_cast<const unsigned char*>(sig->data());
    ECDSA_SIG_set0(ecdsa, BN_bin2bn(raw, 32, nullptr), BN_bin2bn(raw + 32, 32, nullptr));
    unsigned char* der = nullptr;
    int der_len = i2d_ECDSA_SIG(ecdsa, &der);
    ECDSA_SIG_free(ecdsa);
    const std::string input = parts[0] + "." + parts[1];
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    int ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key->get());
    if (ok == 1) {
        ok = EVP_DigestVerify(ctx, der, static_cast<size_t>(der_len),
                              reinterpret_cast<const unsigned char*>(input.data()), input.size());
    }
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    return ok == 1;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(vapid)

BOOST_AUTO_TEST_CASE(a_new_key_pair_reads_back_from_its_base64url_and_from_its_pem) {
    auto pair = generate_vapid_key_pair();
    BOOST_TEST_REQUIRE(pair.ok());
    BOOST_TEST(base64url_decode(pair->public_key)->size() == 65u);
    BOOST_TEST(base64url_decode(pair->private_key)->size() == 32u);
    BOOST_TEST(pair->public_key.find('=') == std::string::npos);

    auto from_scalar = read_vapid_key(pair->private_key + "\n");
    BOOST_TEST_REQUIRE(from_scalar.ok(), (from_scalar.ok() ? "" : from_scalar.error().what));
    BOOST_TEST(from_scalar->public_key == pair->public_key);
    auto from_pem = read_vapid_key(pair->private_pem);
    BOOST_TEST_REQUIRE(from_pem.ok(), (from_pem.ok() ? "" : from_pem.error().what));
    BOOST_TEST(from_pem->public_key == pair->public_key);
}

BOOST_AUTO_TEST_CASE(a_token_carries_the_claims_and_verifies_against_the_public_key) {
    auto pair = generate_vapid_key_pair();
    BOOST_TEST_REQUIRE(pair.ok());
    auto key = read_vapid_key(pair->private_key);
    BOOST_TEST_REQUIRE(key.ok());
    auto token =
        vapid_token(*key, "https://push.example.net", "mailto:ops@example.com", 1900000000);
    BOOST_TEST_REQUIRE(token.ok());

    BOOST_TEST(es256_verifies(*token, pair->public_key));
    BOOST_TEST(!es256_verifies(*token + "A", pair->public_key));
    auto parts = split(*token, '.');
    auto header = nlohmann::json::parse(*base64url_decode(parts[0]));
    auto claims = nlohmann::json::parse(*base64url_decode(parts[1]));
    BOOST_TEST(header["alg"] == "ES256");
    BOOST_TEST(claims["aud"] == "https://push.example.net");
    BOOST_TEST(claims["exp"] == 1900000000);
    BOOST_TEST(claims["sub"] == "mailto:ops@example.com");
    BOOST_TEST(vapid_authorization(*key, *token) ==
               "vapid t=" + *token + ", k=" + pair->public_key);
}

BOOST_AUTO_TEST_CASE(a_private_key_that_is_not_one_is_refused_with_the_reason) {
    auto garbage = read_vapid_key("not a key!");
    BOOST_TEST_REQUIRE(!garbage.ok());
    BOOST_TEST(garbage.error().what.find("neither a PEM key nor base64url") == 0u);

    auto short_key = read_vapid_key("AAAA");
    BOOST_TEST_REQUIRE(!short_key.ok());
    BOOST_TEST(short_key.error().what == "a P-256 private key is 32 bytes, not 3");

    auto zero = read_vapid_key(base64url_encode(std::string(32, '\0')));
    BOOST_TEST_REQUIRE(!zero.ok());
    BOOST_TEST(zero.error().what == "the private key is not a valid P-256 scalar");
}

BOOST_AUTO_TEST_SUITE_END()
