#include "broker-bridge/edge_config.hpp"

#include <set>

#include "broker-bridge/duration.hpp"
#include "broker-bridge/subject.hpp"

namespace bb {
namespace {

using config::Node;

constexpr int64_t kMaxCount = 1LL << 30;
// Longer would spend a realtime latency budget before the message even leaves.
constexpr std::chrono::milliseconds kMaxCoalesceDelay{100};

bool has_hs256_key(const AuthConfig& auth) {
    for (const auto& k : auth.keys) {
        if (k.alg == "HS256") return true;
    }
    return false;
}

ChannelRuleText read_rule(const Node& n) {
    std::string text = n.as_string();
    ChannelRuleText r;
    if (text == "authenticated") return r;
    if (text == "token") {
        r.kind = ChannelRuleText::Kind::kToken;
        return r;
    }
    if (text.empty()) n.fail("a rule may not be empty: write 'authenticated' to allow everyone");
    r.kind = ChannelRuleText::Kind::kExpression;
    r.expression = text;
    return r;
}

SkipAuthor read_skip_author(const Node& n) {
    std::string s = n.as_string();
    if (s == "none") return SkipAuthor::kNone;
    if (s == "connection") return SkipAuthor::kConnection;
    if (s == "user") return SkipAuthor::kUser;
    n.fail("skip_author must be none, connection or user, got '" + s + "'");
}

ChannelPublishConfig read_publish(const Node& n) {
    n.expect_keys({"rule", "event"});
    ChannelPublishConfig p;
    p.rule = read_rule(n.required("rule"));
    if (p.rule.kind == ChannelRuleText::Kind::kToken) {
        // Subscription tokens grant reading one channel; they say nothing about writing.
        n["rule"].fail(
            "'token' is a subscribe rule only: a publish rule is 'authenticated' "
            "or an expression");
    }
    Node e = n.required("event");
    e.expect_keys({"type", "aggregate_type", "aggregate_id", "source"});
    p.type = e.required("type").as_string();
    p.aggregate_type = e.required("aggregate_type").as_string();
    p.aggregate_id = e.required("aggregate_id").as_string();
    if (e.has("source")) p.source = e["source"].as_string();
    return p;
}

ChannelConfig read_channel(const Node& n) {
    n.expect_keys({"pattern", "subject", "subscribe", "publish", "skip_author", "snapshot"});
    ChannelConfig c;
    c.where = n.where();
    c.pattern = n.required("pattern").as_string();
    c.subject = n.required("subject").as_string();
    c.subscribe = read_rule(n.required("subscribe"));
    if (n.has("publish")) c.publish = read_publish(n["publish"]);
    if (n.has("skip_author")) c.skip_author = read_skip_author(n["skip_author"]);
    if (n.has("snapshot")) c.snapshot = n["snapshot"].as_string();
    return c;
}

void read_channels(const Node& n, EdgeConfig& e) {
    if (!n.defined()) return;
    std::set<std::string> patterns;
    for (const auto& item : n.items()) {
        ChannelConfig c = read_channel(item);
        if (!patterns.insert(c.pattern).second) {
            item["pattern"].fail("duplicate channel pattern '" + c.pattern + "'");
        }
        e.channels.push_back(std::move(c));
    }
}

void read_count(const Node& n, std::string_view key, int64_t& out, int64_t min) {
    if (n.has(key)) out = n[key].as_int(min, kMaxCount);
}

void read_limits(const Node& n, EdgeLimits& l) {
    if (!n.defined()) return;
    n.expect_keys({"max_connections", "max_connections_per_user", "max_connections_per_ip",
                   "new_connections_per_second", "max_subscriptions", "max_message_size",
                   "send_queue_bytes", "max_frame_bytes", "commands_per_second", "command_burst",
                   "max_recovery_messages"});
    read_count(n, "max_connections", l.max_connections, 1);
    read_count(n, "max_connections_per_user", l.max_connections_per_user, 1);
    read_count(n, "max_connections_per_ip", l.max_connections_per_ip, 0);
    read_count(n, "new_connections_per_second", l.new_connections_per_second, 0);
    read_count(n, "max_subscriptions", l.max_subscriptions, 1);
    read_count(n, "max_message_size", l.max_message_size, 256);
    read_count(n, "send_queue_bytes", l.send_queue_bytes, 1024);
    read_count(n, "max_frame_bytes", l.max_frame_bytes, 1024);
    read_count(n, "commands_per_second", l.commands_per_second, 1);
    read_count(n, "command_burst", l.command_burst, 1);
    read_count(n, "max_recovery_messages", l.max_recovery_messages, 0);
}

void read_duration(const Node& n, std::string_view key, std::chrono::milliseconds& out) {
    if (!n.has(key)) return;
    out = n[key].as_duration();
    if (out.count() <= 0) n[key].fail("must be longer than 0ms");
}

void read_intervals(const Node& n, EdgeConfig& e) {
    read_duration(n, "connect_timeout", e.connect_timeout);
    read_duration(n, "ping_interval", e.ping_interval);
    read_duration(n, "ping_timeout", e.ping_timeout);
    read_duration(n, "shutdown_reconnect_in", e.shutdown_reconnect_in);
    read_duration(n, "drain_timeout", e.drain_timeout);
    if (e.ping_timeout <= e.ping_interval) {
        n["ping_timeout"].fail("ping_timeout must be longer than ping_interval");
    }
    if (n.has("coalesce_delay")) {
        e.coalesce_delay = n["coalesce_delay"].as_duration();
        if (e.coalesce_delay > kMaxCoalesceDelay) {
            n["coalesce_delay"].fail("coalesce_delay must be 0ms to " +
                                     format_duration(kMaxCoalesceDelay) +
                                     ": every live message may wait that long");
        }
    }
}

EdgePresenceConfig read_presence(const Node& n) {
    n.expect_keys(
        {"subject_prefix", "node_id", "heartbeat_interval", "bucket", "max_queued_events"});
    EdgePresenceConfig p;
    if (n.has("subject_prefix")) p.subject_prefix = n["subject_prefix"].as_string();
    if (!is_valid_subject_pattern(p.subject_prefix) ||
        p.subject_prefix.find_first_of("*>") != std::string::npos) {
        n["subject_prefix"].fail("subject_prefix must be a subject without wildcards");
    }
    if (n.has("node_id")) p.node_id = n["node_id"].as_string();
    if (p.node_id.find_first_of(".*> \t\r\n") != std::string::npos) {
        n["node_id"].fail("node_id must be one subject token");
    }
    read_duration(n, "heartbeat_interval", p.heartbeat_interval);
    if (n.has("bucket")) p.bucket = n["bucket"].as_string();
    read_count(n, "max_queued_events", p.max_queued_events, 1);
    return p;
}

std::optional<DevTokenConfig> read_dev_tokens(const Node& n) {
    if (!n.defined()) return std::nullopt;
    n.expect_keys({"enabled", "ttl"});
    if (!n.required("enabled").as_bool()) return std::nullopt;
    DevTokenConfig d;
    read_duration(n, "ttl", d.ttl);
    if (d.ttl < std::chrono::seconds(1))
        n["ttl"].fail("ttl must be at least 1s (exp is in seconds)");
    return d;
}

}  // namespace

EdgeConfig read_edge_config(const Node& n, const std::filesystem::path& config_dir) {
    n.expect_keys({"listen", "path", "threads", "workers", "connect_timeout", "ping_interval",
                   "ping_timeout", "shutdown_reconnect_in", "drain_timeout", "coalesce_delay",
                   "permessage_deflate", "allowed_origins", "trusted_proxies", "limits", "auth",
                   "channels", "presence", "static_dir", "dev_tokens"});
    EdgeConfig e;
    e.listen = n.required("listen").as_string();
    if (e.listen.rfind(':') == std::string::npos) n["listen"].fail("listen must be host:port");
    if (n.has("path")) e.path = n["path"].as_string();
    if (e.path.empty() || e.path.front() != '/') n["path"].fail("path must start with '/'");
    if (n.has("threads")) e.threads = static_cast<int>(n["threads"].as_int(1, 64));
    if (n.has("workers")) e.workers = static_cast<int>(n["workers"].as_int(1, 64));
    read_intervals(n, e);
    if (n.has("permessage_deflate")) e.permessage_deflate = n["permessage_deflate"].as_bool();
    if (n.has("allowed_origins")) e.allowed_origins = n["allowed_origins"].as_string_list();
    if (n.has("trusted_proxies")) e.trusted_proxies = n["trusted_proxies"].as_string_list();
    read_limits(n["limits"], e.limits);
    e.auth = read_auth_config(n.required("auth"), config_dir);
    read_channels(n["channels"], e);
    if (e.channels.empty()) n.fail("the edge needs at least one entry under channels");
    if (n.has("presence")) e.presence = read_presence(n["presence"]);
    if (n.has("static_dir")) {
        std::filesystem::path dir = n["static_dir"].as_string();
        e.static_dir = dir.is_absolute() ? dir : (config_dir / dir).lexically_normal();
    }
    e.dev_tokens = read_dev_tokens(n["dev_tokens"]);
    if (e.dev_tokens && !has_hs256_key(e.auth)) {
        n["dev_tokens"].fail("dev_tokens needs an HS256 key under edge.auth.keys to sign with");
    }
    for (size_t i = 0; i < e.channels.size(); ++i) {
        if (!e.channels[i].snapshot.empty() && !e.presence) {
            n["channels"].items()[i]["snapshot"].fail(
                "a snapshot channel needs edge.presence (its bucket holds the snapshots)");
        }
    }
    return e;
}

}  // namespace bb
