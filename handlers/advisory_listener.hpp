#pragma once

#include <atomic>
#include <map>
#include <string>
#include <thread>

#include "broker-bridge/config.hpp"
#include "broker-bridge/metrics.hpp"
#include "broker-bridge/nats_client.hpp"

namespace bb::handlers {

// Dead-letters events whose handler never answered on any delivery (it crashed the process
// each time): JetStream gives up after MaxDeliver and sends a max-deliveries advisory, which
// the advisories stream keeps, so the advisory is handled even when no host was running at
// the moment it was sent. One listener per stream that bindings consume (EVENTS, and
// PRESENCE when a binding runs on it), each one durable consumer per group on the
// advisories stream: nats-server 2.9 takes a single filter subject per consumer. Advisories
// for consumers outside this process's bindings are left to the process that owns them.
//
// Owned by the handler host; one thread; stop() joins it.
class AdvisoryListener {
public:
    struct Target {
        std::string binding;
        std::string plugin;
    };

    // `stream`: the stream whose consumers' advisories it handles; `targets`: durable
    // consumer name (on that stream) -> its binding and plugin.
    AdvisoryListener(const Config& config, const NatsClient& nats, Metrics& metrics,
                     std::string stream, std::map<std::string, Target> targets);

    // The listener's own consumer on the advisories stream: `bridge_advisories_<group>` for
    // the events stream (the name earlier builds used), `..._<stream>` for any other.
    static std::string durable_for(const Config& config, const std::string& stream);
    ~AdvisoryListener();

    void start();  // throws StartupError when the consumer cannot be made
    void stop();

private:
    void loop();
    // True when the advisory is handled (or is not ours) and may be acknowledged.
    bool handle(natsMsg* advisory);

    const Config& config_;
    const NatsClient& nats_;
    Metrics& metrics_;
    const std::string stream_;
    std::map<std::string, Target> targets_;
    NatsSubscription sub_;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

}  // namespace bb::handlers
