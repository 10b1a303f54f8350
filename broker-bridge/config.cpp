#include "broker-bridge/config.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "broker-bridge/config_node.hpp"
#include "broker-bridge/errors.hpp"
#include "broker-bridge/subject.hpp"

namespace bb {
namespace {

using config::Node;

constexpr int64_t kMaxInt = 1LL << 40;

Storage read_storage(const Node& n) {
    std::string s = n.as_string();
    if (s == "file") return Storage::kFile;
    if (s == "memory") return Storage::kMemory;
    n.fail("storage must be 'file' or 'memory', got '" + s + "'");
}

void check_subject_pattern(const Node& n, const std::string& subject) {
    if (!is_valid_subject_pattern(subject)) {
        n.fail("'" + subject +
               "' is not a valid NATS subject (dot-separated tokens; '*' a whole token; '>' "
               "only last; no spaces or control characters)");
    }
}

void read_stream(const Node& n, StreamConfig& s) {
    if (!n.defined()) return;
    n.expect_keys({"name", "subjects", "storage", "replicas", "max_age", "duplicate_window",
                   "max_bytes", "max_msgs"});
    if (n.has("name")) s.name = n["name"].as_string();
    if (s.name.empty() || s.name.find_first_of(".*> \t") != std::string::npos) {
        n["name"].fail("a stream name must be one token without '.', '*', '>' or spaces");
    }
    if (n.has("subjects")) {
        s.subjects = n["subjects"].as_string_list();
        for (const auto& subj : s.subjects) check_subject_pattern(n["subjects"], subj);
    }
    if (n.has("storage")) s.storage = read_storage(n["storage"]);
    if (n.has("replicas")) s.replicas = static_cast<int>(n["replicas"].as_int(1, 5));
    if (n.has("max_age")) s.max_age = n["max_age"].as_duration();
    if (n.has("duplicate_window")) s.duplicate_window = n["duplicate_window"].as_duration();
    if (n.has("max_bytes")) s.max_bytes = n["max_bytes"].as_int(-1, kMaxInt * 1024);
    if (n.has("max_msgs")) s.max_msgs = n["max_msgs"].as_int(-1, kMaxInt);
    if (s.max_age.count() > 0 && s.duplicate_window > s.max_age) {
        n["duplicate_window"].fail("duplicate_window may not exceed max_age");
    }
}

void read_tls(const Node& n, TlsConfig& tls, const std::filesystem::path& dir);

// Events are published under events.<aggregate>.<type> and dead letters under dlq.<binding>.
// <subject>: a stream that does not take those subjects would lose them.
void require_prefix(const Node& n, const StreamConfig& s, const std::string& prefix) {
    for (const auto& subject : s.subjects) {
        if (subject_pattern_covers(subject, prefix + ".>")) return;
    }
    n["subjects"].fail("stream " + s.name + " must take " + prefix + ".> (events and dead " +
                       "letters are published under it)");
}

std::string resolve_path(const std::filesystem::path& dir, const std::string& value) {
    if (value.empty()) return value;
    std::filesystem::path p(value);
    return p.is_absolute() ? p.string() : (dir / p).lexically_normal().string();
}

void read_nats(const Node& n, NatsConfig& c, const std::filesystem::path& dir) {
    if (!n.defined()) return;
    n.expect_keys({"url", "name", "user", "password", "token", "credentials_file", "nkey_seed_file",
                   "tls", "connect_timeout", "reconnect_wait", "reconnect_wait_max",
                   "request_timeout"});
    if (n.has("url")) c.url = n["url"].as_string();
    if (c.url.empty()) n["url"].fail("the NATS url may not be empty");
    if (n.has("name")) c.name = n["name"].as_string();
    if (n.has("user")) c.user = n["user"].as_string();
    if (n.has("password")) c.password = n["password"].as_string();
    if (n.has("token")) c.token = n["token"].as_string();
    if (n.has("credentials_file"))
        c.credentials_file = resolve_path(dir, n["credentials_file"].as_string());
    if (n.has("nkey_seed_file"))
        c.nkey_seed_file = resolve_path(dir, n["nkey_seed_file"].as_string());
    int methods = !c.user.empty() + !c.token.empty() + !c.credentials_file.empty() +
                  !c.nkey_seed_file.empty();
    if (methods > 1) {
        n.fail("choose one of user/password, token, credentials_file or nkey_seed_file");
    }
    if (!c.password.empty() && c.user.empty()) n["password"].fail("password needs a user");
    read_tls(n["tls"], c.tls, dir);
    if (n.has("connect_timeout")) c.connect_timeout = n["connect_timeout"].as_duration();
    if (n.has("reconnect_wait")) c.reconnect_wait = n["reconnect_wait"].as_duration();
    if (n.has("reconnect_wait_max")) c.reconnect_wait_max = n["reconnect_wait_max"].as_duration();
    if (n.has("request_timeout")) c.request_timeout = n["request_timeout"].as_duration();
    if (c.reconnect_wait_max < c.reconnect_wait) {
        n["reconnect_wait_max"].fail("reconnect_wait_max may not be below reconnect_wait");
    }
}

void read_tls(const Node& n, TlsConfig& tls, const std::filesystem::path& dir) {
    if (!n.defined()) return;
    n.expect_keys({"ca_file", "cert_file", "key_file"});
    if (n.has("ca_file")) tls.ca_file = resolve_path(dir, n["ca_file"].as_string());
    if (n.has("cert_file")) tls.cert_file = resolve_path(dir, n["cert_file"].as_string());
    if (n.has("key_file")) tls.key_file = resolve_path(dir, n["key_file"].as_string());
    if (tls.cert_file.empty() != tls.key_file.empty()) {
        n.fail("cert_file and key_file go together");
    }
}

void read_buckets(const Node& n, std::vector<BucketConfig>& out) {
    if (!n.defined()) return;
    std::set<std::string> names;
    for (const auto& item : n.items()) {
        item.expect_keys({"name", "storage", "replicas", "ttl", "history"});
        BucketConfig b;
        b.name = item.required("name").as_string();
        bool name_ok = !b.name.empty() && std::all_of(b.name.begin(), b.name.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
        });
        if (!name_ok) item["name"].fail("a bucket name may hold letters, digits, '_' and '-'");
        if (!names.insert(b.name).second) item["name"].fail("duplicate bucket '" + b.name + "'");
        if (item.has("storage")) b.storage = read_storage(item["storage"]);
        if (item.has("replicas")) b.replicas = static_cast<int>(item["replicas"].as_int(1, 5));
        if (item.has("ttl")) b.ttl = item["ttl"].as_duration();
        if (item.has("history")) b.history = static_cast<int>(item["history"].as_int(1, 64));
        out.push_back(std::move(b));
    }
}

void read_admin_and_log(const Node& root, Config& c) {
    Node admin = root["admin"];
    admin.expect_keys({"listen"});
    if (admin.has("listen")) c.admin.listen = admin["listen"].as_string();

    Node log = root["log"];
    log.expect_keys({"level", "format"});
    if (log.has("level") && !log::parse_level(log["level"].as_string(), c.log.level)) {
        log["level"].fail("level must be one of trace, debug, info, warn, error, off");
    }
    if (log.has("format")) {
        std::string f = log["format"].as_string();
        if (f == "text") {
            c.log.format = log::Format::kText;
        } else if (f == "json") {
            c.log.format = log::Format::kJson;
        } else {
            log["format"].fail("format must be 'text' or 'json', got '" + f + "'");
        }
    }
}

void read_handlers(const Node& n, HandlersConfig& h) {
    if (!n.defined()) return;
    n.expect_keys({"group", "workers", "max_stuck_threads", "ack_margin", "shutdown_timeout",
                   "fetch_batch", "fetch_wait", "max_ack_pending", "lag_poll_interval",
                   "careful_window", "handoff_batch", "spread_after", "gap_wait",
                   "gap_poll_interval"});
    if (n.has("group")) h.group = n["group"].as_string();
    bool group_ok = !h.group.empty() && h.group.size() <= 32 &&
                    std::all_of(h.group.begin(), h.group.end(), [](char c) {
                        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
                    });
    if (!group_ok) n["group"].fail("a group is 1-32 characters of a-z, 0-9 and '_'");
    if (n.has("workers")) h.workers = static_cast<int>(n["workers"].as_int(0, 4096));
    // Every interval is added to a clock reading: a week is far beyond any use, and a
    // larger value could overflow that sum into the past.
    auto interval = [&](const char* key) {
        auto d = n[key].as_duration();
        if (d > std::chrono::hours(24 * 7)) {
            n[key].fail(std::string(key) + " must be at most 168h");
        }
        return d;
    };
    if (n.has("ack_margin")) h.ack_margin = interval("ack_margin");
    if (n.has("max_stuck_threads"))
        h.max_stuck_threads = static_cast<int>(n["max_stuck_threads"].as_int(0, 1024));
    if (n.has("shutdown_timeout")) h.shutdown_timeout = interval("shutdown_timeout");
    if (n.has("fetch_batch")) h.fetch_batch = static_cast<int>(n["fetch_batch"].as_int(1, 4096));
    if (n.has("fetch_wait")) h.fetch_wait = interval("fetch_wait");
    if (n.has("max_ack_pending"))
        h.max_ack_pending = static_cast<int>(n["max_ack_pending"].as_int(1, 1000000));
    if (n.has("lag_poll_interval")) h.lag_poll_interval = interval("lag_poll_interval");
    if (n.has("careful_window")) h.careful_window = interval("careful_window");
    if (n.has("handoff_batch"))
        h.handoff_batch = static_cast<int>(n["handoff_batch"].as_int(1, 4096));
    if (n.has("spread_after")) h.spread_after = interval("spread_after");
    if (n.has("gap_wait")) h.gap_wait = interval("gap_wait");
    if (n.has("gap_poll_interval")) h.gap_poll_interval = interval("gap_poll_interval");
    if (h.gap_poll_interval.count() < 10) {
        n["gap_poll_interval"].fail("gap_poll_interval must be at least 10ms");
    }
    if (h.fetch_wait.count() < 1) n["fetch_wait"].fail("fetch_wait must be at least 1ms");
    if (h.lag_poll_interval.count() < 100) {
        // Polling consumer info faster measurably slows the consumers themselves.
        n["lag_poll_interval"].fail("lag_poll_interval must be at least 100ms");
    }
    if (h.fetch_batch > h.max_ack_pending) {
        // A fetch larger than MaxAckPending waits out its whole timeout on every call.
        n["fetch_batch"].fail("fetch_batch may not exceed max_ack_pending");
    }
}

}  // namespace

void read_bindings(const Node& n, Config& c);  // config_bindings.cpp

Config parse_config(const std::string& text, const std::filesystem::path& file, bool offline) {
    Config c;
    c.file = file;
    std::filesystem::path abs = std::filesystem::absolute(file);
    c.dir = abs.parent_path();
    Node root = config::load_document(text, file.string(), {}, offline);
    if (!root.is_map()) root.fail("the config must be a map of sections");
    root.expect_keys(
        {"nats", "streams", "buckets", "admin", "log", "plugins", "handlers", "bindings", "edge"});
    read_nats(root["nats"], c.nats, c.dir);
    Node streams = root["streams"];
    streams.expect_keys({"events", "dlq", "realtime", "advisories", "presence"});
    read_stream(streams["events"], c.events);
    read_stream(streams["dlq"], c.dlq);
    read_stream(streams["realtime"], c.realtime);
    read_stream(streams["advisories"], c.advisories);
    if (streams.has("presence")) {
        c.presence = StreamConfig{"PRESENCE", {"presence.>"}, Storage::kFile, 1, Millis{60000},
                                  Millis{60000}, -1, -1, std::nullopt};
        read_stream(streams["presence"], *c.presence);
    }
    require_prefix(streams["events"], c.events, "events");
    require_prefix(streams["dlq"], c.dlq, "dlq");
    read_buckets(root["buckets"], c.buckets);
    read_admin_and_log(root, c);
    Node plugins = root["plugins"];
    plugins.expect_keys({"path"});
    if (plugins.has("path")) {
        for (const auto& p : plugins["path"].as_string_list()) {
            c.plugin_path.emplace_back(resolve_path(c.dir, p));
        }
    }
    read_handlers(root["handlers"], c.handlers);
    read_bindings(root["bindings"], c);
    if (root.has("edge")) c.edge = read_edge_config(root["edge"], c.dir);
    return c;
}

std::vector<const StreamConfig*> provisioned_streams(const Config& c) {
    std::vector<const StreamConfig*> out{&c.events, &c.dlq, &c.realtime, &c.advisories};
    if (c.presence) out.push_back(&*c.presence);
    return out;
}

const StreamConfig& binding_stream(const Config& c, const BindingConfig& b) {
    if (c.presence && b.stream == c.presence->name) return *c.presence;
    return c.events;
}

Config load_config(const std::filesystem::path& file, bool offline) {
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec)) {
        throw ConfigError(file.string() + ": is a folder, not a config file");
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) throw ConfigError(file.string() + ": cannot read the config file");
    // Read one byte past the limit at most: the size check then refuses the file without
    // reading all of something like /dev/zero into memory first.
    constexpr size_t kReadCap = config::LoadLimits{}.max_bytes + 1;
    std::string text(kReadCap, '\0');
    in.read(text.data(), static_cast<std::streamsize>(kReadCap));
    text.resize(static_cast<size_t>(in.gcount()));
    if (text.size() == kReadCap) {
        throw ConfigError(file.string() + ": the file is larger than " +
                          std::to_string(kReadCap - 1) + " bytes, the most a config may be");
    }
    return parse_config(text, file, offline);
}

}  // namespace bb
