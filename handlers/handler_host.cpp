#include "handlers/handler_host.hpp"

#include <set>

#include "broker-bridge/errors.hpp"
#include "broker-bridge/log.hpp"
#include "handlers/consumer_setup.hpp"

namespace bb::handlers {

// What a shutdown with handlers still inside their plugins leaves alive: destroying it would
// pull instances and libraries from under those calls. A global with external linkage holds
// it, so the store is kept and it stays reachable (leak checkers see it in use, as it is)
// until the process ends.
struct AbandonedAtExit {
    std::map<std::string, LoadedPlugin> plugins;
    std::unique_ptr<WorkerPool> pool;
    std::vector<std::unique_ptr<PluginInstance>> instances;
    std::vector<std::unique_ptr<BindingRunner>> runners;
};
AbandonedAtExit* abandoned_at_exit = nullptr;

Buckets open_buckets(const Config& config, const NatsClient& nats) {
    Buckets out;
    for (const auto& b : config.buckets) {
        kvStore* kv = nullptr;
        natsStatus s = js_KeyValue(&kv, nats.js(), b.name.c_str());
        if (s != NATS_OK) {
            throw StartupError("bucket " + b.name + " cannot be opened: " +
                               nats_error(s).what + " (it is provisioned at start-up)");
        }
        out.emplace(b.name, KvStore(kv));
    }
    return out;
}

HandlerHost::HandlerHost(const Config& config, const NatsClient& nats, Metrics& metrics)
    : config_(config), nats_(nats), metrics_(metrics) {}

HandlerHost::~HandlerHost() { stop(); }

void HandlerHost::start() {
    if (config_.bindings.empty()) {
        // An edge-only process may share the group of a handler host: with no bindings of
        // its own it must not treat that host's consumers as stale, nor read advisories.
        log::info("handlers not started", {{"reason", "no bindings"}});
        return;
    }
    buckets_ = open_buckets(config_, nats_);
    int workers = config_.handlers.workers;
    if (workers == 0) {
        for (const auto& b : config_.bindings) workers += b.concurrency;
    }
    pool_ = std::make_unique<WorkerPool>(std::max(workers, 1),
                                         config_.handlers.max_stuck_threads);
    std::set<std::string> durables;
    // stream -> durable consumer -> its binding, for the max-deliveries advisories.
    std::map<std::string, std::map<std::string, AdvisoryListener::Target>> targets;
    for (const auto& b : config_.bindings) {
        auto it = plugins_.find(b.plugin);
        if (it == plugins_.end()) {
            it = plugins_.emplace(b.plugin, load_plugin(b.plugin, config_.plugin_path)).first;
            log::info("plugin loaded", {{"plugin", b.plugin},
                                        {"version", it->second.version()},
                                        {"abi", BB_PLUGIN_ABI_VERSION},
                                        {"path", it->second.path().string()}});
        }
        instances_.push_back(std::make_unique<PluginInstance>(it->second, b, config_, nats_,
                                                              metrics_, buckets_));
        runners_.push_back(std::make_unique<BindingRunner>(*instances_.back(), config_, nats_,
                                                           metrics_, *pool_));
        for (const auto& d : runners_.back()->durables()) {
            durables.insert(d);
            targets[runners_.back()->stream()][d] = {b.name, b.plugin};
        }
    }
    remove_stale_consumers(nats_, config_, durables);
    for (auto& r : runners_) r->start();
    for (auto& [stream, durable_targets] : targets) {
        advisories_.push_back(std::make_unique<AdvisoryListener>(config_, nats_, metrics_,
                                                                 stream, durable_targets));
        advisories_.back()->start();
    }
    poller_ = std::thread([this] { poll_loop(); });
    log::info("handlers started", {{"bindings", runners_.size()}, {"workers", workers},
                                   {"group", config_.handlers.group}});
}

void HandlerHost::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    wake_.notify_all();
    if (poller_.joinable()) poller_.join();
    for (auto& a : advisories_) a->stop();
    auto deadline = std::chrono::steady_clock::now() + config_.handlers.shutdown_timeout;
    // Every binding stops fetching first, so all of them share the whole drain deadline.
    for (auto& r : runners_) r->stop_fetching();
    for (auto& r : runners_) r->stop(deadline);
    int stuck = pool_ ? pool_->stop(std::chrono::milliseconds(100)) : 0;
    if (stuck > 0) {
        // A handler is still inside its plugin: destroying the instance or closing the
        // library under it would crash the exit. The process is ending; leave them be.
        log::warn("handlers still running at exit", {{"count", stuck}});
        abandoned_at_exit = new AbandonedAtExit{std::move(plugins_), std::move(pool_),
                                                std::move(instances_), std::move(runners_)};
        return;
    }
    runners_.clear();
    // Instances are destroyed before their libraries close (plugins_ is cleared last).
    instances_.clear();
    buckets_.clear();
    plugins_.clear();
    if (!config_.bindings.empty()) log::info("handlers stopped");
}

void HandlerHost::poll_loop() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        lock.unlock();
        poll_once();
        lock.lock();
        wake_.wait_for(lock, config_.handlers.lag_poll_interval, [this] { return stopping_; });
    }
}

// Consumer lag and DLQ depth. Polled at most about once a second by default: faster
// polling of consumer info measurably slows the consumer itself.
void HandlerHost::poll_once() {
    for (const auto& r : runners_) {
        for (const auto& durable : r->durables()) {
            jsConsumerInfo* raw = nullptr;
            jsErrCode jerr = static_cast<jsErrCode>(0);
            natsStatus s = js_GetConsumerInfo(&raw, nats_.js(), r->stream().c_str(),
                                              durable.c_str(), nullptr, &jerr);
            JsConsumerInfo info(raw);
            if (s != NATS_OK) continue;
            metrics_.consumer_lag(r->name(), durable).Set(static_cast<double>(info->NumPending));
            metrics_.consumer_ack_pending(r->name(), durable)
                .Set(static_cast<double>(info->NumAckPending));
        }
    }
    jsStreamInfo* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (js_GetStreamInfo(&raw, nats_.js(), config_.dlq.name.c_str(), nullptr, &jerr) ==
        NATS_OK) {
        JsStreamInfo info(raw);
        metrics_.dlq_messages().Set(static_cast<double>(info->State.Msgs));
    }
}

}  // namespace bb::handlers
