// The analytics plugin: every event it is bound to becomes one row in a SQLite table, written
// in group-committed batches. See README.md for the table and the settings.
#include "analytics_config.hpp"
#include "batch_writer.hpp"
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
    config.path = host.resolve_path(config.path);
    return config;
}

// One instance per binding. handle() runs on the binding's worker threads and blocks in the
// batch writer until its row's transaction is committed; the writer thread is joined when
// the instance is destroyed.
class AnalyticsPlugin {
public:
    AnalyticsPlugin(plugin::Host& host, const std::string& yaml_config)
        : host_(host),
          config_(resolved(host, parse_analytics_config(yaml_config))),
          writer_(std::make_unique<SqliteSink>(config_.path),
                  BatchPolicy{config_.batch_max, config_.batch_wait},
                  [this](size_t rows, const BatchResult& result) { observe(rows, result); }) {
        host_.info("analytics store opened", {{"path", config_.path},
                                              {"batch_max", config_.batch_max},
                                              {"batch_wait_ms", config_.batch_wait.count()}});
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
            if (store_failing_) host_.info("analytics store recovered", {{"path", config_.path}});
            store_failing_ = false;
            return;
        }
        if (!store_failing_) {
            host_.warn("analytics store failing",
                       {{"path", config_.path}, {"rows", rows}, {"error", result.error}});
        }
        store_failing_ = true;
    }

    plugin::Host& host_;
    AnalyticsConfig config_;
    bool store_failing_ = false;  // writer thread only
    BatchWriter writer_;          // last: its thread stops before the rest is destroyed
};

}  // namespace bb::analytics

BB_PLUGIN(bb::analytics::AnalyticsPlugin, "analytics", "1.0.0")
