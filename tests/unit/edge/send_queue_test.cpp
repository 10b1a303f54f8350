#include "broker-bridge/edge/send_queue.hpp"

#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>

namespace {

bb::edge::Encoded text(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

}  // namespace

BOOST_AUTO_TEST_SUITE(send_queue)

BOOST_AUTO_TEST_CASE(a_frame_joins_queued_messages_in_order_up_to_the_frame_size) {
    bb::edge::SendQueue q;
    for (const char* m : {"aaaa", "bbbb", "cccc"}) q.push(text(m));
    BOOST_TEST(q.bytes() == 12u);
    std::string frame;
    BOOST_TEST(q.take_frame(frame, 9, true) == 2u);
    BOOST_TEST(frame == "aaaa\nbbbb");
    BOOST_TEST(q.size() == 1u);
    BOOST_TEST(q.bytes() == 4u);
    frame.clear();
    BOOST_TEST(q.take_frame(frame, 9, true) == 1u);
    BOOST_TEST(frame == "cccc");
    BOOST_TEST(q.empty());
    BOOST_TEST(q.bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(a_message_larger_than_the_frame_size_leaves_in_a_frame_of_its_own) {
    bb::edge::SendQueue q;
    q.push(text(std::string(50, 'x')));
    q.push(text("y"));
    std::string frame;
    BOOST_TEST(q.take_frame(frame, 10, false) == 1u);
    BOOST_TEST(frame.size() == 50u);
    frame.clear();
    BOOST_TEST(q.take_frame(frame, 10, false) == 1u);
    BOOST_TEST(frame == "y");
}

BOOST_AUTO_TEST_CASE(pushes_between_partial_takes_keep_their_order) {
    bb::edge::SendQueue q;
    std::string all;
    int next = 0;
    for (int round = 0; round < 50; ++round) {
        for (int i = 0; i < 7; ++i) q.push(text(std::to_string(next++)));
        std::string frame;
        q.take_frame(frame, 8, true);  // a few at a time: the front is dropped in steps
        all += frame + "\n";
    }
    while (!q.empty()) {
        std::string frame;
        q.take_frame(frame, 8, true);
        all += frame + "\n";
    }
    std::string expected;
    for (int i = 0; i < next; ++i) expected += std::to_string(i) + "\n";
    BOOST_TEST(all == expected);
    BOOST_TEST(q.bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(clear_drops_every_message_and_its_bytes) {
    bb::edge::SendQueue q;
    q.push(text("abc"));
    q.push(text("def"));
    q.clear();
    BOOST_TEST(q.empty());
    BOOST_TEST(q.bytes() == 0u);
    q.push(text("g"));
    std::string frame;
    BOOST_TEST(q.take_frame(frame, 100, true) == 1u);
    BOOST_TEST(frame == "g");
}

BOOST_AUTO_TEST_SUITE_END()
