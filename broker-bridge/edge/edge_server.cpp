#include "broker-bridge/edge/edge_server.hpp"

#include <libwebsockets.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "broker-bridge/edge/deactivation_listener.hpp"
#include "broker-bridge/edge/dev_token_endpoint.hpp"
#include "broker-bridge/edge/event_loop.hpp"
#include "broker-bridge/edge/listen_socket.hpp"
#include "broker-bridge/edge/presence_reporter.hpp"
#include "broker-bridge/edge/presence_snapshot.hpp"
#include "broker-bridge/errors.hpp"
#include "broker-bridge/log.hpp"

namespace bb::edge {
namespace {

// NATS work waiting for a worker across all connections; past it commands get `limit`. With
// at most kMaxTasksPerConnection each, a few hundred keep one client's flood from delaying
// everyone by more than a moment, and still let many clients subscribe at once.
constexpr size_t kMaxQueuedTasks = 256;

// lws errors and warnings as our log lines; its notices (version banners) are dropped.
void lws_log_line(int level, const char* line) {
    std::string text(line ? line : "");
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (level & LLL_ERR) {
        log::error("libwebsockets", {{"message", text}});
    } else {
        log::warn("libwebsockets", {{"message", text}});
    }
}

}  // namespace

void warn_about_dev_tokens(const Config& c) {
    if (!c.edge || !c.edge->dev_tokens) return;
    log::warn(
        "development token endpoint enabled: anyone who reaches the edge can mint a "
        "token for any user; never enable it outside a developer's machine",
        {{"config", c.file.string()}, {"key", "edge.dev_tokens"}, {"path", kDevTokenPath}});
}

// Everything the loops share, in the order it must be built and (reversed) torn down.
struct EdgeParts {
    EdgeParts(const Config& c, const NatsClient& nats, Metrics& metrics,
              SubscriptionHub::Deliver deliver)
        : rules(c.edge->channels, c.realtime),
          verifier(c.edge->auth),
          edge_metrics(*metrics.registry()),
          reader(nats.js(), c.realtime.name),
          limits(c.edge->limits),
          pool(c.edge->workers, kMaxQueuedTasks, &edge_metrics.task_queue()),
          hub(nats.connection(), reader, edge_metrics, static_cast<size_t>(c.edge->threads),
              c.edge->limits.max_recovery_messages, std::move(deliver)),
          context{*c.edge, rules, verifier, nats,   events_prefix(c),
                  reader,  hub,   pool,     limits, edge_metrics} {
        if (c.edge->presence) {
            presence =
                std::make_unique<PresenceReporter>(*c.edge->presence, nats, *metrics.registry());
            snapshots = std::make_unique<SnapshotReader>(nats.js(), c.edge->presence->bucket);
            context.presence = presence.get();
            context.snapshots = snapshots.get();
        }
    }

    static std::string events_prefix(const Config& c) {
        const std::string& s = c.events.subjects.front();
        return s.size() > 2 && s.compare(s.size() - 2, 2, ".>") == 0 ? s.substr(0, s.size() - 2)
                                                                     : std::string("events");
    }

    ChannelRules rules;
    TokenVerifier verifier;
    EdgeMetrics edge_metrics;
    StreamReader reader;
    ConnectionLimits limits;
    TaskPool pool;
    SubscriptionHub hub;
    EdgeContext context;
    std::unique_ptr<PresenceReporter> presence;
    std::unique_ptr<SnapshotReader> snapshots;
    std::unique_ptr<DeactivationListener> deactivations;  // made once the loops exist
};

Edge::Edge(const Config& config, const NatsClient& nats, Metrics& metrics) : config_(config) {
    if (!config.edge) throw ConfigError(config.file.string() + ": no edge section");
    const auto& dir = config.edge->static_dir;
    if (!dir.empty() && !std::filesystem::is_regular_file(dir / "index.html")) {
        // Served anyway (the folder may be filled later), but `/` answers 404 until then.
        log::warn("edge static_dir has no index.html", {{"static_dir", dir.string()}});
    }
    parts_ = std::make_unique<EdgeParts>(
        config, nats, metrics,
        [this](size_t loop, const LivePtr& m) { loops_[loop]->post_live(m); });
}

Edge::~Edge() {
    stop_loops();
    parts_.reset();
}

void Edge::start() {
    auto st = parts_->reader.state();
    if (!st) {
        throw StartupError("edge: cannot read stream " + config_.realtime.name + ": " +
                           st.error().what);
    }
    nats_SetMessageDeliveryPoolSize(config_.edge->threads);
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_line);
    ListenAddress address = parse_listen(config_.edge->listen);
    int port = address.port;
    for (int i = 0; i < config_.edge->threads; ++i) {
        int fd = open_listen_socket(address, port);
        port = bound_port(fd);
        loops_.push_back(std::make_unique<EventLoop>(loops_.size(), parts_->context, fd));
    }
    port_ = port;
    for (auto& loop : loops_) loop->start();
    // On nats.c's callback thread, which may wait on JetStream: copies republished while
    // the edge was away have no successor to reveal the gap.
    parts_->context.nats.on_reconnected([hub = &parts_->hub] { hub->fill_after_reconnect(); });
    start_presence();
    accepting_ = true;
    warn_about_dev_tokens(config_);
    log::info("edge listening", {{"address", address.host},
                                 {"port", port_},
                                 {"path", config_.edge->path},
                                 {"threads", loops_.size()},
                                 {"epoch", st->epoch}});
}

void Edge::start_presence() {
    if (!parts_->presence) return;
    parts_->presence->start();
    std::string subject = config_.edge->presence->subject_prefix + ".control.UserDeactivated";
    parts_->deactivations = std::make_unique<DeactivationListener>(parts_->context.nats, subject,
                                                                   [this](const std::string& user) {
                                                                       for (auto& loop : loops_)
                                                                           loop->disable_user(user);
                                                                   });
}

size_t Edge::connections() const {
    size_t n = 0;
    for (const auto& loop : loops_) n += loop->connections();
    return n;
}

void Edge::shutdown() {
    if (!accepting_.exchange(false)) return stop_loops();
    log::info("edge draining", {{"connections", connections()}});
    for (auto& loop : loops_) loop->begin_shutdown();
    auto deadline = std::chrono::steady_clock::now() + config_.edge->drain_timeout;
    while (connections() > 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    size_t left = connections();
    stop_loops();
    log::info("edge stopped", {{"closed_at_deadline", left}});
}

void Edge::stop_loops() {
    parts_->context.nats.on_reconnected({});
    if (parts_->deactivations) parts_->deactivations.reset();
    for (auto& loop : loops_) loop->stop();
    // The closed sessions queued their disconnects: send them before the reporter stops.
    if (parts_->presence) parts_->presence->stop(config_.edge->drain_timeout);
}

}  // namespace bb::edge
