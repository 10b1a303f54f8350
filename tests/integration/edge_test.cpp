// The WebSocket edge against a real nats-server, through real sockets.
#define BOOST_TEST_MODULE edge
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "integration/edge_fixture.hpp"
#include "integration/edge_ws_client.hpp"
#include "integration/wait.hpp"

using namespace bb::itest;
using nlohmann::json;

namespace {

std::string code_of(const std::optional<json>& m) {
    return m && m->contains("code") ? (*m)["code"].get<std::string>() : std::string("<none>");
}

std::vector<int> values_of(const std::vector<json>& messages) {
    std::vector<int> out;
    for (const auto& m : messages) out.push_back(m["data"]["n"].get<int>());
    return out;
}

// Reads `count` channel messages (op "message") in arrival order.
std::vector<json> read_messages(WsClient& c, size_t count, std::chrono::milliseconds each = 5s) {
    std::vector<json> out;
    while (out.size() < count) {
        auto m = c.next_op("message", each);
        if (!m) break;
        out.push_back(*m);
    }
    return out;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(edge_delivery, EdgeFixture)

BOOST_AUTO_TEST_CASE(a_connected_client_receives_a_notification_on_its_channel) {
    start_edge();
    WsClient c(port());
    json connected = c.connect(token("42"));
    BOOST_TEST(connected["op"] == "connected");
    BOOST_TEST(connected["id"] == 1);
    BOOST_TEST(!connected["client"].get<std::string>().empty());
    json sub = c.subscribe("user:42:notifications", 2);
    BOOST_TEST_REQUIRE(sub["op"] == "subscribed", sub.dump());
    BOOST_TEST(sub["channel"] == "user:42:notifications");
    BOOST_TEST(sub["seq"] == 0);

    uint64_t seq = publish_rt("rt.user.42.notifications", {{"text", "hello"}}, "7");
    auto m = c.next_op("message");
    BOOST_TEST_REQUIRE(m.has_value());
    BOOST_TEST((*m)["channel"] == "user:42:notifications");
    BOOST_TEST((*m)["seq"] == seq);
    BOOST_TEST((*m)["data"]["text"] == "hello");
    BOOST_TEST((*m)["epoch"] == sub["epoch"]);
    BOOST_TEST(metric("broker_bridge_edge_nats_subscriptions") == 1);
}

BOOST_AUTO_TEST_CASE(messagepack_clients_get_the_same_messages_in_binary_frames) {
    start_edge();
    WsOptions o;
    o.subprotocol = "bridge.msgpack.v1";
    WsClient c(port(), o);
    BOOST_TEST(c.connect(token("42"))["op"] == "connected");
    BOOST_TEST_REQUIRE(c.subscribe("user:42:notifications", 2)["op"] == "subscribed");
    publish_rt("rt.user.42.notifications", {{"n", 1}});
    auto m = c.next_op("message");
    BOOST_TEST_REQUIRE(m.has_value());
    BOOST_TEST((*m)["data"]["n"] == 1);
}

BOOST_AUTO_TEST_CASE(one_nats_subscription_serves_every_client_of_a_subject) {
    start_edge();
    std::vector<std::unique_ptr<WsClient>> clients;
    for (int i = 0; i < 6; ++i) {
        clients.push_back(std::make_unique<WsClient>(port()));
        BOOST_TEST_REQUIRE(clients.back()->connect(token("u" + std::to_string(i)))["op"] ==
                           "connected");
        BOOST_TEST_REQUIRE(clients.back()->subscribe("chat:room1", 2)["op"] == "subscribed");
    }
    BOOST_TEST(metric("broker_bridge_edge_nats_subscriptions") == 1);
    publish_rt("rt.chat.room1", {{"n", 5}});
    for (auto& c : clients) BOOST_TEST(read_messages(*c, 1).size() == 1u);
    clients.clear();
    BOOST_TEST(
        wait_until([&] { return metric("broker_bridge_edge_nats_subscriptions") == 0; }, 5s));
}

BOOST_AUTO_TEST_CASE(a_burst_reaches_a_client_in_fewer_frames_than_messages) {
    start_edge();
    WsClient c(port());
    c.connect(token("42"));
    BOOST_TEST_REQUIRE(c.subscribe("user:42:notifications", 2)["op"] == "subscribed");
    size_t before = c.frames();
    for (int i = 0; i < 300; ++i) publish_rt("rt.user.42.notifications", {{"n", i}});
    auto got = read_messages(c, 300);
    BOOST_TEST_REQUIRE(got.size() == 300u);
    std::vector<int> expected(300);
    for (int i = 0; i < 300; ++i) expected[i] = i;
    BOOST_TEST(values_of(got) == expected, boost::test_tools::per_element());
    BOOST_TEST(c.frames() - before <= 300u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(edge_channel_rules, EdgeFixture)

BOOST_AUTO_TEST_CASE(another_users_channel_is_forbidden) {
    start_edge();
    WsClient c(port());
    c.connect(token("42"));
    json r = c.subscribe("user:43:notifications", 2);
    BOOST_TEST(r["op"] == "error");
    BOOST_TEST(r["id"] == 2);
    BOOST_TEST(r["code"] == "forbidden");
    BOOST_TEST(metric("broker_bridge_edge_nats_subscriptions") == 0);
}

BOOST_AUTO_TEST_CASE(every_wildcard_and_injection_form_is_refused_without_a_subscription) {
    start_edge();
    WsClient c(port());
    c.connect(token("u1"));
    const std::vector<std::string> bad = {"user:*:notifications",
                                          "user:>:notifications",
                                          "user:u1.>:notifications",
                                          "user:u1.x:notifications",
                                          "user::notifications",
                                          "user:u1 :notifications",
                                          "chat:general.>",
                                          "chat:*",
                                          "chat:>",
                                          "chat:a.b",
                                          "doc:*",
                                          "chat:room1\r\nPUB rt.user.u2.x 5",
                                          "chat:room 1",
                                          "chat:room\t1",
                                          std::string("chat:room\0x", 11),
                                          "chat:room\n",
                                          "chat:",
                                          ">",
                                          "user.*.notifications",
                                          "user:u1:notifications.*"};
    int id = 10;
    for (const auto& channel : bad) {
        json r = c.subscribe(channel, ++id);
        BOOST_TEST(r["op"] == "error", channel);
        BOOST_TEST(r["id"] == id);
        std::string code = r.value("code", "");
        BOOST_TEST((code == "bad_channel" || code == "forbidden"), channel << " -> " << code);
    }
    BOOST_TEST(metric("broker_bridge_edge_nats_subscriptions") == 0);
    BOOST_TEST(metric("broker_bridge_edge_subscriptions") == 0);
    // Still connected and served: the exact allowed channel works.
    BOOST_TEST(c.subscribe("user:u1:notifications", 99)["op"] == "subscribed");
}

BOOST_AUTO_TEST_CASE(membership_rules_compare_channel_variables_with_claim_lists) {
    start_edge();
    WsClient c(port());
    c.connect(token("42", {{"orgs", {7, 8}}}));
    BOOST_TEST(c.subscribe("org:7:presence", 2)["op"] == "subscribed");
    BOOST_TEST(c.subscribe("org:9:presence", 3)["code"] == "forbidden");
}

BOOST_AUTO_TEST_CASE(commands_before_connect_close_the_connection_with_4001) {
    start_edge();
    WsClient c(port());
    c.send({{"op", "subscribe"}, {"id", 1}, {"channel", "chat:x"}});
    auto r = c.next();
    BOOST_TEST(code_of(r) == "unauthorized");
    BOOST_TEST(c.close_code() == 4001);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(edge_auth, EdgeFixture)

BOOST_AUTO_TEST_CASE(expired_and_foreign_tokens_are_refused_with_4001) {
    start_edge();
    const std::vector<std::string> tokens = {
        token("42", {}, -120),                                    // expired
        token("42", {{"nbf", 4102444800}}),                       // not yet valid
        token("42", {{"aud", "someone-else"}}),                   // wrong audience
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiI0MiJ9.",  // alg none
        token("42").substr(0, token("42").size() - 4) + "AAAA",   // wrongly signed
    };
    for (const auto& t : tokens) {
        WsClient c(port());
        json r = c.connect(t);
        BOOST_TEST(r["code"] == "unauthorized");
        BOOST_TEST(c.close_code() == 4001);
    }
    BOOST_TEST(wait_until(
        [&] {
            return metric("broker_bridge_edge_disconnects_total{reason=\"unauthorized\"}") == 5;
        },
        5s));
}

BOOST_AUTO_TEST_CASE(invalid_messages_before_connect_get_bad_request_then_close_4001) {
    start_edge();
    const std::vector<std::string> first = {"not json", "[1, 2]", R"({"op": "dance", "id": 1})",
                                            R"({"op": "connect", "id": 1})"};
    for (const auto& text : first) {
        WsClient c(port());
        auto started = std::chrono::steady_clock::now();
        c.send_text(text);
        BOOST_TEST(code_of(c.next()) == "bad_request", text);
        BOOST_TEST(c.close_code() == 4001, text);
        // Closed by the refusal, well before the 800 ms connect timeout.
        BOOST_TEST((std::chrono::steady_clock::now() - started < 600ms), text);
    }
}

BOOST_AUTO_TEST_CASE(no_connect_in_time_closes_with_4001) {
    start_edge();
    WsClient c(port());
    auto started = std::chrono::steady_clock::now();
    BOOST_TEST(c.close_code(5s) == 4001);
    BOOST_TEST((std::chrono::steady_clock::now() - started >= 700ms));
}

BOOST_AUTO_TEST_CASE(a_token_that_expires_without_refresh_closes_with_4009) {
    start_edge();
    WsClient c(port());
    BOOST_TEST(c.connect(token("42", {}, 1))["op"] == "connected");
    BOOST_TEST(c.close_code(8s) == 4009);
}

BOOST_AUTO_TEST_CASE(refresh_keeps_the_connection_and_needs_the_same_subject) {
    start_edge();
    WsClient c(port());
    BOOST_TEST(c.connect(token("42", {}, 1))["op"] == "connected");
    c.send({{"op", "refresh"}, {"id", 2}, {"token", token("43")}});
    BOOST_TEST(c.next()->value("code", "") == "forbidden");
    c.send({{"op", "refresh"}, {"id", 3}, {"token", token("42")}});
    auto r = c.next();
    BOOST_TEST((*r)["op"] == "refreshed");
    BOOST_TEST((*r)["id"] == 3);
    BOOST_TEST(c.close_code(3s) == -1);
}

BOOST_AUTO_TEST_SUITE_END()
