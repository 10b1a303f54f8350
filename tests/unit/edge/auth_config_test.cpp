#include "broker-bridge/auth_config.hpp"

#include <openssl/obj_mac.h>
#include <stdlib.h>
#include <boost/test/unit_test.hpp>

#include <regex>
#include <string>

#include "broker-bridge/errors.hpp"
#include "unit/edge/token_sources.hpp"

namespace {

namespace t = bb::test;

const std::string kSecret = "hs-key-for-the-config-tests-0123456789";

// Reads `auth_yaml` (the body of edge.auth, indented by four) from a config file in `dir`.
bb::AuthConfig read(const t::TempDir& dir, const std::string& auth_yaml) {
    std::string text = "edge:\n  auth:\n" + auth_yaml;
    auto doc = bb::config::load_document(text, (dir.path() / "bb.yaml").string());
    return bb::read_auth_config(doc["edge"]["auth"], dir.path());
}

// The ConfigError reading `auth_yaml` throws, or "" when it reads.
std::string error_of(const t::TempDir& dir, const std::string& auth_yaml) {
    try {
        read(dir, auth_yaml);
    } catch (const bb::ConfigError& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// "…/bb.yaml:LINE:COL: edge.auth.<path>: …"
bool points_at(const std::string& error, const std::string& yaml_path) {
    std::regex place("bb\\.yaml:[0-9]+:[0-9]+: " +
                     std::regex_replace(yaml_path, std::regex(R"([.\[\]])"), R"(\$&)") + ": ");
    return std::regex_search(error, place);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(auth_config)

BOOST_AUTO_TEST_CASE(a_full_auth_section_reads_with_paths_relative_to_the_config) {
    t::TempDir dir;
    dir.write("keys/rs.pub.pem", t::rsa_2048().public_pem);
    dir.write("keys/rs.key.pem", t::rsa_2048().private_pem);
    dir.write("keys/es.pub.pem", t::ec_p256().public_pem);
    ::setenv("BB_TEST_AUTH_SECRET", kSecret.c_str(), 1);
    auto c = read(dir, R"(    issuer: https://auth.example.test
    audience: broker-bridge
    leeway: 30s
    keys:
      - {kid: hs, alg: HS256, secret: "${BB_TEST_AUTH_SECRET}"}
      - {kid: rs, alg: RS256, public_key_file: keys/rs.pub.pem, private_key_file: keys/rs.key.pem}
      - {alg: ES256, public_key_file: keys/es.pub.pem}
    subscription_keys:
      - {kid: subs, alg: HS256, secret: "subscription-secret-0123456789abcdef"}
)");
    BOOST_TEST(c.issuer == "https://auth.example.test");
    BOOST_TEST(c.audience == "broker-bridge");
    BOOST_TEST(c.leeway.count() == 30000);
    BOOST_TEST_REQUIRE(c.keys.size() == 3u);
    BOOST_TEST(c.keys[0].secret == kSecret);
    BOOST_TEST(c.keys[1].public_key_pem == t::rsa_2048().public_pem);
    BOOST_TEST(c.keys[1].private_key_pem == t::rsa_2048().private_pem);
    BOOST_TEST(c.keys[2].kid.empty());
    BOOST_TEST(c.keys[2].alg == "ES256");
    BOOST_TEST_REQUIRE(c.subscription_keys.size() == 1u);
    BOOST_TEST(c.subscription_keys[0].kid == "subs");
}

BOOST_AUTO_TEST_CASE(the_defaults_leave_subscription_keys_empty_and_leeway_5s) {
    t::TempDir dir;
    auto c = read(dir, "    keys: [{alg: HS256, secret: " + kSecret + "}]\n");
    BOOST_TEST(c.leeway.count() == 5000);
    BOOST_TEST(c.subscription_keys.empty());
    BOOST_TEST(c.issuer.empty());
}

BOOST_AUTO_TEST_CASE(an_unknown_alg_is_refused_naming_the_allowed_ones) {
    t::TempDir dir;
    for (const char* alg : {"none", "HS512", "hs256", "PS256"}) {
        auto error = error_of(dir, "    keys:\n      - {kid: a, alg: " + std::string(alg) +
                                       ", secret: " + kSecret + "}\n");
        BOOST_TEST(points_at(error, "edge.auth.keys[0].alg"), error);
        BOOST_TEST(contains(error, "allowed: HS256, RS256, ES256"), error);
    }
}

BOOST_AUTO_TEST_CASE(a_short_or_missing_hs256_secret_is_refused_without_echoing_it) {
    t::TempDir dir;
    auto error = error_of(
        dir, "    keys: [{kid: a, alg: HS256, secret: only-31-bytes-long-secret-value}]\n");
    BOOST_TEST(points_at(error, "edge.auth.keys[0].secret"), error);
    BOOST_TEST(contains(error, "31 bytes; it needs at least 32"), error);
    BOOST_TEST(!contains(error, "only-31-bytes"), error);
    error = error_of(dir, "    keys: [{kid: a, alg: HS256}]\n");
    BOOST_TEST(points_at(error, "edge.auth.keys[0].secret"), error);
}

BOOST_AUTO_TEST_CASE(a_missing_key_file_is_refused_with_its_resolved_path) {
    t::TempDir dir;
    auto error =
        error_of(dir, "    keys: [{kid: a, alg: RS256, public_key_file: keys/gone.pem}]\n");
    BOOST_TEST(points_at(error, "edge.auth.keys[0].public_key_file"), error);
    BOOST_TEST(contains(error, (dir.path() / "keys/gone.pem").string()), error);
    BOOST_TEST(contains(error, "No such file"), error);
    error = error_of(dir, "    keys: [{kid: a, alg: ES256}]\n");
    BOOST_TEST(points_at(error, "edge.auth.keys[0].public_key_file"), error);
}

BOOST_AUTO_TEST_CASE(a_duplicate_kid_is_refused_at_the_second_key) {
    t::TempDir dir;
    auto error = error_of(dir, "    keys:\n      - {kid: a, alg: HS256, secret: " + kSecret +
                                   "}\n      - {kid: a, alg: HS256, secret: " + kSecret + "x}\n");
    BOOST_TEST(points_at(error, "edge.auth.keys[1].kid"), error);
    BOOST_TEST(contains(error, "duplicate kid 'a'"), error);
}

BOOST_AUTO_TEST_CASE(more_than_one_key_without_a_kid_is_refused) {
    t::TempDir dir;
    auto error = error_of(dir, "    keys:\n      - {alg: HS256, secret: " + kSecret +
                                   "}\n      - {alg: HS256, secret: " + kSecret + "x}\n");
    BOOST_TEST(points_at(error, "edge.auth.keys[1].kid"), error);
    BOOST_TEST(contains(error, "more than one key without a kid"), error);
}

BOOST_AUTO_TEST_CASE(a_public_key_of_the_wrong_type_is_refused) {
    t::TempDir dir;
    dir.write("rsa.pem", t::rsa_2048().public_pem);
    dir.write("rsa1024.pem", t::generate_rsa(1024).public_pem);
    dir.write("p256.pem", t::ec_p256().public_pem);
    dir.write("p384.pem", t::generate_ec(NID_secp384r1).public_pem);
    dir.write("private.pem", t::ec_p256().private_pem);
    struct Row {
        const char* alg;
        const char* file;
        const char* why;
    };
    for (const Row& row :
         {Row{"ES256", "rsa.pem", "EC P-256"}, Row{"ES256", "p384.pem", "EC P-256"},
          Row{"RS256", "p256.pem", "RSA public key"},
          Row{"RS256", "rsa1024.pem", "at least 2048 bits"},
          Row{"ES256", "private.pem", "not a PEM public key"}}) {
        auto error = error_of(dir, "    keys: [{kid: a, alg: " + std::string(row.alg) +
                                       ", public_key_file: " + row.file + "}]\n");
        BOOST_TEST(points_at(error, "edge.auth.keys[0].public_key_file"), error);
        BOOST_TEST(contains(error, row.why), error);
        BOOST_TEST(!contains(error, "BEGIN PRIVATE"), error);
    }
}

BOOST_AUTO_TEST_CASE(a_secret_and_key_files_do_not_mix) {
    t::TempDir dir;
    dir.write("rsa.pem", t::rsa_2048().public_pem);
    auto error = error_of(dir, "    keys: [{kid: a, alg: HS256, secret: " + kSecret +
                                   ", public_key_file: rsa.pem}]\n");
    BOOST_TEST(points_at(error, "edge.auth.keys[0].public_key_file"), error);
    error = error_of(dir, "    keys: [{kid: a, alg: RS256, secret: " + kSecret +
                              ", public_key_file: rsa.pem}]\n");
    BOOST_TEST(points_at(error, "edge.auth.keys[0].secret"), error);
}

BOOST_AUTO_TEST_CASE(a_private_key_that_does_not_match_is_refused) {
    t::TempDir dir;
    dir.write("rsa.pem", t::rsa_2048().public_pem);
    dir.write("other.key", t::generate_rsa(2048).private_pem);
    auto error = error_of(dir,
                          "    keys: [{kid: a, alg: RS256, public_key_file: rsa.pem, "
                          "private_key_file: other.key}]\n");
    BOOST_TEST(points_at(error, "edge.auth.keys[0].private_key_file"), error);
    BOOST_TEST(contains(error, "does not belong"), error);
}

BOOST_AUTO_TEST_CASE(empty_key_lists_unknown_fields_and_a_huge_leeway_are_refused) {
    t::TempDir dir;
    std::string key = "    keys: [{alg: HS256, secret: " + kSecret + "}]\n";
    BOOST_TEST(points_at(error_of(dir, "    issuer: x\n"), "edge.auth"));
    BOOST_TEST(contains(error_of(dir, "    keys: []\n"), "at least one key"));
    BOOST_TEST(contains(error_of(dir, key + "    subscription_keys: []\n"), "at least one key"));
    auto error = error_of(dir, key + "    leeway: 1h\n");
    BOOST_TEST(points_at(error, "edge.auth.leeway"), error);
    error = error_of(dir, "    keys: [{alg: HS256, secret: " + kSecret + ", secert: x}]\n");
    BOOST_TEST(contains(error, "did you mean 'secret'"), error);
    error = error_of(dir, "    keys: [{kid: '', alg: HS256, secret: " + kSecret + "}]\n");
    BOOST_TEST(points_at(error, "edge.auth.keys[0].kid"), error);
}

BOOST_AUTO_TEST_SUITE_END()
