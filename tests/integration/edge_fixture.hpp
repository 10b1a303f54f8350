#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string>

#include "broker-bridge/config.hpp"
#include "broker-bridge/edge/edge_server.hpp"
#include "broker-bridge/metrics.hpp"
#include "broker-bridge/nats_client.hpp"
#include "integration/nats_server.hpp"

// A real nats-server, the streams, and the edge running in this process on real sockets
// (loopback, a port the kernel picks), configured from YAML the test may extend.
namespace bb::itest {

inline constexpr const char* kEdgeSecret = "edge-test-secret-0123456789abcdef";

class EdgeFixture {
public:
    EdgeFixture();
    ~EdgeFixture();

    // `edge_yaml` is appended inside `edge:` (indented two spaces); `streams_yaml` replaces
    // the streams section's realtime entry when given; `auth_yaml` is appended after the
    // HS256 key k1 (more keys indented six spaces, or auth keys such as `    issuer: x`).
    void start_edge(const std::string& edge_yaml = "", const std::string& realtime_yaml = "",
                    const std::string& auth_yaml = "");
    void stop_edge();  // graceful shutdown
    int port() const { return edge_->port(); }
    bb::edge::Edge& edge() { return *edge_; }

    // An HS256 token for `sub`, valid for `ttl_s` seconds, with extra claims.
    std::string token(const std::string& sub, const nlohmann::json& extra = {},
                      int64_t ttl_s = 300);
    // Publishes straight to stream RT as the router would; returns the stream sequence.
    uint64_t publish_rt(const std::string& subject, const nlohmann::json& data,
                        const std::string& author = "", const std::string& connection_id = "");
    // A metric's value from the text exposition ("name" or "name{labels}"), -1 when absent.
    double metric(const std::string& name_and_labels) const;

    const NatsClient& client() const { return *client_; }
    NatsServer& server() { return server_; }
    const Config& config() const { return config_; }
    std::filesystem::path dir() const { return dir_; }

private:
    NatsServer server_;
    std::filesystem::path dir_;
    std::unique_ptr<NatsClient> client_;
    Config config_;
    std::unique_ptr<Metrics> metrics_;
    std::unique_ptr<bb::edge::Edge> edge_;
};

}  // namespace bb::itest
