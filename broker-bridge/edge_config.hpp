#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "broker-bridge/auth_config.hpp"
#include "broker-bridge/config_node.hpp"

// The `edge:` section: the WebSocket edge that `broker-bridge run` starts when the section is
// present (and `broker-bridge edge` runs alone). Every interval is written as a duration
// ("250ms", "5s") and held in milliseconds. docs/PROTOCOL.md describes what clients see.
namespace bb {

// Who may subscribe to (or publish on) a channel. kExpression holds the rule text, e.g.
// `{user} == sub` or `{org} in orgs`; kToken asks for a per-channel subscription token.
struct ChannelRuleText {
    enum class Kind { kAuthenticated, kToken, kExpression } kind = Kind::kAuthenticated;
    std::string expression;
};

// The domain event a client publish becomes. Templates may use the channel's variables.
struct ChannelPublishConfig {
    ChannelRuleText rule;
    std::string type;            // e.g. DocumentEdited
    std::string aggregate_type;  // e.g. Document
    std::string aggregate_id;    // template, e.g. "{doc}"
    std::string source = "broker-bridge-edge";
};

enum class SkipAuthor { kNone, kConnection, kUser };

struct ChannelConfig {
    std::string pattern;  // user:{user}:notifications
    std::string subject;  // rt.user.{user}.notifications
    ChannelRuleText subscribe;
    std::optional<ChannelPublishConfig> publish;
    SkipAuthor skip_author = SkipAuthor::kNone;
    // Key template in edge.presence.bucket (e.g. "org.{org}"): a subscribe first gets the
    // state stored there as a `snapshot`, then the channel's messages after its sequence.
    std::string snapshot;
    std::string where;  // "file:line:col", for errors found later
};

struct EdgeLimits {
    int64_t max_connections = 10000;         // in this process
    int64_t max_connections_per_user = 32;   // by token `sub`
    int64_t max_connections_per_ip = 0;      // 0: no per-address limit
    int64_t new_connections_per_second = 0;  // 0: no limit; refused with 1013
    int64_t max_subscriptions = 64;          // per connection
    int64_t max_message_size = 64 * 1024;    // a client message, reassembled and inflated
    int64_t send_queue_bytes = 1024 * 1024;  // per connection; past it: close 4008
    int64_t max_frame_bytes = 64 * 1024;     // what one outgoing frame batches
    int64_t commands_per_second = 50;        // per connection; past the burst: close 4029
    int64_t command_burst = 100;
    int64_t max_recovery_messages = 1000;  // more missed than this: recovered=false
};

// Presence reporting (docs/PRESENCE.md): connection events and a heartbeat per node,
// published under <subject_prefix>.node.<Type>; deactivations arrive on
// <subject_prefix>.control.UserDeactivated.
struct EdgePresenceConfig {
    std::string subject_prefix = "presence";
    std::string node_id;  // empty: <host name>-<pid>
    std::chrono::milliseconds heartbeat_interval{5000};
    std::string bucket = "presence";  // where snapshot channels read their state
    // Events waiting for NATS (while it is unreachable); past this the oldest are dropped.
    int64_t max_queued_events = 100000;
};

// POST /dev/token {"user": "...", "orgs": [...]} answers {"token": "..."} signed with the
// first HS256 key: anyone who reaches the edge can then be anyone. For a developer's machine
// only (configs/local.yaml); the endpoint does not exist unless `enabled: true` is written.
struct DevTokenConfig {
    std::chrono::milliseconds ttl{3600 * 1000};  // the minted tokens' lifetime
};

struct EdgeConfig {
    std::string listen;        // host:port; only that address is bound
    std::string path = "/ws";  // the WebSocket endpoint
    int threads = 2;           // event loops, one per core
    int workers = 2;           // threads for NATS round trips (recovery, publish)
    std::chrono::milliseconds connect_timeout{5000};  // no valid connect by then: 4001
    std::chrono::milliseconds ping_interval{25000};
    std::chrono::milliseconds ping_timeout{60000};          // no pong for this long: dropped
    std::chrono::milliseconds shutdown_reconnect_in{2000};  // told to clients on shutdown
    std::chrono::milliseconds drain_timeout{5000};          // shutdown waits this long for closes
    // A live message for a connection that was sent a frame less than this long ago waits
    // out the rest, so the messages that arrive meanwhile share one frame. 0: never waits.
    std::chrono::milliseconds coalesce_delay{5};
    bool permessage_deflate = false;
    std::vector<std::string> allowed_origins;  // empty: any Origin (or none)
    std::vector<std::string> trusted_proxies;  // addresses whose X-Forwarded-For is believed
    EdgeLimits limits;
    AuthConfig auth;
    std::vector<ChannelConfig> channels;
    std::optional<EdgePresenceConfig> presence;
    // Files served at `/` (index.html for a folder): the demo page. Empty: no file is served.
    std::filesystem::path static_dir;
    std::optional<DevTokenConfig> dev_tokens;  // set only with dev_tokens.enabled: true
};

// Reads `edge:`; relative key files resolve against `config_dir`. Throws ConfigError naming
// the place. Channel patterns and rules are checked for form here; bb::edge::ChannelRules
// compiles them against the realtime stream when the edge starts.
EdgeConfig read_edge_config(const config::Node& n, const std::filesystem::path& config_dir);

}  // namespace bb
