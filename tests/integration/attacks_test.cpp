// Attacks on the edge (docs/SECURITY.md, "Attacks on the edge"): each test sends one hostile
// input over a real socket, checks the refusal, close code or limit, and then checks that the
// same server still serves an honest client (connect, subscribe, receive a live message).
#define BOOST_TEST_MODULE bb_itest_attacks
#include <boost/test/unit_test.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <set>

#include "broker-bridge/envelope.hpp"
#include "broker-bridge/nats_handles.hpp"
#include "broker-bridge/provisioner.hpp"
#include "integration/edge_fixture.hpp"
#include "integration/edge_ws_client.hpp"
#include "integration/wait.hpp"
#include "unit/edge/token_sources.hpp"

using namespace bb::itest;
using namespace std::chrono_literals;
using nlohmann::json;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {

int64_t now_s() { return std::time(nullptr); }

json valid_claims(const std::string& sub) {
    return {{"sub", sub}, {"aud", "bridge-test"}, {"iat", now_s()}, {"exp", now_s() + 300}};
}

// The honest client: a fresh connection that connects, subscribes and receives.
void an_honest_client_is_served(EdgeFixture& f) {
    WsClient c(f.port());
    BOOST_TEST_REQUIRE(c.connect(f.token("honest"))["op"] == "connected");
    BOOST_TEST_REQUIRE(c.subscribe("user:honest:notifications", 2)["op"] == "subscribed");
    f.publish_rt("rt.user.honest.notifications", {{"n", 1}});
    auto m = c.next_op("message", 5s);
    BOOST_TEST((m.has_value() && (*m)["data"]["n"] == 1), "the honest client was not served");
}

void a_token_is_refused_with_4001(EdgeFixture& f, const std::string& token) {
    WsClient c(f.port());
    json r = c.connect(token);
    BOOST_TEST(r.value("code", "") == "unauthorized", r.dump());
    BOOST_TEST(c.close_code() == 4001);
}

// A synchronous Beast WebSocket stream for frames WsClient does not send: fragments, huge
// frames, raw bytes.
struct RawWs {
    explicit RawWs(int port) : ws(io) {
        boost::asio::ip::tcp::endpoint to(boost::asio::ip::make_address("127.0.0.1"),
                                          static_cast<unsigned short>(port));
        beast::get_lowest_layer(ws).connect(to);
        ws.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
            req.set(beast::http::field::sec_websocket_protocol, "bridge.json.v1");
        }));
        ws.read_message_max(64 * 1024 * 1024);
        ws.handshake("127.0.0.1", "/ws");
    }
    // The close code the server sent, reading (and dropping) messages until it closes.
    int close_code() {
        beast::get_lowest_layer(ws).expires_after(10s);
        try {
            for (int i = 0; i < 1000; ++i) {
                beast::flat_buffer b;
                ws.read(b);
            }
        } catch (const beast::system_error&) {
        }
        return ws.reason().code;
    }
    boost::asio::io_context io;
    websocket::stream<beast::tcp_stream> ws;
};

std::string connect_text(const std::string& token) {
    return json{{"op", "connect"}, {"id", 1}, {"token", token}}.dump();
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(attacks_tokens, EdgeFixture)

BOOST_AUTO_TEST_CASE(an_alg_none_token_is_refused) {
    start_edge();
    using bb::test::base64url;
    a_token_is_refused_with_4001(*this, base64url(R"({"alg":"none","typ":"JWT"})") + "." +
                                            base64url(valid_claims("42").dump()) + ".");
    an_honest_client_is_served(*this);
}

BOOST_AUTO_TEST_CASE(an_hs256_token_signed_with_the_rs256_public_key_is_refused) {
    const auto& rsa = bb::test::rsa_2048();
    std::ofstream(dir() / "rs.pem") << rsa.public_pem;
    start_edge(
        "", "",
        "      - {kid: rs, alg: RS256, public_key_file: " + (dir() / "rs.pem").string() + "}\n");
    auto forged = bb::test::libjwt_token(JWT_ALG_HS256, rsa.public_pem, valid_claims("42"), "rs");
    a_token_is_refused_with_4001(*this, forged);
    // The same key signs properly with RS256: that one is accepted.
    auto real = bb::test::libjwt_token(JWT_ALG_RS256, rsa.private_pem, valid_claims("42"), "rs");
    WsClient ok(port());
    BOOST_TEST(ok.connect(real)["op"] == "connected");
    an_honest_client_is_served(*this);
}

BOOST_AUTO_TEST_CASE(an_expired_token_is_refused) {
    start_edge();
    a_token_is_refused_with_4001(*this, token("42", {}, -120));
    an_honest_client_is_served(*this);
}

BOOST_AUTO_TEST_CASE(a_token_not_yet_valid_is_refused) {
    start_edge();
    a_token_is_refused_with_4001(*this, token("42", {{"nbf", now_s() + 3600}}));
    an_honest_client_is_served(*this);
}

BOOST_AUTO_TEST_CASE(a_wrong_issuer_or_audience_is_refused) {
    start_edge("", "", "    issuer: https://issuer.test\n");
    a_token_is_refused_with_4001(*this, token("42", {{"iss", "https://evil.test"}}));
    a_token_is_refused_with_4001(*this, token("42", {{"aud", "someone-else"}}));
    an_honest_client_is_served(*this);
}

BOOST_AUTO_TEST_CASE(a_truncated_token_is_refused) {
    start_edge();
    std::string t = token("42");
    a_token_is_refused_with_4001(*this, t.substr(0, t.size() - 5));
    a_token_is_refused_with_4001(*this, t.substr(0, t.rfind('.')));
    a_token_is_refused_with_4001(*this, t.substr(0, t.size() / 2));
    an_honest_client_is_served(*this);
}

BOOST_AUTO_TEST_CASE(a_100_kb_token_closes_1009_and_a_55_kb_one_is_refused) {
    start_edge();
    json big = valid_claims("42");
    big["pad"] = std::string(100 * 1024, 'a');
    std::string huge = bb::test::raw_hs256_token(R"({"alg":"HS256","typ":"JWT","kid":"k1"})",
                                                 big.dump(), kEdgeSecret);
    {
        RawWs raw(port());
        raw.ws.text(true);
        try {
            raw.ws.write(boost::asio::buffer(connect_text(huge)));
        } catch (const beast::system_error&) {
            // The server may close before the whole message is written.
        }
        raw.close_code();
        BOOST_TEST(wait_until(  // over max_message_size (64 KiB): closed 1009 as too big
            [&] { return metric("broker_bridge_edge_disconnects_total{reason=\"too_big\"}") == 1; },
            5s));
    }
    big["pad"] = std::string(40 * 1024, 'a');  // under the message limit, over 8 KiB of token
    a_token_is_refused_with_4001(
        *this, bb::test::raw_hs256_token(R"({"alg":"HS256","typ":"JWT","kid":"k1"})", big.dump(),
                                         kEdgeSecret));
    an_honest_client_is_served(*this);
}

BOOST_AUTO_TEST_CASE(a_token_in_bad_base64_is_refused) {
    start_edge();
    std::string t = token("42");
    std::string plus = t;
    plus[plus.find('.') + 3] = '+';
    a_token_is_refused_with_4001(*this, plus);
    a_token_is_refused_with_4001(*this, "!!!." + t.substr(t.find('.') + 1));
    a_token_is_refused_with_4001(*this, t.substr(0, t.find('.')) + ".%%%%." + "abc");
    an_honest_client_is_served(*this);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(attacks_channels, EdgeFixture)

// Each bad name gets an error reply on a connection that stays usable.
void refused_channels(EdgeFixture& f, const std::vector<std::string>& names,
                      const std::vector<std::string>& codes) {
    WsClient c(f.port());
    c.connect(f.token("u1"));
    int id = 10;
    for (const auto& name : names) {
        json r = c.subscribe(name, ++id);
        std::string code = r.value("code", "");
        BOOST_TEST((std::find(codes.begin(), codes.end(), code) != codes.end()),
                   name << " -> " << r.dump());
    }
    BOOST_TEST(f.metric("broker_bridge_edge_nats_subscriptions") == 0);
    BOOST_TEST(c.subscribe("user:u1:notifications", 99)["op"] == "subscribed");
}

BOOST_AUTO_TEST_CASE(wildcard_channels_are_refused) {
    start_edge();
    refused_channels(*this, {"chat:*", "chat:>", "user:*:notifications", ">", "doc:*"},
                     {"bad_channel", "forbidden"});
    an_honest_client_is_served(*this);
}

BOOST_AUTO_TEST_CASE(dotted_channel_variables_are_refused) {
    start_edge();
    refused_channels(*this, {"chat:a.b", "user:u1.x:notifications", "chat:general.>"},
                     {"bad_channel", "forbidden"});
    an_honest_client_is_served(*this);
}

BOOST_AUTO_TEST_CASE(empty_and_control_character_variables_are_refused) {
    start_edge();
    refused_channels(*this,
                     {"chat:", "user::notifications", "chat:room\x01", "chat:room\n",
                      std::string("chat:a\0b", 8), "chat:room\x7f", "chat:a b"},
                     {"bad_channel"});
    an_honest_client_is_served(*this);
}

BOOST_AUTO_TEST_CASE(another_users_channel_is_forbidden) {
    start_edge();
    refused_channels(*this, {"user:u2:notifications", "user:honest:notifications"}, {"forbidden"});
    an_honest_client_is_served(*this);
}

BOOST_AUTO_TEST_CASE(a_subscription_token_for_another_channel_is_forbidden) {
    start_edge(
        "    - pattern: \"vault:{id}\"\n      subject: \"rt.vault.{id}\"\n"
        "      subscribe: token\n");
    WsClient c(port());
    c.connect(token("u1"));
    std::string for_a = token("u1", {{"channel", "vault:a"}});
    json r = c.subscribe("vault:b", 2, {{"token", for_a}});
    BOOST_TEST(r.value("code", "") == "forbidden", r.dump());
    std::string other_user = token("u2", {{"channel", "vault:a"}});
    BOOST_TEST(c.subscribe("vault:a", 3, {{"token", other_user}}).value("code", "") == "forbidden");
    BOOST_TEST(c.subscribe("vault:a", 4).value("code", "") == "forbidden");  // no token
    BOOST_TEST(c.subscribe("vault:a", 5, {{"token", for_a}})["op"] == "subscribed");
    an_honest_client_is_served(*this);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(attacks_frames, EdgeFixture)

BOOST_AUTO_TEST_CASE(invalid_utf8_in_a_text_frame_closes_1007) {
    start_edge();
    RawWs raw(port());
    raw.ws.text(true);
    std::string bad = "{\"op\":\"connect\",\"id\":1,\"token\":\"\xc3\x28\xff\"}";
    raw.ws.write(boost::asio::buffer(bad));
    BOOST_TEST(raw.close_code() == 1007);
    an_honest_client_is_served(*this);
}

BOOST_AUTO_TEST_CASE(a_10_mb_frame_closes_1009) {
    start_edge();
    RawWs raw(port());
    raw.ws.binary(true);
    raw.ws.auto_fragment(false);  // one frame of 10 MB
    std::string huge(10 * 1024 * 1024, ' ');
    try {
        raw.ws.write(boost::asio::buffer(huge));
    } catch (const beast::system_error&) {
        // The server may close before the whole frame is written.
    }
    // Closed as too big (1009; the close frame may be lost to a reset while we still write).
    int code = raw.close_code();
    BOOST_TEST((code == 1009 || code == 0), code);
    BOOST_TEST(wait_until(
        [&] { return metric("broker_bridge_edge_disconnects_total{reason=\"too_big\"}") == 1; },
        5s));
    an_honest_client_is_served(*this);
}

BOOST_AUTO_TEST_CASE(a_message_in_100000_fragments_is_reassembled_or_closed_1009) {
    start_edge("  limits: {max_message_size: 200000}\n");
    RawWs raw(port());
    raw.ws.text(true);
    std::string hello = connect_text(token("frag"));
    hello.resize(100000, ' ');  // JSON allows trailing white space
    for (size_t i = 0; i + 1 < hello.size(); ++i) {
        raw.ws.write_some(false, boost::asio::buffer(&hello[i], 1));
    }
    raw.ws.write_some(true, boost::asio::buffer(&hello.back(), 1));
    beast::flat_buffer reply;
    beast::get_lowest_layer(raw.ws).expires_after(20s);
    raw.ws.read(reply);
    json connected = json::parse(beast::buffers_to_string(reply.data()));
    BOOST_TEST(connected["op"] == "connected", connected.dump());
    an_honest_client_is_served(*this);
}

BOOST_AUTO_TEST_CASE(a_flood_of_10000_subscribes_is_cut_off_with_4029) {
    start_edge();
    WsClient c(port());
    c.connect(token("flood"));
    for (int i = 0; i < 10000; ++i) {
        c.send({{"op", "subscribe"}, {"id", i + 2}, {"channel", "chat:r" + std::to_string(i)}});
    }
    // Closed 4029: the edge reads and drops what the client still sends after the close
    // frame, so no reset overtakes the frame or the replies queued before it.
    int code = c.close_code(20s);
    BOOST_TEST(code == 4029);
    // The replies owed for the commands served before the cut-off arrive before the close.
    std::set<int> answered;
    for (auto m = c.next(0ms); m; m = c.next(0ms)) {
        if (m->contains("id") && (*m)["id"].is_number_integer())
            answered.insert((*m)["id"].get<int>());
    }
    for (const auto& m : c.skipped()) {
        if (m.contains("id") && m["id"].is_number_integer()) answered.insert(m["id"].get<int>());
    }
    BOOST_TEST_MESSAGE("flood: close " << code << ", commands answered " << answered.size());
    BOOST_TEST(answered.size() >= 90u);
    BOOST_TEST(wait_until(
        [&] {
            return metric("broker_bridge_edge_disconnects_total{reason=\"rate_limited\"}") == 1;
        },
        5s));
    // At most the burst was served, and never more than max_subscriptions.
    BOOST_TEST(metric("broker_bridge_edge_subscriptions") <= 64);
    an_honest_client_is_served(*this);
}

BOOST_AUTO_TEST_CASE(a_handshake_that_never_finishes_is_dropped) {
    start_edge();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port()));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_TEST_REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    const std::string start = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    BOOST_TEST_REQUIRE(send(fd, start.data(), start.size(), MSG_NOSIGNAL) > 0);
    // One byte of a header that never ends, every 500 ms, until the server hangs up.
    auto started = std::chrono::steady_clock::now();
    bool dropped = wait_until(
        [&] {
            an_honest_client_is_served(*this);  // served all along
            return send(fd, "a", 1, MSG_NOSIGNAL) < 0 || recv(fd, nullptr, 0, MSG_DONTWAIT) == 0;
        },
        40s, 500ms);
    auto lasted = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::steady_clock::now() - started);
    close(fd);
    BOOST_TEST_MESSAGE("slowloris connection dropped after " << lasted.count() << " s");
    BOOST_TEST(dropped, "a handshake dribbling bytes was kept open for 40 s");
}

BOOST_AUTO_TEST_CASE(a_wrong_origin_is_refused_at_the_upgrade) {
    start_edge("  allowed_origins: [\"https://app.example\"]\n");
    WsOptions bad;
    bad.origin = "https://evil.example";
    BOOST_CHECK_THROW(WsClient(port(), bad), std::exception);
    WsOptions none;
    BOOST_CHECK_THROW(WsClient(port(), none), std::exception);
    WsOptions good;
    good.origin = "https://app.example";
    WsClient c(port(), good);
    BOOST_TEST_REQUIRE(c.connect(token("honest"))["op"] == "connected");
    BOOST_TEST(c.subscribe("user:honest:notifications", 2)["op"] == "subscribed");
}

BOOST_AUTO_TEST_CASE(thousands_of_connections_of_one_user_stop_at_the_limit_with_1008) {
    start_edge("  limits: {max_connections_per_user: 32}\n");
    std::string t = token("greedy");
    std::vector<std::unique_ptr<RawWs>> open;
    int accepted = 0;
    int refused_1008 = 0;
    for (int i = 0; i < 2000; ++i) {
        auto raw = std::make_unique<RawWs>(port());
        raw->ws.text(true);
        raw->ws.write(boost::asio::buffer(connect_text(t)));
        beast::flat_buffer reply;
        beast::get_lowest_layer(raw->ws).expires_after(5s);
        raw->ws.read(reply);
        json r = json::parse(beast::buffers_to_string(reply.data()));
        if (r["op"] == "connected") {
            ++accepted;
            open.push_back(std::move(raw));  // kept open
        } else if (r.value("code", "") == "limit" && raw->close_code() == 1008) {
            ++refused_1008;
        }
    }
    BOOST_TEST_MESSAGE("one user: " << accepted << " accepted, " << refused_1008
                                    << " refused with 1008");
    BOOST_TEST(accepted == 32);
    BOOST_TEST(refused_1008 == 2000 - 32);
    an_honest_client_is_served(*this);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(attacks_publish, EdgeFixture)

BOOST_AUTO_TEST_CASE(a_forged_author_is_replaced_by_the_tokens_subject) {
    start_edge();
    WsClient c(port());
    c.connect(token("42"));
    c.send({{"op", "publish"},
            {"id", 5},
            {"channel", "doc:d9"},
            {"data", {{"text", "hi"}}},
            {"userid", "1"},
            {"author", "1"},
            {"ce-userid", "1"}});
    auto r = c.next();
    BOOST_TEST_REQUIRE((*r)["op"] == "published", r->dump());
    natsMsg* raw = nullptr;
    jsErrCode jerr{};
    BOOST_TEST_REQUIRE(js_GetLastMsg(&raw, client().js(), "EVENTS",
                                     "events.document.DocumentEdited", nullptr, &jerr) == NATS_OK);
    bb::NatsMsg msg(raw);
    BOOST_TEST(std::string(bb::header_value(msg.get(), "ce-userid")) == "42");
    an_honest_client_is_served(*this);
}

BOOST_AUTO_TEST_CASE(a_payload_that_is_not_an_object_is_refused) {
    start_edge();
    WsClient c(port());
    c.connect(token("42"));
    int id = 10;
    for (const json& data : {json::array({1, 2}), json("text"), json(5), json(nullptr)}) {
        c.send({{"op", "publish"}, {"id", ++id}, {"channel", "doc:d9"}, {"data", data}});
        auto r = c.next();
        BOOST_TEST((r && r->value("code", "") == "bad_request"),
                   data.dump() << " -> " << (r ? r->dump() : "none"));
    }
    auto stored = bb::stream_status(client().js(), "EVENTS");
    BOOST_TEST((stored && stored->messages == 0u));
    an_honest_client_is_served(*this);
}

BOOST_AUTO_TEST_CASE(a_channel_without_a_publish_rule_is_forbidden) {
    start_edge();
    WsClient c(port());
    c.connect(token("42"));
    c.send({{"op", "publish"}, {"id", 6}, {"channel", "chat:r1"}, {"data", json::object()}});
    BOOST_TEST(c.next()->value("code", "") == "forbidden");
    c.send({{"op", "publish"},
            {"id", 7},
            {"channel", "user:42:notifications"},
            {"data", json::object()}});
    BOOST_TEST(c.next()->value("code", "") == "forbidden");
    auto stored = bb::stream_status(client().js(), "EVENTS");
    BOOST_TEST((stored && stored->messages == 0u));
    an_honest_client_is_served(*this);
}

BOOST_AUTO_TEST_SUITE_END()
