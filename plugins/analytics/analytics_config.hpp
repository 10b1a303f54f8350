#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace bb::analytics {

struct AnalyticsConfig {
    // Relative paths resolve against the config file's folder (plugin::Host::resolve_path).
    std::string path = "analytics.db";
    size_t batch_max = 256;                   // rows per transaction at most
    std::chrono::milliseconds batch_wait{5};  // how long a batch may wait for more rows
};

// Reads the binding's `config:` YAML text. Empty text gives the defaults. Throws
// std::invalid_argument naming the key for an unknown or repeated key, a wrong type or a
// value out of range.
AnalyticsConfig parse_analytics_config(const std::string& yaml_text);

}  // namespace bb::analytics
