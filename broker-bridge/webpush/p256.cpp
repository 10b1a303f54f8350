#include "broker-bridge/webpush/p256.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <array>

namespace bb::webpush {
namespace {

using Bignum = std::unique_ptr<BIGNUM, OsslFree<&BN_clear_free>>;
using EcGroup = std::unique_ptr<EC_GROUP, OsslFree<&EC_GROUP_free>>;
using EcPoint = std::unique_ptr<EC_POINT, OsslFree<&EC_POINT_free>>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, OsslFree<&EVP_PKEY_CTX_free>>;
using ParamBld = std::unique_ptr<OSSL_PARAM_BLD, OsslFree<&OSSL_PARAM_BLD_free>>;
using Params = std::unique_ptr<OSSL_PARAM, OsslFree<&OSSL_PARAM_free>>;
using Bio = std::unique_ptr<BIO, OsslFree<&BIO_free>>;

constexpr char kGroupName[] = "prime256v1";

const unsigned char* bytes(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

Result<EvpPkey> from_params(OSSL_PARAM* params, int selection) {
    PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    EVP_PKEY* raw = nullptr;
    if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, selection, params) != 1) {
        return make_error(openssl_error("cannot build the P-256 key"));
    }
    return EvpPkey(raw);
}

bool is_p256(EVP_PKEY* key) {
    std::array<char, 64> group{};
    size_t len = 0;
    return EVP_PKEY_is_a(key, "EC") == 1 &&
           EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group.data(),
                                          group.size(), &len) == 1 &&
           std::string_view(group.data(), len) == kGroupName;
}

// A PEM callback that gives no passphrase, so an encrypted key fails instead of prompting.
int no_passphrase(char*, int, int, void*) { return -1; }

}  // namespace

std::string openssl_error(std::string_view fallback) {
    unsigned long code = ERR_get_error();
    if (code == 0) return std::string(fallback);
    std::array<char, 256> text{};
    ERR_error_string_n(code, text.data(), text.size());
    ERR_clear_error();
    return std::string(fallback) + " (" + text.data() + ")";
}

Result<EvpPkey> p256_generate() {
    EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    if (raw == nullptr) return make_error(openssl_error("cannot generate a P-256 key"));
    return EvpPkey(raw);
}

Result<EvpPkey> p256_from_private(std::string_view scalar) {
    if (scalar.size() != kPrivateKeyBytes) {
        return make_error("a P-256 private key is 32 bytes, not " + std::to_string(scalar.size()));
    }
    EcGroup group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
    Bignum d(BN_bin2bn(bytes(scalar), static_cast<int>(scalar.size()), nullptr));
    if (!group || !d) return make_error(openssl_error("cannot read the private key"));
    if (BN_is_zero(d.get()) || BN_cmp(d.get(), EC_GROUP_get0_order(group.get())) >= 0) {
        return make_error("the private key is not a valid P-256 scalar");
    }
    EcPoint point(EC_POINT_new(group.get()));
    std::array<unsigned char, kPublicKeyBytes> pub{};
    if (!point || EC_POINT_mul(group.get(), point.get(), d.get(), nullptr, nullptr, nullptr) != 1 ||
        EC_POINT_point2oct(group.get(), point.get(), POINT_CONVERSION_UNCOMPRESSED, pub.data(),
                           pub.size(), nullptr) != pub.size()) {
        return make_error(openssl_error("cannot derive the public key"));
    }
    ParamBld bld(OSSL_PARAM_BLD_new());
    if (!bld ||
        OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, kGroupName, 0) !=
            1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get()) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub.data(),
                                         pub.size()) != 1) {
        return make_error(openssl_error("cannot build the key parameters"));
    }
    Params params(OSSL_PARAM_BLD_to_param(bld.get()));
    if (!params) return make_error(openssl_error("cannot build the key parameters"));
    return from_params(params.get(), EVP_PKEY_KEYPAIR);
}

Result<EvpPkey> p256_from_public(std::string_view point) {
    if (point.size() != kPublicKeyBytes || point[0] != 0x04) {
        return make_error("a P-256 public key is a 65-byte uncompressed point starting with 0x04");
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(kGroupName),
                                         0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<char*>(point.data()),
                                          point.size()),
        OSSL_PARAM_construct_end()};
    auto key = from_params(params, EVP_PKEY_PUBLIC_KEY);
    if (!key) return make_error("the public key is not a point on P-256");
    // fromdata does not promise a curve check; an off-curve point invites invalid-curve attacks.
    PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, key->get(), nullptr));
    if (!check || EVP_PKEY_public_check(check.get()) != 1) {
        ERR_clear_error();
        return make_error("the public key is not a point on P-256");
    }
    return key;
}

Result<EvpPkey> p256_from_pem(std::string_view pem) {
    Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    EVP_PKEY* raw =
        bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, &no_passphrase, nullptr) : nullptr;
    if (raw == nullptr) {
        return make_error(openssl_error("not a readable, unencrypted PEM private key"));
    }
    EvpPkey key(raw);
    if (!is_p256(key.get())) return make_error("the PEM key is not a P-256 (prime256v1) EC key");
    return key;
}

std::string p256_public_bytes(EVP_PKEY* key) {
    std::array<unsigned char, kPublicKeyBytes> pub{};
    size_t len = 0;
    EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pub.data(), pub.size(), &len);
    return std::string(reinterpret_cast<const char*>(pub.data()), len);
}

std::string p256_private_bytes(EVP_PKEY* key) {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &raw) != 1) return {};
    Bignum d(raw);
    std::array<unsigned char, kPrivateKeyBytes> out{};
    if (BN_bn2binpad(d.get(), out.data(), static_cast<int>(out.size())) < 0) return {};
    return std::string(reinterpret_cast<const char*>(out.data()), out.size());
}

std::string p256_private_pem(EVP_PKEY* key) {
    Bio bio(BIO_new(BIO_s_mem()));
    if (!bio ||
        PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        return {};
    }
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(len));
}

Result<std::string> p256_ecdh(EVP_PKEY* mine, EVP_PKEY* peer) {
    PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, mine, nullptr));
    std::array<unsigned char, 32> secret{};
    size_t len = secret.size();
    if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
        EVP_PKEY_derive_set_peer(ctx.get(), peer) != 1 ||
        EVP_PKEY_derive(ctx.get(), secret.data(), &len) != 1 || len != secret.size()) {
        return make_error(openssl_error("ECDH key agreement failed"));
    }
    return std::string(reinterpret_cast<const char*>(secret.data()), len);
}

}  // namespace bb::webpush
