#include "integration/presence_cluster.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "broker-bridge/edge/token_verifier.hpp"
#include "broker-bridge/envelope.hpp"
#include "integration/wait.hpp"

namespace bb::itest {
namespace {

constexpr const char* kSecret = "presence-test-secret-0123456789abcdef";

// A port the kernel just handed out on loopback; the edge binds it a moment later.
int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    close(fd);
    return ntohs(addr.sin_port);
}

std::string common(const std::string& url, const std::string& group) {
    std::ostringstream out;
    out << "nats:\n  url: " << url << "\n  reconnect_wait: 50ms\n  reconnect_wait_max: 200ms\n"
        << "streams:\n  presence: {max_age: 1m, duplicate_window: 30s}\n"
        << "buckets:\n  - {name: presence}\n"
        << "log:\n  level: info\n"
        << "plugins:\n  path: [" << BB_PLUGIN_DIR << "]\n"
        << "handlers:\n  group: " << group << "\n  ack_margin: 500ms\n  fetch_wait: 500ms\n"
        << "  shutdown_timeout: 3s\n";
    return out.str();
}

std::string edge_section(int port, const std::string& node) {
    std::ostringstream out;
    out << "edge:\n  listen: 127.0.0.1:" << port << "\n  drain_timeout: 2s\n"
        << "  auth:\n    audience: bridge-test\n    leeway: 1s\n    keys:\n"
        << "      - {kid: k1, alg: HS256, secret: \"" << kSecret << "\"}\n"
        << "  presence:\n    node_id: " << node << "\n    heartbeat_interval: " << kHeartbeatMs
        << "ms\n"
        << "  channels:\n"
        << "    - pattern: \"org:{org}:presence\"\n"
        << "      subject: \"rt.org.{org}.presence\"\n"
        << "      subscribe: \"{org} in orgs\"\n"
        << "      snapshot: \"org.{org}\"\n";
    return out.str();
}

std::string host_bindings() {
    std::ostringstream out;
    out << "bindings:\n"
        << "  - name: presence\n    plugin: presence\n    stream: presence\n"
        << "    subjects: [\"presence.node.>\"]\n    ordering: per-aggregate\n"
        << "    concurrency: 8\n    timeout: 5s\n"
        << "    backoff: {initial: 50ms, factor: 2, max: 500ms, jitter: 0.1}\n"
        << "    publish_prefixes: [\"rt.org.>\", \"presence.control.>\"]\n"
        << "    config: {missed_heartbeats: " << kMissedHeartbeats
        << ", check_interval: " << kCheckMs << "ms}\n"
        << "  - name: presence-users\n    plugin: presence\n"
        << "    subjects: [\"events.user.UserDeactivated\"]\n    timeout: 5s\n"
        << "    backoff: {initial: 50ms, factor: 2, max: 500ms, jitter: 0.1}\n"
        << "    publish_prefixes: [\"rt.org.>\", \"presence.control.>\"]\n"
        << "    config: {check_interval: 0ms}\n";
    return out.str();
}

}  // namespace

PresenceView::PresenceView(std::unique_ptr<WsClient> client, const std::string& channel)
    : client_(std::move(client)), channel_(channel) {
    auto sub = client_->subscribe(channel_, 2);
    BOOST_TEST_REQUIRE(sub.value("op", "") == "subscribed", "subscribe answered " << sub.dump());
    auto snapshot = client_->next_op("snapshot", std::chrono::seconds(5));
    BOOST_TEST_REQUIRE(snapshot.has_value(), "no snapshot after subscribed");
    apply(*snapshot);
}

void PresenceView::apply(const nlohmann::json& m) {
    std::string op = m.value("op", "");
    if (op == "snapshot") {
        snapshot_seq_ = last_seq_ = m.value("seq", uint64_t{0});
        users_.clear();
        const nlohmann::json users = m["data"].value("users", nlohmann::json::object());
        for (const auto& [user, state] : users.items()) users_[user] = state.value("status", "");
        return;
    }
    if (op != "message" || m.value("channel", "") != channel_) return;
    uint64_t seq = m.value("seq", uint64_t{0});
    BOOST_TEST(seq > last_seq_, "messages out of order: " << seq << " after " << last_seq_);
    last_seq_ = seq;
    const auto& d = m["data"];
    std::string status = d.value("status", "");
    if (status == "offline") {
        users_.erase(d.value("user", ""));
    } else {
        users_[d.value("user", "")] = status;
    }
}

void PresenceView::pump(std::chrono::milliseconds wait) {
    auto m = client_->next(wait);
    while (m) {
        apply(*m);
        m = client_->next(std::chrono::milliseconds(0));
    }
}

bool PresenceView::converges_to(const std::map<std::string, std::string>& expected,
                                std::chrono::milliseconds within) {
    auto deadline = std::chrono::steady_clock::now() + within;
    while (true) {
        if (users_ == expected) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        pump(std::chrono::milliseconds(20));
    }
}

std::string PresenceView::describe() const {
    std::string out = "{";
    for (const auto& [u, s] : users_) out += u + ":" + s + " ";
    return out + "}";
}

PresenceCluster::PresenceCluster() {
    char tmpl[] = "/tmp/bb-presence-itest-XXXXXX";
    dir_ = mkdtemp(tmpl);
    NatsConfig nc;
    nc.url = server_.url();
    client_ = std::make_unique<NatsClient>(NatsClient::connect(nc, "presence-itest"));
    BOOST_TEST_REQUIRE(client_->wait_connected(std::chrono::seconds(10)));
    port_a_ = free_port();
    port_b_ = free_port();
    write_config("host.yaml", common(server_.url(), "presence_host") + host_bindings());
    write_config("a.yaml", common(server_.url(), "edge_a") + edge_section(port_a_, "node-a"));
    write_config("b.yaml", common(server_.url(), "edge_b") + edge_section(port_b_, "node-b"));
    edge_config_ = load_config(dir_ / "a.yaml");
    host_ = std::make_unique<BridgeProcess>(dir_ / "host.yaml", dir_ / "host.log");
    BOOST_TEST_REQUIRE(host_->start(), "handler host not ready:\n" << host_->log_text());
    edge_a_ = std::make_unique<BridgeProcess>(dir_ / "a.yaml", dir_ / "a.log");
    BOOST_TEST_REQUIRE(edge_a_->start(), "edge a not ready:\n" << edge_a_->log_text());
    edge_b_ = std::make_unique<BridgeProcess>(dir_ / "b.yaml", dir_ / "b.log");
    BOOST_TEST_REQUIRE(edge_b_->start(), "edge b not ready:\n" << edge_b_->log_text());
}

PresenceCluster::~PresenceCluster() {
    edge_a_.reset();
    edge_b_.reset();
    host_.reset();
    client_.reset();
    std::error_code ec;
    // BB_KEEP=1 keeps the configs and daemon logs for a look after a failure.
    if (!std::getenv("BB_KEEP")) std::filesystem::remove_all(dir_, ec);
}

void PresenceCluster::write_config(const std::string& name, const std::string& body) {
    std::ofstream(dir_ / name) << body;
}

std::string PresenceCluster::token(const std::string& user, const std::vector<std::string>& orgs) {
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    nlohmann::json claims = {
        {"sub", user}, {"iat", now}, {"exp", now + 600}, {"aud", "bridge-test"}, {"orgs", orgs}};
    auto t = bb::edge::mint_dev_token(edge_config_.edge->auth, claims);
    BOOST_TEST_REQUIRE(t.ok());
    return *t;
}

std::unique_ptr<WsClient> PresenceCluster::connect(char node, const std::string& user,
                                                   const std::vector<std::string>& orgs) {
    auto c = std::make_unique<WsClient>(port(node));
    auto r = c->connect(token(user, orgs));
    BOOST_TEST_REQUIRE(r.value("op", "") == "connected", user << " not connected: " << r.dump());
    return c;
}

std::unique_ptr<PresenceView> PresenceCluster::watch(char node, const std::string& org,
                                                     const std::string& as) {
    return std::make_unique<PresenceView>(connect(node, as, {org}), "org:" + org + ":presence");
}

void PresenceCluster::publish_event(const std::string& type, const std::string& aggregate_type,
                                    const std::string& aggregate_id, const nlohmann::json& data) {
    static int counter = 0;
    Event e;
    e.id = "presence-itest-" + std::to_string(++counter) + "-" + aggregate_id;
    e.type = type;
    e.source = "itest";
    e.subject = aggregate_id;
    e.aggregate_type = aggregate_type;
    e.correlation_id = e.id;
    e.time = "2026-12-01T08:00:00Z";
    e.format = DataFormat::kJson;
    e.data = data.dump();
    auto wire = encode(e, "events");
    BOOST_TEST_REQUIRE(wire.ok());
    auto seq = client_->js_publish(wire->subject, wire->headers, wire->body, e.id);
    BOOST_TEST_REQUIRE(seq.ok(), (seq.ok() ? "" : seq.error().what));
}

std::string PresenceCluster::logs() {
    return "--- host\n" + host_->log_text() + "--- edge a\n" + edge_a_->log_text() +
           "--- edge b\n" + edge_b_->log_text();
}

}  // namespace bb::itest
