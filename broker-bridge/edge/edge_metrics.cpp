#include "broker-bridge/edge/edge_metrics.hpp"

#include <string>

namespace bb::edge {
namespace {

template <typename T>
T& single(prometheus::Registry& r, const std::string& name, const std::string& help) {
    return prometheus::detail::Builder<T>().Name(name).Help(help).Register(r).Add({});
}

template <size_t N>
size_t index_of(const std::array<std::string_view, N>& set, std::string_view value,
                std::string_view fallback) {
    for (size_t i = 0; i < N; ++i) {
        if (set[i] == value) return i;
    }
    for (size_t i = 0; i < N; ++i) {
        if (set[i] == fallback) return i;
    }
    return 0;
}

}  // namespace

EdgeMetrics::EdgeMetrics(prometheus::Registry& r)
    : connections_(single<prometheus::Gauge>(r, "broker_bridge_edge_connections",
                                             "Open WebSocket connections.")),
      subscriptions_(single<prometheus::Gauge>(r, "broker_bridge_edge_subscriptions",
                                               "Channel subscriptions of all clients.")),
      nats_subscriptions_(single<prometheus::Gauge>(r, "broker_bridge_edge_nats_subscriptions",
                                                    "NATS subscriptions, one per subject.")),
      messages_out_(single<prometheus::Counter>(r, "broker_bridge_edge_messages_out_total",
                                                "Messages written to clients.")),
      bytes_out_(single<prometheus::Counter>(r, "broker_bridge_edge_bytes_out_total",
                                             "Payload bytes written to clients.")),
      frames_out_(single<prometheus::Counter>(r, "broker_bridge_edge_frames_out_total",
                                              "WebSocket frames written to clients.")),
      dropped_(single<prometheus::Counter>(r, "broker_bridge_edge_dropped_messages_total",
                                           "Queued messages dropped with a slow client.")),
      recovery_hits_(single<prometheus::Counter>(r, "broker_bridge_edge_recovery_hits_total",
                                                 "Positions recovered without a gap.")),
      recovery_misses_(single<prometheus::Counter>(
          r, "broker_bridge_edge_recovery_misses_total",
          "Positions that could not be recovered (client told to resync).")),
      live_fills_(single<prometheus::Counter>(
          r, "broker_bridge_edge_live_fills_total",
          "Live gaps (lost republished copies) filled by reading stream RT.")),
      task_queue_(single<prometheus::Gauge>(r, "broker_bridge_edge_task_queue",
                                            "Recovery reads and publishes waiting for a worker.")),
      accept_errors_(single<prometheus::Counter>(
          r, "broker_bridge_edge_accept_errors_total",
          "Accepts that failed because the process or system ran out of descriptors.")) {
    auto& d = prometheus::BuildCounter()
                  .Name("broker_bridge_edge_disconnects_total")
                  .Help("WebSocket connections closed, by reason.")
                  .Register(r);
    for (size_t i = 0; i < kDisconnectReasons.size(); ++i) {
        disconnects_[i] = &d.Add({{"reason", std::string(kDisconnectReasons[i])}});
    }
    auto& f = prometheus::BuildCounter()
                  .Name("broker_bridge_edge_refusals_total")
                  .Help("Connections and commands refused, by reason.")
                  .Register(r);
    for (size_t i = 0; i < kRefusalReasons.size(); ++i) {
        refusals_[i] = &f.Add({{"reason", std::string(kRefusalReasons[i])}});
    }
}

prometheus::Counter& EdgeMetrics::disconnects(std::string_view reason) {
    return *disconnects_[index_of(kDisconnectReasons, reason, "error")];
}

prometheus::Counter& EdgeMetrics::refusals(std::string_view reason) {
    return *refusals_[index_of(kRefusalReasons, reason, "limit")];
}

}  // namespace bb::edge
