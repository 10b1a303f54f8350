// Recovery, slow clients, echo suppression, client publishes, limits and shutdown.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "broker-bridge/nats_handles.hpp"
#include "integration/edge_fixture.hpp"
#include "integration/edge_ws_client.hpp"
#include "integration/wait.hpp"

using namespace bb::itest;
using nlohmann::json;

namespace {

json since(uint64_t seq, const std::string& epoch) {
    return {{"since", {{"seq", seq}, {"epoch", epoch}}}};
}

json subscribe_command(const std::string& channel, int id, const json& extra = json::object()) {
    json m = {{"op", "subscribe"}, {"id", id}, {"channel", channel}};
    for (auto& [k, v] : extra.items()) m[k] = v;
    return m;
}

// Stores `count` messages on `subject` (n = 1..count).
void fill(EdgeFixture& f, const std::string& subject, int count) {
    for (int n = 1; n <= count; ++n) f.publish_rt(subject, {{"n", n}});
}

// The stream's epoch, read by subscribing a throwaway connection.
std::string epoch_of(EdgeFixture& f) {
    WsClient c(f.port());
    c.connect(f.token("probe"));
    return c.subscribe("chat:probe", 2)["epoch"];
}

int highest_open_fd() {
    int high = 0;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
        high = std::max(high, std::stoi(e.path().filename().string()));
    }
    return high;
}

double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// A TCP connection to the edge that needs one descriptor and no thread; -1 on failure.
int raw_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(edge_recovery, EdgeFixture)

BOOST_AUTO_TEST_CASE(recovery_returns_exactly_the_missed_messages_in_order) {
    start_edge();
    std::string epoch;
    uint64_t last = 0;
    {
        WsClient c(port());
        c.connect(token("42"));
        epoch = c.subscribe("user:42:notifications", 2)["epoch"];
        for (int n = 1; n <= 3; ++n) publish_rt("rt.user.42.notifications", {{"n", n}});
        publish_rt("rt.user.43.notifications", {{"n", 100}});  // another channel, same stream
        auto m = c.next_op("message");
        for (int i = 0; i < 2 && m; ++i) m = c.next_op("message");
        BOOST_TEST_REQUIRE(m.has_value());
        last = (*m)["seq"];
    }
    for (int n = 4; n <= 8; ++n) publish_rt("rt.user.42.notifications", {{"n", n}});
    WsClient c(port());
    c.connect(token("42"));
    json r = c.subscribe("user:42:notifications", 2, since(last, epoch));
    BOOST_TEST(r["recovered"] == true, r.dump());
    BOOST_TEST(read_values(c, 5) == (std::vector<int>{4, 5, 6, 7, 8}),
               boost::test_tools::per_element());
    publish_rt("rt.user.42.notifications", {{"n", 9}});
    BOOST_TEST(read_values(c, 1) == std::vector<int>{9}, boost::test_tools::per_element());
    BOOST_TEST(!c.next(300ms).has_value());  // no duplicate at the hand-over
    BOOST_TEST(metric("broker_bridge_edge_recovery_hits_total") == 1);
}

BOOST_AUTO_TEST_CASE(a_position_from_another_channel_or_epoch_is_not_recovered) {
    start_edge();
    uint64_t foreign = publish_rt("rt.user.43.notifications", {{"n", 1}});
    publish_rt("rt.user.42.notifications", {{"n", 2}});
    WsClient c(port());
    c.connect(token("42"));
    std::string epoch = c.subscribe("user:42:notifications", 2)["epoch"];
    c.send({{"op", "unsubscribe"}, {"id", 3}, {"channel", "user:42:notifications"}});
    BOOST_TEST(c.next_op("unsubscribed")->value("id", 0) == 3);
    json r = c.subscribe("user:42:notifications", 4, since(foreign, epoch));
    BOOST_TEST(r["recovered"] == false, r.dump());
    c.send({{"op", "unsubscribe"}, {"id", 5}, {"channel", "user:42:notifications"}});
    c.next_op("unsubscribed");
    r = c.subscribe("user:42:notifications", 6, since(1, "1234"));
    BOOST_TEST(r["recovered"] == false, r.dump());
    BOOST_TEST(r["seq"] == 2);
    BOOST_TEST(!c.next_op("message", 300ms).has_value());
    BOOST_TEST(metric("broker_bridge_edge_recovery_misses_total") == 2);
}

BOOST_AUTO_TEST_CASE(history_that_no_longer_reaches_back_is_not_recovered) {
    start_edge("", "{max_msgs: 5}");
    WsClient c(port());
    c.connect(token("42"));
    std::string epoch = c.subscribe("user:42:notifications", 2)["epoch"];
    uint64_t seen = publish_rt("rt.user.42.notifications", {{"n", 0}});
    for (int n = 1; n <= 8; ++n) publish_rt("rt.user.42.notifications", {{"n", n}});
    WsClient again(port());
    again.connect(token("42"));
    json r = again.subscribe("user:42:notifications", 2, since(seen, epoch));
    BOOST_TEST(r["recovered"] == false, r.dump());
    BOOST_TEST(r["seq"] == seen + 8);
    BOOST_TEST(!again.next_op("message", 300ms).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(edge_flow, EdgeFixture)

BOOST_AUTO_TEST_CASE(a_slow_client_is_closed_with_4008_while_a_fast_one_keeps_receiving) {
    start_edge("  limits: {send_queue_bytes: 65536}\n");
    WsOptions slow_options;
    slow_options.receive_buffer = 4096;
    WsClient slow(port(), slow_options);
    slow.connect(token("slow"));
    BOOST_TEST_REQUIRE(slow.subscribe("chat:busy", 2)["op"] == "subscribed");
    WsClient fast(port());
    fast.connect(token("fast"));
    BOOST_TEST_REQUIRE(fast.subscribe("chat:busy", 2)["op"] == "subscribed");
    slow.pause_reading();
    const std::string blob(2000, 'x');
    const int total = 2000;
    const int batch = 20;
    // Paced by the fast client, so only the stalled one can fall behind, however loaded the
    // machine is; the stalled one is 4 MB behind at the end, far past its 64 KiB queue.
    std::vector<int> got;
    for (int n = 0; n < total; n += batch) {
        for (int k = n; k < n + batch; ++k) {
            publish_rt("rt.chat.busy", {{"n", k}, {"blob", blob}});
        }
        auto part = read_values(fast, batch);
        got.insert(got.end(), part.begin(), part.end());
        if (part.size() != static_cast<size_t>(batch)) break;
    }
    BOOST_TEST(got.size() == static_cast<size_t>(total));
    bool in_order = std::is_sorted(got.begin(), got.end());
    BOOST_TEST(in_order);
    BOOST_TEST(wait_until(
        [&] { return metric("broker_bridge_edge_disconnects_total{reason=\"slow\"}") >= 1; }, 10s));
    slow.resume_reading();  // what the server had written, then its close frame
    // The server sends close 4008; a client whose socket buffers are full may lose that
    // frame with the connection (1006). The metric above is the server's own account.
    int code = slow.close_code(10s);
    BOOST_TEST((code == 4008 || code == 1006), "close code " << code);
}

BOOST_AUTO_TEST_CASE(echoes_are_skipped_for_the_author_user_and_connection) {
    start_edge();
    WsClient author(port()), other(port());
    std::string author_id = author.connect(token("7"))["client"];
    other.connect(token("8"));
    for (auto* c : {&author, &other}) {
        BOOST_TEST_REQUIRE(c->subscribe("chat:r1", 2)["op"] == "subscribed");
        BOOST_TEST_REQUIRE(c->subscribe("doc:d1", 3)["op"] == "subscribed");
    }
    publish_rt("rt.chat.r1", {{"n", 1}}, "7");                // skip_author: user
    publish_rt("rt.doc.d1", {{"n", 2}}, "7", author_id);      // skip_author: connection
    publish_rt("rt.doc.d1", {{"n", 3}}, "7", "another-tab");  // same user, other connection
    // Order holds per channel; these three arrive on two channels.
    std::vector<int> to_other = read_values(other, 3);
    std::sort(to_other.begin(), to_other.end());
    BOOST_TEST(to_other == (std::vector<int>{1, 2, 3}), boost::test_tools::per_element());
    BOOST_TEST(read_values(author, 1) == std::vector<int>{3}, boost::test_tools::per_element());
    BOOST_TEST(!author.next_op("message", 300ms).has_value());
}

BOOST_AUTO_TEST_CASE(a_client_publish_cannot_forge_its_author) {
    start_edge();
    WsClient c(port());
    std::string client_id = c.connect(token("42"))["client"];
    c.send({{"op", "publish"},
            {"id", 5},
            {"channel", "doc:d9"},
            {"data", {{"text", "hi"}, {"userid", "1"}}},
            {"userid", "1"},
            {"author", "1"}});
    auto r = c.next();
    BOOST_TEST_REQUIRE((*r)["op"] == "published", r->dump());
    BOOST_TEST((*r)["id"] == 5);
    natsMsg* raw = nullptr;
    jsErrCode jerr{};
    BOOST_TEST_REQUIRE(js_GetLastMsg(&raw, client().js(), "EVENTS",
                                     "events.document.DocumentEdited", nullptr, &jerr) == NATS_OK);
    bb::NatsMsg msg(raw);
    BOOST_TEST(std::string(bb::header_value(msg.get(), "ce-userid")) == "42");
    BOOST_TEST(std::string(bb::header_value(msg.get(), "ce-subject")) == "d9");
    BOOST_TEST(std::string(bb::header_value(msg.get(), "Bridge-Connection-Id")) == client_id);
    c.send({{"op", "publish"}, {"id", 6}, {"channel", "chat:r1"}, {"data", json::object()}});
    BOOST_TEST(c.next()->value("code", "") == "forbidden");
}

// `{"amount":1,"amount":100}` means 1 to one parser and 100 to another: the edge refuses it
// naming the key rather than publishing whichever value its parser kept.
BOOST_AUTO_TEST_CASE(a_publish_with_a_repeated_key_is_refused_naming_the_key) {
    start_edge();
    WsClient c(port());
    c.connect(token("42"));
    c.send_text(R"({"op":"publish","id":7,"channel":"doc:d9",)"
                R"("data":{"text":"a","order":{"amount":1,"amount":100}}})");
    auto r = c.next();
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST((*r)["op"] == "error", r->dump());
    BOOST_TEST((*r)["id"] == 7);
    BOOST_TEST((*r)["code"] == "bad_request");
    BOOST_TEST((*r)["message"].get<std::string>().find("repeated key data.order.amount") == 0u,
               r->dump());
    c.send_text(R"({"op":"publish","id":8,"id":9,"channel":"doc:d9","data":{}})");
    BOOST_TEST(c.next()->value("message", "").find("repeated key id") == 0u);

    // Nothing was published, and the connection still serves a well-formed publish.
    c.send({{"op", "publish"}, {"id", 10}, {"channel", "doc:d9"}, {"data", {{"text", "b"}}}});
    auto ok = c.next();
    BOOST_TEST_REQUIRE(ok.has_value());
    BOOST_TEST((*ok)["op"] == "published", ok->dump());
    jsStreamInfo* info = nullptr;
    jsErrCode jerr{};
    BOOST_TEST_REQUIRE(js_GetStreamInfo(&info, client().js(), "EVENTS", nullptr, &jerr) == NATS_OK);
    BOOST_TEST(info->State.Msgs == 1u);
    jsStreamInfo_Destroy(info);
}

BOOST_AUTO_TEST_CASE(an_oversized_message_closes_with_1009) {
    start_edge("  limits: {max_message_size: 4096}\n");
    WsClient c(port());
    c.connect(token("42"));
    c.send({{"op", "subscribe"}, {"id", 2}, {"channel", std::string(5000, 'a')}});
    BOOST_TEST(c.close_code() == 1009);
    BOOST_TEST(wait_until(
        [&] { return metric("broker_bridge_edge_disconnects_total{reason=\"too_big\"}") == 1; },
        5s));
}

BOOST_AUTO_TEST_CASE(graceful_shutdown_sends_shutdown_before_1001) {
    start_edge();
    WsClient c(port());
    c.connect(token("42"));
    BOOST_TEST_REQUIRE(c.subscribe("user:42:notifications", 2)["op"] == "subscribed");
    std::thread stopper([&] { stop_edge(); });
    auto m = c.next_op("shutdown", 5s);
    BOOST_TEST_REQUIRE(m.has_value());
    BOOST_TEST((*m)["reconnect_in_ms"] == 1500);
    BOOST_TEST(c.close_code() == 1001);
    stopper.join();
    BOOST_TEST(!edge().accepting());
}

BOOST_AUTO_TEST_CASE(the_independent_python_client_sees_the_same_contract) {
    start_edge();
    std::string command = "/usr/bin/python3 " BB_SOURCE_DIR
                          "/tests/integration/edge_python_client.py --port " +
                          std::to_string(port()) + " --secret " + kEdgeSecret +
                          " --audience bridge-test --kid k1 2>&1";
    FILE* out = popen(command.c_str(), "r");
    BOOST_TEST_REQUIRE(out != nullptr);
    std::string all;
    char line[4096];
    bool published = false;
    while (fgets(line, sizeof line, out)) {
        all += line;
        if (!published && std::string(line).rfind("subscribed", 0) == 0) {
            publish_rt("rt.user.42.notifications", {{"text", "from the test"}}, "9");
            published = true;
        }
    }
    int status = pclose(out);
    BOOST_TEST(status == 0, all);
    BOOST_TEST(all.find("ok: message seq=") != std::string::npos, all);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(edge_options, EdgeFixture)

BOOST_AUTO_TEST_CASE(compressed_fragmented_messages_arrive_whole_and_inflation_is_bounded) {
    start_edge("  permessage_deflate: true\n  limits: {max_message_size: 65536}\n");
    std::string command = "/usr/bin/python3 " BB_SOURCE_DIR
                          "/tests/integration/edge_python_client.py --port " +
                          std::to_string(port()) + " --secret " + kEdgeSecret +
                          " --audience bridge-test --kid k1 --deflate 2>&1";
    FILE* out = popen(command.c_str(), "r");
    BOOST_TEST_REQUIRE(out != nullptr);
    std::string all;
    char line[4096];
    while (fgets(line, sizeof line, out)) all += line;
    BOOST_TEST(pclose(out) == 0, all);
    BOOST_TEST(all.find("ok: deflate negotiated") != std::string::npos, all);
    BOOST_TEST(all.find("ok: fragmented reply") != std::string::npos, all);
    BOOST_TEST(all.find("ok: inflation bomb closed with 1009") != std::string::npos, all);
}

BOOST_AUTO_TEST_CASE(origins_outside_the_allowed_list_are_refused_at_the_upgrade) {
    start_edge("  allowed_origins: [\"https://app.example\"]\n");
    WsOptions good;
    good.origin = "https://app.example";
    WsClient ok(port(), good);
    BOOST_TEST(ok.connect(token("42"))["op"] == "connected");
    WsOptions bad;
    bad.origin = "https://evil.example";
    BOOST_CHECK_THROW(WsClient(port(), bad), std::exception);
}

BOOST_AUTO_TEST_CASE(new_connections_past_the_rate_are_told_to_retry_later) {
    start_edge("  limits: {new_connections_per_second: 2}\n");
    std::vector<std::unique_ptr<WsClient>> clients;
    int refused = 0;
    for (int i = 0; i < 6; ++i) clients.push_back(std::make_unique<WsClient>(port()));
    for (auto& c : clients) refused += c->close_code(500ms) == 1013;
    BOOST_TEST(refused >= 3);
}

BOOST_AUTO_TEST_CASE(the_token_command_mints_a_token_the_edge_accepts) {
    start_edge();
    std::ofstream(dir() / "token.yaml")
        << "edge:\n  listen: 127.0.0.1:0\n  auth:\n    audience: bridge-test\n    keys:\n"
        << "      - {kid: k1, alg: HS256, secret: \"" << kEdgeSecret << "\"}\n"
        << "  channels:\n    - {pattern: \"chat:{room}\", subject: \"rt.chat.{room}\", "
        << "subscribe: authenticated}\n";
    auto mint = [&](const std::string& claim) {
        std::string command = std::string(BB_BINARY_DIR) + "/bin/broker-bridge token --config " +
                              (dir() / "token.yaml").string() + " --sub 42 --claim '" + claim +
                              "' --ttl 5m";
        FILE* out = popen(command.c_str(), "r");
        BOOST_TEST_REQUIRE(out != nullptr);
        char line[4096] = {};
        BOOST_TEST_REQUIRE(fgets(line, sizeof line, out) != nullptr);
        BOOST_TEST(pclose(out) == 0);
        std::string minted(line);
        minted.erase(minted.find_last_not_of("\n") + 1);
        return minted;
    };
    WsClient c(port());
    BOOST_TEST(c.connect(mint("orgs=7,8"))["op"] == "connected");
    BOOST_TEST(c.subscribe("org:8:presence", 2)["op"] == "subscribed");
    // A --claim cannot replace what --sub, --ttl and the config set.
    std::string forged = std::string(BB_BINARY_DIR) + "/bin/broker-bridge token --config " +
                         (dir() / "token.yaml").string() + " --sub 42 --claim sub=7 2>/dev/null";
    FILE* refused = popen(forged.c_str(), "r");
    BOOST_TEST_REQUIRE(refused != nullptr);
    char ignored[4096] = {};
    BOOST_TEST(fgets(ignored, sizeof ignored, refused) == nullptr);
    BOOST_TEST(WEXITSTATUS(pclose(refused)) == 2);
    // One org needs the JSON form: plain `orgs=9` would be text, and no member of anything.
    WsClient single(port());
    BOOST_TEST(single.connect(mint(R"(orgs=["9"])"))["op"] == "connected");
    BOOST_TEST(single.subscribe("org:9:presence", 2)["op"] == "subscribed");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(edge_backpressure, EdgeFixture)

BOOST_AUTO_TEST_CASE(a_connection_with_four_commands_in_progress_is_answered_limit_at_once) {
    start_edge("  limits: {max_recovery_messages: 100000}\n");
    fill(*this, "rt.chat.big", 2000);
    std::string epoch = epoch_of(*this);
    // Two long replays hold both workers, so the next client's subscribes stay in progress.
    std::vector<std::unique_ptr<WsClient>> blockers;
    for (int i = 0; i < 2; ++i) {
        blockers.push_back(std::make_unique<WsClient>(port()));
        blockers.back()->connect(token("b" + std::to_string(i)));
        blockers.back()->send(subscribe_command("chat:big", 2, since(0, epoch)));
    }
    WsClient c(port());
    c.connect(token("42"));
    for (int i = 0; i < 8; ++i) c.send(subscribe_command("chat:a" + std::to_string(i), 10 + i));
    std::vector<json> replies;
    for (int i = 0; i < 8; ++i) {
        auto r = c.next(20s);
        if (!r) break;
        replies.push_back(*r);
    }
    BOOST_TEST_REQUIRE(replies.size() == 8u);
    for (int i = 0; i < 4; ++i) {  // the refusals come first: they do not wait for a worker
        BOOST_TEST(replies[i].value("code", "") == "limit", replies[i].dump());
        BOOST_TEST(replies[i]["id"] == 14 + i, replies[i].dump());
    }
    for (int i = 4; i < 8; ++i) BOOST_TEST(replies[i]["op"] == "subscribed", replies[i].dump());
    BOOST_TEST(wait_until([&] { return metric("broker_bridge_edge_task_queue") == 0; }, 20s));
}

BOOST_AUTO_TEST_CASE(work_queued_for_clients_that_left_is_skipped) {
    start_edge("  limits: {max_recovery_messages: 100000}\n");
    fill(*this, "rt.chat.big", 2000);
    std::string epoch = epoch_of(*this);
    // One replay alone, for scale.
    auto started = std::chrono::steady_clock::now();
    {
        WsClient one(port());
        one.connect(token("1"));
        BOOST_TEST_REQUIRE(one.subscribe("chat:big", 2, since(0, epoch))["recovered"] == true);
    }
    auto one_replay = std::chrono::steady_clock::now() - started;
    for (int i = 0; i < 6; ++i) {
        WsClient gone(port());
        gone.connect(token("g" + std::to_string(i)));
        gone.send(subscribe_command("chat:big", 2, since(0, epoch)));
        // Answered at once, so the subscribe before it has reached the edge.
        gone.send({{"op", "unsubscribe"}, {"id", 3}, {"channel", "chat:none"}});
        auto answer = gone.next_op("error");
        BOOST_TEST_REQUIRE(answer.has_value());
        BOOST_TEST_REQUIRE(answer->value("code", "") == "not_found");
    }
    BOOST_TEST(wait_until([&] { return metric("broker_bridge_edge_connections") == 0; }, 5s));
    // Six replays on two workers would take three times one replay; skipped, they cost nothing.
    started = std::chrono::steady_clock::now();
    WsClient c(port());
    c.connect(token("42"));
    BOOST_TEST(c.subscribe("chat:other", 2)["op"] == "subscribed");
    auto waited = std::chrono::steady_clock::now() - started;
    BOOST_TEST_MESSAGE("waited " << std::chrono::duration<double>(waited).count() << " s, one "
                                 << std::chrono::duration<double>(one_replay).count() << " s");
    BOOST_TEST((waited < one_replay),
               "waited " << std::chrono::duration<double>(waited).count() << " s, one replay "
                         << std::chrono::duration<double>(one_replay).count() << " s");
    BOOST_TEST(wait_until([&] { return metric("broker_bridge_edge_task_queue") == 0; }, 5s));
}

BOOST_AUTO_TEST_CASE(recovery_on_a_busy_channel_stops_at_the_position_of_the_subscribe) {
    start_edge("  limits: {max_recovery_messages: 1000}\n");
    std::string epoch = epoch_of(*this);
    WsClient c(port());
    c.connect(token("42"));
    for (int round = 0; round < 3; ++round) {
        std::string channel = "chat:busy" + std::to_string(round);
        std::string subject = "rt.chat.busy" + std::to_string(round);
        uint64_t seen = publish_rt(subject, {{"n", 0}});
        fill(*this, subject, 100);
        // Two writers store faster than the edge reads back: a replay that chased them would
        // pass the limit, though only about a hundred were missed when the subscribe came.
        std::atomic<bool> stop{false};
        auto store = [&] {
            for (int n = 0; n < 20000 && !stop.load(); ++n) {
                (void)client().js_publish(subject, bb::Headers{}, json{{"n", n}}.dump(), "");
            }
        };
        std::thread w1(store), w2(store);
        json r = c.subscribe(channel, 10 + round, since(seen, epoch));
        std::vector<uint64_t> seqs;
        while (seqs.size() < 300) {
            auto m = c.next_op("message", 10s);
            if (!m) break;
            seqs.push_back((*m)["seq"].get<uint64_t>());
        }
        stop = true;
        w1.join();
        w2.join();
        BOOST_TEST(r["recovered"] == true, r.dump());
        BOOST_TEST_REQUIRE(seqs.size() == 300u);
        std::vector<uint64_t> expected(300);
        std::iota(expected.begin(), expected.end(), seen + 1);  // no gap, no duplicate
        BOOST_TEST(seqs == expected, boost::test_tools::per_element());
        c.send({{"op", "unsubscribe"}, {"id", 20 + round}, {"channel", channel}});
        BOOST_TEST_REQUIRE(c.next_op("unsubscribed", 10s).has_value());
    }
}

BOOST_AUTO_TEST_CASE(running_out_of_descriptors_backs_off_instead_of_spinning) {
    start_edge();
    rlimit old{};
    BOOST_TEST_REQUIRE(getrlimit(RLIMIT_NOFILE, &old) == 0);
    rlimit tight = old;
    tight.rlim_cur = static_cast<rlim_t>(highest_open_fd() + 16);
    BOOST_TEST_REQUIRE(setrlimit(RLIMIT_NOFILE, &tight) == 0);
    std::vector<int> filler;
    for (int i = 0; i < 4096; ++i) {  // every free number below the limit
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) break;
        filler.push_back(fd);
    }
    bool exhausted = errno == EMFILE;
    if (!filler.empty()) {
        close(filler.back());  // the one descriptor the client connection takes
        filler.pop_back();
    }
    int waiting = raw_connect(port());  // completed by the kernel, waits in the backlog
    auto started = std::chrono::steady_clock::now();
    double cpu_before = cpu_seconds();
    bool failed =
        wait_until([&] { return metric("broker_bridge_edge_accept_errors_total") >= 4; }, 5s, 20ms);
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    double cpu = cpu_seconds() - cpu_before;
    for (int fd : filler) close(fd);
    setrlimit(RLIMIT_NOFILE, &old);  // restored before any check can end the test
    BOOST_TEST_REQUIRE(exhausted);
    BOOST_TEST_REQUIRE(waiting >= 0);
    BOOST_TEST(failed, "accept errors " << metric("broker_bridge_edge_accept_errors_total"));
    BOOST_TEST(elapsed >= 0.25, "four failures need three back-offs; took " << elapsed << " s");
    BOOST_TEST(cpu < 0.5 * elapsed, "cpu " << cpu << " s in " << elapsed << " s");
    WsClient c(port());  // with descriptors back, connections are accepted again
    BOOST_TEST(c.connect(token("42"))["op"] == "connected");
    close(waiting);
}

BOOST_AUTO_TEST_SUITE_END()
