#include "push_config.hpp"

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>
#include <string_view>

#include "broker-bridge/errors.hpp"
#include "broker-bridge/webpush/vapid.hpp"

namespace bb::push {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& where, const std::string& what) {
    throw ConfigError(where + ": " + what);
}

// yaml-cpp keeps both pairs of a repeated key and answers with the first: refuse repeats,
// and unknown keys, which are most often typos of known ones.
void check_keys(const YAML::Node& map, const std::string& where,
                std::initializer_list<std::string_view> known) {
    std::set<std::string> seen;
    for (const auto& entry : map) {
        const std::string key = entry.first.Scalar();
        const std::string at = where.empty() ? key : where + "." + key;
        if (!seen.insert(key).second) fail(at, "repeated key");
        if (std::find(known.begin(), known.end(), key) == known.end()) {
            std::string list;
            for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
            fail(at, "unknown key (known: " + list + ")");
        }
    }
}

std::string read_text(const YAML::Node& node, const std::string& where) {
    if (!node.IsScalar()) fail(where, "expected text");
    return node.Scalar();
}

uint32_t read_count(const YAML::Node& node, const std::string& where, uint32_t min, uint32_t max) {
    const std::string text = read_text(node, where);
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value < min || value > max) {
        fail(where, "expected a whole number from " + std::to_string(min) + " to " +
                        std::to_string(max) + ", found '" + text + "'");
    }
    return static_cast<uint32_t>(value);
}

bool read_bool(const YAML::Node& node, const std::string& where) {
    const std::string text = read_text(node, where);
    if (text == "true") return true;
    if (text == "false") return false;
    fail(where, "expected true or false, found '" + text + "'");
}

// YAML to the JSON shape of a payload template: plain scalars take the type they read as
// (true, 12, 1.5, null), quoted ones stay text, as in the router's routes.
json to_json(const YAML::Node& node, const std::string& where) {
    if (node.IsMap()) {
        json out = json::object();
        for (const auto& entry : node) {
            out[entry.first.Scalar()] = to_json(entry.second, where + "." + entry.first.Scalar());
        }
        return out;
    }
    if (node.IsSequence()) {
        json out = json::array();
        for (std::size_t i = 0; i < node.size(); ++i) {
            out.push_back(to_json(node[i], where + "[" + std::to_string(i) + "]"));
        }
        return out;
    }
    if (!node.IsScalar()) return nullptr;
    const std::string& text = node.Scalar();
    if (node.Tag() == "!") return text;
    if (text == "true" || text == "false") return text == "true";
    if (text == "null" || text == "~") return nullptr;
    json number = json::parse(text, nullptr, false);
    if (number.is_number()) return number;
    return text;
}

std::string read_file(const std::string& path, const std::string& where) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(where, "cannot read " + path + ": " + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void read_vapid(const YAML::Node& node, const plugin::Host& host, PushConfig& c) {
    if (!node.IsMap()) fail("vapid", "expected a map with subject and private_key");
    check_keys(node, "vapid", {"subject", "private_key", "private_key_file", "token_lifetime_ms"});
    if (!node["subject"]) fail("vapid.subject", "required: a mailto: or https: contact");
    c.vapid_subject = read_text(node["subject"], "vapid.subject");
    if (!c.vapid_subject.starts_with("mailto:") && !c.vapid_subject.starts_with("https:")) {
        fail("vapid.subject", "must start with mailto: or https: (RFC 8292 section 2.1)");
    }
    if (node["token_lifetime_ms"]) {
        // RFC 8292 section 2: a push service refuses an exp more than 24 hours ahead.
        c.token_lifetime_ms = read_count(node["token_lifetime_ms"], "vapid.token_lifetime_ms",
                                         60 * 1000, 24 * 3600 * 1000);
    }
    const bool inline_key = static_cast<bool>(node["private_key"]);
    const bool key_file = static_cast<bool>(node["private_key_file"]);
    if (inline_key == key_file) {
        fail("vapid", "give exactly one of private_key (from ${ENV}) and private_key_file");
    }
    std::string where = inline_key ? "vapid.private_key" : "vapid.private_key_file";
    if (inline_key) {
        c.vapid_private_key = read_text(node["private_key"], where);
    } else {
        std::string path = host.resolve_path(read_text(node["private_key_file"], where));
        c.vapid_private_key = read_file(path, where);
        where += " (" + path + ")";
    }
    auto key = webpush::read_vapid_key(c.vapid_private_key);
    if (!key) fail(where, key.error().what);
}

void read_subscription_events(const YAML::Node& node, SubscriptionEvents& s) {
    const std::string at = "subscription_events";
    if (!node.IsMap()) fail(at, "expected a map");
    check_keys(node, at, {"added", "removed", "user", "endpoint", "p256dh", "auth"});
    if (node["added"]) s.added_type = read_text(node["added"], at + ".added");
    if (node["removed"]) s.removed_type = read_text(node["removed"], at + ".removed");
    auto set = [&](const char* key, tmpl::Template& target) {
        if (!node[key]) return;
        const std::string where = at + "." + key;
        target = tmpl::Template::parse(read_text(node[key], where), where);
    };
    set("user", s.user);
    set("endpoint", s.endpoint);
    set("p256dh", s.p256dh);
    set("auth", s.auth);
}

void read_headers(const YAML::Node& root, PushConfig& c) {
    if (root["ttl_seconds"]) {
        // RFC 8030 leaves the maximum to the push service; four weeks is what they keep.
        c.ttl_seconds = read_count(root["ttl_seconds"], "ttl_seconds", 0, 28 * 86400);
    }
    if (root["urgency"]) {
        c.urgency = read_text(root["urgency"], "urgency");
        static constexpr std::string_view kLevels[] = {"very-low", "low", "normal", "high"};
        if (std::find(std::begin(kLevels), std::end(kLevels), c.urgency) == std::end(kLevels)) {
            fail("urgency", "expected very-low, low, normal or high, found '" + c.urgency + "'");
        }
    }
    if (root["topic"]) c.topic = tmpl::Template::parse(read_text(root["topic"], "topic"), "topic");
}

void read_limits(const YAML::Node& root, PushConfig& c) {
    constexpr uint32_t kHour = 3600 * 1000;
    auto count = [&](const char* key, uint32_t& target, uint32_t min, uint32_t max) {
        if (root[key]) target = read_count(root[key], key, min, max);
    };
    count("connect_timeout_ms", c.connect_timeout_ms, 1, kHour);
    count("request_timeout_ms", c.request_timeout_ms, 1, kHour);
    count("max_retry_after_ms", c.max_retry_after_ms, 0, 24 * kHour);
    count("max_devices_per_user", c.max_devices_per_user, 1, 1000);
    if (root["allow_http_endpoints"]) {
        c.allow_http_endpoints = read_bool(root["allow_http_endpoints"], "allow_http_endpoints");
    }
}

PushConfig defaults() {
    return PushConfig{
        .subscriptions =
            SubscriptionEvents{
                .user = tmpl::Template::parse("{data.userId}", "subscription_events.user"),
                .endpoint =
                    tmpl::Template::parse("{data.endpoint}", "subscription_events.endpoint"),
                .p256dh = tmpl::Template::parse("{data.keys.p256dh}", "subscription_events.p256dh"),
                .auth = tmpl::Template::parse("{data.keys.auth}", "subscription_events.auth")},
        .user = tmpl::Template::parse("{data.targetUserId}", "user")};
}

}  // namespace

PushConfig parse_push_config(const std::string& yaml_text, const plugin::Host& host) {
    YAML::Node root;
    try {
        root = YAML::Load(yaml_text);
    } catch (const YAML::Exception& e) {
        throw ConfigError(std::string("config: ") + e.what());
    }
    if (!root.IsMap()) fail("config", "expected a map with at least vapid");
    check_keys(
        root, "",
        {"vapid", "subscriptions_bucket", "sent_bucket", "subscription_events", "user", "payload",
         "ttl_seconds", "urgency", "topic", "connect_timeout_ms", "request_timeout_ms",
         "max_retry_after_ms", "max_devices_per_user", "allow_http_endpoints"});
    PushConfig c = defaults();
    if (!root["vapid"]) fail("vapid", "required: subject and private_key or private_key_file");
    read_vapid(root["vapid"], host, c);
    if (root["subscriptions_bucket"]) {
        c.subscriptions_bucket = read_text(root["subscriptions_bucket"], "subscriptions_bucket");
    }
    if (root["sent_bucket"]) c.sent_bucket = read_text(root["sent_bucket"], "sent_bucket");
    if (root["subscription_events"])
        read_subscription_events(root["subscription_events"], c.subscriptions);
    if (root["user"]) c.user = tmpl::Template::parse(read_text(root["user"], "user"), "user");
    if (root["payload"])
        c.payload = tmpl::JsonTemplate::parse(to_json(root["payload"], "payload"), "payload");
    read_headers(root, c);
    read_limits(root, c);
    return c;
}

}  // namespace bb::push
