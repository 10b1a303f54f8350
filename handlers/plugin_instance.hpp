#pragma once

#include <bb/plugin.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "broker-bridge/config.hpp"
#include "broker-bridge/metrics.hpp"
#include "broker-bridge/nats_client.hpp"
#include "handlers/plugin_loader.hpp"

namespace bb::handlers {

// The key-value buckets of a process, opened once at start-up by name.
using Buckets = std::map<std::string, KvStore, std::less<>>;

// One plugin instance serving one binding, and the host function table it was given.
// Made on the start-up thread, destroyed there after every handler call has returned (the
// runner that calls handle() dies first). The host functions run on whatever thread the
// plugin calls them from; everything they touch is thread-safe or immutable after start.
class PluginInstance {
public:
    // Calls the plugin's create(); throws StartupError naming the binding when it fails.
    PluginInstance(const LoadedPlugin& plugin, const BindingConfig& binding, const Config& config,
                   const NatsClient& nats, Metrics& metrics, Buckets& buckets);
    ~PluginInstance();
    PluginInstance(const PluginInstance&) = delete;
    PluginInstance& operator=(const PluginInstance&) = delete;

    bb_result handle(const bb_event& event, uint32_t* retry_delay_ms, bb_error* err) {
        return plugin_.descriptor().handle(self_, &event, retry_delay_ms, err);
    }
    bool has_tick() const { return plugin_.descriptor().tick != nullptr; }
    bool json_on_demand() const { return plugin_.json_on_demand(); }
    void tick() { plugin_.descriptor().tick(self_); }
    // What the plugin asked for with set_tick; 0 = no ticks.
    uint32_t tick_interval_ms() const { return tick_interval_ms_.load(); }

    // Serves bb_host.in_progress: set once by the binding's runner before it starts.
    using InProgressFn = std::function<bb_status(const bb_event&, bb_error*)>;
    void set_in_progress(InProgressFn fn) { in_progress_ = std::move(fn); }

    const BindingConfig& binding() const { return binding_; }
    const LoadedPlugin& plugin() const { return plugin_; }

private:
    friend struct HostCalls;

    const LoadedPlugin& plugin_;
    const BindingConfig& binding_;
    const Config& config_;
    const NatsClient& nats_;
    Metrics& metrics_;
    Buckets& buckets_;
    std::string config_dir_;
    bb_host host_{};
    void* self_ = nullptr;
    std::atomic<uint32_t> tick_interval_ms_{0};
    InProgressFn in_progress_;
};

// The id of a follow-up event: derived from the source event id, the binding and the
// plugin's key, so a redelivered source event publishes a duplicate that JetStream drops.
std::string follow_up_event_id(std::string_view source_id, std::string_view binding,
                               std::string_view key);

}  // namespace bb::handlers
