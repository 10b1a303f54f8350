#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "broker-bridge/config.hpp"
#include "broker-bridge/metrics.hpp"
#include "broker-bridge/nats_client.hpp"
#include "handlers/advisory_listener.hpp"
#include "handlers/binding_runner.hpp"
#include "handlers/plugin_instance.hpp"
#include "handlers/plugin_loader.hpp"
#include "handlers/worker_pool.hpp"

namespace bb::handlers {

// Everything that runs the bindings of one process: plugins loaded once each, one instance
// and one runner per binding, the shared worker pool, the advisory listener and the metrics
// poller. Created and stopped on the main thread; streams must already be provisioned.
class HandlerHost {
public:
    HandlerHost(const Config& config, const NatsClient& nats, Metrics& metrics);
    ~HandlerHost();
    HandlerHost(const HandlerHost&) = delete;
    HandlerHost& operator=(const HandlerHost&) = delete;

    // Loads plugins, opens buckets, creates instances and consumers, removes the group's
    // stale consumers, then starts fetching. Throws StartupError / ConfigError.
    void start();
    // Graceful: stop fetching, finish in-flight work until handlers.shutdown_timeout, release
    // the rest for redelivery, destroy instances, close plugins.
    void stop();

private:
    void poll_loop();
    void poll_once();

    const Config& config_;
    const NatsClient& nats_;
    Metrics& metrics_;
    std::map<std::string, LoadedPlugin> plugins_;  // by plugin name; closed last
    Buckets buckets_;
    std::unique_ptr<WorkerPool> pool_;
    std::vector<std::unique_ptr<PluginInstance>> instances_;
    std::vector<std::unique_ptr<BindingRunner>> runners_;
    std::vector<std::unique_ptr<AdvisoryListener>> advisories_;  // one per consumed stream

    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread poller_;
};

// Opens (creating if needed) the key-value buckets named in the config.
Buckets open_buckets(const Config& config, const NatsClient& nats);

}  // namespace bb::handlers
