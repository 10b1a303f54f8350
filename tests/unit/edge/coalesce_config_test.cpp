// edge.coalesce_delay: read as a duration from 0ms to 100ms, refused elsewhere with its place.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <regex>
#include <string>

#include "broker-bridge/config_node.hpp"
#include "broker-bridge/edge_config.hpp"
#include "broker-bridge/errors.hpp"

namespace {

using namespace std::chrono_literals;

// An edge section with `extra` (one key, indented two spaces) on its third line.
std::string edge_yaml(const std::string& extra) {
    return "edge:\n  listen: 127.0.0.1:0\n" + extra +
           "  auth:\n    keys: [{kid: k, alg: HS256, secret: "
           "hs-key-for-the-edge-tests-0123456789}]\n"
           "  channels:\n    - {pattern: 'chat:{room}', subject: 'rt.chat.{room}', "
           "subscribe: authenticated}\n";
}

bb::EdgeConfig read(const std::string& extra) {
    auto doc = bb::config::load_document(edge_yaml(extra), "/etc/bb/edge.yaml");
    return bb::read_edge_config(doc["edge"], "/etc/bb");
}

std::string error_of(const std::string& extra) {
    try {
        read(extra);
    } catch (const bb::ConfigError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(coalesce_config)

BOOST_AUTO_TEST_CASE(the_delay_is_5ms_unless_configured_and_0ms_turns_it_off) {
    BOOST_TEST(read("").coalesce_delay.count() == 5);
    BOOST_TEST(read("  coalesce_delay: 0ms\n").coalesce_delay.count() == 0);
    BOOST_TEST(read("  coalesce_delay: 5ms\n").coalesce_delay.count() == 5);
    BOOST_TEST(read("  coalesce_delay: 100ms\n").coalesce_delay.count() == 100);
}

BOOST_AUTO_TEST_CASE(a_delay_above_100ms_or_not_a_duration_is_refused_at_its_line) {
    std::string error = error_of("  coalesce_delay: 101ms\n");
    BOOST_TEST(std::regex_search(
                   error, std::regex(R"(/etc/bb/edge\.yaml:3:[0-9]+: edge\.coalesce_delay: )")),
               error);
    BOOST_TEST(error.find("0ms to 100ms") != std::string::npos, error);
    error = error_of("  coalesce_delay: soon\n");
    BOOST_TEST(error.find("edge.yaml:3:") != std::string::npos, error);
    BOOST_TEST(error.find("edge.coalesce_delay") != std::string::npos, error);
    error = error_of("  coalesce_delay: -5ms\n");
    BOOST_TEST(error.find("edge.yaml:3:") != std::string::npos, error);
}

BOOST_AUTO_TEST_SUITE_END()
