// `check-config --offline` reading and `run --bindings` selection (config.hpp).
#include <stdlib.h>

#include <boost/test/unit_test.hpp>

#include "broker-bridge/config.hpp"
#include "broker-bridge/errors.hpp"

namespace {

constexpr bool kOffline = true;

std::string edge_with_key(const std::string& key) {
    return "edge:\n  listen: 0.0.0.0:8080\n  auth:\n    keys:\n      - " + key +
           "\n  channels:\n    - {pattern: \"chat:{room}\", subject: \"rt.chat.{room}\", "
           "subscribe: authenticated}\n";
}

std::string error_of(const std::string& text, bool offline) {
    try {
        bb::parse_config(text, "/nonexistent/bb/c.yaml", offline);
    } catch (const bb::ConfigError& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

const char* kThreeBindings = R"(bindings:
  - {name: mail, plugin: email, subjects: ["events.user.>"]}
  - {name: analytics, plugin: analytics, subjects: ["events.>"]}
  - {name: router, plugin: router, subjects: ["events.>"]}
)";

}  // namespace

BOOST_AUTO_TEST_SUITE(config_offline)

BOOST_AUTO_TEST_CASE(an_unset_variable_is_kept_as_its_text_offline_and_refused_otherwise) {
    unsetenv("BB_TEST_OFFLINE_TOKEN");
    const std::string text = "nats:\n  token: ${BB_TEST_OFFLINE_TOKEN}\n";
    auto c = bb::parse_config(text, "c.yaml", kOffline);
    BOOST_TEST(c.nats.token == "${BB_TEST_OFFLINE_TOKEN}");
    BOOST_TEST(contains(error_of(text, false), "BB_TEST_OFFLINE_TOKEN is not set"));
}

BOOST_AUTO_TEST_CASE(offline_still_refuses_unknown_keys_and_wrong_types) {
    std::string unknown = error_of("handlers:\n  workres: 4\n", kOffline);
    BOOST_TEST(contains(unknown, "unknown key 'workres'"), unknown);
    std::string type = error_of("handlers:\n  fetch_wait: soon\n", kOffline);
    BOOST_TEST(contains(type, "c.yaml:2:15: handlers.fetch_wait"), type);
}

BOOST_AUTO_TEST_CASE(offline_reads_no_key_file_but_full_reading_needs_it) {
    std::string text = edge_with_key("{kid: k, alg: RS256, public_key_file: keys/missing.pem}");
    BOOST_TEST(error_of(text, kOffline) == "");
    std::string full = error_of(text, false);
    BOOST_TEST(contains(full, "edge.auth.keys[0].public_key_file: cannot read"), full);
}

BOOST_AUTO_TEST_CASE(an_hs256_secret_from_an_unset_variable_passes_offline_only) {
    unsetenv("BB_TEST_OFFLINE_JWT");
    std::string text = edge_with_key("{kid: k, alg: HS256, secret: \"${BB_TEST_OFFLINE_JWT}\"}");
    BOOST_TEST(error_of(text, kOffline) == "");
    BOOST_TEST(contains(error_of(text, false), "BB_TEST_OFFLINE_JWT is not set"));
}

BOOST_AUTO_TEST_CASE(offline_still_checks_which_fields_an_alg_takes) {
    std::string rs_secret =
        error_of(edge_with_key("{alg: RS256, secret: x, public_key_file: k.pem}"), kOffline);
    BOOST_TEST(contains(rs_secret, "secret applies to HS256 only"), rs_secret);
    std::string hs_file = error_of(edge_with_key("{alg: HS256, public_key_file: k.pem}"), kOffline);
    BOOST_TEST(contains(hs_file, "HS256 takes a secret"), hs_file);
    std::string rs_bare = error_of(edge_with_key("{alg: RS256}"), kOffline);
    BOOST_TEST(contains(rs_bare, "RS256 needs public_key_file"), rs_bare);
}

BOOST_AUTO_TEST_CASE(a_plugin_config_keeps_unset_variables_offline) {
    unsetenv("BB_TEST_OFFLINE_DSN");
    auto c = bb::parse_config(
        "bindings:\n  - {name: a, plugin: p, subjects: [events.>], "
        "config: {dsn: \"${BB_TEST_OFFLINE_DSN}\"}}\n",
        "c.yaml", kOffline);
    BOOST_TEST(contains(c.bindings[0].plugin_config_yaml, "${BB_TEST_OFFLINE_DSN}"));
}

BOOST_AUTO_TEST_CASE(the_shipped_cluster_config_passes_offline) {
    auto c = bb::load_config(std::string(BB_SOURCE_DIR) + "/configs/cluster.yaml", kOffline);
    BOOST_TEST(c.events.replicas == 3);
    BOOST_TEST(c.dlq.replicas == 3);
    BOOST_TEST(c.edge.has_value());
    BOOST_TEST(!c.bindings.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(binding_selection)

BOOST_AUTO_TEST_CASE(only_the_named_bindings_stay_in_file_order) {
    auto c = bb::parse_config(kThreeBindings, "c.yaml");
    bb::select_bindings(c, {"router", "mail"});
    BOOST_REQUIRE_EQUAL(c.bindings.size(), 2u);
    BOOST_TEST(c.bindings[0].name == "mail");
    BOOST_TEST(c.bindings[1].name == "router");
}

BOOST_AUTO_TEST_CASE(the_bindings_left_out_are_remembered_as_run_elsewhere) {
    auto c = bb::parse_config(kThreeBindings, "c.yaml");
    BOOST_TEST(c.bindings_elsewhere.empty());
    bb::select_bindings(c, {"router", "mail"});
    BOOST_TEST(c.bindings_elsewhere == std::set<std::string>{"analytics"});
}

BOOST_AUTO_TEST_CASE(an_unknown_binding_is_refused_with_the_names_the_file_has) {
    auto c = bb::parse_config(kThreeBindings, "c.yaml");
    try {
        bb::select_bindings(c, {"mail", "analytcs"});
        BOOST_FAIL("an unknown binding was accepted");
    } catch (const bb::ConfigError& e) {
        std::string what = e.what();
        BOOST_TEST(contains(what, "c.yaml: --bindings names 'analytcs'"), what);
        BOOST_TEST(contains(what, "it has: mail, analytics, router"), what);
    }
    BOOST_TEST(c.bindings.size() == 3u);
}

BOOST_AUTO_TEST_CASE(a_binding_named_twice_is_refused) {
    auto c = bb::parse_config(kThreeBindings, "c.yaml");
    BOOST_CHECK_THROW(bb::select_bindings(c, {"mail", "mail"}), bb::ConfigError);
}

BOOST_AUTO_TEST_SUITE_END()
