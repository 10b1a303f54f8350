#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace bb::analytics {

enum class SinkKind { kSqlite, kPostgres };

struct AnalyticsConfig {
    SinkKind sink = SinkKind::kSqlite;
    // sqlite: relative paths resolve against the config file's folder (Host::resolve_path).
    std::string path = "analytics.db";
    // sqlite: the most the database file may hold (PRAGMA max_page_count); 0 is no cap.
    uint64_t max_size_bytes = 0;
    // postgres: a libpq connection string (key=value or postgresql:// URI), and the table.
    std::string dsn;
    std::string table = "events";
    size_t batch_max = 256;                   // rows per transaction at most
    std::chrono::milliseconds batch_wait{5};  // how long a batch may wait for more rows
};

// Reads the binding's `config:` YAML text. Empty text gives the defaults. Throws
// std::invalid_argument naming the key for an unknown or repeated key, a wrong type, a value
// out of range, or a key that does not belong to the chosen sink.
AnalyticsConfig parse_analytics_config(const std::string& yaml_text);

}  // namespace bb::analytics
