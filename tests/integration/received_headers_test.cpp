// read_received_headers reads a received message's header block straight from nats.c's
// buffer. These cases pin what it relies on (nats.c 3.4.1 keeps subject, reply, header
// block and data in one block) against a real nats-server, and check that it reads what
// nats.c's header API reads, or steps aside.
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "broker-bridge/nats_client.hpp"
#include "broker-bridge/nats_handles.hpp"
#include "broker-bridge/received_headers.hpp"
#include "integration/nats_server.hpp"

using namespace std::chrono_literals;

namespace {

// Every header as nats.c's header API lifts it, sorted (the API's order is its hash's).
bb::Headers headers_via_api(natsMsg* msg) {
    bb::Headers out;
    const char** keys = nullptr;
    int key_count = 0;
    if (natsMsgHeader_Keys(msg, &keys, &key_count) != NATS_OK) return out;
    for (int i = 0; i < key_count; ++i) {
        const char** values = nullptr;
        int value_count = 0;
        BOOST_TEST_REQUIRE(natsMsgHeader_Values(msg, keys[i], &values, &value_count) == NATS_OK);
        for (int j = 0; j < value_count; ++j) out.emplace_back(keys[i], values[j]);
        free(values);
    }
    free(keys);
    std::stable_sort(out.begin(), out.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    return out;
}

bb::Headers sorted(bb::Headers h) {
    std::stable_sort(h.begin(), h.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    return h;
}

struct Connection {
    explicit Connection(const std::string& url) {
        BOOST_TEST_REQUIRE(natsConnection_ConnectTo(&raw, url.c_str()) == NATS_OK);
        BOOST_TEST_REQUIRE(natsConnection_SubscribeSync(&sub, raw, "hdr.>") == NATS_OK);
        BOOST_TEST_REQUIRE(natsConnection_Flush(raw) == NATS_OK);
    }
    ~Connection() {
        natsSubscription_Destroy(sub);
        natsConnection_Destroy(raw);
    }
    bb::NatsMsg next() {
        natsMsg* msg = nullptr;
        BOOST_TEST_REQUIRE(natsSubscription_NextMsg(&msg, sub, 5000) == NATS_OK);
        return bb::NatsMsg(msg);
    }
    natsConnection* raw = nullptr;
    natsSubscription* sub = nullptr;
};

// Sends `protocol` to the server on a plain socket, as a client that writes its own
// header block would, after a CONNECT that turns headers on.
void send_raw(int port, const std::string& protocol) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    BOOST_TEST_REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_TEST_REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    std::string all = "CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n" +
                      protocol + "PING\r\n";
    BOOST_TEST_REQUIRE(::send(fd, all.data(), all.size(), MSG_NOSIGNAL) ==
                       static_cast<ssize_t>(all.size()));
    char buf[4096];
    std::string got;
    // The server answers PING after it processed what came before it.
    for (int reads = 0; reads < 20 && got.find("PONG") == std::string::npos; ++reads) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        got.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    BOOST_TEST_REQUIRE(got.find("PONG") != std::string::npos, "server said: " << got);
}

std::string hpub(const std::string& subject, const std::string& header_block,
                 const std::string& data) {
    return "HPUB " + subject + " " + std::to_string(header_block.size()) + " " +
           std::to_string(header_block.size() + data.size()) + "\r\n" + header_block + data +
           "\r\n";
}

struct ServerFixture {
    bb::itest::NatsServer server;
    Connection conn{server.url()};
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(received_headers, ServerFixture)

BOOST_AUTO_TEST_CASE(the_header_block_reads_as_the_header_api_reads_it,
                     *boost::unit_test::timeout(60)) {
    natsMsg* out = nullptr;
    BOOST_TEST_REQUIRE(natsMsg_Create(&out, "hdr.a", "reply.to.me", "body", 4) == NATS_OK);
    bb::NatsMsg sent(out);
    const bb::Headers headers = {{"ce-id", "0b9d8a6e-1f4e-4e55-9a1f-2f1c3b7d9e10"},
                                 {"X-Tag", "first"},
                                 {"ce-source", "https%3A%2F%2Fexample.org"},
                                 {"X-Tag", "second, with a comma"},
                                 {"X-Tab", "a\tb"},
                                 {"Nats-Msg-Id", "evt-1"}};
    for (const auto& [k, v] : headers) natsMsgHeader_Add(sent.get(), k.c_str(), v.c_str());
    BOOST_TEST_REQUIRE(natsConnection_PublishMsg(conn.raw, sent.get()) == NATS_OK);

    bb::NatsMsg got = conn.next();
    auto fast = bb::read_received_headers(got.get());

    BOOST_TEST_REQUIRE(fast.has_value());
    BOOST_TEST(sorted(*fast) == sorted(headers));  // nats.c sends them in its hash's order
    BOOST_TEST(std::string(natsMsg_GetData(got.get()), 4) == "body");
    BOOST_TEST(sorted(*fast) == headers_via_api(got.get()));
}

BOOST_AUTO_TEST_CASE(a_message_without_reply_or_headers_reads_as_empty,
                     *boost::unit_test::timeout(60)) {
    BOOST_TEST_REQUIRE(natsConnection_PublishString(conn.raw, "hdr.b", "plain") == NATS_OK);
    bb::NatsMsg got = conn.next();

    BOOST_TEST(!bb::read_received_headers(got.get()).has_value());
    auto all = bb::read_headers(got.get());
    BOOST_TEST_REQUIRE(all.ok());
    BOOST_TEST(all->empty());
}

BOOST_AUTO_TEST_CASE(a_message_nats_c_has_lifted_goes_through_its_api,
                     *boost::unit_test::timeout(60)) {
    send_raw(server.port(), hpub("hdr.c", "NATS/1.0\r\nA: 1\r\nB: two words \r\n\r\n", "x"));
    bb::NatsMsg got = conn.next();
    const char* a = nullptr;
    BOOST_TEST_REQUIRE(natsMsgHeader_Get(got.get(), "A", &a) == NATS_OK);  // lifts in place

    BOOST_TEST(!bb::read_received_headers(got.get()).has_value());
    auto all = bb::read_headers(got.get());
    BOOST_TEST_REQUIRE(all.ok());
    BOOST_TEST(sorted(*all) == (bb::Headers{{"A", "1"}, {"B", "two words"}}));
}

// Each block is one nats.c reads in its own way: the fast path steps aside and the result
// is always the API's.
BOOST_AUTO_TEST_CASE(unusual_header_blocks_give_what_the_api_gives,
                     *boost::unit_test::timeout(60)) {
    const std::string blocks[] = {
        "NATS/1.0\r\nA: 1\r\n folded: on\r\nB: 2\r\n\r\n",  // a continuation line
        "NATS/1.0\r\nEmpty:\r\nB: 2\r\n\r\n",               // nats.c reads "B: 2" as its value
        "NATS/1.0 503\r\n\r\n",                             // a status
        "NATS/1.0 408 Request Timeout\r\nA: 1\r\n\r\n",     // a status and a description
        "NATS/1.0\r\nA: x\ry\r\n\r\n",                      // a lone CR inside a value
    };
    for (const auto& block : blocks) {
        send_raw(server.port(), hpub("hdr.d", block, "data"));
        bb::NatsMsg got = conn.next();

        BOOST_TEST(!bb::read_received_headers(got.get()).has_value(), block);
        auto all = bb::read_headers(got.get());
        BOOST_TEST_REQUIRE(all.ok());
        BOOST_TEST(sorted(*all) == headers_via_api(got.get()), block);
    }
}

BOOST_AUTO_TEST_CASE(wire_order_is_kept_and_spaces_are_trimmed_as_nats_c_trims_them,
                     *boost::unit_test::timeout(60)) {
    send_raw(server.port(),
             hpub("hdr.e", "NATS/1.0\r\nB:x\r\nA:   spaced out   \r\nB: y\r\n\r\n", "d"));
    bb::NatsMsg got = conn.next();

    auto fast = bb::read_received_headers(got.get());

    BOOST_TEST_REQUIRE(fast.has_value());
    BOOST_TEST(*fast == (bb::Headers{{"B", "x"}, {"A", "spaced out"}, {"B", "y"}}));
    BOOST_TEST(sorted(*fast) == headers_via_api(got.get()));
}

BOOST_AUTO_TEST_SUITE_END()
