#pragma once

#include <bb/plugin.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bb::test {

struct LoggedLine {
    bb_log_level level;
    std::string text;
};

struct PublishedEvent {
    std::string source_id;  // the event handle() was answering when it published
    std::string type;
    std::string aggregate_type;
    std::string aggregate_id;
    std::string data_json;
    std::string key;
};

// One call of the raw publish entry, refused ones included.
struct RawPublish {
    std::string subject;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string data;
    bb_status answer;

    // The first header called `name` (exact case), or nullopt.
    std::optional<std::string> header(const std::string& name) const;
};

// A bb_host table backed by memory, recording every call, for driving plugins through the
// real loader without NATS. Thread-safe like the real host: plugins call it from worker and
// writer threads. Key-value buckets follow plugin.h (revisions count up across buckets).
class FakeHost {
public:
    FakeHost();
    FakeHost(const FakeHost&) = delete;
    FakeHost& operator=(const FakeHost&) = delete;

    const bb_host* table() const { return &table_; }

    std::vector<LoggedLine> lines() const;
    double counter(const std::string& name) const;  // 0 when never added to
    std::optional<double> gauge(const std::string& name) const;
    std::vector<PublishedEvent> published_events() const;
    std::vector<RawPublish> raw_publishes() const;
    uint32_t tick_interval_ms() const;
    int buffers_outstanding() const;  // kv_get buffers not yet freed

    // What publish_event answers from now on.
    void answer_publish_with(bb_status status, std::string error);
    // Raw publishes under one of `patterns` (publish_prefixes syntax, e.g. "rt.>") succeed
    // from now on; others answer BB_FORBIDDEN as the host does (by default all do), and a
    // malformed subject BB_INVALID.
    void allow_publish_under(std::vector<std::string> patterns);
    // What an allowed raw publish answers from now on (BB_OK by default).
    void answer_raw_publish_with(bb_status status, std::string error);

private:
    struct KvValue {
        std::string data;
        uint64_t revision;
    };

    static FakeHost& self(void* ctx) { return *static_cast<FakeHost*>(ctx); }

    static void log(void* ctx, bb_log_level level, const char* line, size_t len) noexcept;
    static void counter_add(void* ctx, const char* name, double increment) noexcept;
    static void gauge_set(void* ctx, const char* name, double value) noexcept;
    static bb_status publish_event(void* ctx, const bb_event* source, const bb_new_event* event,
                                   bb_error* err) noexcept;
    static bb_status publish(void* ctx, const char* subject, const bb_header* headers,
                             size_t header_count, const char* data, size_t len,
                             bb_error* err) noexcept;
    static bb_status kv_get(void* ctx, const char* bucket, const char* key, bb_buffer* out,
                            uint64_t* revision, bb_error* err) noexcept;
    static bb_status kv_put(void* ctx, const char* bucket, const char* key, const char* data,
                            size_t len, uint64_t* revision, bb_error* err) noexcept;
    static bb_status kv_create(void* ctx, const char* bucket, const char* key, const char* data,
                               size_t len, uint64_t* revision, bb_error* err) noexcept;
    static bb_status kv_update(void* ctx, const char* bucket, const char* key, const char* data,
                               size_t len, uint64_t last_revision, uint64_t* revision,
                               bb_error* err) noexcept;
    static bb_status kv_delete(void* ctx, const char* bucket, const char* key,
                               bb_error* err) noexcept;
    static void buffer_free(void* ctx, bb_buffer* buffer) noexcept;
    static void set_tick(void* ctx, uint32_t interval_ms) noexcept;

    bb_status store(const char* bucket, const char* key, const char* data, size_t len,
                    uint64_t* revision);

    mutable std::mutex mutex_;
    std::vector<LoggedLine> lines_;
    std::map<std::string, double> counters_;
    std::map<std::string, double> gauges_;
    std::vector<PublishedEvent> published_;
    std::pair<bb_status, std::string> publish_answer_{BB_OK, ""};
    std::vector<RawPublish> raw_published_;
    std::vector<std::string> publish_patterns_;
    std::pair<bb_status, std::string> raw_publish_answer_{BB_OK, ""};
    std::map<std::pair<std::string, std::string>, KvValue> kv_;
    uint64_t kv_revision_ = 0;
    int buffers_outstanding_ = 0;
    uint32_t tick_interval_ms_ = 0;
    bb_host table_;
};

}  // namespace bb::test
