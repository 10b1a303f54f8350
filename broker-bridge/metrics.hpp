#pragma once

#include "broker-bridge/result.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace bb {

// Label values for the closed sets. Anything else passed to the matching accessor is a
// caller bug and throws std::invalid_argument: label values never come from input.
inline constexpr std::array<std::string_view, 6> kOutcomes{"done",    "retry",   "reject",
                                                           "timeout", "skipped", "invalid"};
inline constexpr std::array<std::string_view, 4> kDeadLetterReasons{"reject", "exhausted",
                                                                    "invalid", "max_deliveries"};
inline constexpr std::array<std::string_view, 3> kPublishKinds{"follow_up", "raw", "replay"};

// Plugins may define at most this many metric names, so a plugin that builds names from
// data cannot grow the registry (and every scrape) without bound.
inline constexpr std::size_t kMaxPluginMetricNames = 256;
inline constexpr std::size_t kMaxPluginMetricNameLength = 64;

// Every broker_bridge_* metric of the process. Created once in main and passed by reference;
// it outlives every component that holds a Counter&, Gauge& or Histogram& from it.
// All methods are thread-safe. An accessor looks its label set up under the family's lock
// and allocates, so per-message code should keep the returned reference: it stays valid for
// the life of this object.
class Metrics {
public:
    Metrics();
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    // The registry itself, for components that own families of their own (the edge).
    const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

    prometheus::Counter& attempts(const std::string& binding, const std::string& plugin,
                                  std::string_view outcome);
    prometheus::Histogram& handler_duration(const std::string& binding);
    prometheus::Counter& dead_letters(const std::string& binding, std::string_view reason);
    prometheus::Gauge& consumer_lag(const std::string& binding, const std::string& consumer);
    prometheus::Gauge& consumer_ack_pending(const std::string& binding,
                                            const std::string& consumer);
    prometheus::Gauge& handlers_stuck(const std::string& binding);
    prometheus::Counter& events_published(std::string_view kind);
    prometheus::Gauge& dlq_messages() { return dlq_messages_; }
    prometheus::Gauge& nats_connected() { return nats_connected_; }
    prometheus::Counter& nats_reconnects() { return nats_reconnects_; }

    // Metrics a plugin defines at run time: broker_bridge_plugin_<name>{binding,plugin}.
    // `name` must match [a-z][a-z0-9_]*; a counter gets `_total` appended unless it already
    // ends with it, and a gauge may not end with it. A name already used by the other type,
    // a bad name, or one name too many is refused with an error naming it; the pointer of a
    // success is never null.
    Result<prometheus::Counter*> plugin_counter(std::string_view name, const std::string& binding,
                                                const std::string& plugin);
    Result<prometheus::Gauge*> plugin_gauge(std::string_view name, const std::string& binding,
                                            const std::string& plugin);

    // Prometheus text exposition format 0.0.4.
    std::string serialize() const;

private:
    struct PluginFamily {
        prometheus::Family<prometheus::Counter>* counter = nullptr;
        prometheus::Family<prometheus::Gauge>* gauge = nullptr;
    };

    Result<PluginFamily> plugin_family(std::string_view name, bool counter);

    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Family<prometheus::Counter>& attempts_;
    prometheus::Family<prometheus::Histogram>& handler_duration_;
    prometheus::Family<prometheus::Counter>& dead_letters_;
    prometheus::Family<prometheus::Gauge>& consumer_lag_;
    prometheus::Family<prometheus::Gauge>& consumer_ack_pending_;
    prometheus::Family<prometheus::Gauge>& handlers_stuck_;
    prometheus::Family<prometheus::Counter>& events_published_;
    prometheus::Gauge& dlq_messages_;
    prometheus::Gauge& nats_connected_;
    prometheus::Counter& nats_reconnects_;

    std::mutex plugin_mutex_;
    std::unordered_map<std::string, PluginFamily> plugin_families_;  // by name without _total
};

}  // namespace bb
