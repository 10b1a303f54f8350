// The analytics plugin: every event it is bound to becomes one row in a SQLite or PostgreSQL
// table, written in group-committed batches. See README.md for the table and the settings.
#include "analytics_config.hpp"
#include "batch_writer.hpp"
#include "postgres_sink.hpp"
#include "sqlite_sink.hpp"

#include <bb/plugin.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

namespace bb::analytics {
namespace {

std::string utc_now_rfc3339() {
    using namespace std::chrono;
    auto now = system_clock::now();
    std::time_t secs = system_clock::to_time_t(now);
    auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];  // room for any int the compiler cannot rule out
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(millis));
    return buf;
}

Row make_row(const plugin::EventView& ev) {
    Row row;
    row.id = ev.id();
    row.type = ev.type();
    row.aggregate_type = ev.aggregate_type();
    row.aggregate_id = ev.aggregate_id();
    row.source = ev.source();
    row.user_id = ev.user_id();
    row.correlation_id = ev.correlation_id();
    row.causation_id = ev.causation_id();
    row.time = ev.time();
    row.data = ev.data_json();
    row.stream_seq = ev.stream_seq();
    row.received_at = utc_now_rfc3339();
    return row;
}

}  // namespace

AnalyticsConfig resolved(const plugin::Host& host, AnalyticsConfig config) {
    if (config.sink == SinkKind::kSqlite) config.path = host.resolve_path(config.path);
    return config;
}

// The opened sink and how logs name it: the file, or the server (never the password).
struct OpenedSink {
    std::unique_ptr<EventSink> sink;
    const char* key;
    std::string name;
    std::string open_error;  // sqlite: why the file is not open yet (it opens on a later batch)
};

OpenedSink open_sink(const AnalyticsConfig& config) {
    if (config.sink == SinkKind::kPostgres) {
        auto sink = std::make_unique<PostgresSink>(config.dsn, config.table);
        std::string server = sink->server();
        return OpenedSink{std::move(sink), "server", server, ""};
    }
    auto sink = std::make_unique<SqliteSink>(config.path, config.max_size_bytes);
    std::string open_error = sink->open_error();
    return OpenedSink{std::move(sink), "path", config.path, open_error};
}

// One instance per binding. handle() runs on the binding's worker threads and blocks in the
// batch writer until its row's transaction is committed; the writer thread is joined when
// the instance is destroyed.
class AnalyticsPlugin {
public:
    AnalyticsPlugin(plugin::Host& host, const std::string& yaml_config)
        : AnalyticsPlugin(host, resolved(host, parse_analytics_config(yaml_config))) {}

    AnalyticsPlugin(plugin::Host& host, AnalyticsConfig config)
        : AnalyticsPlugin(host, config, open_sink(config)) {}

    AnalyticsPlugin(plugin::Host& host, const AnalyticsConfig& config, OpenedSink opened)
        : host_(host),
          store_key_(opened.key),
          store_name_(opened.name),
          writer_(std::move(opened.sink), BatchPolicy{config.batch_max, config.batch_wait},
                  [this](size_t rows, const BatchResult& result) { observe(rows, result); }) {
        if (config.sink == SinkKind::kPostgres) {
            host_.info("analytics store opened", {{"sink", "postgres"},
                                                  {"server", store_name_},
                                                  {"table", config.table},
                                                  {"batch_max", config.batch_max},
                                                  {"batch_wait_ms", config.batch_wait.count()}});
            return;
        }
        host_.info("analytics store opened", {{"path", store_name_},
                                              {"max_size_bytes", config.max_size_bytes},
                                              {"batch_max", config.batch_max},
                                              {"batch_wait_ms", config.batch_wait.count()}});
        if (!opened.open_error.empty()) {
            // Not fatal: the events wait, retried, and the first batch that can open the
            // file logs "analytics store recovered".
            store_failing_ = true;
            host_.warn("analytics store failing",
                       {{"path", store_name_}, {"rows", 0}, {"error", opened.open_error}});
        }
    }

    // For `broker-bridge check-config`: the keys and values only; no file is opened.
    static void check_config(const std::string& yaml_config) {
        (void)parse_analytics_config(yaml_config);
    }

    plugin::Outcome handle(const plugin::EventView& ev) {
        WriteResult result = writer_.write(make_row(ev));
        if (result.committed) return plugin::Outcome::done();
        return plugin::Outcome::retry(result.error);
    }

private:
    // Writer thread. Each failing event already reaches the host as a retry with the error;
    // the log says only when the store starts and stops failing, so an outage is two lines.
    void observe(size_t rows, const BatchResult& result) {
        if (result.ok()) {
            host_.counter_add("rows_written_total", static_cast<double>(result.inserted));
            host_.counter_add("batches_total", 1);
            if (store_failing_)
                host_.info("analytics store recovered", {{store_key_, store_name_}});
            store_failing_ = false;
            return;
        }
        if (!store_failing_) {
            host_.warn("analytics store failing",
                       {{store_key_, store_name_}, {"rows", rows}, {"error", result.error}});
        }
        store_failing_ = true;
    }

    plugin::Host& host_;
    const char* store_key_;       // "path" or "server"
    std::string store_name_;      // the file, or host:port/database
    bool store_failing_ = false;  // writer thread only
    BatchWriter writer_;          // last: its thread stops before the rest is destroyed
};

}  // namespace bb::analytics

BB_PLUGIN(bb::analytics::AnalyticsPlugin, "analytics", "1.0.0")
