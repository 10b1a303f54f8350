#include "broker-bridge/webpush/ece.hpp"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <array>
#include <cstdint>

#include "broker-bridge/webpush/base64url.hpp"

namespace bb::webpush {
namespace {

using Kdf = std::unique_ptr<EVP_KDF, OsslFree<&EVP_KDF_free>>;
using KdfCtx = std::unique_ptr<EVP_KDF_CTX, OsslFree<&EVP_KDF_CTX_free>>;
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, OsslFree<&EVP_CIPHER_CTX_free>>;

constexpr uint32_t kRecordSize = 4096;
constexpr std::size_t kKeyBytes = 16;
constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;

unsigned char* mutable_bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

const unsigned char* bytes(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

// HKDF-SHA-256 (RFC 5869), extract then expand, `length` bytes.
Result<std::string> hkdf(std::string_view salt, std::string_view ikm, std::string_view info,
                         std::size_t length) {
    Kdf kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
    KdfCtx ctx(kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(ikm.data()),
                                          ikm.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()),
                                          salt.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()),
                                          info.size()),
        OSSL_PARAM_construct_end()};
    std::string out(length, '\0');
    if (!ctx || EVP_KDF_derive(ctx.get(), mutable_bytes(out), out.size(), params) != 1) {
        return make_error(openssl_error("HKDF failed"));
    }
    return out;
}

Result<std::string> aes128gcm_seal(std::string_view key, std::string_view nonce,
                                   std::string_view plaintext) {
    CipherCtx ctx(EVP_CIPHER_CTX_new());
    std::string out(plaintext.size() + kTagBytes, '\0');
    int len = 0;
    int final_len = 0;
    if (!ctx ||
        EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_gcm(), nullptr, bytes(key), bytes(nonce)) != 1 ||
        EVP_EncryptUpdate(ctx.get(), mutable_bytes(out), &len, bytes(plaintext),
                          static_cast<int>(plaintext.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), mutable_bytes(out) + len, &final_len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                            mutable_bytes(out) + len + final_len) != 1) {
        return make_error(openssl_error("AES-128-GCM encryption failed"));
    }
    return out;
}

// With a string literal, sizeof counts its NUL: RFC 8291 wants that 0x00 in every info.
template <std::size_t N>
std::string_view with_nul(const char (&text)[N]) {
    return std::string_view(text, N);
}

}  // namespace

Result<UserAgentKeys> read_user_agent_keys(std::string_view p256dh, std::string_view auth) {
    auto point = base64url_decode(p256dh);
    if (!point) return make_error("p256dh is not base64url text");
    auto key = p256_from_public(*point);
    if (!key) return make_error("p256dh: " + key.error().what);
    auto secret = base64url_decode(auth);
    if (!secret) return make_error("auth is not base64url text");
    if (secret->size() != kAuthSecretBytes) {
        return make_error("auth is " + std::to_string(secret->size()) +
                          " bytes; an auth secret is 16");
    }
    return UserAgentKeys{std::move(*key), std::move(*point), std::move(*secret)};
}

Result<std::string> encrypt(std::string_view plaintext, const UserAgentKeys& receiver) {
    auto sender = p256_generate();
    if (!sender) return sender.error();
    std::string salt(kSaltBytes, '\0');
    if (RAND_bytes(mutable_bytes(salt), static_cast<int>(salt.size())) != 1) {
        return make_error(openssl_error("no random bytes for the salt"));
    }
    return encrypt_with(plaintext, receiver, sender->get(), salt);
}

Result<std::string> encrypt_with(std::string_view plaintext, const UserAgentKeys& receiver,
                                 EVP_PKEY* sender, std::string_view salt) {
    if (salt.size() != kSaltBytes) return make_error("the salt must be 16 bytes");
    if (plaintext.size() > kMaxPlaintextBytes) {
        return make_error("the payload is " + std::to_string(plaintext.size()) +
                          " bytes; encrypted it would be " +
                          std::to_string(plaintext.size() + kHeaderBytes + kRecordOverheadBytes) +
                          ", over the " + std::to_string(kMaxBodyBytes) +
                          "-byte Web Push limit (at most " + std::to_string(kMaxPlaintextBytes) +
                          " bytes before encryption)");
    }
    auto shared = p256_ecdh(sender, receiver.public_key.get());
    if (!shared) return shared.error();
    const std::string sender_public = p256_public_bytes(sender);

    // RFC 8291 section 3.4: IKM from the ECDH secret, bound to both public keys by the info.
    std::string key_info(with_nul("WebPush: info"));
    key_info += receiver.public_bytes;
    key_info += sender_public;
    auto ikm = hkdf(receiver.auth_secret, *shared, key_info, 32);
    if (!ikm) return ikm.error();
    // RFC 8188 section 2.2 and 2.3: content-encryption key and nonce from the salt.
    auto cek = hkdf(salt, *ikm, with_nul("Content-Encoding: aes128gcm"), kKeyBytes);
    auto nonce = hkdf(salt, *ikm, with_nul("Content-Encoding: nonce"), kNonceBytes);
    if (!cek) return cek.error();
    if (!nonce) return nonce.error();

    // One record, the last: the plaintext then the delimiter 0x02 and no padding.
    std::string record(plaintext);
    record += '\x02';
    auto sealed = aes128gcm_seal(*cek, *nonce, record);
    if (!sealed) return sealed.error();

    std::string body(salt);
    body += static_cast<char>((kRecordSize >> 24) & 0xFF);
    body += static_cast<char>((kRecordSize >> 16) & 0xFF);
    body += static_cast<char>((kRecordSize >> 8) & 0xFF);
    body += static_cast<char>(kRecordSize & 0xFF);
    body += static_cast<char>(sender_public.size());
    body += sender_public;
    body += *sealed;
    return body;
}

}  // namespace bb::webpush
