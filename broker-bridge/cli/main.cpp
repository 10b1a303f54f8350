// broker-bridge: the daemon and its command line.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "broker-bridge/cli/commands.hpp"
#include "broker-bridge/edge/subscription_hub.hpp"
#include "broker-bridge/errors.hpp"
#include "broker-bridge/log.hpp"
#include "broker-bridge/version.hpp"

namespace {

struct Args {
    std::string config;
    bb::cli::PublishOptions publish;
    bb::cli::DlqOptions dlq;
    bb::cli::TokenOptions token;
    bb::cli::VapidKeysOptions vapid_keys;
    bool json = false;
    bool offline = false;
    std::vector<std::string> run_bindings;
};

void add_config_option(CLI::App* cmd, std::string& target) {
    cmd->add_option("--config,-c", target, "the YAML config file")
        ->required()
        ->check(CLI::ExistingFile);
}

void add_publish(CLI::App& app, Args& a) {
    auto* cmd = app.add_subcommand("publish", "publish domain events to the EVENTS stream");
    auto& p = a.publish;
    add_config_option(cmd, p.config);
    cmd->add_option("--file,-f", p.file, "a .jsonl file of events, one per line ('-': stdin)");
    cmd->add_option("--type", p.type, "event type of a single event, e.g. UserCreated");
    cmd->add_option("--aggregate-type", p.aggregate_type, "aggregate type, e.g. User");
    cmd->add_option("--aggregate-id", p.aggregate_id, "aggregate id (ce-subject)");
    cmd->add_option("--data", p.data, "event data as JSON")->capture_default_str();
    cmd->add_option("--id", p.id, "event id (default: a random UUID)");
    cmd->add_option("--user-id", p.user_id, "the user who caused the event");
    cmd->add_option("--source", p.source, "producing service")->capture_default_str();
    cmd->add_flag("--json-data", p.json_data, "send data as application/json, not msgpack");
}

void add_dlq(CLI::App& app, Args& a) {
    auto* dlq = app.add_subcommand("dlq", "inspect, replay and purge dead-lettered events");
    dlq->require_subcommand(1);
    auto& d = a.dlq;
    auto* list = dlq->add_subcommand("list", "list DLQ entries");
    add_config_option(list, d.config);
    list->add_option("--binding,-b", d.binding, "only this binding's entries");
    list->add_flag("--json", d.json, "print a JSON array");
    auto* show = dlq->add_subcommand("show", "show one DLQ entry");
    add_config_option(show, d.config);
    show->add_option("seq", d.seq, "DLQ stream sequence")->required();
    auto* replay = dlq->add_subcommand("replay", "send entries back to their binding");
    add_config_option(replay, d.config);
    auto* seq = replay->add_option("seq", d.seq, "DLQ stream sequence");
    auto* all = replay->add_flag("--all", d.all, "every entry (of --binding, if given)");
    seq->excludes(all);
    replay->add_option("--binding,-b", d.binding, "only this binding's entries");
    auto* purge = dlq->add_subcommand("purge", "delete DLQ entries");
    add_config_option(purge, d.config);
    purge->add_option("--binding,-b", d.binding, "only this binding's entries");
}

void add_edge_commands(CLI::App& app, Args& a) {
    auto* edge = app.add_subcommand("edge", "run the WebSocket edge alone, in the foreground");
    add_config_option(edge, a.config);
    auto* token = app.add_subcommand("token", "print a development token for the edge");
    add_config_option(token, a.token.config);
    token->add_option("--sub", a.token.sub, "the token's subject (user id)")->required();
    token->add_option("--claim", a.token.claims,
                      "name=value (a,b or [\"a\"] for a list); repeatable");
    token->add_option("--ttl", a.token.ttl, "lifetime, e.g. 15m, 1h")->capture_default_str();
}

int dispatch(CLI::App& app, Args& a) {
    if (app.got_subcommand("version")) {
        std::printf("broker-bridge %s (plugin ABI %u)\n", bb::kVersion, bb::kPluginAbiVersion);
        return 0;
    }
    if (app.got_subcommand("run")) return bb::cli::run({a.config, false, a.run_bindings});
    if (app.got_subcommand("edge")) return bb::cli::run({a.config, true, {}});
    if (app.got_subcommand("token")) return bb::cli::token(a.token);
    if (app.got_subcommand("check-config")) return bb::cli::check_config(a.config, a.offline);
    if (app.got_subcommand("streams")) return bb::cli::streams(a.config);
    if (app.got_subcommand("status")) return bb::cli::status(a.config, a.json);
    if (app.got_subcommand("vapid-keys")) return bb::cli::vapid_keys(a.vapid_keys);
    if (app.got_subcommand("publish")) {
        auto& p = a.publish;
        if (p.file.empty() && (p.type.empty() || p.aggregate_type.empty() ||
                               p.aggregate_id.empty())) {
            std::fprintf(stderr, "publish: give --file, or --type, --aggregate-type and "
                                 "--aggregate-id for a single event\n");
            return 2;
        }
        return bb::cli::publish(p);
    }
    auto* dlq = app.get_subcommand("dlq");
    if (dlq->got_subcommand("list")) return bb::cli::dlq_list(a.dlq);
    if (dlq->got_subcommand("show")) return bb::cli::dlq_show(a.dlq);
    if (dlq->got_subcommand("purge")) return bb::cli::dlq_purge(a.dlq);
    if (!a.dlq.all && a.dlq.seq == 0) {
        std::fprintf(stderr, "dlq replay: give a DLQ sequence or --all\n");
        return 2;
    }
    return bb::cli::dlq_replay(a.dlq);
}

}  // namespace

int main(int argc, char** argv) {
    bb::edge::use_shared_delivery_threads();  // before any NATS call
    CLI::App app{"broker-bridge: domain events through NATS JetStream to handler plugins"};
    app.require_subcommand(1);
    Args a;
    auto* run = app.add_subcommand("run", "run the handlers (and the edge) in the foreground");
    add_config_option(run, a.config);
    auto* check = app.add_subcommand("check-config", "check a config file and exit");
    check->add_option("file", a.config, "the YAML config file")->required();
    check->add_flag("--offline", a.offline,
                    "structure and types only: no plugins, key files or secrets needed");
    run->add_option("--bindings", a.run_bindings, "only these bindings (a,b), and no edge")
        ->delimiter(',');
    auto* streams = app.add_subcommand("streams", "create or update streams, print them");
    add_config_option(streams, a.config);
    auto* status = app.add_subcommand("status", "streams, consumers, lag and DLQ per binding");
    add_config_option(status, a.config);
    status->add_flag("--json", a.json, "print JSON");
    add_publish(app, a);
    add_dlq(app, a);
    add_edge_commands(app, a);
    app.add_subcommand("version", "print the version");
    auto* vapid = app.add_subcommand("vapid-keys", "print a new VAPID key pair for Web Push");
    vapid->add_flag("--pem", a.vapid_keys.pem, "also print the private key as PEM");
    CLI11_PARSE(app, argc, argv);
    try {
        return dispatch(app, a);
    } catch (const bb::ConfigError& e) {
        bb::log::error("config refused", {{"error", e.what()}});
    } catch (const bb::StartupError& e) {
        bb::log::error("start-up failed", {{"error", e.what()}});
    } catch (const std::exception& e) {
        bb::log::error("failed", {{"error", e.what()}});
    }
    return 2;
}
