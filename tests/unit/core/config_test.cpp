#include "broker-bridge/config.hpp"

#include <boost/test/unit_test.hpp>
#include <yaml-cpp/yaml.h>
#include <stdlib.h>

#include <chrono>
#include <regex>

#include "broker-bridge/errors.hpp"
#include "broker-bridge/subject.hpp"

namespace {

const char* kMinimal = R"(nats:
  url: nats://127.0.0.1:4222
bindings:
  - name: analytics
    plugin: analytics
    subjects: ["events.>"]
)";

// The message of the ConfigError that parsing `text` throws, or "" when it parses.
std::string config_error(const std::string& text) {
    try {
        bb::parse_config(text, "/etc/bb/test.yaml");
    } catch (const bb::ConfigError& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(a_minimal_config_gets_the_documented_defaults) {
    auto c = bb::parse_config(kMinimal, "/etc/bb/test.yaml");
    BOOST_TEST(c.events.name == "EVENTS");
    BOOST_TEST(c.dlq.name == "DLQ");
    BOOST_TEST(c.realtime.name == "RT");
    BOOST_REQUIRE_EQUAL(c.bindings.size(), 1u);
    const auto& b = c.bindings[0];
    BOOST_TEST(b.attempts == 5);
    BOOST_TEST(b.concurrency == 1);
    BOOST_TEST(b.backoff.initial.count() == 1000);
    BOOST_TEST((b.start.kind == bb::StartPosition::Kind::kNew));
    BOOST_TEST(c.dir == "/etc/bb");
}

BOOST_AUTO_TEST_CASE(the_shipped_local_config_loads) {
    auto c = bb::load_config(std::string(BB_SOURCE_DIR) + "/configs/local.yaml");
    BOOST_TEST(!c.bindings.empty());
    BOOST_TEST(c.events.max_age.count() == 7LL * 86400000);
    BOOST_TEST(c.events.duplicate_window.count() == 120000);
}

BOOST_AUTO_TEST_CASE(an_unknown_key_names_file_line_column_and_a_suggestion) {
    std::string text = std::string(kMinimal) + "    atempts: 3\n";
    std::string e = config_error(text);
    BOOST_TEST(contains(e, "/etc/bb/test.yaml:7:5"), e);
    BOOST_TEST(contains(e, "unknown key 'atempts'"), e);
    BOOST_TEST(contains(e, "did you mean 'attempts'"), e);
}

BOOST_AUTO_TEST_CASE(a_wrong_type_names_the_yaml_path) {
    std::string e = config_error(std::string(kMinimal) + "    concurrency: many\n");
    BOOST_TEST(contains(e, "bindings[0].concurrency"), e);
    BOOST_TEST(contains(e, ":7:18"), e);
    BOOST_TEST(contains(e, "whole number"), e);
}

BOOST_AUTO_TEST_CASE(a_bad_duration_names_its_place) {
    std::string e = config_error(std::string(kMinimal) + "    backoff: {initial: 1s, max: 3x}\n");
    BOOST_TEST(contains(e, "bindings[0].backoff.max"), e);
    BOOST_TEST(contains(e, "bad duration '3x'"), e);
}

BOOST_AUTO_TEST_CASE(duplicate_keys_are_refused_instead_of_first_or_last_wins) {
    std::string e = config_error(std::string(kMinimal) + "    attempts: 3\n    attempts: 0\n");
    BOOST_TEST(contains(e, "duplicate key 'attempts'"), e);
    BOOST_TEST(contains(e, ":8:5"), e);
}

BOOST_AUTO_TEST_CASE(duplicate_binding_names_are_refused) {
    std::string e = config_error(std::string(kMinimal) +
                                 "  - name: analytics\n    plugin: analytics\n"
                                 "    subjects: [events.user.>]\n");
    BOOST_TEST(contains(e, "duplicate binding name 'analytics'"), e);
}

BOOST_AUTO_TEST_CASE(malformed_yaml_fails_fast_with_a_position) {
    for (const char* text : {"{foo:", "[[:", "{:", "a:\n\tb: 1\n"}) {
        auto start = std::chrono::steady_clock::now();
        std::string e = config_error(text);
        BOOST_TEST(contains(e, "not valid YAML"), text << " -> " << e);
        BOOST_TEST(contains(e, "test.yaml:"), e);
        BOOST_TEST((std::chrono::steady_clock::now() - start < std::chrono::seconds(1)));
    }
}

BOOST_AUTO_TEST_CASE(an_alias_expansion_bomb_is_refused) {
    std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n";
    std::string prev = "a";
    for (char name = 'b'; name <= 'i'; ++name) {
        bomb += std::string(1, name) + ": &" + name + " [";
        for (int i = 0; i < 9; ++i) bomb += (i ? ", *" : "*") + prev;
        bomb += "]\n";
        prev = std::string(1, name);
    }
    std::string e = config_error(bomb);
    BOOST_TEST(contains(e, "alias bomb"), e);
}

BOOST_AUTO_TEST_CASE(an_oversized_file_is_refused) {
    std::string e = config_error(std::string(2 << 20, '#'));
    BOOST_TEST(contains(e, "at most"), e);
}

BOOST_AUTO_TEST_CASE(environment_variables_are_substituted_inside_values_only) {
    setenv("BB_TEST_URL", "nats://10.0.0.1:4222", 1);
    setenv("BB_TEST_PASSWORD", "p: {x}\n- y", 1);  // YAML syntax in a secret stays text
    auto c = bb::parse_config("nats:\n  url: ${BB_TEST_URL}\n  user: app\n"
                              "  password: ${BB_TEST_PASSWORD}\n",
                              "t.yaml");
    BOOST_TEST(c.nats.url == "nats://10.0.0.1:4222");
    BOOST_TEST(c.nats.password == "p: {x}\n- y");
    unsetenv("BB_TEST_URL");
}

BOOST_AUTO_TEST_CASE(a_default_applies_when_the_variable_is_unset_or_empty) {
    unsetenv("BB_TEST_UNSET");
    auto c = bb::parse_config("nats:\n  url: ${BB_TEST_UNSET:-nats://127.0.0.1:4333}\n", "t.yaml");
    BOOST_TEST(c.nats.url == "nats://127.0.0.1:4333");
    auto literal = bb::parse_config("nats:\n  token: $${NOT_A_VAR}\n", "t.yaml");
    BOOST_TEST(literal.nats.token == "${NOT_A_VAR}");
}

BOOST_AUTO_TEST_CASE(an_unset_variable_without_default_is_an_error_naming_it) {
    unsetenv("BB_TEST_UNSET");
    std::string e = config_error("nats:\n  token: ${BB_TEST_UNSET}\n");
    BOOST_TEST(contains(e, "BB_TEST_UNSET is not set"), e);
    BOOST_TEST(contains(e, "test.yaml:2:10"), e);
}

BOOST_AUTO_TEST_CASE(relative_paths_resolve_against_the_config_folder) {
    auto c = bb::parse_config("plugins:\n  path: [../build/plugins, /opt/p]\n", "/srv/app/c.yaml");
    BOOST_REQUIRE_EQUAL(c.plugin_path.size(), 2u);
    BOOST_TEST(c.plugin_path[0] == "/srv/build/plugins");
    BOOST_TEST(c.plugin_path[1] == "/opt/p");
}

BOOST_AUTO_TEST_CASE(binding_subjects_outside_the_events_stream_are_refused) {
    std::string e = config_error("bindings:\n  - {name: a, plugin: p, subjects: [dlq.>]}\n");
    BOOST_TEST(contains(e, "outside stream EVENTS"), e);
    e = config_error("bindings:\n  - {name: a, plugin: p, subjects: [events.a b]}\n");
    BOOST_TEST(contains(e, "not a valid subject"), e);
}

BOOST_AUTO_TEST_CASE(key_order_inside_a_binding_does_not_change_its_meaning) {
    auto a = bb::parse_config("bindings:\n  - {name: a, plugin: p, subjects: [events.>], "
                              "attempts: 3, backoff: {initial: 1s, max: 4s}}\n",
                              "t.yaml");
    auto b = bb::parse_config("bindings:\n  - {backoff: {max: 4s, initial: 1s}, attempts: 3, "
                              "subjects: [events.>], plugin: p, name: a}\n",
                              "t.yaml");
    BOOST_TEST(a.bindings[0].attempts == b.bindings[0].attempts);
    BOOST_TEST(a.bindings[0].backoff.max == b.bindings[0].backoff.max);
    BOOST_TEST(a.bindings[0].backoff.initial == b.bindings[0].backoff.initial);
}

BOOST_AUTO_TEST_CASE(start_accepts_new_all_and_rfc3339_times) {
    auto c = bb::parse_config("bindings:\n  - {name: a, plugin: p, subjects: [events.>], "
                              "start: '2026-12-01T08:00:00.5+01:00'}\n",
                              "t.yaml");
    BOOST_TEST(c.bindings[0].start.time_unix_ns == 1796108400500000000LL);
    std::string e = config_error("bindings:\n  - {name: a, plugin: p, subjects: [events.>], "
                                 "start: yesterday}\n");
    BOOST_TEST(contains(e, "bindings[0].start"), e);
}

BOOST_AUTO_TEST_CASE(the_plugin_config_reaches_the_plugin_as_yaml_text) {
    auto c = bb::parse_config("bindings:\n  - name: a\n    plugin: p\n    subjects: [events.>]\n"
                              "    config:\n      path: x.db\n      batch_max: 7\n",
                              "t.yaml");
    BOOST_TEST(contains(c.bindings[0].plugin_config_yaml, "path: x.db"));
    BOOST_TEST(contains(c.bindings[0].plugin_config_yaml, "batch_max: 7"));
}

BOOST_AUTO_TEST_CASE(quoted_values_reach_the_plugin_as_text) {
    setenv("BB_TEST_ID", "42", 1);
    auto c = bb::parse_config("bindings:\n  - name: a\n    plugin: p\n    subjects: [events.>]\n"
                              "    config:\n      id: \"${BB_TEST_ID}\"\n      flag: \"true\"\n"
                              "      zip: '007'\n      n: 5\n",
                              "t.yaml");
    YAML::Node plugin = YAML::Load(c.bindings[0].plugin_config_yaml);
    BOOST_TEST(plugin["id"].Tag() == "!");
    BOOST_TEST(plugin["id"].Scalar() == "42");
    BOOST_TEST(plugin["flag"].Tag() == "!");
    BOOST_TEST(plugin["zip"].Scalar() == "007");
    BOOST_TEST(plugin["n"].Tag() == "?");  // plain, as written
}

BOOST_AUTO_TEST_CASE(conflicting_nats_credentials_are_refused) {
    std::string e = config_error("nats:\n  token: t\n  user: u\n  password: p\n");
    BOOST_TEST(contains(e, "choose one"), e);
}


BOOST_AUTO_TEST_CASE(overlapping_subjects_in_one_binding_are_refused) {
    std::string e = config_error("bindings:\n  - {name: a, plugin: p, "
                                 "subjects: [events.>, events.user.*]}\n");
    BOOST_TEST(contains(e, "overlap"), e);
    BOOST_TEST(config_error("bindings:\n  - {name: a, plugin: p, "
                            "subjects: [events.a.*, events.b.*]}\n") == "");
}

BOOST_AUTO_TEST_CASE(streams_must_take_the_subjects_the_bridge_publishes_under) {
    std::string e = config_error("streams:\n  events: {subjects: [ev.>]}\n");
    BOOST_TEST(contains(e, "must take events.>"), e);
    e = config_error("streams:\n  dlq: {subjects: [dead.>]}\n");
    BOOST_TEST(contains(e, "must take dlq.>"), e);
}

BOOST_AUTO_TEST_CASE(intervals_that_would_spin_or_fail_are_refused) {
    BOOST_TEST(contains(config_error("handlers:\n  fetch_wait: 0s\n"), "fetch_wait"));
    BOOST_TEST(contains(config_error("handlers:\n  lag_poll_interval: 10ms\n"),
                        "lag_poll_interval"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(subject)

BOOST_AUTO_TEST_CASE(patterns_follow_nats_token_rules) {
    for (const char* ok : {"events.>", "events.*.UserCreated", "a", "rt.user.*.notifications"}) {
        BOOST_TEST(bb::is_valid_subject_pattern(ok), ok);
    }
    for (const char* bad : {"", ".", "a..b", "a.>.b", "a.b*", "a b", "a.\r\n", "a.>x", "a."}) {
        BOOST_TEST(!bb::is_valid_subject_pattern(bad), bad);
    }
}

BOOST_AUTO_TEST_CASE(coverage_between_patterns) {
    BOOST_TEST(bb::subject_pattern_covers("events.>", "events.user.*"));
    BOOST_TEST(bb::subject_pattern_covers("events.*.*", "events.user.UserCreated"));
    BOOST_TEST(!bb::subject_pattern_covers("events.user.*", "events.>"));
    BOOST_TEST(!bb::subject_pattern_covers("events.>", "events"));
    BOOST_TEST(!bb::subject_pattern_covers("events.*", "events.a.b"));
}

BOOST_AUTO_TEST_CASE(patterns_overlap_when_one_subject_matches_both) {
    BOOST_TEST(bb::subject_patterns_overlap("events.>", "events.user.*"));
    BOOST_TEST(bb::subject_patterns_overlap("events.*.x", "events.a.*"));
    BOOST_TEST(!bb::subject_patterns_overlap("events.a.*", "events.b.*"));
    BOOST_TEST(!bb::subject_patterns_overlap("events.a", "events.a.b"));
}

BOOST_AUTO_TEST_CASE(a_handler_group_other_than_default_prefixes_durable_names) {
    BOOST_TEST(bb::durable_name("a", "events.>", "mail") != bb::durable_name("a", "events.>"));
    BOOST_TEST(bb::durable_name("a", "events.>", "mail").rfind("mail_a__", 0) == 0u);
    // No two (group, binding, subject) share a name, whatever the separators inside them.
    BOOST_TEST(bb::durable_name("x", "events.>", "mail") != bb::durable_name("mail_x", "events.>"));
    BOOST_TEST(bb::durable_name("a__b", "c") != bb::durable_name("a", "b__c"));
    BOOST_TEST(bb::durable_name(std::string(60, 'b'), "s") !=
               bb::durable_name(std::string(61, 'b'), "s"));
}

BOOST_AUTO_TEST_CASE(durable_names_are_valid_stable_and_distinct) {
    std::string a = bb::durable_name("analytics", "events.>");
    BOOST_TEST(a == bb::durable_name("analytics", "events.>"));
    BOOST_TEST(std::regex_match(a, std::regex("[A-Za-z0-9_-]+")), a);
    BOOST_TEST(bb::durable_name("x", "a.b") != bb::durable_name("x", "a_b"));
    std::string long_name = bb::durable_name(std::string(48, 'b'), std::string(80, 'c'));
    BOOST_TEST(long_name.size() <= 64u);
}

BOOST_AUTO_TEST_CASE(the_hand_off_and_careful_fetching_keys_are_read_with_documented_defaults) {
    auto d = bb::parse_config(kMinimal, "/etc/bb/test.yaml");
    BOOST_TEST(d.handlers.fetch_batch == 256);
    BOOST_TEST(!d.handlers.careful_window.has_value());  // one and a half ack waits
    BOOST_TEST(d.handlers.handoff_batch == 32);
    BOOST_TEST(d.handlers.spread_after.count() == 1);
    auto c = bb::parse_config(std::string(kMinimal) +
                                  "handlers:\n  careful_window: 0s\n  handoff_batch: 8\n"
                                  "  spread_after: 5ms\n",
                              "/etc/bb/test.yaml");
    BOOST_TEST(c.handlers.careful_window.value().count() == 0);
    BOOST_TEST(c.handlers.handoff_batch == 8);
    BOOST_TEST(c.handlers.spread_after.count() == 5);
    std::string e = config_error("handlers:\n  handoff_batch: 0\n");
    BOOST_TEST(contains(e, "handoff_batch"), e);
    e = config_error("handlers:\n  careful_window: soon\n");
    BOOST_TEST(contains(e, "careful_window"), e);
}

// Intervals are added to clock readings; 2562047h overflowed such a sum into the past, so
// a "wait very long" gap_wait stopped holding at once.
BOOST_AUTO_TEST_CASE(handler_intervals_longer_than_a_week_are_refused_at_their_line) {
    for (const char* key : {"gap_wait", "gap_poll_interval", "careful_window", "ack_margin",
                            "shutdown_timeout", "fetch_wait", "spread_after"}) {
        std::string yaml = std::string(kMinimal) + "handlers:\n  " + key + ": 2562047h\n";
        std::string e = config_error(yaml);
        BOOST_TEST(contains(e, std::string(key) + " must be at most 168h"), e);
        BOOST_TEST(contains(e, "/etc/bb/test.yaml:"), e);
    }
    auto c = bb::parse_config(std::string(kMinimal) + "handlers:\n  gap_wait: 168h\n",
                              "/etc/bb/test.yaml");
    BOOST_TEST(c.handlers.gap_wait.value() == std::chrono::hours(168));
}

BOOST_AUTO_TEST_SUITE_END()
