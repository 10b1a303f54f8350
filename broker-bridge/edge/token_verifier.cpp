#include "broker-bridge/edge/token_verifier.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "broker-bridge/errors.hpp"

// Tokens are verified here with OpenSSL, not with libjwt. libjwt 1.10 takes the algorithm from
// the token's own header with no way to pin it (an HS256 token signed with the RSA public-key
// PEM as the HMAC secret verifies against that PEM), accepts any token unchecked when given no
// key, and checks no claim at all (LIBRARY-NOTES §2). The policy is the point: the key, chosen
// by kid from the config, decides the algorithm; the primitives are three OpenSSL calls.
namespace bb::edge {
namespace {

using json = nlohmann::json;

enum class Alg { kHs256, kRs256, kEs256 };

constexpr size_t kHmacSha256Bytes = 32;
constexpr size_t kP256CoordinateBytes = 32;
// NumericDate claims beyond 9999-12-31T23:59:59Z are refused, so milliseconds never overflow.
constexpr double kMaxNumericDate = 253402300799.0;

struct PkeyFree {
    void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
struct BioFree {
    void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};
struct EcdsaSigFree {
    void operator()(ECDSA_SIG* sig) const noexcept { ECDSA_SIG_free(sig); }
};

struct VerifyKey {
    std::string kid;
    std::string alg_name;
    Alg alg = Alg::kHs256;
    std::string secret;
    std::unique_ptr<EVP_PKEY, PkeyFree> public_key;
};

Error malformed(std::string_view why) { return make_error("malformed token: " + std::string(why)); }

int base64url_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

// Strict RFC 7515 base64url: no padding, no other characters, unused trailing bits zero (so
// one byte string has exactly one text).
std::optional<std::string> base64url_decode(std::string_view text) {
    if (text.size() % 4 == 1) return std::nullopt;
    std::string out;
    out.reserve(text.size() * 3 / 4);
    uint32_t buffer = 0;
    int bits = 0;
    for (char c : text) {
        int value = base64url_value(c);
        if (value < 0) return std::nullopt;
        buffer = (buffer << 6) | static_cast<uint32_t>(value);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((buffer >> bits) & 0xff);
        }
    }
    if ((buffer & ((1u << bits) - 1)) != 0) return std::nullopt;
    return out;
}

std::string base64url_encode(std::string_view bytes) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    uint32_t buffer = 0;
    int bits = 0;
    for (unsigned char byte : bytes) {
        buffer = (buffer << 8) | byte;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += kAlphabet[(buffer >> bits) & 63];
        }
    }
    if (bits > 0) out += kAlphabet[(buffer << (6 - bits)) & 63];
    return out;
}

// A JSON object, or nullopt: not JSON, not an object, nested deeper than kMaxClaimsDepth, or
// a key repeated in one object (parsers disagree on which copy wins, so a repeated `alg` or
// `sub` could mean one thing here and another to the issuer).
std::optional<json> parse_object(const std::string& text) {
    std::vector<std::set<std::string>> open_objects;
    bool refused = false;
    auto guard = [&](int depth, json::parse_event_t event, json& parsed) {
        using Event = json::parse_event_t;
        if ((event == Event::object_start || event == Event::array_start) &&
            depth >= kMaxClaimsDepth) {
            refused = true;
        }
        if (event == Event::object_start) {
            open_objects.emplace_back();
        } else if (event == Event::object_end && !open_objects.empty()) {
            open_objects.pop_back();
        } else if (event == Event::key && !open_objects.empty() &&
                   !open_objects.back().insert(parsed.get<std::string>()).second) {
            refused = true;
        }
        return true;
    };
    json value = json::parse(text, guard, /*allow_exceptions=*/false);
    if (refused || value.is_discarded() || !value.is_object()) return std::nullopt;
    return value;
}

std::optional<json> decode_object(std::string_view part) {
    auto text = base64url_decode(part);
    if (!text) return std::nullopt;
    return parse_object(*text);
}

struct TokenParts {
    std::string_view header;
    std::string_view payload;
    std::string_view signature;
    std::string_view signed_part;  // "header.payload" as sent: what the signature covers
};

// Exactly three parts: a JWE (five parts) or anything else is not for us.
std::optional<TokenParts> split(std::string_view token) {
    size_t first = token.find('.');
    if (first == std::string_view::npos) return std::nullopt;
    size_t second = token.find('.', first + 1);
    if (second == std::string_view::npos) return std::nullopt;
    if (token.find('.', second + 1) != std::string_view::npos) return std::nullopt;
    TokenParts parts;
    parts.header = token.substr(0, first);
    parts.payload = token.substr(first + 1, second - first - 1);
    parts.signature = token.substr(second + 1);
    parts.signed_part = token.substr(0, second);
    if (parts.header.empty() || parts.payload.empty()) return std::nullopt;
    return parts;
}

bool hmac_matches(const std::string& secret, std::string_view data, const std::string& sig) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int length = 0;
    if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(),
             &length) == nullptr) {
        ERR_clear_error();
        return false;
    }
    // Constant time: how many leading bytes matched must not leak through timing.
    return length == kHmacSha256Bytes && sig.size() == length &&
           CRYPTO_memcmp(mac.data(), sig.data(), length) == 0;
}

bool digest_verify(EVP_PKEY* key, std::string_view data, std::string_view sig, bool rsa) {
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* key_ctx = nullptr;  // owned by ctx
    bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), &key_ctx, EVP_sha256(), nullptr, key) == 1;
    // RS256 is PKCS#1 v1.5 (RFC 7518 3.3); say so rather than trust the default.
    if (ok && rsa) ok = EVP_PKEY_CTX_set_rsa_padding(key_ctx, RSA_PKCS1_PADDING) == 1;
    ok = ok &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
    ERR_clear_error();  // a failed verify queues errors on this thread; they are not ours to keep
    return ok;
}

// JOSE carries ES256 as R||S, 32 bytes each (RFC 7518 3.4); OpenSSL verifies DER.
std::optional<std::string> jose_to_der(std::string_view sig) {
    if (sig.size() != 2 * kP256CoordinateBytes) return std::nullopt;
    const auto* bytes = reinterpret_cast<const unsigned char*>(sig.data());
    std::unique_ptr<ECDSA_SIG, EcdsaSigFree> ecdsa(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(bytes, kP256CoordinateBytes, nullptr);
    BIGNUM* s = BN_bin2bn(bytes + kP256CoordinateBytes, kP256CoordinateBytes, nullptr);
    if (!ecdsa || !r || !s || ECDSA_SIG_set0(ecdsa.get(), r, s) != 1) {
        BN_free(r);
        BN_free(s);
        return std::nullopt;
    }
    int length = i2d_ECDSA_SIG(ecdsa.get(), nullptr);
    if (length <= 0) return std::nullopt;
    std::string der(static_cast<size_t>(length), '\0');
    auto* out = reinterpret_cast<unsigned char*>(der.data());
    if (i2d_ECDSA_SIG(ecdsa.get(), &out) != length) return std::nullopt;
    return der;
}

bool signature_matches(const VerifyKey& key, std::string_view signed_part, const std::string& sig) {
    switch (key.alg) {
        case Alg::kHs256:
            return hmac_matches(key.secret, signed_part, sig);
        case Alg::kRs256:
            return sig.size() == static_cast<size_t>(EVP_PKEY_get_size(key.public_key.get())) &&
                   digest_verify(key.public_key.get(), signed_part, sig, true);
        case Alg::kEs256: {
            auto der = jose_to_der(sig);
            return der && digest_verify(key.public_key.get(), signed_part, *der, false);
        }
    }
    return false;
}

}  // namespace

struct TokenVerifier::KeyRing {
    std::vector<VerifyKey> keys;
};

namespace {

using KeyRing = TokenVerifier::KeyRing;

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// The key by the header's kid; without one, the key configured without a kid, or the only key.
Result<const VerifyKey*> choose_key(const KeyRing& ring, const json& header) {
    auto kid = header.find("kid");
    if (kid != header.end()) {
        if (!kid->is_string()) return malformed("kid must be a string");
        const auto& wanted = kid->get_ref<const std::string&>();
        for (const auto& key : ring.keys) {
            if (!key.kid.empty() && key.kid == wanted) return &key;
        }
        return make_error("unknown kid: no configured key has the token's kid");
    }
    for (const auto& key : ring.keys) {
        if (key.kid.empty()) return &key;
    }
    if (ring.keys.size() == 1) return &ring.keys.front();
    return make_error("unknown kid: the token names no kid and several keys are configured");
}

Result<const VerifyKey*> check_header(const KeyRing& ring, const json& header) {
    auto alg = header.find("alg");
    if (alg == header.end() || !alg->is_string()) return malformed("the header has no alg");
    const auto& name = alg->get_ref<const std::string&>();
    if (name != "HS256" && name != "RS256" && name != "ES256") {
        return make_error("algorithm not allowed: only HS256, RS256 and ES256 are accepted");
    }
    if (header.contains("crit")) return malformed("critical header extensions are not supported");
    auto typ = header.find("typ");
    if (typ != header.end() &&
        !(typ->is_string() && equals_ignoring_case(typ->get_ref<const std::string&>(), "JWT"))) {
        return malformed("typ must be JWT");
    }
    auto key = choose_key(ring, header);
    if (!key) return key;
    if ((*key)->alg_name != name) {
        return make_error("algorithm not allowed: the token's key takes " + (*key)->alg_name);
    }
    return key;
}

// A NumericDate claim (RFC 7519 2) in milliseconds, nullopt when absent.
Result<std::optional<int64_t>> numeric_date_ms(const json& claims, const char* name) {
    auto it = claims.find(name);
    if (it == claims.end()) return std::optional<int64_t>{};
    if (!it->is_number()) return malformed(std::string(name) + " must be a number");
    double seconds = it->get<double>();
    if (!std::isfinite(seconds) || seconds < 0 || seconds > kMaxNumericDate) {
        return malformed(std::string(name) + " is out of range");
    }
    return std::optional<int64_t>{static_cast<int64_t>(std::floor(seconds * 1000))};
}

// exp in unix seconds (0: none), or why the token is not valid at `now`.
Result<int64_t> check_times(const json& claims, int64_t now, std::chrono::milliseconds leeway) {
    auto exp = numeric_date_ms(claims, "exp");
    if (!exp) return exp.error();
    auto nbf = numeric_date_ms(claims, "nbf");
    if (!nbf) return nbf.error();
    auto iat = numeric_date_ms(claims, "iat");
    if (!iat) return iat.error();
    const int64_t now_ms = now * 1000;
    const int64_t slack = leeway.count();
    if (*exp && now_ms >= **exp + slack) return make_error("token expired");
    if (*nbf && now_ms + slack < **nbf) return make_error("token not yet valid: nbf is ahead");
    if (*iat && now_ms + slack < **iat) return make_error("token not yet valid: iat is ahead");
    return *exp ? **exp / 1000 : int64_t{0};
}

Result<void> check_issuer(const json& claims, const std::string& issuer) {
    auto iss = claims.find("iss");
    if (iss != claims.end() && !iss->is_string()) return malformed("iss must be a string");
    if (issuer.empty()) return {};
    if (iss == claims.end() || *iss != issuer) return make_error("wrong issuer");
    return {};
}

// RFC 7519 4.1.3: a token that names audiences must name ours; with none configured, a token
// naming any audience is meant for someone else.
Result<void> check_audience(const json& claims, const std::string& audience) {
    auto aud = claims.find("aud");
    if (aud == claims.end()) {
        if (audience.empty()) return {};
        return make_error("wrong audience: the token has no aud");
    }
    bool named = false;
    if (aud->is_string()) {
        named = *aud == audience;
    } else if (aud->is_array()) {
        for (const auto& item : *aud) {
            if (!item.is_string()) return malformed("aud must hold strings");
            named = named || item == audience;
        }
    } else {
        return malformed("aud must be a string or an array of strings");
    }
    if (audience.empty() || !named) return make_error("wrong audience");
    return {};
}

// Non-empty and free of control characters: the subject ends up in NATS headers and log lines.
bool usable_subject(const json& sub) {
    if (!sub.is_string()) return false;
    const auto& text = sub.get_ref<const std::string&>();
    return !text.empty() && std::none_of(text.begin(), text.end(), [](char c) {
        auto byte = static_cast<unsigned char>(c);
        return byte < 0x20 || byte == 0x7f;
    });
}

VerifyKey load_key(const JwtKey& config) {
    VerifyKey key;
    key.kid = config.kid;
    key.alg_name = config.alg;
    key.alg = config.alg == "RS256"   ? Alg::kRs256
              : config.alg == "ES256" ? Alg::kEs256
                                      : Alg::kHs256;
    key.secret = config.secret;
    if (key.alg == Alg::kHs256) return key;
    std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(
        config.public_key_pem.data(), static_cast<int>(config.public_key_pem.size())));
    if (bio) key.public_key.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    ERR_clear_error();
    if (!key.public_key) throw ConfigError("edge.auth: key '" + config.kid + "': unreadable PEM");
    return key;
}

std::shared_ptr<const KeyRing> load_ring(const std::vector<JwtKey>& keys, const char* list) {
    if (auto problem = check_jwt_keys(keys)) {
        std::string where = std::string("edge.auth.") + list;
        if (problem->index < keys.size()) where += "[" + std::to_string(problem->index) + "]";
        if (!problem->field.empty()) where += "." + problem->field;
        throw ConfigError(where + ": " + problem->what);
    }
    auto ring = std::make_shared<KeyRing>();
    for (const auto& key : keys) ring->keys.push_back(load_key(key));
    return ring;
}

}  // namespace

TokenVerifier::TokenVerifier(const AuthConfig& config)
    : keys_(load_ring(config.keys, "keys")),
      subscription_keys_(config.subscription_keys.empty()
                             ? keys_
                             : load_ring(config.subscription_keys, "subscription_keys")),
      issuer_(config.issuer),
      audience_(config.audience),
      leeway_(config.leeway) {
    if (leeway_.count() < 0 || leeway_ > kMaxLeeway) {
        throw ConfigError("edge.auth.leeway: must be between 0 and 10m");
    }
}

Result<Claims> TokenVerifier::verify(std::string_view token, int64_t now) const {
    return verify_with(*keys_, token, now);
}

Result<Claims> TokenVerifier::verify_subscription(std::string_view token, std::string_view channel,
                                                  int64_t now) const {
    auto claims = verify_with(*subscription_keys_, token, now);
    if (!claims) return claims;
    auto granted = claims->all.find("channel");
    if (granted == claims->all.end() || !granted->is_string() ||
        granted->get_ref<const std::string&>() != channel) {
        return make_error("wrong channel: the token does not grant this channel");
    }
    return claims;
}

Result<Claims> TokenVerifier::verify_with(const KeyRing& ring, std::string_view token,
                                          int64_t now) const {
    if (token.size() > kMaxTokenBytes) {
        return malformed("longer than " + std::to_string(kMaxTokenBytes) + " bytes");
    }
    auto parts = split(token);
    if (!parts) return malformed("expected three non-empty dot-separated parts");
    auto header = decode_object(parts->header);
    if (!header) return malformed("the header is not a base64url JSON object");
    auto key = check_header(ring, *header);
    if (!key) return key.error();
    // The signature is checked before the payload is even decoded: nothing unsigned is parsed
    // beyond the header that picks the key.
    auto sig = base64url_decode(parts->signature);
    if (!sig) return malformed("the signature is not base64url");
    if (!signature_matches(**key, parts->signed_part, *sig)) return make_error("bad signature");
    auto payload = decode_object(parts->payload);
    if (!payload) return malformed("the payload is not a base64url JSON object");
    return check_claims(std::move(*payload), now);
}

Result<Claims> TokenVerifier::check_claims(nlohmann::json payload, int64_t now) const {
    auto exp = check_times(payload, now, leeway_);
    if (!exp) return exp.error();
    if (auto issuer = check_issuer(payload, issuer_); !issuer) return issuer.error();
    if (auto audience = check_audience(payload, audience_); !audience) return audience.error();
    auto sub = payload.find("sub");
    if (sub == payload.end() || !usable_subject(*sub)) {
        return malformed("sub must be a non-empty string without control characters");
    }
    Claims claims;
    claims.sub = sub->get<std::string>();
    claims.exp = *exp;
    claims.all = std::move(payload);
    return claims;
}

Result<std::string> mint_dev_token(const AuthConfig& config, const nlohmann::json& claims) {
    if (!claims.is_object()) return make_error("claims must be a JSON object");
    auto key = std::find_if(config.keys.begin(), config.keys.end(),
                            [](const JwtKey& k) { return k.alg == "HS256"; });
    if (key == config.keys.end()) {
        return make_error("no HS256 key is configured: development tokens need one");
    }
    if (key->secret.size() < kMinHmacSecretBytes) {
        return make_error("the HS256 secret is shorter than " +
                          std::to_string(kMinHmacSecretBytes) + " bytes");
    }
    json header = {{"alg", "HS256"}, {"typ", "JWT"}};
    if (!key->kid.empty()) header["kid"] = key->kid;
    json body = claims;
    if (!config.issuer.empty() && !body.contains("iss")) body["iss"] = config.issuer;
    if (!config.audience.empty() && !body.contains("aud")) body["aud"] = config.audience;
    std::string signed_part;
    try {
        signed_part = base64url_encode(header.dump()) + "." + base64url_encode(body.dump());
    } catch (const json::exception&) {
        return make_error("claims hold text that is not valid UTF-8");
    }
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int length = 0;
    if (HMAC(EVP_sha256(), key->secret.data(), static_cast<int>(key->secret.size()),
             reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size(),
             mac.data(), &length) == nullptr) {
        ERR_clear_error();
        return make_error("HMAC-SHA256 failed");
    }
    return signed_part + "." +
           base64url_encode(std::string_view(reinterpret_cast<const char*>(mac.data()), length));
}

}  // namespace bb::edge
