#pragma once

#include <optional>
#include <string>
#include <vector>

// The broker-bridge subcommands. Each returns the process exit status: 0 on success, 1 when
// the work failed (some events not published, a replay refused), 2 for a usage or config
// error. Start-up errors (ConfigError, StartupError) propagate to main, which prints them.
namespace bb::cli {

struct RunOptions {
    std::string config;
    bool edge_only = false;  // `broker-bridge edge`: the WebSocket edge without the handlers
    // `run --bindings a,b`: only these bindings, and no edge (one handler group of a cluster).
    std::vector<std::string> bindings;
};
int run(const RunOptions& o);

// `broker-bridge token`: prints a development token signed with the first HS256 key of
// edge.auth.keys; 2 when the config has none.
struct TokenOptions {
    std::string config;
    std::string sub;
    std::vector<std::string> claims;  // name=value; "a,b" is a list; whole numbers are numbers
    std::string ttl = "1h";
};
int token(const TokenOptions& o);

// `offline`: structure and types only (see load_config); no plugin is loaded.
int check_config(const std::string& config, bool offline = false);
int streams(const std::string& config);
int status(const std::string& config, bool json);

struct PublishOptions {
    std::string config;
    std::string file;  // a .jsonl file, "-" for standard input; empty: a single event below
    std::string type;
    std::string aggregate_type;
    std::string aggregate_id;
    std::string data = "{}";  // JSON
    std::string id;           // default: a random UUID
    std::string user_id;
    std::string source = "broker-bridge-cli";
    bool json_data = false;  // publish data as application/json instead of msgpack
};
int publish(const PublishOptions& o);

struct DlqOptions {
    std::string config;
    std::string binding;  // empty: every binding
    bool json = false;
    bool all = false;
    uint64_t seq = 0;
};
int dlq_list(const DlqOptions& o);
int dlq_show(const DlqOptions& o);
int dlq_replay(const DlqOptions& o);
int dlq_purge(const DlqOptions& o);

// `broker-bridge vapid-keys`: prints a new VAPID key pair, `public_key=` and `private_key=`
// (base64url, as browsers and the push plugin's config take them), then with `pem` the
// private key as PKCS#8 PEM.
struct VapidKeysOptions {
    bool pem = false;
};
int vapid_keys(const VapidKeysOptions& o);

}  // namespace bb::cli
