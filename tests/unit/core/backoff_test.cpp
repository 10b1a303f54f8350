#include "broker-bridge/backoff.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

using namespace std::chrono_literals;
using std::chrono::milliseconds;

namespace {

bb::BackoffPolicy policy(milliseconds initial, double factor, milliseconds max, double jitter) {
    return bb::BackoffPolicy{initial, factor, max, jitter};
}

// Random values from 0 to just below 1 in even steps, plus the ends a generator can return.
std::vector<double> unit_randoms() {
    std::vector<double> values;
    constexpr int kSteps = 1000;
    for (int i = 0; i < kSteps; ++i) values.push_back(static_cast<double>(i) / kSteps);
    values.push_back(0.999999);
    values.push_back(std::nextafter(1.0, 0.0));
    return values;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(backoff)

BOOST_AUTO_TEST_CASE(nominal_schedule_doubles_from_the_initial_delay) {
    const auto p = policy(1s, 2.0, 30s, 0.0);
    BOOST_TEST(bb::backoff_nominal(p, 1).count() == 1000);
    BOOST_TEST(bb::backoff_nominal(p, 2).count() == 2000);
    BOOST_TEST(bb::backoff_nominal(p, 3).count() == 4000);
    BOOST_TEST(bb::backoff_nominal(p, 4).count() == 8000);
    BOOST_TEST(bb::backoff_nominal(p, 5).count() == 16000);
}

BOOST_AUTO_TEST_CASE(nominal_schedule_stops_at_the_cap) {
    const auto p = policy(1s, 2.0, 30s, 0.2);
    BOOST_TEST(bb::backoff_nominal(p, 6).count() == 30000);  // 32 s capped
    BOOST_TEST(bb::backoff_nominal(p, 7).count() == 30000);
    BOOST_TEST(bb::backoff_nominal(policy(1s, 2.0, 5s, 0.0), 3).count() == 4000);
    BOOST_TEST(bb::backoff_nominal(policy(1s, 2.0, 5s, 0.0), 4).count() == 5000);
}

BOOST_AUTO_TEST_CASE(attempt_zero_counts_as_the_first_attempt) {
    const auto p = policy(1s, 2.0, 30s, 0.0);
    BOOST_TEST(bb::backoff_nominal(p, 0).count() == 1000);
    BOOST_TEST(bb::backoff_delay(p, 0, 0.5).count() == 1000);
}

BOOST_AUTO_TEST_CASE(fractional_factor_rounds_to_whole_milliseconds) {
    const auto p = policy(100ms, 1.5, 10s, 0.0);
    BOOST_TEST(bb::backoff_nominal(p, 2).count() == 150);
    BOOST_TEST(bb::backoff_nominal(p, 3).count() == 225);
    BOOST_TEST(bb::backoff_nominal(p, 4).count() == 338);  // 337.5 rounds up
}

BOOST_AUTO_TEST_CASE(jitter_spreads_evenly_around_the_nominal_delay) {
    const auto p = policy(1s, 2.0, 30s, 0.2);
    BOOST_TEST(bb::backoff_delay(p, 1, 0.0).count() == 800);
    BOOST_TEST(bb::backoff_delay(p, 1, 0.25).count() == 900);
    BOOST_TEST(bb::backoff_delay(p, 1, 0.5).count() == 1000);
    BOOST_TEST(bb::backoff_delay(p, 1, 0.75).count() == 1100);
    BOOST_TEST(bb::backoff_delay(p, 1, 0.999999).count() == 1200);
    BOOST_TEST(bb::backoff_delay(p, 4, 0.0).count() == 6400);
    BOOST_TEST(bb::backoff_delay(p, 4, 0.999999).count() == 9600);
}

BOOST_AUTO_TEST_CASE(jitter_stays_within_bounds_for_every_random_value) {
    const auto p = policy(1s, 2.0, 30s, 0.2);
    for (uint32_t attempt = 1; attempt <= 12; ++attempt) {
        const double nominal = static_cast<double>(bb::backoff_nominal(p, attempt).count());
        const double low = std::floor(nominal * 0.8);
        const double high = std::min(std::ceil(nominal * 1.2), 30000.0);
        for (double u : unit_randoms()) {
            BOOST_TEST_CONTEXT("attempt " << attempt << " unit_random " << u) {
                const auto delay = static_cast<double>(bb::backoff_delay(p, attempt, u).count());
                BOOST_TEST(delay >= low);
                BOOST_TEST(delay <= high);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(jitter_never_pushes_a_delay_past_the_cap) {
    const auto p = policy(1s, 2.0, 30s, 0.5);
    milliseconds longest{0};
    milliseconds shortest = milliseconds::max();
    for (double u : unit_randoms()) {
        const auto delay = bb::backoff_delay(p, 20, u);
        longest = std::max(longest, delay);
        shortest = std::min(shortest, delay);
    }
    BOOST_TEST(longest.count() == 30000);
    // At the cap the spread still covers max * (1 - jitter) .. max, so capped retries differ.
    BOOST_TEST(shortest.count() == 15000);
    BOOST_TEST(bb::backoff_delay(p, 20, 0.5).count() == 22500);
}

BOOST_AUTO_TEST_CASE(jitter_is_monotonic_in_the_random_value) {
    const auto p = policy(250ms, 3.0, 60s, 0.3);
    for (uint32_t attempt = 1; attempt <= 8; ++attempt) {
        milliseconds previous{0};
        for (double u : unit_randoms()) {
            const auto delay = bb::backoff_delay(p, attempt, u);
            BOOST_TEST_CONTEXT("attempt " << attempt << " unit_random " << u) {
                BOOST_TEST(delay.count() >= previous.count());
            }
            previous = delay;
        }
    }
}

BOOST_AUTO_TEST_CASE(full_jitter_reaches_zero_but_never_below) {
    const auto p = policy(1s, 2.0, 30s, 1.0);
    BOOST_TEST(bb::backoff_delay(p, 1, 0.0).count() == 0);
    BOOST_TEST(bb::backoff_delay(p, 1, 0.999999).count() == 2000);
    BOOST_TEST(bb::backoff_delay(p, 10, 0.999999).count() == 30000);
}

BOOST_AUTO_TEST_CASE(random_values_outside_the_unit_range_are_clamped) {
    const auto p = policy(1s, 2.0, 30s, 0.2);
    BOOST_TEST(bb::backoff_delay(p, 1, -3.0).count() == 800);
    BOOST_TEST(bb::backoff_delay(p, 1, 1.0).count() == 1200);
    BOOST_TEST(bb::backoff_delay(p, 1, 42.0).count() == 1200);
    BOOST_TEST(bb::backoff_delay(p, 1, std::numeric_limits<double>::quiet_NaN()).count() == 800);
    BOOST_TEST(bb::backoff_delay(p, 1, std::numeric_limits<double>::infinity()).count() == 1200);
}

BOOST_AUTO_TEST_CASE(huge_attempt_numbers_stay_at_the_cap) {
    const auto p = policy(1s, 2.0, 30s, 0.2);
    for (uint32_t attempt : {64u, 100u, 1025u, 100000u, std::numeric_limits<uint32_t>::max()}) {
        BOOST_TEST_CONTEXT("attempt " << attempt) {
            BOOST_TEST(bb::backoff_nominal(p, attempt).count() == 30000);
            BOOST_TEST(bb::backoff_delay(p, attempt, 0.0).count() == 24000);
            BOOST_TEST(bb::backoff_delay(p, attempt, 0.999999).count() == 30000);
        }
    }
}

BOOST_AUTO_TEST_CASE(huge_attempt_numbers_do_not_overflow_the_largest_cap) {
    const auto p = policy(1s, 10.0, milliseconds::max(), 0.0);
    for (uint32_t attempt : {15u, 16u, 17u, 100u, std::numeric_limits<uint32_t>::max()}) {
        BOOST_TEST_CONTEXT("attempt " << attempt) {
            BOOST_TEST(bb::backoff_nominal(p, attempt).count() > 0);
            BOOST_TEST(bb::backoff_delay(p, attempt, 0.999999).count() > 0);
        }
    }
    BOOST_TEST(bb::backoff_nominal(p, 100).count() == milliseconds::max().count());
    BOOST_TEST(bb::backoff_nominal(p, 16).count() == 1'000'000'000'000'000'000LL);  // 10^15 s
}

BOOST_AUTO_TEST_CASE(zero_initial_delay_retries_at_once_for_every_attempt) {
    const auto p = policy(0ms, 2.0, 30s, 0.2);
    for (uint32_t attempt : {1u, 2u, 50u, std::numeric_limits<uint32_t>::max()}) {
        BOOST_TEST(bb::backoff_nominal(p, attempt).count() == 0);
        BOOST_TEST(bb::backoff_delay(p, attempt, 0.999999).count() == 0);
    }
}

BOOST_AUTO_TEST_CASE(factor_one_keeps_a_constant_delay) {
    const auto p = policy(500ms, 1.0, 30s, 0.0);
    BOOST_TEST(bb::backoff_nominal(p, 1).count() == 500);
    BOOST_TEST(bb::backoff_nominal(p, 1000).count() == 500);
}

BOOST_AUTO_TEST_CASE(refused_policies_still_give_bounded_delays) {
    // validate() refuses all of these; the arithmetic must still not go negative or past max.
    for (const auto& p :
         {policy(-5s, 2.0, 30s, 0.2), policy(1s, 0.5, 30s, 0.2), policy(1s, -2.0, 30s, 0.2),
          policy(1s, 2.0, 30s, 7.0), policy(1s, 2.0, 30s, -1.0), policy(40s, 2.0, 30s, 0.2),
          policy(1s, std::numeric_limits<double>::quiet_NaN(), 30s, 0.2),
          policy(1s, 2.0, -1s, 0.2)}) {
        for (uint32_t attempt : {1u, 2u, 3u, 200u}) {
            for (double u : {0.0, 0.5, 0.999999}) {
                const auto delay = bb::backoff_delay(p, attempt, u);
                BOOST_TEST(delay.count() >= 0);
                BOOST_TEST(delay.count() <= std::max(p.max, 0ms).count());
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(validate_accepts_sensible_policies) {
    BOOST_TEST(!bb::validate(bb::BackoffPolicy{}).has_value());
    BOOST_TEST(!bb::validate(policy(0ms, 1.0, 0ms, 0.0)).has_value());
    BOOST_TEST(!bb::validate(policy(1s, 2.0, 1s, 1.0)).has_value());
    BOOST_TEST(!bb::validate(policy(100ms, 1.5, 1h, 0.5)).has_value());
}

BOOST_AUTO_TEST_CASE(validate_names_the_field_that_is_wrong) {
    const auto check = [](const bb::BackoffPolicy& p, const std::string& expected) {
        const auto problem = bb::validate(p);
        BOOST_TEST_REQUIRE(problem.has_value());
        BOOST_TEST(*problem == expected);
    };
    check(policy(-1ms, 2.0, 30s, 0.2), "initial must not be negative, got -1ms");
    check(policy(1s, 0.5, 30s, 0.2), "factor must be at least 1, got 0.5");
    check(policy(1s, 0.0, 30s, 0.2), "factor must be at least 1, got 0");
    check(policy(1s, std::numeric_limits<double>::infinity(), 30s, 0.2),
          "factor must be a finite number, got inf");
    check(policy(1s, std::numeric_limits<double>::quiet_NaN(), 30s, 0.2),
          "factor must be a finite number, got nan");
    check(policy(1s, 2.0, 30s, -0.1), "jitter must be between 0 and 1, got -0.1");
    check(policy(1s, 2.0, 30s, 1.5), "jitter must be between 0 and 1, got 1.5");
    check(policy(1s, 2.0, 30s, std::numeric_limits<double>::quiet_NaN()),
          "jitter must be between 0 and 1, got nan");
    check(policy(2s, 2.0, 1s, 0.2), "max (1000ms) must not be less than initial (2000ms)");
}

BOOST_AUTO_TEST_SUITE_END()
