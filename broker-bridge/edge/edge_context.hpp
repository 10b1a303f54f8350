#pragma once

#include <string>

#include "broker-bridge/edge/channel_rules.hpp"
#include "broker-bridge/edge/connection_limits.hpp"
#include "broker-bridge/edge/edge_metrics.hpp"
#include "broker-bridge/edge/stream_reader.hpp"
#include "broker-bridge/edge/subscription_hub.hpp"
#include "broker-bridge/edge/task_pool.hpp"
#include "broker-bridge/edge/token_verifier.hpp"
#include "broker-bridge/edge_config.hpp"
#include "broker-bridge/nats_client.hpp"

// What every connection of every event loop shares. Owned by Edge, which keeps it alive
// until the last loop has stopped; each member is immutable or thread-safe.
namespace bb::edge {

class PresenceReporter;
class SnapshotReader;

struct EdgeContext {
    const EdgeConfig& config;
    const ChannelRules& rules;
    const TokenVerifier& verifier;
    const NatsClient& nats;
    std::string events_prefix;  // client publishes go to <prefix>.<aggregate>.<type>
    StreamReader& reader;
    SubscriptionHub& hub;
    TaskPool& pool;
    ConnectionLimits& limits;
    EdgeMetrics& metrics;
    PresenceReporter* presence = nullptr;  // null unless edge.presence is configured
    SnapshotReader* snapshots = nullptr;   // likewise
};

}  // namespace bb::edge
