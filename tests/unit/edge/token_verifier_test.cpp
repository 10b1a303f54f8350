#include "broker-bridge/edge/token_verifier.hpp"

#include <jwt.h>
#include <openssl/obj_mac.h>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "broker-bridge/errors.hpp"
#include "unit/edge/token_sources.hpp"

namespace {

using bb::edge::Claims;
using bb::edge::TokenVerifier;
using json = nlohmann::json;
namespace t = bb::test;

constexpr int64_t kNow = 1'800'000'000;
const std::string kSecret = "hs-key-for-the-edge-tests-0123456789";
const std::string kOtherSecret = "another-hs-key-for-the-edge-tests-42";
const std::string kIssuer = "https://auth.example.test";
const std::string kAudience = "broker-bridge";

bb::JwtKey hs_key(const std::string& kid, const std::string& secret) {
    return bb::JwtKey{kid, "HS256", secret, "", ""};
}

bb::JwtKey pem_key(const std::string& kid, const std::string& alg, const std::string& pem) {
    return bb::JwtKey{kid, alg, "", pem, ""};
}

// Three keys, one per algorithm, told apart by kid.
bb::AuthConfig standard_config() {
    bb::AuthConfig c;
    c.keys = {hs_key("hs", kSecret), pem_key("rs", "RS256", t::rsa_2048().public_pem),
              pem_key("es", "ES256", t::ec_p256().public_pem)};
    c.issuer = kIssuer;
    c.audience = kAudience;
    return c;
}

json valid_claims() {
    return {{"sub", "42"},      {"iss", kIssuer},     {"aud", kAudience},
            {"iat", kNow - 10}, {"exp", kNow + 3600}, {"orgs", json::array({7, 8})}};
}

json with(json claims, const std::string& name, json value) {
    claims[name] = std::move(value);
    return claims;
}

json without(json claims, const std::string& name) {
    claims.erase(name);
    return claims;
}

std::string hs_token(const json& claims, const std::string& kid = "hs") {
    return t::libjwt_token(JWT_ALG_HS256, kSecret, claims, kid);
}

std::vector<std::string> parts_of(const std::string& token) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (size_t dot = token.find('.'); dot != std::string::npos; dot = token.find('.', start)) {
        parts.push_back(token.substr(start, dot - start));
        start = dot + 1;
    }
    parts.push_back(token.substr(start));
    return parts;
}

// Refused for `reason` (the stable phrase the error starts with), and the error text holds
// neither the token nor any part of it, nor a secret.
void check_refused(const bb::Result<Claims>& result, const std::string& reason,
                   const std::string& token) {
    BOOST_TEST_CONTEXT("expecting '" << reason << "'") {
        BOOST_TEST_REQUIRE(!result.ok());
        const std::string& what = result.error().what;
        BOOST_TEST(what.substr(0, reason.size()) == reason);
        if (!token.empty()) BOOST_TEST(what.find(token) == std::string::npos);
        for (const auto& part : parts_of(token)) {
            if (part.size() >= 8) BOOST_TEST(what.find(part) == std::string::npos);
        }
        BOOST_TEST(what.find(kSecret) == std::string::npos);
        BOOST_TEST(what.find("BEGIN") == std::string::npos);
    }
}

void check_accepted(const bb::Result<Claims>& result, const std::string& sub) {
    BOOST_TEST_REQUIRE(result.ok(), (result.ok() ? "" : result.error().what));
    BOOST_TEST(result->sub == sub);
}

std::string tamper_payload(const std::string& token, const json& claims) {
    auto parts = parts_of(token);
    return parts[0] + "." + t::base64url(claims.dump()) + "." + parts[2];
}

}  // namespace

BOOST_AUTO_TEST_SUITE(token_verifier)

BOOST_AUTO_TEST_CASE(an_hs256_token_from_libjwt_is_accepted_with_its_claims) {
    TokenVerifier verifier(standard_config());
    auto claims = verifier.verify(hs_token(valid_claims()), kNow);
    check_accepted(claims, "42");
    BOOST_TEST(claims->exp == kNow + 3600);
    BOOST_TEST(claims->all["orgs"] == json::array({7, 8}));
    BOOST_TEST(claims->all["iss"] == kIssuer);
}

BOOST_AUTO_TEST_CASE(an_rs256_token_from_libjwt_is_accepted) {
    TokenVerifier verifier(standard_config());
    auto token = t::libjwt_token(JWT_ALG_RS256, t::rsa_2048().private_pem, valid_claims(), "rs");
    BOOST_TEST(t::from_base64url(parts_of(token)[2]).size() == 256u);
    check_accepted(verifier.verify(token, kNow), "42");
}

// libjwt 1.10 emits ES256 signatures in the JOSE form, R||S of 32 bytes each, not DER; 40
// tokens make it near certain that some R or S has its top bit set (a DER INTEGER then needs a
// leading zero byte), which the R||S-to-DER conversion must get right.
BOOST_AUTO_TEST_CASE(es256_tokens_from_libjwt_are_jose_r_s_and_accepted) {
    TokenVerifier verifier(standard_config());
    for (int i = 0; i < 40; ++i) {
        auto claims = with(valid_claims(), "sub", "user-" + std::to_string(i));
        auto token = t::libjwt_token(JWT_ALG_ES256, t::ec_p256().private_pem, claims, "es");
        BOOST_TEST_REQUIRE(t::from_base64url(parts_of(token)[2]).size() == 64u);
        check_accepted(verifier.verify(token, kNow), "user-" + std::to_string(i));
    }
}

BOOST_AUTO_TEST_CASE(tokens_from_python_jwt_are_accepted) {
    TokenVerifier verifier(standard_config());
    auto claims = with(valid_claims(), "sub", "py-user");
    claims["aud"] = json::array({"some-other-service", kAudience});
    auto hs = t::pyjwt_token("HS256", kSecret, claims, "hs");
    check_accepted(verifier.verify(hs, kNow), "py-user");
    auto rs = t::pyjwt_token("RS256", t::rsa_2048().private_pem, claims, "rs");
    check_accepted(verifier.verify(rs, kNow), "py-user");
    auto es = t::pyjwt_token("ES256", t::ec_p256().private_pem, claims, "es");
    check_accepted(verifier.verify(es, kNow), "py-user");
}

BOOST_AUTO_TEST_CASE(alg_none_is_refused_with_or_without_a_kid) {
    TokenVerifier verifier(standard_config());
    std::string payload = t::base64url(valid_claims().dump());
    for (const char* header : {R"({"alg":"none","typ":"JWT"})", R"({"alg":"none","kid":"hs"})",
                               R"({"alg":"None","kid":"rs"})", R"({"alg":"HS512","kid":"hs"})"}) {
        std::string token = t::base64url(header) + "." + payload + ".";
        check_refused(verifier.verify(token, kNow), "algorithm not allowed", token);
        std::string signed_too = token + t::base64url("whatever-signature");
        check_refused(verifier.verify(signed_too, kNow), "algorithm not allowed", signed_too);
    }
}

// The classic confusion: the attacker knows the public key and uses its PEM text as an HMAC
// secret. libjwt itself accepts such a token when handed the PEM (LIBRARY-NOTES §2).
BOOST_AUTO_TEST_CASE(hs256_signed_with_the_public_key_pem_is_refused) {
    TokenVerifier verifier(standard_config());
    auto rs = t::libjwt_token(JWT_ALG_HS256, t::rsa_2048().public_pem, valid_claims(), "rs");
    check_refused(verifier.verify(rs, kNow), "algorithm not allowed", rs);
    auto es = t::libjwt_token(JWT_ALG_HS256, t::ec_p256().public_pem, valid_claims(), "es");
    check_refused(verifier.verify(es, kNow), "algorithm not allowed", es);

    bb::AuthConfig only_rsa = standard_config();
    only_rsa.keys = {pem_key("", "RS256", t::rsa_2048().public_pem)};
    TokenVerifier single(only_rsa);
    auto kidless = t::libjwt_token(JWT_ALG_HS256, t::rsa_2048().public_pem, valid_claims());
    check_refused(single.verify(kidless, kNow), "algorithm not allowed", kidless);
}

BOOST_AUTO_TEST_CASE(a_token_signed_for_one_alg_is_refused_under_another_keys_kid) {
    TokenVerifier verifier(standard_config());
    auto rs = t::libjwt_token(JWT_ALG_RS256, t::rsa_2048().private_pem, valid_claims(), "es");
    check_refused(verifier.verify(rs, kNow), "algorithm not allowed", rs);
}

BOOST_AUTO_TEST_CASE(an_expired_token_is_refused) {
    TokenVerifier verifier(standard_config());
    auto token = hs_token(with(valid_claims(), "exp", kNow - 3600));
    check_refused(verifier.verify(token, kNow), "token expired", token);
}

BOOST_AUTO_TEST_CASE(a_token_whose_nbf_or_iat_is_ahead_is_refused) {
    TokenVerifier verifier(standard_config());
    auto nbf = hs_token(with(valid_claims(), "nbf", kNow + 600));
    check_refused(verifier.verify(nbf, kNow), "token not yet valid", nbf);
    auto iat = hs_token(with(valid_claims(), "iat", kNow + 600));
    check_refused(verifier.verify(iat, kNow), "token not yet valid", iat);
}

BOOST_AUTO_TEST_CASE(the_leeway_is_honoured_on_both_sides) {
    TokenVerifier verifier(standard_config());  // leeway 5s
    check_accepted(verifier.verify(hs_token(with(valid_claims(), "exp", kNow - 4)), kNow), "42");
    auto late = hs_token(with(valid_claims(), "exp", kNow - 5));
    check_refused(verifier.verify(late, kNow), "token expired", late);
    check_accepted(verifier.verify(hs_token(with(valid_claims(), "nbf", kNow + 5)), kNow), "42");
    auto early = hs_token(with(valid_claims(), "nbf", kNow + 6));
    check_refused(verifier.verify(early, kNow), "token not yet valid", early);

    bb::AuthConfig strict = standard_config();
    strict.leeway = std::chrono::milliseconds(0);
    TokenVerifier exact(strict);
    auto now = hs_token(with(valid_claims(), "exp", kNow));
    check_refused(exact.verify(now, kNow), "token expired", now);
    check_accepted(exact.verify(hs_token(with(valid_claims(), "exp", kNow + 1)), kNow), "42");
    auto ahead = hs_token(with(valid_claims(), "nbf", kNow + 1));
    check_refused(exact.verify(ahead, kNow), "token not yet valid", ahead);
}

BOOST_AUTO_TEST_CASE(a_wrong_or_missing_audience_is_refused) {
    TokenVerifier verifier(standard_config());
    for (const json& aud : {json("someone-else"), json::array({"a", "b"}), json::array()}) {
        auto token = hs_token(with(valid_claims(), "aud", aud));
        check_refused(verifier.verify(token, kNow), "wrong audience", token);
    }
    auto missing = hs_token(without(valid_claims(), "aud"));
    check_refused(verifier.verify(missing, kNow), "wrong audience", missing);
    auto listed = hs_token(with(valid_claims(), "aud", json::array({"other", kAudience})));
    check_accepted(verifier.verify(listed, kNow), "42");
}

BOOST_AUTO_TEST_CASE(a_token_naming_an_audience_is_refused_when_none_is_configured) {
    bb::AuthConfig config = standard_config();
    config.audience.clear();
    TokenVerifier verifier(config);
    auto token = hs_token(valid_claims());
    check_refused(verifier.verify(token, kNow), "wrong audience", token);
    check_accepted(verifier.verify(hs_token(without(valid_claims(), "aud")), kNow), "42");
}

BOOST_AUTO_TEST_CASE(a_wrong_or_missing_issuer_is_refused) {
    TokenVerifier verifier(standard_config());
    auto wrong = hs_token(with(valid_claims(), "iss", "https://evil.example.test"));
    check_refused(verifier.verify(wrong, kNow), "wrong issuer", wrong);
    auto missing = hs_token(without(valid_claims(), "iss"));
    check_refused(verifier.verify(missing, kNow), "wrong issuer", missing);
}

BOOST_AUTO_TEST_CASE(a_truncated_signature_is_refused_for_every_alg) {
    TokenVerifier verifier(standard_config());
    std::vector<std::string> tokens = {
        hs_token(valid_claims()),
        t::libjwt_token(JWT_ALG_RS256, t::rsa_2048().private_pem, valid_claims(), "rs"),
        t::libjwt_token(JWT_ALG_ES256, t::ec_p256().private_pem, valid_claims(), "es")};
    for (const auto& token : tokens) {
        std::string signed_part = token.substr(0, token.rfind('.'));
        std::string sig = t::from_base64url(parts_of(token)[2]);
        for (size_t keep : {sig.size() - 1, sig.size() / 2, size_t{0}}) {
            std::string cut = signed_part + "." + t::base64url(sig.substr(0, keep));
            check_refused(verifier.verify(cut, kNow), "bad signature", cut);
        }
        // Cut as text, the last character may carry bits that no longer fit: any refusal.
        std::string chopped = token.substr(0, token.size() - 4);
        check_refused(verifier.verify(chopped, kNow), "", chopped);
    }
}

BOOST_AUTO_TEST_CASE(a_tampered_payload_is_refused) {
    TokenVerifier verifier(standard_config());
    auto token = hs_token(valid_claims());
    auto forged = tamper_payload(token, with(valid_claims(), "sub", "admin"));
    check_refused(verifier.verify(forged, kNow), "bad signature", forged);
    auto rs = t::libjwt_token(JWT_ALG_RS256, t::rsa_2048().private_pem, valid_claims(), "rs");
    auto forged_rs = tamper_payload(rs, with(valid_claims(), "exp", kNow + 999999));
    check_refused(verifier.verify(forged_rs, kNow), "bad signature", forged_rs);
}

BOOST_AUTO_TEST_CASE(an_unknown_kid_is_refused) {
    TokenVerifier verifier(standard_config());
    auto token = t::libjwt_token(JWT_ALG_HS256, kSecret, valid_claims(), "retired-2019");
    check_refused(verifier.verify(token, kNow), "unknown kid", token);
    auto kidless = t::libjwt_token(JWT_ALG_HS256, kSecret, valid_claims());
    check_refused(verifier.verify(kidless, kNow), "unknown kid", kidless);
}

BOOST_AUTO_TEST_CASE(garbage_is_refused_as_malformed) {
    TokenVerifier verifier(standard_config());
    auto good = parts_of(hs_token(valid_claims()));
    std::vector<std::string> garbage = {
        "",
        "garbage",
        "a.b",
        "a.b.c.d.e",
        "..",
        "." + good[1] + "." + good[2],
        good[0] + ".." + good[2],
        good[0] + "=." + good[1] + "." + good[2],
        good[0] + "." + good[1] + "." + good[2] + "=",
        "+" + good[0] + "." + good[1] + "." + good[2],
        good[0] + " ." + good[1] + "." + good[2],
        t::base64url("not json") + "." + good[1] + "." + good[2],
        t::base64url("[\"HS256\"]") + "." + good[1] + "." + good[2],
        t::base64url(R"({"alg":"HS256","kid":7})") + "." + good[1] + "." + good[2],
        std::string("\xff\xfe.\x01.\x02", 7),
    };
    for (const auto& token : garbage) {
        BOOST_TEST_CONTEXT("token "
                           << json(token).dump(-1, ' ', true, json::error_handler_t::replace)) {
            check_refused(verifier.verify(token, kNow), "malformed token", token);
        }
    }
}

// base64url with set unused trailing bits decodes to the same bytes in lenient decoders: one
// signature would have several spellings.
BOOST_AUTO_TEST_CASE(non_canonical_base64url_is_refused) {
    TokenVerifier verifier(standard_config());
    auto token = hs_token(valid_claims());
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string changed = token;
    size_t last = alphabet.find(changed.back());
    BOOST_TEST_REQUIRE(last % 4 == 0);  // 32 bytes in 43 characters leave 2 unused bits
    changed.back() = alphabet[last | 1];
    BOOST_TEST(t::from_base64url(parts_of(changed)[2]) == t::from_base64url(parts_of(token)[2]));
    check_refused(verifier.verify(changed, kNow), "malformed token", changed);
}

BOOST_AUTO_TEST_CASE(a_token_over_8_kib_is_refused_even_when_signed) {
    TokenVerifier verifier(standard_config());
    auto big = hs_token(with(valid_claims(), "padding", std::string(7000, 'x')));
    BOOST_TEST_REQUIRE(big.size() > 9 * 1024u);
    check_refused(verifier.verify(big, kNow), "malformed token", big);
    auto fits = hs_token(with(valid_claims(), "padding", std::string(5000, 'x')));
    BOOST_TEST_REQUIRE(fits.size() < bb::edge::kMaxTokenBytes);
    check_accepted(verifier.verify(fits, kNow), "42");
}

BOOST_AUTO_TEST_CASE(a_token_without_a_usable_sub_is_refused) {
    TokenVerifier verifier(standard_config());
    std::vector<std::string> tokens = {
        hs_token(without(valid_claims(), "sub")), hs_token(with(valid_claims(), "sub", "")),
        hs_token(with(valid_claims(), "sub", 42)), hs_token(with(valid_claims(), "sub", "a\nb")),
        hs_token(with(valid_claims(), "sub", json::array({"42"})))};
    for (const auto& token : tokens) {
        check_refused(verifier.verify(token, kNow), "malformed token", token);
    }
}

BOOST_AUTO_TEST_CASE(time_and_identity_claims_of_the_wrong_type_are_refused) {
    TokenVerifier verifier(standard_config());
    std::vector<json> claims = {with(valid_claims(), "exp", std::to_string(kNow + 60)),
                                with(valid_claims(), "exp", true),
                                with(valid_claims(), "exp", 1e300),
                                with(valid_claims(), "nbf", -1),
                                with(valid_claims(), "iat", nullptr),
                                with(valid_claims(), "iss", 5),
                                with(valid_claims(), "aud", json::array({1})),
                                with(valid_claims(), "aud", json::object())};
    for (const auto& c : claims) {
        auto token = t::raw_hs256_token(R"({"alg":"HS256","kid":"hs"})", c.dump(), kSecret);
        BOOST_TEST_CONTEXT("claims " << c.dump()) {
            check_refused(verifier.verify(token, kNow), "malformed token", token);
        }
    }
}

BOOST_AUTO_TEST_CASE(typ_other_than_jwt_and_crit_headers_are_refused) {
    TokenVerifier verifier(standard_config());
    std::string payload = valid_claims().dump();
    auto lower = t::raw_hs256_token(R"({"alg":"HS256","kid":"hs","typ":"jwt"})", payload, kSecret);
    check_accepted(verifier.verify(lower, kNow), "42");
    for (const char* header : {R"({"alg":"HS256","kid":"hs","typ":"at+jwt"})",
                               R"({"alg":"HS256","kid":"hs","crit":["exp"],"exp":1})",
                               R"({"alg":"HS256","kid":"hs","typ":1})"}) {
        auto token = t::raw_hs256_token(header, payload, kSecret);
        check_refused(verifier.verify(token, kNow), "malformed token", token);
    }
}

BOOST_AUTO_TEST_CASE(repeated_names_in_header_or_claims_are_refused) {
    TokenVerifier verifier(standard_config());
    std::string claims = valid_claims().dump();
    std::string repeated_sub = "{\"sub\":\"42\"," + claims.substr(1);
    auto payload_twice = t::raw_hs256_token(R"({"alg":"HS256","kid":"hs"})", repeated_sub, kSecret);
    check_refused(verifier.verify(payload_twice, kNow), "malformed token", payload_twice);
    auto header_twice =
        t::raw_hs256_token(R"({"alg":"HS256","kid":"hs","kid":"hs"})", claims, kSecret);
    check_refused(verifier.verify(header_twice, kNow), "malformed token", header_twice);
}

BOOST_AUTO_TEST_CASE(claims_nested_deeper_than_the_cap_are_refused) {
    TokenVerifier verifier(standard_config());
    auto nested = [](int depth) {
        json value = "leaf";
        for (int i = 0; i < depth; ++i) value = json::array({value});
        return with(valid_claims(), "deep", value);
    };
    auto shallow = hs_token(nested(bb::edge::kMaxClaimsDepth - 2));
    check_accepted(verifier.verify(shallow, kNow), "42");
    auto deep = hs_token(nested(bb::edge::kMaxClaimsDepth));
    check_refused(verifier.verify(deep, kNow), "malformed token", deep);
}

BOOST_AUTO_TEST_CASE(rotated_keys_each_verify_only_their_own_tokens) {
    bb::AuthConfig config = standard_config();
    config.keys = {hs_key("", kSecret), hs_key("2026-01", kOtherSecret),
                   pem_key("2026-02", "RS256", t::rsa_2048().public_pem)};
    TokenVerifier verifier(config);
    auto legacy = t::libjwt_token(JWT_ALG_HS256, kSecret, valid_claims());
    check_accepted(verifier.verify(legacy, kNow), "42");
    auto current = t::libjwt_token(JWT_ALG_HS256, kOtherSecret, valid_claims(), "2026-01");
    check_accepted(verifier.verify(current, kNow), "42");
    auto next =
        t::libjwt_token(JWT_ALG_RS256, t::rsa_2048().private_pem, valid_claims(), "2026-02");
    check_accepted(verifier.verify(next, kNow), "42");

    auto crossed = t::libjwt_token(JWT_ALG_HS256, kSecret, valid_claims(), "2026-01");
    check_refused(verifier.verify(crossed, kNow), "bad signature", crossed);
    auto kidless_new = t::libjwt_token(JWT_ALG_HS256, kOtherSecret, valid_claims());
    check_refused(verifier.verify(kidless_new, kNow), "bad signature", kidless_new);
}

BOOST_AUTO_TEST_CASE(a_subscription_token_grants_exactly_its_channel) {
    const std::string sub_secret = "subscription-tokens-key-0123456789abcdef";
    bb::AuthConfig config = standard_config();
    config.subscription_keys = {hs_key("subs", sub_secret)};
    TokenVerifier verifier(config);
    auto token = t::libjwt_token(JWT_ALG_HS256, sub_secret,
                                 with(valid_claims(), "channel", "doc:7"), "subs");
    check_accepted(verifier.verify_subscription(token, "doc:7", kNow), "42");
    for (const char* channel : {"doc:8", "doc:7 ", "doc:", "doc:70", ""}) {
        check_refused(verifier.verify_subscription(token, channel, kNow), "wrong channel", token);
    }
    auto no_channel = t::libjwt_token(JWT_ALG_HS256, sub_secret, valid_claims(), "subs");
    check_refused(verifier.verify_subscription(no_channel, "doc:7", kNow), "wrong channel",
                  no_channel);
    // The two key sets do not stand in for each other.
    check_refused(verifier.verify(token, kNow), "unknown kid", token);
    auto connect = hs_token(with(valid_claims(), "channel", "doc:7"));
    check_refused(verifier.verify_subscription(connect, "doc:7", kNow), "unknown kid", connect);
}

BOOST_AUTO_TEST_CASE(without_subscription_keys_the_connection_keys_sign_subscriptions) {
    TokenVerifier verifier(standard_config());
    auto token = hs_token(with(valid_claims(), "channel", "doc:7"));
    check_accepted(verifier.verify_subscription(token, "doc:7", kNow), "42");
    check_refused(verifier.verify_subscription(token, "doc:9", kNow), "wrong channel", token);
    auto expired = hs_token(with(with(valid_claims(), "channel", "doc:7"), "exp", kNow - 60));
    check_refused(verifier.verify_subscription(expired, "doc:7", kNow), "token expired", expired);
}

// The edge runs one event loop per core, all sharing one verifier.
BOOST_AUTO_TEST_CASE(verify_is_safe_from_several_threads_at_once) {
    const TokenVerifier verifier(standard_config());
    const std::vector<std::string> tokens = {
        hs_token(valid_claims()),
        t::libjwt_token(JWT_ALG_RS256, t::rsa_2048().private_pem, valid_claims(), "rs"),
        t::libjwt_token(JWT_ALG_ES256, t::ec_p256().private_pem, valid_claims(), "es")};
    const std::string forged = tamper_payload(tokens[1], with(valid_claims(), "sub", "x"));
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int n = 0; n < 4; ++n) {
        threads.emplace_back([&] {
            for (int i = 0; i < 150; ++i) {
                if (!verifier.verify(tokens[i % 3], kNow).ok()) ++wrong;
                if (verifier.verify(forged, kNow).ok()) ++wrong;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    BOOST_TEST(wrong.load() == 0);
}

BOOST_AUTO_TEST_CASE(a_dev_token_verifies_here_and_with_libjwt) {
    bb::AuthConfig config = standard_config();
    auto token = bb::edge::mint_dev_token(config, {{"sub", "dev"}, {"exp", kNow + 60}});
    BOOST_TEST_REQUIRE(token.ok(), (token.ok() ? "" : token.error().what));
    auto claims = TokenVerifier(config).verify(*token, kNow);
    check_accepted(claims, "dev");
    BOOST_TEST(claims->all["iss"] == kIssuer);
    BOOST_TEST(claims->all["aud"] == kAudience);

    jwt_t* raw = nullptr;
    int rc =
        jwt_decode(&raw, token->c_str(), reinterpret_cast<const unsigned char*>(kSecret.data()),
                   static_cast<int>(kSecret.size()));
    std::unique_ptr<jwt_t, decltype(&jwt_free)> decoded(raw, &jwt_free);
    BOOST_TEST_REQUIRE(rc == 0);
    BOOST_TEST(jwt_get_alg(decoded.get()) == JWT_ALG_HS256);
    BOOST_TEST(std::string(jwt_get_header(decoded.get(), "kid")) == "hs");
    BOOST_TEST(std::string(jwt_get_grant(decoded.get(), "sub")) == "dev");
}

BOOST_AUTO_TEST_CASE(a_dev_token_needs_an_hs256_key) {
    bb::AuthConfig config = standard_config();
    config.keys.erase(config.keys.begin());
    auto token = bb::edge::mint_dev_token(config, {{"sub", "dev"}});
    BOOST_TEST_REQUIRE(!token.ok());
    BOOST_TEST(token.error().what.find("HS256") != std::string::npos);
    BOOST_TEST(!bb::edge::mint_dev_token(standard_config(), json::array()).ok());
}

BOOST_AUTO_TEST_CASE(a_verifier_refuses_unusable_keys_at_construction) {
    auto refusal = [](bb::AuthConfig config) -> std::string {
        try {
            TokenVerifier verifier(config);
        } catch (const bb::ConfigError& e) {
            return e.what();
        }
        return "";
    };
    bb::AuthConfig config = standard_config();
    config.keys[0].secret = "short";
    BOOST_TEST(refusal(config).find("edge.auth.keys[0].secret") != std::string::npos);
    config = standard_config();
    config.keys[0].alg = "none";
    BOOST_TEST(refusal(config).find("allowed: HS256, RS256, ES256") != std::string::npos);
    config = standard_config();
    config.keys[2].public_key_pem = t::rsa_2048().public_pem;
    BOOST_TEST(refusal(config).find("EC P-256") != std::string::npos);
    config = standard_config();
    config.keys.clear();
    BOOST_TEST(refusal(config).find("at least one key") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
