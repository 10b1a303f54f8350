// edge.coalesce_delay: live messages that follow a frame closely wait and share a frame.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <thread>

#include "integration/edge_fixture.hpp"
#include "integration/edge_ws_client.hpp"

using namespace bb::itest;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

}  // namespace

// The fixture with a client on user 42's notifications that has just received a frame.
struct CoalesceFixture : EdgeFixture {
    void receive_a_first_frame(WsClient& c) {
        c.connect(token("42"));
        BOOST_TEST_REQUIRE(c.subscribe("user:42:notifications", 2)["op"] == "subscribed");
        publish_rt("rt.user.42.notifications", {{"n", 0}});
        BOOST_TEST_REQUIRE(c.next_op("message").has_value());
    }
};

BOOST_FIXTURE_TEST_SUITE(edge_coalescing, CoalesceFixture)

// Three messages published right after a frame reached the client are held until the delay
// since that frame is over, then leave together: one frame, about 100 ms after the first.
BOOST_AUTO_TEST_CASE(messages_right_after_a_frame_wait_out_the_delay_and_share_one_frame) {
    start_edge("  coalesce_delay: 100ms\n");
    WsClient c(port());
    receive_a_first_frame(c);
    auto first_at = Clock::now();
    size_t frames_before = c.frames();
    for (int n = 1; n <= 3; ++n) publish_rt("rt.user.42.notifications", {{"n", n}});
    for (int n = 1; n <= 3; ++n) {
        auto m = c.next_op("message");
        BOOST_TEST_REQUIRE(m.has_value());
        BOOST_TEST((*m)["data"]["n"] == n);
    }
    double waited_ms = ms_since(first_at);
    BOOST_TEST(c.frames() - frames_before == 1u);
    // The client saw the first frame a little after it left, so a little less than 100 ms.
    BOOST_TEST(waited_ms >= 60.0);
}

// At a low rate the previous frame is older than the delay: a message leaves at once.
BOOST_AUTO_TEST_CASE(a_message_long_after_the_previous_frame_does_not_wait) {
    start_edge("  coalesce_delay: 100ms\n");
    WsClient c(port());
    receive_a_first_frame(c);
    std::this_thread::sleep_for(150ms);  // the gap between messages is what is tested here
    auto published_at = Clock::now();
    publish_rt("rt.user.42.notifications", {{"n", 1}});
    auto m = c.next_op("message");
    BOOST_TEST_REQUIRE(m.has_value());
    BOOST_TEST(ms_since(published_at) < 90.0);
}

BOOST_AUTO_TEST_SUITE_END()
