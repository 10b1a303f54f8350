// An edge process SIGKILLed and restarted on the same port while messages flow on three
// channels: the client reconnects, resubscribes each channel with `since` (the last seq and
// epoch it saw), and ends with every message of every channel exactly once and in order.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "broker-bridge/config.hpp"
#include "broker-bridge/edge/token_verifier.hpp"
#include "broker-bridge/nats_client.hpp"
#include "broker-bridge/provisioner.hpp"
#include "integration/edge_ws_client.hpp"
#include "integration/fault_support.hpp"
#include "integration/free_port.hpp"
#include "integration/nats_server.hpp"
#include "integration/wait.hpp"

using namespace bb::itest;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr const char* kSecret = "fault-test-secret-0123456789abcdef";
constexpr int kChannels = 3;

std::string edge_config(const std::string& url, int port) {
    return "nats:\n  url: " + url +
           "\n  reconnect_wait: 50ms\n  reconnect_wait_max: 200ms\n"
           "log:\n  level: info\n"
           "edge:\n  listen: 127.0.0.1:" +
           std::to_string(port) +
           "\n  drain_timeout: 1s\n"
           "  limits: { max_recovery_messages: 100000 }\n"
           "  auth:\n    audience: bridge-test\n    keys:\n"
           "      - {kid: k1, alg: HS256, secret: \"" +
           kSecret +
           "\"}\n"
           "  channels:\n"
           "    - pattern: \"chat:{room}\"\n"
           "      subject: \"rt.chat.{room}\"\n"
           "      subscribe: authenticated\n";
}

// What the client knows of one channel: its position and every value it received.
struct ChannelLog {
    uint64_t seq = 0;
    std::string epoch;
    std::vector<int> values;
};

std::string room(int c) { return "room-" + std::to_string(c); }

// A client that keeps reading and, when the connection drops, reconnects and resubscribes
// every channel from its last position.
class RecoveringClient {
public:
    RecoveringClient(int port, std::string token) : port_(port), token_(std::move(token)) {}

    // Connects (retrying while the edge is down) and subscribes each channel with `since`
    // once a position is known; false when that does not work out by the deadline.
    bool join(std::chrono::milliseconds within) {
        return wait_until([&] { return try_join(); }, within, 50ms);
    }
    // Reads one message into its channel's log; false when the connection is gone.
    bool read_one(std::chrono::milliseconds timeout) {
        auto m = ws_->next_op("message", timeout);
        if (!m) return ws_->close_code(10ms) == -1;  // quiet but open: keep going
        record(*m);
        return true;
    }
    size_t received() const {
        size_t n = 0;
        for (const auto& [name, log] : channels_) n += log.values.size();
        return n;
    }
    const std::map<std::string, ChannelLog>& channels() const { return channels_; }
    int rejoins() const { return joins_ - 1; }
    int recovered() const { return recovered_; }
    const std::string& last_error() const { return last_error_; }

private:
    bool try_join() {
        try {
            ws_ = std::make_unique<WsClient>(port_);
        } catch (const std::exception&) {
            return false;  // the edge is not listening yet
        }
        json hello = ws_->connect(token_);
        if (hello.value("op", "") != "connected") {
            last_error_ = "connect: " + hello.dump();
            return false;
        }
        // Recovered messages of one channel may arrive before the next channel's reply.
        int id = 2;
        for (int c = 0; c < kChannels; ++c) {
            std::string name = "chat:" + room(c);
            json command = {{"op", "subscribe"}, {"id", id++}, {"channel", name}};
            const ChannelLog& log = channels_[name];
            if (!log.epoch.empty()) command["since"] = {{"seq", log.seq}, {"epoch", log.epoch}};
            ws_->send(command);
        }
        for (int replies = 0; replies < kChannels;) {
            auto m = ws_->next(5s);
            if (!m) {
                last_error_ = "no reply to a subscribe";
                return false;
            }
            std::string op = m->value("op", "");
            if (op == "message") {
                record(*m);
                continue;
            }
            if (op != "subscribed") {
                last_error_ = "subscribe: " + m->dump();
                return false;
            }
            ++replies;
            if (m->value("recovered", false)) ++recovered_;
        }
        ++joins_;
        return true;
    }

    void record(const json& m) {
        ChannelLog& log = channels_[m["channel"].get<std::string>()];
        log.seq = m["seq"].get<uint64_t>();
        log.epoch = m["epoch"].get<std::string>();
        log.values.push_back(m["data"]["n"].get<int>());
    }

    int port_;
    std::string token_;
    std::unique_ptr<WsClient> ws_;
    std::map<std::string, ChannelLog> channels_;
    int joins_ = 0;
    int recovered_ = 0;
    std::string last_error_;
};

std::vector<int> one_to(int count) {
    std::vector<int> out;
    for (int n = 1; n <= count; ++n) out.push_back(n);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(faults)

BOOST_AUTO_TEST_CASE(clients_of_a_killed_edge_recover_every_message_once_and_in_order) {
    const int per_channel = static_cast<int>(env_number("BB_FAULT_EDGE_MESSAGES", 600));
    const int kills = static_cast<int>(env_number("BB_FAULT_EDGE_KILLS", 2));
    NatsServer server;
    TempFolder dir("bb-itest-faults-edge");
    int port = free_loopback_port();
    write_file(dir.path / "edge.yaml", edge_config(server.url(), port));
    bb::Config config = bb::load_config(dir.path / "edge.yaml");
    bb::NatsClient client = bb::NatsClient::connect(config.nats, "faults-itest");
    BOOST_TEST_REQUIRE(client.wait_connected(10s));
    bb::ensure_stream(client.js(), config.realtime);
    BridgeProcess edge(dir.path / "edge.yaml", dir.path / "edge.log", "edge");
    BOOST_TEST_REQUIRE(edge.start(20s), tail(edge.log_text()));

    auto claims = json{{"sub", "reader"}, {"exp", std::time(nullptr) + 600}};
    auto token = bb::edge::mint_dev_token(config.edge->auth, claims);
    BOOST_TEST_REQUIRE(token.ok());
    RecoveringClient reader(port, *token);
    BOOST_TEST_REQUIRE(reader.join(10s));

    // A steady producer on three channels, as the router would publish, kept going through
    // the kills.
    std::atomic<int> publish_failures{0};
    std::jthread producer([&] {
        for (int n = 1; n <= per_channel; ++n) {
            for (int c = 0; c < kChannels; ++c) {
                json data = {{"n", n}};
                if (!client.js_publish("rt.chat." + room(c), {}, data.dump(), "").ok()) {
                    ++publish_failures;
                }
            }
            std::this_thread::sleep_for(2ms);  // the producer's rate
        }
    });

    const size_t total = static_cast<size_t>(per_channel) * kChannels;
    std::vector<int64_t> recovery_ms;
    int done_kills = 0;
    Stopwatch clock;
    while (reader.received() < total && clock.ms() < 120000) {
        size_t next_kill = total * static_cast<size_t>(done_kills + 1) / (kills + 1);
        if (done_kills < kills && reader.received() >= next_kill) {
            Stopwatch since_kill;
            edge.kill_now();
            ++done_kills;
            BOOST_TEST_REQUIRE(edge.start(20s), tail(edge.log_text()));
            BOOST_TEST_REQUIRE(reader.join(20s), "no rejoin after kill " << done_kills << ": "
                                                                         << reader.last_error());
            recovery_ms.push_back(since_kill.ms());
            continue;
        }
        if (!reader.read_one(5s)) {
            BOOST_TEST_REQUIRE(reader.join(20s),
                               "no rejoin after a lost connection: " << reader.last_error());
        }
    }
    producer.join();

    int64_t losses = 0;
    int64_t duplicates = 0;
    for (int c = 0; c < kChannels; ++c) {
        auto found = reader.channels().find("chat:" + room(c));
        BOOST_TEST_REQUIRE((found != reader.channels().end()));
        const auto& values = found->second.values;
        std::set<int> distinct(values.begin(), values.end());
        losses += per_channel - static_cast<int64_t>(distinct.size());
        duplicates += static_cast<int64_t>(values.size() - distinct.size());
        BOOST_TEST(values == one_to(per_channel), room(c) << ": not every message once, in order");
    }
    int64_t slowest =
        recovery_ms.empty() ? 0 : *std::max_element(recovery_ms.begin(), recovery_ms.end());
    std::ostringstream fig;
    fig << "messages=" << total << " channels=" << kChannels << " kills=" << done_kills
        << " rejoins=" << reader.rejoins() << " recovered_subscriptions=" << reader.recovered()
        << " losses=" << losses << " duplicates=" << duplicates << " max_recovery_ms=" << slowest
        << " total_ms=" << clock.ms();
    print_figures("edge-kill", fig.str());
    BOOST_TEST(publish_failures.load() == 0);
    BOOST_TEST(done_kills == kills);
    BOOST_TEST(losses == 0);
    BOOST_TEST(duplicates == 0);
    BOOST_TEST(reader.recovered() >= kills * kChannels);
}

BOOST_AUTO_TEST_SUITE_END()
