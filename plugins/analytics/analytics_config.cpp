#include "analytics_config.hpp"

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <set>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace bb::analytics {
namespace {

constexpr int64_t kBatchMaxLimit = 10000;
// A waiting row holds up its handle() call: a second is already far past useful.
constexpr int64_t kBatchWaitLimitMs = 1000;

[[noreturn]] void fail(std::string_view key, const std::string& what) {
    throw std::invalid_argument("analytics config: " + std::string(key) + ": " + what);
}

std::string scalar_text(const YAML::Node& node) {
    return node.IsScalar() ? "'" + node.Scalar() + "'" : "a non-scalar value";
}

int64_t read_integer(const YAML::Node& node, std::string_view key, int64_t low, int64_t high) {
    const std::string expected = "expected an integer from " + std::to_string(low) + " to " +
                                 std::to_string(high) + ", found ";
    int64_t value = 0;
    if (!node.IsScalar() || !YAML::convert<int64_t>::decode(node, value)) {
        fail(key, expected + scalar_text(node));
    }
    if (value < low || value > high) fail(key, expected + std::to_string(value));
    return value;
}

std::string read_path(const YAML::Node& node) {
    if (!node.IsScalar() || node.Scalar().empty()) {
        fail("path", "expected a file path, found " + scalar_text(node));
    }
    return node.Scalar();
}

// A size as bytes with a binary unit (`64MiB`, `512KiB`, `2GiB`, `1TiB`) or a plain number of
// bytes. Decimal units (MB) are refused rather than guessed.
uint64_t read_size(const YAML::Node& node, std::string_view key) {
    constexpr uint64_t kLow = 64 * 1024;           // room for the table and a few pages of rows
    constexpr uint64_t kHigh = uint64_t{1} << 44;  // 16 TiB, below SQLite's page-count limit
    const std::string expected =
        "expected a size from 64KiB to 16TiB such as 64MiB (units KiB, MiB, GiB, TiB), found ";
    std::string text = node.IsScalar() ? node.Scalar() : "";
    size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    static const std::pair<const char*, uint64_t> kUnits[] = {{"", 1},
                                                              {"KiB", uint64_t{1} << 10},
                                                              {"MiB", uint64_t{1} << 20},
                                                              {"GiB", uint64_t{1} << 30},
                                                              {"TiB", uint64_t{1} << 40}};
    uint64_t unit = 0;
    for (const auto& [name, bytes] : kUnits) {
        if (text.compare(digits, std::string::npos, name) == 0) unit = bytes;
    }
    if (digits == 0 || digits > 15 || unit == 0) fail(key, expected + scalar_text(node));
    uint64_t value = std::stoull(text.substr(0, digits));
    if (value > kHigh / unit || value * unit < kLow || value * unit > kHigh) {
        fail(key, expected + scalar_text(node));
    }
    return value * unit;
}

std::string read_text(const YAML::Node& node, std::string_view key, const char* what) {
    if (!node.IsScalar() || node.Scalar().empty()) {
        fail(key, std::string("expected ") + what + ", found " + scalar_text(node));
    }
    return node.Scalar();
}

SinkKind read_sink(const YAML::Node& node) {
    std::string name = node.IsScalar() ? node.Scalar() : "";
    if (name == "sqlite") return SinkKind::kSqlite;
    if (name == "postgres") return SinkKind::kPostgres;
    fail("sink", "expected sqlite or postgres, found " + scalar_text(node));
}

// The table name goes into SQL text (quoted), so it is held to a plain identifier that
// needs no escaping and that PostgreSQL does not truncate (63 bytes).
std::string read_table(const YAML::Node& node) {
    auto lower = [](char c) { return c == '_' || (c >= 'a' && c <= 'z'); };
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    std::string name = node.IsScalar() ? node.Scalar() : "";
    bool ok = !name.empty() && name.size() <= 63 && lower(name[0]);
    for (char c : name) ok = ok && (lower(c) || digit(c));
    if (!ok) {
        fail("table",
             "expected 1 to 63 characters of a-z, 0-9 and _, not starting with a "
             "digit, found " +
                 scalar_text(node));
    }
    return name;
}

// Keys of one sink given with the other are refused: a `path` beside `sink: postgres` is
// a mistake the user should hear about, not a setting silently unused.
void check_sink_keys(const AnalyticsConfig& config, const std::set<std::string>& seen) {
    if (config.sink == SinkKind::kPostgres) {
        if (seen.count("path")) fail("path", "only with sink: sqlite (postgres uses dsn)");
        if (seen.count("max_size")) fail("max_size", "only with sink: sqlite");
        if (!seen.count("dsn")) fail("dsn", "required with sink: postgres");
        return;
    }
    if (seen.count("dsn")) fail("dsn", "only with sink: postgres");
    if (seen.count("table")) fail("table", "only with sink: postgres");
}

YAML::Node load(const std::string& yaml_text) {
    try {
        return YAML::Load(yaml_text);
    } catch (const YAML::Exception& e) {
        throw std::invalid_argument("analytics config: " + std::string(e.what()));
    }
}

}  // namespace

AnalyticsConfig parse_analytics_config(const std::string& yaml_text) {
    AnalyticsConfig config;
    YAML::Node root = load(yaml_text);
    if (!root.IsDefined() || root.IsNull()) return config;
    if (!root.IsMap()) {
        throw std::invalid_argument("analytics config: expected a map of settings");
    }
    // yaml-cpp keeps both pairs of a repeated key and answers lookups with the first, so a
    // repeat would silently drop a setting: refuse it.
    std::set<std::string> seen;
    for (const auto& entry : root) {
        if (!entry.first.IsScalar()) {
            throw std::invalid_argument("analytics config: a key must be plain text");
        }
        const std::string key = entry.first.Scalar();
        if (!seen.insert(key).second) fail(key, "repeated key");
        if (key == "sink") {
            config.sink = read_sink(entry.second);
        } else if (key == "path") {
            config.path = read_path(entry.second);
        } else if (key == "max_size") {
            config.max_size_bytes = read_size(entry.second, key);
        } else if (key == "dsn") {
            config.dsn = read_text(entry.second, key, "a libpq connection string");
        } else if (key == "table") {
            config.table = read_table(entry.second);
        } else if (key == "batch_max") {
            config.batch_max =
                static_cast<size_t>(read_integer(entry.second, key, 1, kBatchMaxLimit));
        } else if (key == "batch_wait_ms") {
            config.batch_wait =
                std::chrono::milliseconds(read_integer(entry.second, key, 0, kBatchWaitLimitMs));
        } else {
            fail(key,
                 "unknown key (known: sink, path, max_size, dsn, table, batch_max, "
                 "batch_wait_ms)");
        }
    }
    check_sink_keys(config, seen);
    return config;
}

}  // namespace bb::analytics
