#pragma once

#include <chrono>
#include <cstdint>
#include <string>

// The presence plugin's `config:` (README.md). Every interval in milliseconds.
namespace bb::presence {

struct PresenceConfig {
    std::string bucket = "presence";        // a bucket declared under buckets:
    std::string channel_prefix = "rt.org";  // changes go to <prefix>.<org>.presence
    std::string control_subject = "presence.control.UserDeactivated";
    int missed_heartbeats = 3;  // a node silent for this many of its intervals is dead
    std::chrono::milliseconds check_interval{1000};  // how often dead nodes are looked for
    int max_cas_attempts = 50;  // compare-and-set rounds before a handler call retries
};

// Throws std::runtime_error naming the key that is wrong.
PresenceConfig parse_presence_config(const std::string& yaml);

}  // namespace bb::presence
