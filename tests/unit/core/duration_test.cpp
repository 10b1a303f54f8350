#include "broker-bridge/duration.hpp"

#include <boost/test/unit_test.hpp>

using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(duration)

BOOST_AUTO_TEST_CASE(every_unit_and_combinations_parse_to_milliseconds) {
    BOOST_TEST(bb::parse_duration("500ms", nullptr)->count() == 500);
    BOOST_TEST(bb::parse_duration("2s", nullptr)->count() == 2000);
    BOOST_TEST(bb::parse_duration("1m30s", nullptr)->count() == 90000);
    BOOST_TEST(bb::parse_duration("2h", nullptr)->count() == 7200000);
    BOOST_TEST(bb::parse_duration("7d", nullptr)->count() == 7LL * 86400000);
    BOOST_TEST(bb::parse_duration("0s", nullptr)->count() == 0);
}

BOOST_AUTO_TEST_CASE(a_bare_number_is_refused_because_its_unit_is_ambiguous) {
    std::string why;
    BOOST_TEST(!bb::parse_duration("5", &why));
    BOOST_TEST(why.find("unit") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(malformed_durations_are_refused_with_a_reason) {
    for (const char* bad : {"", "s", "1x", "1.5s", "-1s", "1s ", " 1s", "1sm", "ms"}) {
        std::string why;
        BOOST_TEST(!bb::parse_duration(bad, &why), bad);
        BOOST_TEST(!why.empty(), bad);
    }
}

BOOST_AUTO_TEST_CASE(an_overflowing_duration_is_refused) {
    std::string why;
    BOOST_TEST(!bb::parse_duration("99999999999999999999d", &why));
    BOOST_TEST(!bb::parse_duration("9999999999999d", &why));
    BOOST_TEST(why.find("too long") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(formatting_picks_the_largest_exact_unit) {
    BOOST_TEST(bb::format_duration(1500ms) == "1500ms");
    BOOST_TEST(bb::format_duration(120000ms) == "2m");
    BOOST_TEST(bb::format_duration(86400000ms) == "1d");
    BOOST_TEST(bb::format_duration(0ms) == "0s");
}

BOOST_AUTO_TEST_SUITE_END()
