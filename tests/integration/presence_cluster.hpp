#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "broker-bridge/config.hpp"
#include "broker-bridge/nats_client.hpp"
#include "integration/bridge_process.hpp"
#include "integration/edge_ws_client.hpp"
#include "integration/nats_server.hpp"

// Presence across nodes, as deployed: one nats-server, a handler host running the presence
// plugin, and two edge processes (nodes "a" and "b"), each the real daemon.
namespace bb::itest {

// Short intervals so a lost node is noticed in well under a second.
inline constexpr int kHeartbeatMs = 200;
inline constexpr int kMissedHeartbeats = 3;
inline constexpr int kCheckMs = 100;

// What one subscriber of org:<org>:presence believes: the snapshot, then each change.
class PresenceView {
public:
    PresenceView(std::unique_ptr<WsClient> client, const std::string& channel);
    // Reads what has arrived (waiting at most `wait` for the first message).
    void pump(std::chrono::milliseconds wait);
    // Pumps until the view equals `expected` or the deadline passes.
    bool converges_to(const std::map<std::string, std::string>& expected,
                      std::chrono::milliseconds within);
    const std::map<std::string, std::string>& users() const { return users_; }
    uint64_t snapshot_seq() const { return snapshot_seq_; }
    std::string describe() const;

private:
    void apply(const nlohmann::json& message);

    std::unique_ptr<WsClient> client_;
    std::string channel_;
    std::map<std::string, std::string> users_;  // user -> online | away
    uint64_t snapshot_seq_ = 0;
    uint64_t last_seq_ = 0;
};

class PresenceCluster {
public:
    PresenceCluster();
    ~PresenceCluster();

    int port(char node) const { return node == 'a' ? port_a_ : port_b_; }
    BridgeProcess& edge(char node) { return node == 'a' ? *edge_a_ : *edge_b_; }
    std::string token(const std::string& user, const std::vector<std::string>& orgs);
    // A connected client of `user` on `node`; fails the test when the connect is refused.
    std::unique_ptr<WsClient> connect(char node, const std::string& user,
                                      const std::vector<std::string>& orgs = {"7"});
    // A subscriber of org:<org>:presence on `node` (as user `as`, a member of the org).
    std::unique_ptr<PresenceView> watch(char node, const std::string& org = "7",
                                        const std::string& as = "observer");
    void publish_event(const std::string& type, const std::string& aggregate_type,
                       const std::string& aggregate_id, const nlohmann::json& data);
    std::string logs();

private:
    void write_config(const std::string& name, const std::string& body);

    NatsServer server_;
    std::filesystem::path dir_;
    std::unique_ptr<NatsClient> client_;
    Config edge_config_;  // for tokens
    int port_a_ = 0, port_b_ = 0;
    std::unique_ptr<BridgeProcess> host_, edge_a_, edge_b_;
};

}  // namespace bb::itest
