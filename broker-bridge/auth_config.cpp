#include "broker-bridge/auth_config.hpp"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <fstream>
#include <memory>
#include <set>
#include <utility>

namespace bb {
namespace {

constexpr const char* kAllowedAlgs = "HS256, RS256, ES256";
constexpr uintmax_t kMaxPemFileBytes = 64 * 1024;

struct PkeyFree {
    void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
struct BioFree {
    void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// An encrypted private key must fail to load, not prompt on the terminal for a passphrase.
int refuse_passphrase(char*, int, int, void*) { return 0; }

Pkey read_pem(const std::string& pem, bool private_key) {
    std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) return nullptr;
    Pkey key(private_key ? PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_passphrase, nullptr)
                         : PEM_read_bio_PUBKEY(bio.get(), nullptr, refuse_passphrase, nullptr));
    ERR_clear_error();  // a refused PEM leaves errors queued on this thread
    return key;
}

bool is_p256(const EVP_PKEY* key) {
    char name[80] = {};
    size_t length = 0;
    if (EVP_PKEY_get_group_name(key, name, sizeof name, &length) != 1) return false;
    int nid = OBJ_sn2nid(name);
    if (nid == NID_undef) nid = EC_curve_nist2nid(name);
    return nid == NID_X9_62_prime256v1;
}

// Why `key` cannot serve `alg`; "" when it can.
std::string key_type_problem(const std::string& alg, const EVP_PKEY* key) {
    if (alg == "RS256") {
        if (!EVP_PKEY_is_a(key, "RSA")) return "RS256 needs an RSA public key";
        if (EVP_PKEY_get_bits(key) < kMinRsaBits) {
            return "RS256 needs an RSA key of at least " + std::to_string(kMinRsaBits) + " bits";
        }
        return "";
    }
    if (!EVP_PKEY_is_a(key, "EC") || !is_p256(key)) return "ES256 needs an EC P-256 public key";
    return "";
}

std::optional<std::pair<std::string, std::string>> asymmetric_key_problem(const JwtKey& key) {
    if (!key.secret.empty()) return {{"secret", "secret applies to HS256 only"}};
    if (key.public_key_pem.empty()) {
        return {{"public_key_file", key.alg + " needs public_key_file (a PEM public key)"}};
    }
    Pkey pub = read_pem(key.public_key_pem, false);
    if (!pub) {
        return {
            {"public_key_file", "not a PEM public key (expected '-----BEGIN PUBLIC KEY-----')"}};
    }
    if (std::string why = key_type_problem(key.alg, pub.get()); !why.empty()) {
        return {{"public_key_file", why}};
    }
    if (key.private_key_pem.empty()) return std::nullopt;
    Pkey priv = read_pem(key.private_key_pem, true);
    if (!priv) {
        return {{"private_key_file", "not an unencrypted PEM private key"}};
    }
    if (EVP_PKEY_eq(pub.get(), priv.get()) != 1) {
        ERR_clear_error();
        return {{"private_key_file", "the private key does not belong to public_key_file"}};
    }
    return std::nullopt;
}

// {field, why} for a key that cannot be used on its own.
std::optional<std::pair<std::string, std::string>> key_problem(const JwtKey& key, KeyCheck check) {
    if (key.alg != "HS256" && key.alg != "RS256" && key.alg != "ES256") {
        return {{"alg", "unknown alg '" + key.alg + "'; allowed: " + kAllowedAlgs}};
    }
    if (key.alg != "HS256" && check == KeyCheck::kShape) {
        if (!key.secret.empty()) return {{"secret", "secret applies to HS256 only"}};
        if (key.public_key_pem.empty()) {
            return {{"public_key_file", key.alg + " needs public_key_file (a PEM public key)"}};
        }
        return std::nullopt;
    }
    if (key.alg != "HS256") return asymmetric_key_problem(key);
    if (!key.public_key_pem.empty()) {
        return {{"public_key_file", "HS256 takes a secret, not key files"}};
    }
    if (!key.private_key_pem.empty()) {
        return {{"private_key_file", "HS256 takes a secret, not key files"}};
    }
    if (key.secret.empty()) return {{"secret", "HS256 needs a secret"}};
    if (check == KeyCheck::kShape) return std::nullopt;
    if (key.secret.size() < kMinHmacSecretBytes) {
        return {{"secret", "the HS256 secret is " + std::to_string(key.secret.size()) +
                               " bytes; it needs at least " + std::to_string(kMinHmacSecretBytes)}};
    }
    return std::nullopt;
}

std::string read_pem_file(const config::Node& n, const std::filesystem::path& config_dir) {
    std::filesystem::path path(n.as_string());
    if (path.empty()) n.fail("the file name may not be empty");
    if (path.is_relative()) path = (config_dir / path).lexically_normal();
    std::error_code ec;
    uintmax_t size = std::filesystem::file_size(path, ec);
    if (ec) n.fail("cannot read '" + path.string() + "': " + ec.message());
    if (size > kMaxPemFileBytes) {
        n.fail("'" + path.string() + "' is " + std::to_string(size) +
               " bytes; a PEM key file may be at most " + std::to_string(kMaxPemFileBytes));
    }
    std::string text(static_cast<size_t>(size), '\0');
    std::ifstream in(path, std::ios::binary);
    if (!in.read(text.data(), static_cast<std::streamsize>(text.size()))) {
        n.fail("cannot read '" + path.string() + "'");
    }
    return text;
}

JwtKey read_key(const config::Node& item, const std::filesystem::path& config_dir) {
    item.expect_keys({"kid", "alg", "secret", "public_key_file", "private_key_file"});
    JwtKey key;
    if (item.has("kid")) {
        key.kid = item["kid"].as_string();
        if (key.kid.empty()) item["kid"].fail("kid may not be empty (omit it instead)");
    }
    key.alg = item.required("alg").as_string();
    if (item.has("secret")) key.secret = item["secret"].as_string();
    // Offline, a key file is not read: its name stands in for its content, for the checks of
    // which fields an alg takes.
    auto key_file = [&](std::string_view field) {
        if (item.offline()) return item[field].as_string();
        return read_pem_file(item[field], config_dir);
    };
    if (item.has("public_key_file")) key.public_key_pem = key_file("public_key_file");
    if (item.has("private_key_file")) key.private_key_pem = key_file("private_key_file");
    return key;
}

std::vector<JwtKey> read_key_list(const config::Node& n, const std::filesystem::path& config_dir) {
    std::vector<config::Node> items = n.items();
    std::vector<JwtKey> keys;
    for (const auto& item : items) keys.push_back(read_key(item, config_dir));
    KeyCheck check = n.offline() ? KeyCheck::kShape : KeyCheck::kFull;
    if (auto problem = check_jwt_keys(keys, check)) {
        if (problem->index >= items.size()) n.fail(problem->what);
        const config::Node& item = items[problem->index];
        if (problem->field.empty()) item.fail(problem->what);
        item[problem->field].fail(problem->what);
    }
    return keys;
}

}  // namespace

std::optional<KeyProblem> check_jwt_keys(const std::vector<JwtKey>& keys, KeyCheck check) {
    if (keys.empty()) return KeyProblem{keys.size(), "", "at least one key is required"};
    std::set<std::string> kids;
    bool kidless_seen = false;
    for (size_t i = 0; i < keys.size(); ++i) {
        if (auto problem = key_problem(keys[i], check)) {
            return KeyProblem{i, std::move(problem->first), std::move(problem->second)};
        }
        if (keys[i].kid.empty()) {
            if (kidless_seen) {
                return KeyProblem{i, "kid",
                                  "more than one key without a kid: tokens could not tell them "
                                  "apart; give each a kid"};
            }
            kidless_seen = true;
        } else if (!kids.insert(keys[i].kid).second) {
            return KeyProblem{i, "kid", "duplicate kid '" + keys[i].kid + "'"};
        }
    }
    return std::nullopt;
}

AuthConfig read_auth_config(const config::Node& n, const std::filesystem::path& config_dir) {
    n.expect_keys({"issuer", "audience", "leeway", "keys", "subscription_keys"});
    AuthConfig c;
    if (n.has("issuer")) c.issuer = n["issuer"].as_string();
    if (n.has("audience")) c.audience = n["audience"].as_string();
    if (n.has("leeway")) {
        c.leeway = n["leeway"].as_duration();
        if (c.leeway > kMaxLeeway) n["leeway"].fail("a leeway above 10m would defeat exp");
    }
    c.keys = read_key_list(n.required("keys"), config_dir);
    if (n.has("subscription_keys")) {
        c.subscription_keys = read_key_list(n["subscription_keys"], config_dir);
    }
    return c;
}

}  // namespace bb
