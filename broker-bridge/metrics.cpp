#include "broker-bridge/metrics.hpp"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <stdexcept>

namespace bb {
namespace {

constexpr std::string_view kPluginPrefix = "broker_bridge_plugin_";
constexpr std::string_view kTotalSuffix = "_total";

// One millisecond to the longest handler timeout we expect (30 s).
const prometheus::Histogram::BucketBoundaries kDurationBuckets{
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

template <typename T>
prometheus::Family<T>& family(prometheus::Registry& registry, const std::string& name,
                              const std::string& help) {
    return prometheus::detail::Builder<T>().Name(name).Help(help).Register(registry);
}

template <std::size_t N>
std::string checked(std::string_view value, const std::array<std::string_view, N>& allowed,
                    std::string_view label) {
    if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
        throw std::invalid_argument("metric label " + std::string(label) +
                                    " has a value outside its closed set: " + std::string(value));
    }
    return std::string(value);
}

bool ends_with_total(std::string_view name) {
    return name.size() >= kTotalSuffix.size() &&
           name.substr(name.size() - kTotalSuffix.size()) == kTotalSuffix;
}

// Prometheus allows more, but a plugin name ends up inside ours, so keep it plain snake_case.
bool is_snake_case(std::string_view name) {
    if (name.empty() || name.front() < 'a' || name.front() > 'z') return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

Result<void> check_plugin_name(std::string_view name, bool counter) {
    std::string shown(name.substr(0, kMaxPluginMetricNameLength));
    if (name.size() > kMaxPluginMetricNameLength) {
        return make_error("plugin metric name is longer than " +
                          std::to_string(kMaxPluginMetricNameLength) + " characters: " + shown +
                          "...");
    }
    if (!is_snake_case(name)) {
        return make_error("plugin metric name is not snake_case ([a-z][a-z0-9_]*): " + shown);
    }
    if (!counter && ends_with_total(name)) {
        return make_error("plugin gauge name ends with _total, which marks counters: " + shown);
    }
    return {};
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      attempts_(family<prometheus::Counter>(
          *registry_, "broker_bridge_handler_attempts_total",
          "Handler attempts by binding, plugin and outcome, counted in attempts.")),
      handler_duration_(
          family<prometheus::Histogram>(*registry_, "broker_bridge_handler_duration_seconds",
                                        "Time one handler attempt took, in seconds.")),
      dead_letters_(family<prometheus::Counter>(
          *registry_, "broker_bridge_dead_letters_total",
          "Events written to the dead-letter stream by binding and reason, in events.")),
      consumer_lag_(family<prometheus::Gauge>(
          *registry_, "broker_bridge_consumer_lag_messages",
          "Messages in the stream not yet delivered to the consumer, in messages.")),
      consumer_ack_pending_(family<prometheus::Gauge>(
          *registry_, "broker_bridge_consumer_ack_pending",
          "Messages delivered to the consumer and not yet acknowledged, in messages.")),
      handlers_stuck_(family<prometheus::Gauge>(
          *registry_, "broker_bridge_handlers_stuck",
          "Handler threads still running past their timeout, in threads.")),
      events_published_(family<prometheus::Counter>(
          *registry_, "broker_bridge_events_published_total",
          "Events published by the host for plugins and replays by kind, in events.")),
      dlq_messages_(family<prometheus::Gauge>(*registry_, "broker_bridge_dlq_messages",
                                              "Entries in the dead-letter stream, in messages.")
                        .Add({})),
      nats_connected_(
          family<prometheus::Gauge>(*registry_, "broker_bridge_nats_connected",
                                    "Whether the NATS connection is up: 1 when connected, else 0.")
              .Add({})),
      nats_reconnects_(
          family<prometheus::Counter>(*registry_, "broker_bridge_nats_reconnects_total",
                                      "Reconnections to NATS since start, in reconnections.")
              .Add({})) {}

prometheus::Counter& Metrics::attempts(const std::string& binding, const std::string& plugin,
                                       std::string_view outcome) {
    return attempts_.Add({{"binding", binding},
                          {"plugin", plugin},
                          {"outcome", checked(outcome, kOutcomes, "outcome")}});
}

prometheus::Histogram& Metrics::handler_duration(const std::string& binding) {
    return handler_duration_.Add({{"binding", binding}}, kDurationBuckets);
}

prometheus::Counter& Metrics::dead_letters(const std::string& binding, std::string_view reason) {
    return dead_letters_.Add(
        {{"binding", binding}, {"reason", checked(reason, kDeadLetterReasons, "reason")}});
}

prometheus::Gauge& Metrics::consumer_lag(const std::string& binding, const std::string& consumer) {
    return consumer_lag_.Add({{"binding", binding}, {"consumer", consumer}});
}

prometheus::Gauge& Metrics::consumer_ack_pending(const std::string& binding,
                                                 const std::string& consumer) {
    return consumer_ack_pending_.Add({{"binding", binding}, {"consumer", consumer}});
}

prometheus::Gauge& Metrics::handlers_stuck(const std::string& binding) {
    return handlers_stuck_.Add({{"binding", binding}});
}

prometheus::Counter& Metrics::events_published(std::string_view kind) {
    return events_published_.Add({{"kind", checked(kind, kPublishKinds, "kind")}});
}

Result<prometheus::Counter*> Metrics::plugin_counter(std::string_view name,
                                                     const std::string& binding,
                                                     const std::string& plugin) {
    auto found = plugin_family(name, true);
    if (!found) return found.error();
    return &found->counter->Add({{"binding", binding}, {"plugin", plugin}});
}

Result<prometheus::Gauge*> Metrics::plugin_gauge(std::string_view name, const std::string& binding,
                                                 const std::string& plugin) {
    auto found = plugin_family(name, false);
    if (!found) return found.error();
    return &found->gauge->Add({{"binding", binding}, {"plugin", plugin}});
}

// Families are registered on first use and never removed, so the pointers handed out stay
// valid; the registry keeps them alive as long as this object. Entries are keyed by the name
// without `_total`, so counters `sent` and `sent_total` share one family and a gauge `sent`
// cannot sit beside them.
Result<Metrics::PluginFamily> Metrics::plugin_family(std::string_view name, bool counter) {
    if (auto valid = check_plugin_name(name, counter); !valid) return valid.error();
    std::string base(ends_with_total(name) ? name.substr(0, name.size() - kTotalSuffix.size())
                                           : name);

    std::lock_guard lock(plugin_mutex_);
    auto it = plugin_families_.find(base);
    if (it != plugin_families_.end()) {
        bool is_counter = it->second.counter != nullptr;
        if (is_counter == counter) return it->second;
        return make_error("plugin metric name is already used by a " +
                          std::string(is_counter ? "counter" : "gauge") + ": " + std::string(name));
    }
    if (plugin_families_.size() >= kMaxPluginMetricNames) {
        return make_error("plugins defined more than " + std::to_string(kMaxPluginMetricNames) +
                          " metric names; refused: " + std::string(name));
    }

    std::string full = std::string(kPluginPrefix) + base;
    PluginFamily entry;
    try {
        if (counter) {
            entry.counter = &family<prometheus::Counter>(
                *registry_, full + std::string(kTotalSuffix),
                "Counter defined by a plugin, in the plugin's own unit.");
        } else {
            entry.gauge = &family<prometheus::Gauge>(
                *registry_, full, "Gauge defined by a plugin, in the plugin's own unit.");
        }
    } catch (const std::invalid_argument& e) {
        // Another component registered this name with a different type or help text.
        return make_error("plugin metric name clashes with a registered metric: " + full + ": " +
                          e.what());
    }
    plugin_families_.emplace(std::move(base), entry);
    return entry;
}

std::string Metrics::serialize() const {
    return prometheus::TextSerializer{}.Serialize(registry_->Collect());
}

}  // namespace bb
