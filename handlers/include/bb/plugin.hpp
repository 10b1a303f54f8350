// broker-bridge plugin C++ layer: write a class, export it with BB_PLUGIN.
//
//   class Greeter {
//   public:
//       Greeter(bb::plugin::Host& host, const std::string& yaml_config);
//       bb::plugin::Outcome handle(const bb::plugin::EventView& ev);  // thread-safe
//       void tick();                                                   // optional
//   };
//   BB_PLUGIN(Greeter, "greeter", "1.0.0")
//
// Header-only and dependency-free: a plugin needs nothing but this header and plugin.h (it
// may link yaml-cpp to read its config). The host reaches the class only through the
// noexcept entry points at the bottom, which turn every exception into an answer: a throw
// from the constructor fails create() with the exception text, a throw from handle() counts
// as a failed attempt (retry), a throw from tick() is logged. Threads and lifetimes are those
// of plugin.h: the constructor and destructor run on the host's start-up/shutdown thread,
// handle() on several worker threads at once, tick() on one timer thread.
#pragma once

#include <bb/plugin.h>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

// Copies `text` into `err` as a NUL-terminated message, cut to fit. A cut never splits a
// UTF-8 sequence, so the host can put the message into a header or a JSON log line as is.
// `err` may be NULL (nothing happens).
inline void bb_error_set(bb_error* err, std::string_view text) noexcept {
    if (err == nullptr) return;
    size_t n = std::min(text.size(), sizeof err->message - 1);
    if (n < text.size()) {
        // Step back over continuation bytes (10xxxxxx) to the start of the cut sequence.
        while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
    }
    std::memcpy(err->message, text.data(), n);
    err->message[n] = '\0';
}

namespace bb::plugin {

enum class LogLevel {
    kTrace = BB_LOG_TRACE,
    kDebug = BB_LOG_DEBUG,
    kInfo = BB_LOG_INFO,
    kWarn = BB_LOG_WARN,
    kError = BB_LOG_ERROR,
};

inline std::string_view to_string_view(bb_str s) noexcept {
    return s.data != nullptr ? std::string_view(s.data, s.len) : std::string_view{};
}

inline bb_str to_bb_str(std::string_view s) noexcept { return bb_str{s.data(), s.size()}; }

// ASCII case-insensitive equality: header names (RFC 9110 field names are case-insensitive).
inline bool equals_ignore_case(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        unsigned char x = static_cast<unsigned char>(a[i]);
        unsigned char y = static_cast<unsigned char>(b[i]);
        if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

// Thrown by EventView::data_json() for data that JSON cannot hold.
class DataNotJson : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A read-only view of the event handed to handle(). Every string_view borrows from the host
// and is valid only until handle() returns: copy what you keep.
class EventView {
public:
    explicit EventView(const bb_event& event) noexcept : event_(&event) {}
    // With the host table: data_json() asks the host for the text on demand (BB_PLUGIN sets
    // BB_PLUGIN_JSON_ON_DEMAND, so the host converts only for plugins that read it).
    EventView(const bb_event& event, const bb_host* host) noexcept : event_(&event), host_(host) {}

    std::string_view id() const noexcept { return to_string_view(event_->id); }
    std::string_view type() const noexcept { return to_string_view(event_->type); }
    std::string_view source() const noexcept { return to_string_view(event_->source); }
    std::string_view subject() const noexcept { return to_string_view(event_->subject); }
    // The CloudEvents subject is the aggregate id; the domain name reads better in plugins.
    std::string_view aggregate_id() const noexcept { return subject(); }
    std::string_view time() const noexcept { return to_string_view(event_->time); }
    std::string_view aggregate_type() const noexcept {
        return to_string_view(event_->aggregate_type);
    }
    std::string_view correlation_id() const noexcept {
        return to_string_view(event_->correlation_id);
    }
    std::string_view causation_id() const noexcept { return to_string_view(event_->causation_id); }
    std::string_view user_id() const noexcept { return to_string_view(event_->user_id); }
    std::string_view data_version() const noexcept { return to_string_view(event_->data_version); }
    std::string_view data_content_type() const noexcept {
        return to_string_view(event_->data_content_type);
    }
    std::string_view nats_subject() const noexcept { return to_string_view(event_->nats_subject); }
    std::string_view data() const noexcept { return to_string_view(event_->data); }
    // The data as JSON text, converted on first use. Throws DataNotJson when the data cannot
    // be JSON (a bin or ext value, a non-string key...), so nothing after the call acts on
    // it; the host then dead-letters the event as invalid, whatever handle() answers.
    std::string_view data_json() const {
        if (event_->data_json.data != nullptr || !host_offers_json()) {
            return to_string_view(event_->data_json);
        }
        bb_str out{};
        bb_error err{};
        if (host_->event_data_json(host_->ctx, event_, &out, &err) != BB_OK) {
            throw DataNotJson(err.message);
        }
        return to_string_view(out);
    }

    uint64_t stream_seq() const noexcept { return event_->stream_seq; }
    uint32_t attempt() const noexcept { return event_->attempt; }
    uint32_t max_attempts() const noexcept { return event_->max_attempts; }
    bool last_attempt() const noexcept { return event_->attempt >= event_->max_attempts; }

    std::span<const bb_header> headers() const noexcept {
        if (event_->headers == nullptr) return {};
        return {event_->headers, event_->header_count};
    }

    // The first header called `name`, compared without regard to ASCII case.
    std::optional<std::string_view> header(std::string_view name) const noexcept {
        for (const bb_header& h : headers()) {
            if (equals_ignore_case(to_string_view(h.name), name)) return to_string_view(h.value);
        }
        return std::nullopt;
    }

    // For host calls that take the source event (publish_event).
    const bb_event& raw() const noexcept { return *event_; }

private:
    bool host_offers_json() const noexcept {
        constexpr size_t kNeeded =
            offsetof(bb_host, event_data_json) + sizeof(bb_host::event_data_json);
        return host_ != nullptr && host_->struct_size >= kNeeded &&
               host_->event_data_json != nullptr;
    }

    const bb_event* event_;
    const bb_host* host_ = nullptr;
};

// What handle() answers. The reason of retry and reject reaches the host's log, metrics
// exemplars and the dead-letter entry (Bridge-Dlq-Error), cut to 511 bytes.
class Outcome {
public:
    static Outcome done() { return Outcome(BB_RESULT_DONE, {}, std::nullopt); }
    static Outcome retry(std::string reason) {
        return Outcome(BB_RESULT_RETRY, std::move(reason), std::nullopt);
    }
    // Retry no sooner than `delay` (a Retry-After): the host's own backoff delay still
    // applies when it is longer.
    static Outcome retry(std::string reason, std::chrono::milliseconds delay) {
        return Outcome(BB_RESULT_RETRY, std::move(reason), delay);
    }
    static Outcome reject(std::string reason) {
        return Outcome(BB_RESULT_REJECT, std::move(reason), std::nullopt);
    }

    bb_result result() const noexcept { return result_; }
    const std::string& reason() const noexcept { return reason_; }
    std::optional<std::chrono::milliseconds> delay() const noexcept { return delay_; }

private:
    Outcome(bb_result result, std::string reason, std::optional<std::chrono::milliseconds> delay)
        : result_(result), reason_(std::move(reason)), delay_(delay) {}

    bb_result result_;
    std::string reason_;
    std::optional<std::chrono::milliseconds> delay_;
};

// One `key=value` of a log line. Numbers and booleans print bare; text is quoted when it
// holds a space, quote, '=', backslash or control character, so a line always splits back
// into its fields.
struct LogField {
    LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
    LogField(std::string_view k, const char* v) : key(k), value(v != nullptr ? v : "") {}
    LogField(std::string_view k, const std::string& v) : key(k), value(v) {}
    LogField(std::string_view k, bool v) : key(k), value(v ? "true" : "false") {}
    template <typename N, typename = std::enable_if_t<std::is_arithmetic_v<N>>>
    LogField(std::string_view k, N v) : key(k), value(number_text(v)) {}

    std::string_view key;
    std::string value;

private:
    template <typename N>
    static std::string number_text(N v) {
        if constexpr (std::is_floating_point_v<N>) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.6g", static_cast<double>(v));
            return buf;
        } else {
            return std::to_string(v);
        }
    }
};

namespace detail {

inline bool needs_quotes(std::string_view v) noexcept {
    if (v.empty()) return true;
    for (unsigned char c : v) {
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
    }
    return false;
}

inline void append_value(std::string& out, std::string_view v) {
    if (!needs_quotes(v)) {
        out += v;
        return;
    }
    static constexpr char kHex[] = "0123456789abcdef";
    out += '"';
    for (unsigned char c : v) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    out += "\\x";
                    out += kHex[c >> 4];
                    out += kHex[c & 0xF];
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
}

}  // namespace detail

// "phrase k=v k=v": the line format the host's logger expects from a plugin.
inline std::string format_log_line(std::string_view phrase,
                                   std::initializer_list<LogField> fields) {
    std::string line(phrase);
    for (const LogField& f : fields) {
        line += ' ';
        line += f.key;
        line += '=';
        detail::append_value(line, f.value);
    }
    return line;
}

// The outcome of a host call; `error` holds the host's text when code is not BB_OK.
struct Status {
    bb_status code = BB_OK;
    std::string error;

    bool ok() const noexcept { return code == BB_OK; }
    explicit operator bool() const noexcept { return ok(); }
};

// kv_get: the value and its revision when found; code BB_NOT_FOUND when the key is absent.
struct KvEntry : Status {
    std::string value;
    uint64_t revision = 0;
};

// kv_put, kv_create, kv_update: the revision the write produced.
struct KvRevision : Status {
    uint64_t revision = 0;
};

// A follow-up domain event for publish_event(); see bb_new_event for each field.
struct NewEvent {
    std::string_view type;
    std::string_view aggregate_type;
    std::string_view aggregate_id;
    std::string_view data_json;
    std::string_view key;  // tells apart several follow-ups of one source event
};

// The host's services for one plugin instance. Valid from the constructor of the plugin
// class until its destructor returns (plugin.h: until destroy() returns); every method may
// be called from any thread. Methods that allocate may throw std::bad_alloc; log() never
// throws.
class Host {
public:
    explicit Host(const bb_host& table) noexcept : table_(&table) {}

    // The folder of the daemon's config file: relative paths in a plugin's config resolve
    // against it, as every other path in the config does.
    std::string_view config_dir() const noexcept {
        return table_->config_dir ? table_->config_dir : "";
    }
    std::string_view binding_name() const noexcept {
        return table_->binding_name ? table_->binding_name : "";
    }
    // `path` as is when absolute (or empty), else joined to config_dir().
    std::string resolve_path(std::string_view path) const {
        if (path.empty() || path.front() == '/' || config_dir().empty()) return std::string(path);
        return (std::filesystem::path(config_dir()) / path).lexically_normal().string();
    }

    void log(LogLevel level, std::string_view phrase,
             std::initializer_list<LogField> fields = {}) const noexcept {
        try {
            std::string line = format_log_line(phrase, fields);
            table_->log(table_->ctx, static_cast<bb_log_level>(level), line.data(), line.size());
        } catch (...) {
            // Out of memory while formatting: the line is dropped rather than the event.
        }
    }
    void trace(std::string_view p, std::initializer_list<LogField> f = {}) const noexcept {
        log(LogLevel::kTrace, p, f);
    }
    void debug(std::string_view p, std::initializer_list<LogField> f = {}) const noexcept {
        log(LogLevel::kDebug, p, f);
    }
    void info(std::string_view p, std::initializer_list<LogField> f = {}) const noexcept {
        log(LogLevel::kInfo, p, f);
    }
    void warn(std::string_view p, std::initializer_list<LogField> f = {}) const noexcept {
        log(LogLevel::kWarn, p, f);
    }
    void error(std::string_view p, std::initializer_list<LogField> f = {}) const noexcept {
        log(LogLevel::kError, p, f);
    }

    // `name` is a snake_case suffix: the host exports broker_bridge_plugin_<name>.
    void counter_add(std::string_view name, double increment) const {
        table_->counter_add(table_->ctx, std::string(name).c_str(), increment);
    }
    void gauge_set(std::string_view name, double value) const {
        table_->gauge_set(table_->ctx, std::string(name).c_str(), value);
    }

    // Only while handling `source`: its pointers die when handle() returns.
    Status publish_event(const EventView& source, const NewEvent& event) const {
        bb_new_event e{sizeof(bb_new_event),
                       to_bb_str(event.type),
                       to_bb_str(event.aggregate_type),
                       to_bb_str(event.aggregate_id),
                       to_bb_str(event.data_json),
                       to_bb_str(event.key)};
        bb_error err{};
        bb_status code = table_->publish_event(table_->ctx, &source.raw(), &e, &err);
        return make_status(code, err);
    }

    Status publish(std::string_view subject, std::string_view data,
                   std::span<const bb_header> headers = {}) const {
        bb_error err{};
        bb_status code = table_->publish(table_->ctx, std::string(subject).c_str(),
                                         headers.empty() ? nullptr : headers.data(), headers.size(),
                                         data.data(), data.size(), &err);
        return make_status(code, err);
    }

    // True when the host offers publish_with_seq (hosts newer than the first ABI 1 table).
    bool has_publish_with_seq() const noexcept {
        const size_t needed = offsetof(bb_host, publish_seq) + sizeof(table_->publish_seq);
        return table_->struct_size >= needed && table_->publish_seq != nullptr;
    }
    // publish() into a stream, answering the stream sequence; BB_EXISTS when a
    // Nats-Expected-Last-Subject-Sequence header does not hold.
    KvRevision publish_with_seq(std::string_view subject, std::string_view data,
                                std::span<const bb_header> headers = {}) const {
        if (!has_publish_with_seq()) {
            KvRevision r;
            r.code = BB_ERROR;
            r.error = "the host is too old for publish_with_seq";
            return r;
        }
        uint64_t seq = 0;
        bb_error err{};
        bb_status code = table_->publish_seq(table_->ctx, std::string(subject).c_str(),
                                             headers.empty() ? nullptr : headers.data(),
                                             headers.size(), data.data(), data.size(), &seq, &err);
        return make_revision(code, err, seq);
    }

    KvEntry kv_get(std::string_view bucket, std::string_view key) const {
        bb_buffer buffer{nullptr, 0};
        uint64_t revision = 0;
        bb_error err{};
        bb_status code = table_->kv_get(table_->ctx, std::string(bucket).c_str(),
                                        std::string(key).c_str(), &buffer, &revision, &err);
        // Freed even when the copy below throws.
        BufferGuard guard{table_, &buffer};
        KvEntry entry;
        static_cast<Status&>(entry) = make_status(code, err);
        if (code == BB_OK) {
            if (buffer.data != nullptr) entry.value.assign(buffer.data, buffer.len);
            entry.revision = revision;
        }
        return entry;
    }

    KvRevision kv_put(std::string_view bucket, std::string_view key, std::string_view value) const {
        return write_kv(table_->kv_put, bucket, key, value);
    }
    // Fails with BB_EXISTS when the key is present (a deleted key counts as absent).
    KvRevision kv_create(std::string_view bucket, std::string_view key,
                         std::string_view value) const {
        return write_kv(table_->kv_create, bucket, key, value);
    }
    // Compare-and-set: fails with BB_EXISTS when `last_revision` is stale.
    KvRevision kv_update(std::string_view bucket, std::string_view key, std::string_view value,
                         uint64_t last_revision) const {
        uint64_t revision = 0;
        bb_error err{};
        bb_status code =
            table_->kv_update(table_->ctx, std::string(bucket).c_str(), std::string(key).c_str(),
                              value.data(), value.size(), last_revision, &revision, &err);
        return make_revision(code, err, revision);
    }

    Status kv_delete(std::string_view bucket, std::string_view key) const {
        bb_error err{};
        bb_status code = table_->kv_delete(table_->ctx, std::string(bucket).c_str(),
                                           std::string(key).c_str(), &err);
        return make_status(code, err);
    }

    // tick() every `interval` (zero stops it); may be called from the constructor.
    void set_tick(std::chrono::milliseconds interval) const {
        auto ms = std::clamp<int64_t>(interval.count(), 0, UINT32_MAX);
        table_->set_tick(table_->ctx, static_cast<uint32_t>(ms));
    }

    // Keeps the delivery of `event` alive while handle() works on it (see bb_host.in_progress):
    // call it at most every timeout/3 during a long call. A host older than this call
    // answers BB_ERROR without side effects.
    Status in_progress(const EventView& event) const {
        if (!has_in_progress()) return Status{BB_ERROR, "the host does not offer in_progress"};
        bb_error err{};
        bb_status code = table_->in_progress(table_->ctx, &event.raw(), &err);
        return make_status(code, err);
    }
    bool has_in_progress() const noexcept {
        constexpr size_t needed = offsetof(bb_host, in_progress) + sizeof(bb_host::in_progress);
        return table_->struct_size >= needed && table_->in_progress != nullptr;
    }

    const bb_host& table() const noexcept { return *table_; }

private:
    using KvWriteFn = bb_status (*)(void*, const char*, const char*, const char*, size_t, uint64_t*,
                                    bb_error*);

    struct BufferGuard {
        const bb_host* table;
        bb_buffer* buffer;
        ~BufferGuard() {
            if (buffer->data != nullptr) table->buffer_free(table->ctx, buffer);
        }
    };

    static Status make_status(bb_status code, const bb_error& err) {
        Status s;
        s.code = code;
        if (code != BB_OK) {
            s.error = err.message[0] != '\0' ? std::string(err.message) : status_text(code);
        }
        return s;
    }

    static KvRevision make_revision(bb_status code, const bb_error& err, uint64_t revision) {
        KvRevision r;
        static_cast<Status&>(r) = make_status(code, err);
        if (code == BB_OK) r.revision = revision;
        return r;
    }

    static std::string status_text(bb_status code) {
        switch (code) {
            case BB_OK:
                return "ok";
            case BB_NOT_FOUND:
                return "not found";
            case BB_EXISTS:
                return "exists";
            case BB_FORBIDDEN:
                return "forbidden";
            case BB_INVALID:
                return "invalid";
            case BB_UNAVAILABLE:
                return "unavailable";
            case BB_ERROR:
                return "error";
        }
        return "status " + std::to_string(static_cast<int>(code));
    }

    KvRevision write_kv(KvWriteFn fn, std::string_view bucket, std::string_view key,
                        std::string_view value) const {
        uint64_t revision = 0;
        bb_error err{};
        bb_status code = fn(table_->ctx, std::string(bucket).c_str(), std::string(key).c_str(),
                            value.data(), value.size(), &revision, &err);
        return make_revision(code, err, revision);
    }

    const bb_host* table_;
};

// What BB_PLUGIN expects of a plugin class.
template <typename P>
concept PluginClass = std::constructible_from<P, Host&, const std::string&> &&
    requires(P& p, const EventView& ev) {
    { p.handle(ev) } -> std::same_as<Outcome>;
};

template <typename P>
concept HasTick = requires(P& p) {
    p.tick();
};

// A plugin may offer `static void check_config(const std::string& yaml)`, throwing what its
// constructor would throw for a bad config, without the constructor's side effects.
template <typename P>
concept HasConfigCheck = requires(const std::string& yaml) {
    P::check_config(yaml);
};

namespace detail {

// Fills the C answer: the reason into err, a Retry-After into the in/out delay (only ever
// raised: plugin.h lets a plugin lengthen the host's backoff, not shorten it).
inline bb_result to_c(const Outcome& outcome, uint32_t* retry_delay_ms, bb_error* err) noexcept {
    if (outcome.result() != BB_RESULT_DONE) bb_error_set(err, outcome.reason());
    if (outcome.result() == BB_RESULT_RETRY && outcome.delay() && retry_delay_ms != nullptr) {
        auto asked = std::clamp<int64_t>(outcome.delay()->count(), 0, UINT32_MAX);
        *retry_delay_ms = std::max(*retry_delay_ms, static_cast<uint32_t>(asked));
    }
    return outcome.result();
}

// The host table and the plugin object live and die together; the plugin keeps a Host&.
template <typename P>
struct Instance {
    Instance(const bb_host& table, const std::string& config) : host(table), plugin(host, config) {}

    Host host;
    P plugin;
};

// The fields of bb_host this header calls; a shorter table comes from an older host.
inline constexpr size_t kHostSizeNeeded = offsetof(bb_host, set_tick) + sizeof(bb_host::set_tick);
inline constexpr size_t kEventSizeNeeded =
    offsetof(bb_event, max_attempts) + sizeof(bb_event::max_attempts);

// Plugin C++ code is entered from the host only through these four; nothing escapes.
template <typename P>
void* create_entry(const bb_host* host, const char* config_yaml, size_t config_len,
                   bb_error* err) noexcept {
    try {
        if (host == nullptr || host->struct_size < kHostSizeNeeded) {
            bb_error_set(err, "host function table missing or older than this plugin's ABI");
            return nullptr;
        }
        std::string config = config_yaml != nullptr ? std::string(config_yaml, config_len) : "";
        return new Instance<P>(*host, config);
    } catch (const std::exception& e) {
        bb_error_set(err, e.what());
    } catch (...) {
        bb_error_set(err, "non-standard exception");
    }
    return nullptr;
}

template <typename P>
bb_result handle_entry(void* self, const bb_event* event, uint32_t* retry_delay_ms,
                       bb_error* err) noexcept {
    try {
        if (event == nullptr || event->struct_size < kEventSizeNeeded) {
            bb_error_set(err, "event struct missing or older than this plugin's ABI");
            return BB_RESULT_RETRY;
        }
        auto* instance = static_cast<Instance<P>*>(self);
        EventView view(*event, &instance->host.table());
        return to_c(instance->plugin.handle(view), retry_delay_ms, err);
    } catch (const std::exception& e) {
        bb_error_set(err, e.what());
    } catch (...) {
        bb_error_set(err, "non-standard exception");
    }
    return BB_RESULT_RETRY;  // a throw counts as a failed attempt, never a crash
}

template <typename P>
void tick_entry(void* self) noexcept {
    auto* instance = static_cast<Instance<P>*>(self);
    try {
        instance->plugin.tick();
    } catch (const std::exception& e) {
        instance->host.error("plugin tick failed", {{"error", e.what()}});
    } catch (...) {
        instance->host.error("plugin tick failed", {{"error", "non-standard exception"}});
    }
}

template <typename P>
bb_status check_config_entry(const char* config_yaml, size_t config_len, bb_error* err) noexcept {
    try {
        P::check_config(config_yaml != nullptr ? std::string(config_yaml, config_len) : "");
        return BB_OK;
    } catch (const std::exception& e) {
        bb_error_set(err, e.what());
    } catch (...) {
        bb_error_set(err, "non-standard exception");
    }
    return BB_INVALID;
}

template <typename P>
void destroy_entry(void* self) noexcept {
    // Destructors are noexcept: a throwing one ends the process here, as anywhere else.
    delete static_cast<Instance<P>*>(self);
}

// The loader finds libbb_plugin_<name>.so by file name, so names are what file names allow.
constexpr bool valid_plugin_name(std::string_view name) {
    if (name.empty()) return false;
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok) return false;
    }
    return true;
}

template <PluginClass P>
constexpr bb_plugin_descriptor make_descriptor(const char* name, const char* version) {
    bb_plugin_descriptor d{};
    d.abi_version = BB_PLUGIN_ABI_VERSION;
    d.struct_size = sizeof(bb_plugin_descriptor);
    d.name = name;
    d.version = version;
    d.create = &create_entry<P>;
    d.handle = &handle_entry<P>;
    if constexpr (HasTick<P>) {
        d.tick = &tick_entry<P>;
    } else {
        d.tick = nullptr;
    }
    d.destroy = &destroy_entry<P>;
    d.flags = BB_PLUGIN_JSON_ON_DEMAND;  // EventView::data_json() asks the host
    if constexpr (HasConfigCheck<P>) {
        d.check_config = &check_config_entry<P>;
    } else {
        d.check_config = nullptr;
    }
    return d;
}

}  // namespace detail
}  // namespace bb::plugin

// Exports bb_plugin_describe() for `plugin_type`; use once per plugin, at namespace scope.
// `plugin_name` must match the library's file name (libbb_plugin_<name>.so) and be [a-z0-9_]+.
#define BB_PLUGIN(plugin_type, plugin_name, plugin_version)                                  \
    static_assert(::bb::plugin::detail::valid_plugin_name(plugin_name),                      \
                  "a plugin name is [a-z0-9_]+ (it names the file libbb_plugin_<name>.so)"); \
    extern "C" __attribute__((visibility("default"))) const bb_plugin_descriptor*            \
    bb_plugin_describe(void) noexcept {                                                      \
        static constexpr bb_plugin_descriptor kDescriptor =                                  \
            ::bb::plugin::detail::make_descriptor<plugin_type>(plugin_name, plugin_version); \
        return &kDescriptor;                                                                 \
    }
