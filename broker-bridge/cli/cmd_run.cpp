// `broker-bridge run`, `check-config`, `streams` and `status`.
#include <pthread.h>
#include <csignal>
#include <cstdio>

#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "broker-bridge/admin_server.hpp"
#include "broker-bridge/cli/commands.hpp"
#include "broker-bridge/config.hpp"
#include "broker-bridge/edge/channel_rules.hpp"
#include "broker-bridge/edge/dev_token_endpoint.hpp"
#include "broker-bridge/edge/edge_server.hpp"
#include "broker-bridge/edge/subscription_hub.hpp"
#include "broker-bridge/edge/token_verifier.hpp"
#include "broker-bridge/errors.hpp"
#include "broker-bridge/log.hpp"
#include "broker-bridge/metrics.hpp"
#include "broker-bridge/nats_client.hpp"
#include "broker-bridge/provisioner.hpp"
#include "broker-bridge/version.hpp"
#include "handlers/handler_host.hpp"
#include "handlers/plugin_loader.hpp"

namespace bb::cli {
namespace {

Config load_and_configure(const std::string& file) {
    Config c = load_config(file);
    log::configure(c.log.level, c.log.format);
    return c;
}

// Connects and waits for the server: the commands below need an answer, not a retry loop.
NatsClient connect_now(const Config& c, std::string_view name) {
    NatsClient nats = NatsClient::connect(c.nats, name);
    if (!nats.wait_connected(c.nats.connect_timeout + c.nats.request_timeout)) {
        throw StartupError("cannot reach NATS at " + redacted_url(c.nats.url) + " (nats.url in " +
                           c.file.string() + ")");
    }
    return nats;
}

void provision(const Config& c, const NatsClient& nats) {
    for (const StreamConfig* s : provisioned_streams(c)) ensure_stream(nats.js(), *s);
    for (const auto& b : c.buckets) ensure_bucket(nats.js(), b);
}

// Blocks SIGINT and SIGTERM in every thread started after this call, so sigwait() in main
// is the one place that sees them.
sigset_t block_stop_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    return set;
}

// Waits for SIGINT or SIGTERM, keeping the connection gauge current; 0 when the NATS
// connection closed for good instead (nats.c gave up, e.g. on repeated auth failures).
// nats.c counts reconnects in its connection statistics; the counter follows the deltas.
void count_reconnects(const NatsClient& nats, Metrics& metrics, uint64_t& seen) {
    natsStatistics* stats = nullptr;
    if (natsStatistics_Create(&stats) != NATS_OK) return;
    uint64_t reconnects = 0;
    if (natsConnection_GetStats(nats.connection(), stats) == NATS_OK &&
        natsStatistics_GetCounts(stats, nullptr, nullptr, nullptr, nullptr, &reconnects) ==
            NATS_OK &&
        reconnects > seen) {
        metrics.nats_reconnects().Increment(static_cast<double>(reconnects - seen));
        seen = reconnects;
    }
    natsStatistics_Destroy(stats);
}

int wait_for_stop(const sigset_t& signals, const NatsClient& nats, Metrics& metrics) {
    const timespec period{0, 500 * 1000 * 1000};
    uint64_t reconnects = 0;
    while (true) {
        int sig = sigtimedwait(&signals, nullptr, &period);
        if (sig > 0) return sig;
        metrics.nats_connected().Set(nats.connected() ? 1 : 0);
        count_reconnects(nats, metrics, reconnects);
        if (nats.closed()) return 0;
    }
}

}  // namespace

int run(const RunOptions& o) {
    edge::use_shared_delivery_threads();
    sigset_t stop_signals = block_stop_signals();
    Config c = load_and_configure(o.config);
    if (o.edge_only && !c.edge) throw ConfigError(o.config + ": no edge section to run");
    if (!o.bindings.empty()) {
        select_bindings(c, o.bindings);
        c.edge.reset();  // a handler group's process: the edge runs in its own
    }
    log::info("broker-bridge starting", {{"version", kVersion},
                                         {"config", o.config},
                                         {"bindings", o.edge_only ? 0 : c.bindings.size()},
                                         {"edge", c.edge.has_value()}});
    Metrics metrics;
    std::atomic<bool> ready{false};
    NatsClient nats = NatsClient::connect(c.nats, o.edge_only ? "edge" : "run");
    std::unique_ptr<edge::Edge> ws;
    if (c.edge) ws = std::make_unique<edge::Edge>(c, nats, metrics);  // rules checked early
    std::unique_ptr<AdminServer> admin;
    if (!c.admin.listen.empty()) {
        admin = std::make_unique<AdminServer>(
            c.admin.listen, metrics,
            [&] { return ready.load() && nats.connected() && (!ws || ws->accepting()); },
            [&] { return !nats.closed(); });
    }
    if (!nats.wait_connected(c.nats.connect_timeout)) {
        log::warn("waiting for nats", {{"url", redacted_url(c.nats.url)}});
        while (!nats.wait_connected(std::chrono::seconds(5))) {
            sigset_t pending;
            sigpending(&pending);
            if (sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM)) return 0;
            log::warn("still waiting for nats", {{"url", redacted_url(c.nats.url)}});
        }
    }
    provision(c, nats);
    std::unique_ptr<handlers::HandlerHost> host;
    if (!o.edge_only) {
        host = std::make_unique<handlers::HandlerHost>(c, nats, metrics);
        host->start();
    }
    if (ws) ws->start();
    ready = true;
    log::info("broker-bridge ready");

    int sig = wait_for_stop(stop_signals, nats, metrics);
    ready = false;
    // The edge goes first: clients are told to come back before anything else stops.
    if (ws) ws->shutdown();
    if (sig == 0) {
        log::error("nats connection closed for good; exiting so a supervisor can restart");
        if (host) host->stop();
        return 1;
    }
    log::info("shutting down", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
    if (host) host->stop();
    ws.reset();
    auto drained = nats.drain(c.nats.request_timeout);
    if (!drained) log::warn("nats drain incomplete", {{"error", drained.error().what}});
    log::info("broker-bridge stopped");
    return 0;
}

// Beyond the YAML itself: each binding's plugin must load (file found, ABI matching) and
// accept the binding's `config:` (through the plugin's side-effect-free check, when it offers
// one), and the edge's channel rules and keys must compile, as `run` would find at start-up.
int check_config(const std::string& file, bool offline) {
    Config c = load_config(file, offline);
    if (c.edge && c.edge->dev_tokens) {
        std::fprintf(stderr,
                     "%s: WARNING: edge.dev_tokens is enabled: POST %s mints a token for any "
                     "user; for a developer's machine only\n",
                     file.c_str(), edge::kDevTokenPath);
    }
    if (offline) {
        if (c.edge) edge::ChannelRules rules(c.edge->channels, c.realtime);
        std::printf(
            "%s: ok offline (%zu bindings, %zu buckets%s; plugins and secrets not "
            "checked)\n",
            file.c_str(), c.bindings.size(), c.buckets.size(),
            c.edge ? ", edge channels compiled" : "");
        return 0;
    }
    std::map<std::string, handlers::LoadedPlugin> plugins;
    size_t configs_checked = 0;
    for (const auto& b : c.bindings) {
        auto loaded = plugins.find(b.plugin);
        try {
            if (loaded == plugins.end()) {
                loaded =
                    plugins.emplace(b.plugin, handlers::load_plugin(b.plugin, c.plugin_path)).first;
            }
        } catch (const StartupError& e) {
            throw ConfigError(b.where + ": bindings " + b.name + ": " + e.what());
        }
        if (auto refused = loaded->second.check_config(b.plugin_config_yaml)) {
            throw ConfigError(b.config_where + ": bindings " + b.name + ".config: " + *refused);
        }
        configs_checked += loaded->second.has_config_check();
    }
    if (c.edge) {
        edge::ChannelRules rules(c.edge->channels, c.realtime);
        edge::TokenVerifier verifier(c.edge->auth);
    }
    std::printf(
        "%s: ok (%zu bindings, %zu plugins loaded, %zu plugin configs checked, %zu "
        "buckets%s)\n",
        file.c_str(), c.bindings.size(), plugins.size(), configs_checked, c.buckets.size(),
        c.edge ? ", edge channels compiled" : "");
    return 0;
}

int streams(const std::string& file) {
    Config c = load_and_configure(file);
    NatsClient nats = connect_now(c, "streams");
    provision(c, nats);
    std::printf("%-20s %12s %14s %12s %12s %10s\n", "STREAM", "MESSAGES", "BYTES", "FIRST", "LAST",
                "CONSUMERS");
    for (const StreamConfig* s : provisioned_streams(c)) {
        auto st = stream_status(nats.js(), s->name);
        if (!st) {
            std::printf("%-20s %s\n", s->name.c_str(), st.error().what.c_str());
            continue;
        }
        std::printf("%-20s %12llu %14llu %12llu %12llu %10lld\n", st->name.c_str(),
                    static_cast<unsigned long long>(st->messages),
                    static_cast<unsigned long long>(st->bytes),
                    static_cast<unsigned long long>(st->first_seq),
                    static_cast<unsigned long long>(st->last_seq),
                    static_cast<long long>(st->consumer_count));
    }
    return 0;
}

}  // namespace bb::cli
