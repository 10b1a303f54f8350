#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <array>
#include <string_view>

// The edge's metrics, registered on the daemon's registry (bb::Metrics::registry()):
//   broker_bridge_edge_connections                    open WebSocket connections
//   broker_bridge_edge_subscriptions                  channel subscriptions of all clients
//   broker_bridge_edge_nats_subscriptions             NATS subscriptions (one per subject)
//   broker_bridge_edge_messages_out_total             messages written to clients
//   broker_bridge_edge_bytes_out_total                payload bytes written to clients
//   broker_bridge_edge_frames_out_total               frames written (a frame batches messages)
//   broker_bridge_edge_dropped_messages_total         queued messages dropped with a slow client
//   broker_bridge_edge_disconnects_total{reason}      closes by reason
//   broker_bridge_edge_refusals_total{reason}         refused connections and commands
//   broker_bridge_edge_recovery_hits_total            positions recovered without a gap
//   broker_bridge_edge_recovery_misses_total          positions refused: the client resyncs
//   broker_bridge_edge_task_queue                     NATS tasks waiting for a worker
//   broker_bridge_edge_accept_errors_total            accepts failed for want of descriptors
// Every accessor is thread-safe and allocation-free.
namespace bb::edge {

inline constexpr std::array<std::string_view, 13> kDisconnectReasons{
    "client",   "unauthorized", "token_expired", "slow",     "rate_limited", "too_big",
    "shutdown", "capacity",     "limit",         "protocol", "error",        "forbidden",
    "disabled"};
inline constexpr std::array<std::string_view, 9> kRefusalReasons{
    "origin",      "capacity",  "rate",         "address", "user",
    "bad_channel", "forbidden", "unauthorized", "limit"};

class EdgeMetrics {
public:
    explicit EdgeMetrics(prometheus::Registry& registry);

    prometheus::Gauge& connections() { return connections_; }
    prometheus::Gauge& subscriptions() { return subscriptions_; }
    prometheus::Gauge& nats_subscriptions() { return nats_subscriptions_; }
    prometheus::Counter& messages_out() { return messages_out_; }
    prometheus::Counter& bytes_out() { return bytes_out_; }
    prometheus::Counter& frames_out() { return frames_out_; }
    prometheus::Counter& dropped() { return dropped_; }
    prometheus::Counter& recovery_hits() { return recovery_hits_; }
    prometheus::Counter& recovery_misses() { return recovery_misses_; }
    prometheus::Counter& live_fills() { return live_fills_; }
    prometheus::Gauge& task_queue() { return task_queue_; }
    prometheus::Counter& accept_errors() { return accept_errors_; }
    // `reason` must be one of kDisconnectReasons / kRefusalReasons (else: "error").
    prometheus::Counter& disconnects(std::string_view reason);
    prometheus::Counter& refusals(std::string_view reason);

private:
    prometheus::Gauge& connections_;
    prometheus::Gauge& subscriptions_;
    prometheus::Gauge& nats_subscriptions_;
    prometheus::Counter& messages_out_;
    prometheus::Counter& bytes_out_;
    prometheus::Counter& frames_out_;
    prometheus::Counter& dropped_;
    prometheus::Counter& recovery_hits_;
    prometheus::Counter& recovery_misses_;
    prometheus::Counter& live_fills_;
    prometheus::Gauge& task_queue_;
    prometheus::Counter& accept_errors_;
    std::array<prometheus::Counter*, kDisconnectReasons.size()> disconnects_{};
    std::array<prometheus::Counter*, kRefusalReasons.size()> refusals_{};
};

}  // namespace bb::edge
