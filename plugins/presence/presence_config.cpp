#include "presence_config.hpp"

#include <yaml-cpp/yaml.h>

#include <set>
#include <stdexcept>

namespace bb::presence {
namespace {

// "250ms", "2s", "1m" or a plain number of milliseconds.
std::chrono::milliseconds duration(const YAML::Node& n, const std::string& key) {
    std::string text = n.as<std::string>();
    size_t digits = 0;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) {
        ++digits;
    }
    std::string unit = text.substr(digits);
    if (digits == 0 || digits > 12) throw std::runtime_error(key + ": not a duration: " + text);
    int64_t value = std::stoll(text.substr(0, digits));
    if (unit.empty() || unit == "ms") return std::chrono::milliseconds(value);
    if (unit == "s") return std::chrono::milliseconds(value * 1000);
    if (unit == "m") return std::chrono::milliseconds(value * 60000);
    throw std::runtime_error(key + ": unknown unit '" + unit + "' (use ms, s or m)");
}

}  // namespace

PresenceConfig parse_presence_config(const std::string& yaml) {
    PresenceConfig c;
    YAML::Node root = YAML::Load(yaml);
    if (!root || root.IsNull()) return c;
    if (!root.IsMap()) throw std::runtime_error("presence config must be a map");
    static const std::set<std::string> known{"bucket",          "channel_prefix",
                                             "control_subject", "missed_heartbeats",
                                             "check_interval",  "max_cas_attempts"};
    for (const auto& kv : root) {
        auto key = kv.first.as<std::string>();
        if (!known.count(key)) {
            throw std::runtime_error("unknown key '" + key + "' at line " +
                                     std::to_string(kv.first.Mark().line + 1));
        }
    }
    if (root["bucket"]) c.bucket = root["bucket"].as<std::string>();
    if (root["channel_prefix"]) c.channel_prefix = root["channel_prefix"].as<std::string>();
    if (root["control_subject"]) c.control_subject = root["control_subject"].as<std::string>();
    if (root["missed_heartbeats"]) c.missed_heartbeats = root["missed_heartbeats"].as<int>();
    if (root["check_interval"])
        c.check_interval = duration(root["check_interval"], "check_interval");
    if (root["max_cas_attempts"]) c.max_cas_attempts = root["max_cas_attempts"].as<int>();
    if (c.missed_heartbeats < 1) throw std::runtime_error("missed_heartbeats must be at least 1");
    if (c.check_interval.count() < 0) throw std::runtime_error("check_interval must be >= 0");
    if (c.max_cas_attempts < 1) throw std::runtime_error("max_cas_attempts must be at least 1");
    return c;
}

}  // namespace bb::presence
