#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "broker-bridge/backoff.hpp"
#include "broker-bridge/edge_config.hpp"
#include "broker-bridge/log.hpp"

// The daemon's configuration, read once at start-up from YAML (configs/local.yaml is the
// reference). load_config() checks everything it can before anything connects: unknown keys,
// types, durations, duplicate names; each error names the file, line, column and YAML path.
namespace bb {

using Millis = std::chrono::milliseconds;

struct TlsConfig {
    std::string ca_file;    // verify the server against this CA bundle
    std::string cert_file;  // client certificate (mutual TLS), with key_file
    std::string key_file;
    bool enabled() const { return !ca_file.empty() || !cert_file.empty(); }
};

struct NatsConfig {
    std::string url = "nats://127.0.0.1:4222";  // comma-separated list allowed
    std::string name = "broker-bridge";
    std::string user;
    std::string password;
    std::string token;
    std::string credentials_file;  // a .creds file (JWT + nkey seed)
    std::string nkey_seed_file;    // a file holding an nkey seed (SU...)
    TlsConfig tls;
    Millis connect_timeout{2000};
    Millis reconnect_wait{250};      // first wait; doubles up to reconnect_wait_max
    Millis reconnect_wait_max{5000};
    Millis request_timeout{5000};    // JetStream API calls and publish acknowledgements
};

enum class Storage { kFile, kMemory };

struct StreamConfig {
    std::string name;
    std::vector<std::string> subjects;
    Storage storage = Storage::kFile;
    int replicas = 1;
    Millis max_age{0};  // 0: no limit
    Millis duplicate_window{120000};
    int64_t max_bytes = -1;
    int64_t max_msgs = -1;
    // Every stored message matching `source` is re-sent on core NATS under `destination`
    // with its stream sequence in headers (the edge's live feed); empty: none.
    struct RePublish {
        std::string source;       // e.g. rt.>
        std::string destination;  // e.g. rtp.>
    };
    std::optional<RePublish> republish;
};

struct BucketConfig {
    std::string name;
    Storage storage = Storage::kFile;
    int replicas = 1;
    Millis ttl{0};  // 0: keys live until deleted
    int history = 1;
};

struct AdminConfig {
    std::string listen;  // host:port; empty: no admin server
};

struct LogConfig {
    log::Level level = log::Level::kInfo;
    log::Format format = log::Format::kText;
};

enum class Ordering { kNone, kPerAggregate };
enum class Priority { kHigh = 0, kNormal = 1, kLow = 2 };

// Where a new durable consumer starts; an existing one keeps its position.
struct StartPosition {
    enum class Kind { kNew, kAll, kTime } kind = Kind::kNew;
    int64_t time_unix_ns = 0;  // for kTime
};

struct BindingConfig {
    std::string name;
    std::string plugin;
    std::vector<std::string> subjects;
    std::string filter;  // expression text; empty: every event
    int concurrency = 1;
    Ordering ordering = Ordering::kNone;
    Priority priority = Priority::kNormal;
    int attempts = 5;
    BackoffPolicy backoff;
    Millis timeout{30000};
    StartPosition start;
    std::vector<std::string> publish_prefixes;  // subjects the plugin may publish under
    std::string plugin_config_yaml;             // the `config:` subtree, as YAML text
    // The stream the binding consumes: `events` (default) or `presence` (streams: keys).
    std::string stream;
    std::string where;                          // "file:line:col" of the binding, for errors
    std::string config_where;                   // of its `config:` (the binding's when absent)
};

struct HandlersConfig {
    // Names this process's consumers; consumers of the group that no binding uses any more
    // are removed at start-up. Deployments hosting different bindings need different groups.
    std::string group = "default";
    int workers = 0;               // handler threads shared by all bindings; 0: sum of concurrency
    int max_stuck_threads = 4;     // handler threads past their timeout before new work waits
    // AckWait = binding timeout + ack_margin: JetStream redelivers only when a handler (or
    // its process) is gone, never while it may still answer.
    Millis ack_margin{5000};
    Millis shutdown_timeout{10000};  // how long in-flight handlers may finish on shutdown
    int fetch_batch = 256;
    Millis fetch_wait{500};
    int max_ack_pending = 4096;
    // Crash isolation: how long a binding fetches one message at a time after it starts with
    // deliveries outstanding and after a suspect of a crash; unset: one and a half ack waits.
    std::optional<Millis> careful_window;
    // A worker thread takes fetched events of its binding one after another; a binding wakes
    // one more thread per this many waiting events, or one per waiting event while its calls
    // take `spread_after` or longer on average (slow handlers run side by side at once).
    int handoff_batch = 32;
    Millis spread_after{1};
    Millis lag_poll_interval{1000};  // consumer lag metrics; faster polling slows consumers
    // Per-aggregate ordering across lost deliveries: events that arrive after deliveries went
    // missing wait at most `gap_wait` (unset: one and a half ack waits) for them to come
    // back; meanwhile the consumer's ack floor is asked for every `gap_poll_interval`.
    std::optional<Millis> gap_wait;
    Millis gap_poll_interval{200};
};

struct Config {
    std::filesystem::path file;  // the config file as given
    std::filesystem::path dir;   // its folder: relative paths resolve against it
    NatsConfig nats;
    StreamConfig events{"EVENTS", {"events.>"}, Storage::kFile, 1, Millis{7LL * 86400000},
                        Millis{120000}, -1, -1, std::nullopt};
    StreamConfig dlq{"DLQ", {"dlq.>"}, Storage::kFile, 1, Millis{14LL * 86400000},
                     Millis{120000}, -1, -1, std::nullopt};
    StreamConfig realtime{"RT", {"rt.>"}, Storage::kFile, 1, Millis{600000}, Millis{120000},
                          -1, -1, StreamConfig::RePublish{"rt.>", "rtp.>"}};
    // Captures max-deliveries advisories so a crash-looping event is dead-lettered even
    // when no host was running when the advisory was sent.
    StreamConfig advisories{"BRIDGE_ADVISORIES",
                            {"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>"},
                            Storage::kFile, 1, Millis{14LL * 86400000}, Millis{120000}, -1, -1,
                            std::nullopt};
    // Connection churn reported by the edge (presence.>): a stream of its own with a short
    // history, so the bindings of EVENTS never see it. Present only when configured.
    std::optional<StreamConfig> presence;
    std::vector<BucketConfig> buckets;
    AdminConfig admin;
    LogConfig log;
    std::vector<std::filesystem::path> plugin_path;  // absolute after loading
    HandlersConfig handlers;
    std::vector<BindingConfig> bindings;
    // `run --bindings`: the file's bindings this process leaves to other processes. Their
    // consumers are never stale to this process, whatever group runs them.
    std::set<std::string> bindings_elsewhere;
    std::optional<EdgeConfig> edge;  // present: `run` starts the WebSocket edge too
};

// The streams `run` provisions: events, dlq, realtime, advisories and, when set, presence.
std::vector<const StreamConfig*> provisioned_streams(const Config& c);

// The stream a binding consumes (its `stream:` key); events unless it names presence.
const StreamConfig& binding_stream(const Config& c, const BindingConfig& b);

// Reads, checks and resolves a config file. Throws ConfigError naming the place.
// `offline` (check-config --offline) checks structure and types only: an unset ${VAR} is
// kept as its literal text, and no key file is read nor a secret's length checked.
Config load_config(const std::filesystem::path& file, bool offline = false);

// The same from text (for tests); `file` names it in messages and its folder is the base
// for relative paths.
Config parse_config(const std::string& text, const std::filesystem::path& file,
                    bool offline = false);

// Keeps only the named bindings, in file order (`run --bindings a,b`). Throws ConfigError
// naming an unknown or repeated name and the bindings the file has.
void select_bindings(Config& c, const std::vector<std::string>& names);

}  // namespace bb
