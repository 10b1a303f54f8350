#include "unit/handlers/fake_host.hpp"

#include <bb/plugin.hpp>

#include <algorithm>
#include <cstring>

#include "broker-bridge/envelope.hpp"
#include "broker-bridge/subject.hpp"

namespace bb::test {
namespace {

std::string text(bb_str s) { return std::string(plugin::to_string_view(s)); }

}  // namespace

FakeHost::FakeHost() : table_{} {
    table_.struct_size = sizeof(bb_host);
    table_.ctx = this;
    table_.log = &FakeHost::log;
    table_.counter_add = &FakeHost::counter_add;
    table_.gauge_set = &FakeHost::gauge_set;
    table_.publish_event = &FakeHost::publish_event;
    table_.publish = &FakeHost::publish;
    table_.kv_get = &FakeHost::kv_get;
    table_.kv_put = &FakeHost::kv_put;
    table_.kv_create = &FakeHost::kv_create;
    table_.kv_update = &FakeHost::kv_update;
    table_.kv_delete = &FakeHost::kv_delete;
    table_.buffer_free = &FakeHost::buffer_free;
    table_.set_tick = &FakeHost::set_tick;
}

std::vector<LoggedLine> FakeHost::lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
}

double FakeHost::counter(const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = counters_.find(name);
    return it != counters_.end() ? it->second : 0.0;
}

std::optional<double> FakeHost::gauge(const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = gauges_.find(name);
    if (it == gauges_.end()) return std::nullopt;
    return it->second;
}

std::vector<PublishedEvent> FakeHost::published_events() const {
    std::lock_guard lock(mutex_);
    return published_;
}

std::optional<std::string> RawPublish::header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
        if (k == name) return v;
    }
    return std::nullopt;
}

std::vector<RawPublish> FakeHost::raw_publishes() const {
    std::lock_guard lock(mutex_);
    return raw_published_;
}

void FakeHost::allow_publish_under(std::vector<std::string> patterns) {
    std::lock_guard lock(mutex_);
    publish_patterns_ = std::move(patterns);
}

void FakeHost::answer_raw_publish_with(bb_status status, std::string error) {
    std::lock_guard lock(mutex_);
    raw_publish_answer_ = {status, std::move(error)};
}

uint32_t FakeHost::tick_interval_ms() const {
    std::lock_guard lock(mutex_);
    return tick_interval_ms_;
}

int FakeHost::buffers_outstanding() const {
    std::lock_guard lock(mutex_);
    return buffers_outstanding_;
}

void FakeHost::answer_publish_with(bb_status status, std::string error) {
    std::lock_guard lock(mutex_);
    publish_answer_ = {status, std::move(error)};
}

void FakeHost::log(void* ctx, bb_log_level level, const char* line, size_t len) noexcept {
    FakeHost& host = self(ctx);
    std::lock_guard lock(host.mutex_);
    host.lines_.push_back({level, std::string(line, len)});
}

void FakeHost::counter_add(void* ctx, const char* name, double increment) noexcept {
    FakeHost& host = self(ctx);
    std::lock_guard lock(host.mutex_);
    host.counters_[name] += increment;
}

void FakeHost::gauge_set(void* ctx, const char* name, double value) noexcept {
    FakeHost& host = self(ctx);
    std::lock_guard lock(host.mutex_);
    host.gauges_[name] = value;
}

bb_status FakeHost::publish_event(void* ctx, const bb_event* source, const bb_new_event* event,
                                  bb_error* err) noexcept {
    FakeHost& host = self(ctx);
    std::lock_guard lock(host.mutex_);
    if (host.publish_answer_.first != BB_OK) {
        bb_error_set(err, host.publish_answer_.second);
        return host.publish_answer_.first;
    }
    host.published_.push_back({text(source->id), text(event->type), text(event->aggregate_type),
                               text(event->aggregate_id), text(event->data_json),
                               text(event->key)});
    return BB_OK;
}

bb_status FakeHost::publish(void* ctx, const char* subject, const bb_header* headers,
                            size_t header_count, const char* data, size_t len,
                            bb_error* err) noexcept {
    FakeHost& host = self(ctx);
    std::lock_guard lock(host.mutex_);
    RawPublish call{subject != nullptr ? subject : "",
                    {},
                    std::string(data != nullptr ? data : "", len),
                    BB_OK};
    for (size_t i = 0; i < header_count; ++i) {
        call.headers.emplace_back(text(headers[i].name), text(headers[i].value));
    }
    const auto& patterns = host.publish_patterns_;
    bool allowed = std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) {
        return subject_pattern_covers(p, call.subject);
    });
    if (!is_valid_subject(call.subject)) {
        call.answer = BB_INVALID;
        bb_error_set(err, "not a valid subject");
    } else if (!allowed) {
        call.answer = BB_FORBIDDEN;
        bb_error_set(err, "the fake host allows no raw publish to this subject");
    } else if (host.raw_publish_answer_.first != BB_OK) {
        call.answer = host.raw_publish_answer_.first;
        bb_error_set(err, host.raw_publish_answer_.second);
    }
    host.raw_published_.push_back(call);
    return call.answer;
}

bb_status FakeHost::kv_get(void* ctx, const char* bucket, const char* key, bb_buffer* out,
                           uint64_t* revision, bb_error* err) noexcept {
    FakeHost& host = self(ctx);
    std::lock_guard lock(host.mutex_);
    auto it = host.kv_.find({bucket, key});
    if (it == host.kv_.end()) {
        bb_error_set(err, "no such key");
        return BB_NOT_FOUND;
    }
    out->data = new char[it->second.data.size() + 1];
    std::memcpy(out->data, it->second.data.data(), it->second.data.size());
    out->len = it->second.data.size();
    ++host.buffers_outstanding_;
    if (revision != nullptr) *revision = it->second.revision;
    return BB_OK;
}

bb_status FakeHost::store(const char* bucket, const char* key, const char* data, size_t len,
                          uint64_t* revision) {
    uint64_t r = ++kv_revision_;
    kv_[{bucket, key}] = KvValue{std::string(data, len), r};
    if (revision != nullptr) *revision = r;
    return BB_OK;
}

bb_status FakeHost::kv_put(void* ctx, const char* bucket, const char* key, const char* data,
                           size_t len, uint64_t* revision, bb_error*) noexcept {
    FakeHost& host = self(ctx);
    std::lock_guard lock(host.mutex_);
    return host.store(bucket, key, data, len, revision);
}

bb_status FakeHost::kv_create(void* ctx, const char* bucket, const char* key, const char* data,
                              size_t len, uint64_t* revision, bb_error* err) noexcept {
    FakeHost& host = self(ctx);
    std::lock_guard lock(host.mutex_);
    if (host.kv_.contains({bucket, key})) {
        bb_error_set(err, "wrong last sequence");
        return BB_EXISTS;
    }
    return host.store(bucket, key, data, len, revision);
}

bb_status FakeHost::kv_update(void* ctx, const char* bucket, const char* key, const char* data,
                              size_t len, uint64_t last_revision, uint64_t* revision,
                              bb_error* err) noexcept {
    FakeHost& host = self(ctx);
    std::lock_guard lock(host.mutex_);
    auto it = host.kv_.find({bucket, key});
    uint64_t current = it != host.kv_.end() ? it->second.revision : 0;
    if (current != last_revision) {
        bb_error_set(err, "wrong last sequence: " + std::to_string(current));
        return BB_EXISTS;
    }
    return host.store(bucket, key, data, len, revision);
}

bb_status FakeHost::kv_delete(void* ctx, const char* bucket, const char* key, bb_error*) noexcept {
    FakeHost& host = self(ctx);
    std::lock_guard lock(host.mutex_);
    host.kv_.erase({bucket, key});
    return BB_OK;
}

void FakeHost::buffer_free(void* ctx, bb_buffer* buffer) noexcept {
    FakeHost& host = self(ctx);
    std::lock_guard lock(host.mutex_);
    delete[] buffer->data;
    buffer->data = nullptr;
    buffer->len = 0;
    --host.buffers_outstanding_;
}

void FakeHost::set_tick(void* ctx, uint32_t interval_ms) noexcept {
    FakeHost& host = self(ctx);
    std::lock_guard lock(host.mutex_);
    host.tick_interval_ms_ = interval_ms;
}

}  // namespace bb::test
