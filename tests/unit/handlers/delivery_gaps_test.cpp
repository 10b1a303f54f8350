// DeliveryGaps: which deliveries wait behind missing ones, and what ends the wait.
#include <boost/test/unit_test.hpp>

#include "handlers/delivery_gaps.hpp"

using bb::handlers::Delivery;
using bb::handlers::DeliveryGaps;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<Delivery> delivery(uint64_t stream_seq, uint64_t delivered = 1) {
    auto d = std::make_shared<Delivery>();
    d->stream_seq = stream_seq;
    d->delivered = delivered;
    return d;
}

const auto kLater = DeliveryGaps::Clock::now() + 1h;

std::vector<uint64_t> seqs(const std::vector<std::shared_ptr<Delivery>>& ds) {
    std::vector<uint64_t> out;
    for (const auto& d : ds) out.push_back(d->stream_seq);
    return out;
}

// Deliveries 11 and 12 arrive first-time after two went missing (10 and 9, say).
DeliveryGaps gap_before_11(uint64_t missing = 2) {
    DeliveryGaps gaps;
    auto d = delivery(11);
    gaps.add(missing, *d, kLater);
    BOOST_TEST_REQUIRE(gaps.must_wait(*d));
    gaps.hold(d);
    auto next = delivery(12);
    BOOST_TEST_REQUIRE(gaps.must_wait(*next));
    gaps.hold(next);
    return gaps;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(delivery_gaps)

BOOST_AUTO_TEST_CASE(events_from_the_first_new_one_after_a_gap_wait_and_older_ones_go_on) {
    DeliveryGaps gaps = gap_before_11();
    BOOST_TEST(gaps.open());
    BOOST_TEST(!gaps.must_wait(*delivery(10, 2)), "a redelivery of a missing event waits");
    BOOST_TEST(gaps.must_wait(*delivery(11, 2)), "a second copy of a held event goes on");
    BOOST_TEST(gaps.held().size() == 2u);
}

BOOST_AUTO_TEST_CASE(the_gap_closes_once_as_many_redeliveries_came_back_and_releases_in_order) {
    DeliveryGaps gaps = gap_before_11();
    BOOST_TEST(!gaps.came_back(10));
    BOOST_TEST(gaps.take_released().empty());
    BOOST_TEST(gaps.came_back(9));
    BOOST_TEST(!gaps.open());
    BOOST_TEST(seqs(gaps.take_released()) == (std::vector<uint64_t>{11, 12}));
    BOOST_TEST(gaps.held().empty());
}

BOOST_AUTO_TEST_CASE(a_redelivery_past_the_bound_is_not_one_of_the_missing) {
    DeliveryGaps gaps = gap_before_11(1);
    BOOST_TEST(!gaps.came_back(12));
    BOOST_TEST(gaps.open());
}

BOOST_AUTO_TEST_CASE(the_ack_floor_closes_the_gap_only_once_it_reaches_the_bound) {
    DeliveryGaps gaps = gap_before_11();
    BOOST_TEST(!gaps.floor_reached(9));
    BOOST_TEST(gaps.open());
    BOOST_TEST(gaps.floor_reached(10));
    BOOST_TEST(seqs(gaps.take_released()) == (std::vector<uint64_t>{11, 12}));
}

BOOST_AUTO_TEST_CASE(a_gap_past_its_give_up_time_closes_and_says_how_many_never_came) {
    DeliveryGaps gaps;
    auto d = delivery(5);
    const auto now = DeliveryGaps::Clock::now();
    gaps.add(3, *d, now + 100ms);
    gaps.must_wait(*d);
    gaps.hold(d);
    gaps.came_back(4);
    BOOST_TEST(gaps.expire(now + 99ms) == 0u);
    BOOST_TEST(gaps.expire(now + 100ms) == 2u);
    BOOST_TEST(!gaps.open());
    BOOST_TEST(seqs(gaps.take_released()) == (std::vector<uint64_t>{5}));
}

// A redelivery after the gap says nothing about where the missing first deliveries stood:
// nothing waits until a first-time delivery gives the gap its bound.
BOOST_AUTO_TEST_CASE(a_gap_seen_at_a_redelivery_takes_its_bound_from_the_next_new_event) {
    DeliveryGaps gaps;
    auto redelivered = delivery(3, 2);
    gaps.add(1, *redelivered, kLater);
    BOOST_TEST(!gaps.must_wait(*redelivered));
    BOOST_TEST(!gaps.floor_due(DeliveryGaps::Clock::now(), 10ms), "no bound to compare with");
    BOOST_TEST(gaps.must_wait(*delivery(20)));
    BOOST_TEST(gaps.lowest_bound() == 20u);
    BOOST_TEST(!gaps.must_wait(*delivery(19, 2)));
}

BOOST_AUTO_TEST_CASE(closing_the_first_of_two_gaps_releases_only_what_the_second_does_not_hold) {
    DeliveryGaps gaps = gap_before_11(1);
    auto d = delivery(20);
    gaps.add(1, *d, kLater);
    BOOST_TEST(gaps.must_wait(*d));
    gaps.hold(d);
    BOOST_TEST(gaps.came_back(10));
    BOOST_TEST(gaps.open());
    BOOST_TEST(seqs(gaps.take_released()) == (std::vector<uint64_t>{11, 12}));
    BOOST_TEST(gaps.floor_reached(19));
    BOOST_TEST(seqs(gaps.take_released()) == (std::vector<uint64_t>{20}));
}

BOOST_AUTO_TEST_CASE(the_ack_floor_is_due_at_most_once_per_interval) {
    DeliveryGaps gaps = gap_before_11();
    const auto now = DeliveryGaps::Clock::now();
    BOOST_TEST(gaps.floor_due(now, 200ms));
    BOOST_TEST(!gaps.floor_due(now + 199ms, 200ms));
    BOOST_TEST(gaps.floor_due(now + 200ms, 200ms));
}

BOOST_AUTO_TEST_CASE(take_all_empties_the_held_deliveries) {
    DeliveryGaps gaps = gap_before_11();
    BOOST_TEST(gaps.take_all().size() == 2u);
    BOOST_TEST(gaps.held().empty());
}

BOOST_AUTO_TEST_SUITE_END()
