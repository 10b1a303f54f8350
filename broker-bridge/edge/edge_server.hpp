#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "broker-bridge/config.hpp"
#include "broker-bridge/metrics.hpp"
#include "broker-bridge/nats_client.hpp"

// The WebSocket edge: `edge.threads` event loops on one address and port, a shared
// subscription hub over NATS, worker threads for stream reads and client publishes.
//
// Owned by the command that runs it (run or edge), on the main thread. `nats` and `metrics`
// must outlive it. Call use_shared_delivery_threads() (subscription_hub.hpp) before the
// process makes its first NATS call.
namespace bb::edge {

class EventLoop;
struct EdgeParts;

// Logs loudly that edge.dev_tokens is on (any user's token for the asking); no-op when off.
// Called when the edge starts and by check-config.
void warn_about_dev_tokens(const Config& config);

class Edge {
public:
    // Compiles the channel rules and key set; throws ConfigError for a mistake there.
    Edge(const Config& config, const NatsClient& nats, Metrics& metrics);
    ~Edge();
    Edge(const Edge&) = delete;
    Edge& operator=(const Edge&) = delete;

    // Reads stream RT (its epoch), binds the listening sockets and starts the loops. Throws
    // StartupError when RT cannot be read or the address cannot be bound.
    void start();
    // The port bound (the real one when edge.listen asked for port 0).
    int port() const { return port_; }
    // True between start() and shutdown(): for /readyz.
    bool accepting() const { return accepting_.load(); }
    size_t connections() const;

    // Graceful stop: refuses new connections, sends every client `shutdown` and closes it
    // with 1001, waits up to edge.drain_timeout for the closes, then stops the loops.
    void shutdown();

private:
    void start_presence();
    void stop_loops();

    const Config& config_;
    std::unique_ptr<EdgeParts> parts_;
    std::vector<std::unique_ptr<EventLoop>> loops_;
    int port_ = 0;
    std::atomic<bool> accepting_{false};
};

}  // namespace bb::edge
