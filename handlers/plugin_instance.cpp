#include "handlers/plugin_instance.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "broker-bridge/envelope.hpp"
#include "broker-bridge/errors.hpp"
#include "broker-bridge/log.hpp"
#include "broker-bridge/subject.hpp"
#include "broker-bridge/time_text.hpp"
#include "handlers/delivery.hpp"

namespace bb::handlers {
namespace {

void set_error(bb_error* err, std::string_view text) {
    if (!err) return;
    size_t n = std::min(text.size(), sizeof(err->message) - 1);
    std::memcpy(err->message, text.data(), n);
    err->message[n] = '\0';
}

std::string_view view(bb_str s) { return s.data ? std::string_view(s.data, s.len) : ""; }

log::Level to_level(bb_log_level l) {
    switch (l) {
        case BB_LOG_TRACE: return log::Level::kTrace;
        case BB_LOG_DEBUG: return log::Level::kDebug;
        case BB_LOG_INFO: return log::Level::kInfo;
        case BB_LOG_WARN: return log::Level::kWarn;
        default: return log::Level::kError;
    }
}

// A subject is "in a stream" when one of the provisioned streams' patterns covers it; such
// a publish waits for the stream's acknowledgement instead of firing and forgetting.
bool stream_covers(const Config& c, std::string_view subject) {
    for (const StreamConfig* s : provisioned_streams(c)) {
        if (s == &c.advisories) continue;
        for (const auto& pattern : s->subjects) {
            if (subject_pattern_covers(pattern, subject)) return true;
        }
    }
    return false;
}

std::string_view msg_id_of(const Headers& headers) {
    for (const auto& [name, value] : headers) {
        if (name == "Nats-Msg-Id") return value;
    }
    return "";
}

}  // namespace

std::string follow_up_event_id(std::string_view source_id, std::string_view binding,
                               std::string_view key) {
    std::string material;
    material.reserve(source_id.size() + binding.size() + key.size() + 2);
    material.append(source_id).append(1, '\0').append(binding).append(1, '\0').append(key);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(material.data()), material.size(), digest);
    // Shaped as a UUID (version 8: custom) so consumers that expect one accept it.
    digest[6] = static_cast<unsigned char>((digest[6] & 0x0f) | 0x80);
    digest[8] = static_cast<unsigned char>((digest[8] & 0x3f) | 0x80);
    char out[37];
    std::snprintf(out, sizeof out,
                  "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                  digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6],
                  digest[7], digest[8], digest[9], digest[10], digest[11], digest[12],
                  digest[13], digest[14], digest[15]);
    return out;
}

// The bb_host entry points. Each is noexcept by construction: nothing here may throw into
// plugin code, so every body catches and turns failures into a status and error text.
struct HostCalls {
    static PluginInstance& self(void* ctx) { return *static_cast<PluginInstance*>(ctx); }

    static void log(void* ctx, bb_log_level level, const char* line, size_t len) noexcept {
        try {
            auto& p = self(ctx);
            log::Level l = to_level(level);
            if (!log::enabled(l)) return;
            log::write_raw(l, std::string_view(line, len),
                           {{"binding", p.binding_.name}, {"plugin", p.binding_.plugin}});
        } catch (...) {
        }
    }

    static void counter_add(void* ctx, const char* name, double increment) noexcept {
        try {
            auto& p = self(ctx);
            auto c = p.metrics_.plugin_counter(name, p.binding_.name, p.binding_.plugin);
            if (c) {
                (*c)->Increment(increment);
            } else {
                log::warn("plugin metric refused", {{"binding", p.binding_.name},
                                                    {"error", c.error().what}});
            }
        } catch (...) {
        }
    }

    static void gauge_set(void* ctx, const char* name, double value) noexcept {
        try {
            auto& p = self(ctx);
            auto g = p.metrics_.plugin_gauge(name, p.binding_.name, p.binding_.plugin);
            if (g) {
                (*g)->Set(value);
            } else {
                log::warn("plugin metric refused", {{"binding", p.binding_.name},
                                                    {"error", g.error().what}});
            }
        } catch (...) {
        }
    }

    static bb_status publish_event(void* ctx, const bb_event* source, const bb_new_event* ev,
                                   bb_error* err) noexcept {
        try {
            return do_publish_event(self(ctx), *source, *ev, err);
        } catch (const std::exception& e) {
            set_error(err, e.what());
        }
        return BB_ERROR;
    }

    static bb_status do_publish_event(PluginInstance& p, const bb_event& source,
                                      const bb_new_event& ev, bb_error* err) {
        auto data = nlohmann::json::parse(view(ev.data_json), nullptr, false);
        if (data.is_discarded()) {
            set_error(err, "follow-up event data is not valid JSON");
            return BB_INVALID;
        }
        Event e;
        e.id = follow_up_event_id(view(source.id), p.binding_.name, view(ev.key));
        e.type = view(ev.type);
        e.aggregate_type = view(ev.aggregate_type);
        e.subject = view(ev.aggregate_id);
        e.source = "broker-bridge/" + p.binding_.name;
        e.time = rfc3339_now();
        e.correlation_id = source.correlation_id.len ? view(source.correlation_id)
                                                     : view(source.id);
        e.causation_id = view(source.id);
        e.user_id = view(source.user_id);
        e.format = DataFormat::kMsgpack;
        auto packed = json_to_msgpack(data);
        if (!packed) {
            set_error(err, packed.error().what);
            return BB_INVALID;
        }
        e.data = std::move(*packed);
        auto wire = encode(e, "events");
        if (!wire) {
            set_error(err, wire.error().what);
            return BB_INVALID;
        }
        auto seq = p.nats_.js_publish(wire->subject, wire->headers, wire->body, e.id);
        if (!seq) {
            set_error(err, seq.error().what);
            return BB_UNAVAILABLE;
        }
        p.metrics_.events_published("follow_up").Increment();
        return BB_OK;
    }

    static bb_status publish(void* ctx, const char* subject, const bb_header* headers,
                             size_t count, const char* data, size_t len, bb_error* err) noexcept {
        try {
            return do_publish(self(ctx), subject ? subject : "", headers, count,
                              std::string_view(data ? data : "", len), err);
        } catch (const std::exception& e) {
            set_error(err, e.what());
        }
        return BB_ERROR;
    }

    static bb_status check_publish(PluginInstance& p, std::string_view subject, bb_error* err) {
        if (!is_valid_subject(subject)) {
            set_error(err, "not a valid subject: " + std::string(subject.substr(0, 200)));
            return BB_INVALID;
        }
        const auto& prefixes = p.binding_.publish_prefixes;
        bool allowed = std::any_of(prefixes.begin(), prefixes.end(), [&](const std::string& x) {
            return subject_pattern_covers(x, subject);
        });
        if (!allowed) {
            set_error(err, "binding " + p.binding_.name + " may not publish to " +
                               std::string(subject) + " (see its publish_prefixes)");
            return BB_FORBIDDEN;
        }
        return BB_OK;
    }

    static bb_status do_publish(PluginInstance& p, std::string_view subject,
                                const bb_header* headers, size_t count, std::string_view body,
                                bb_error* err) {
        if (bb_status s = check_publish(p, subject, err); s != BB_OK) return s;
        Headers list;
        for (size_t i = 0; i < count; ++i) {
            list.emplace_back(view(headers[i].name), view(headers[i].value));
        }
        if (stream_covers(p.config_, subject)) {
            auto ack = p.nats_.js_publish_ack(subject, list, body, "");
            if (!ack) {
                log::debug("plugin publish failed", {{"binding", p.binding_.name},
                                                     {"subject", subject},
                                                     {"msg_id", msg_id_of(list)},
                                                     {"error", ack.error().what}});
                set_error(err, ack.error().what);
                return BB_UNAVAILABLE;
            }
            // Which copy a stream kept, and at which sequence, tells after a fault in which
            // order events reached the stream.
            log::debug("plugin publish stored", {{"binding", p.binding_.name},
                                                 {"subject", subject},
                                                 {"msg_id", msg_id_of(list)},
                                                 {"seq", ack->seq},
                                                 {"duplicate", ack->duplicate}});
        } else {
            auto sent = p.nats_.publish(subject, list, body);
            if (!sent) {
                set_error(err, sent.error().what);
                return BB_UNAVAILABLE;
            }
        }
        p.metrics_.events_published("raw").Increment();
        return BB_OK;
    }

    static bb_status publish_seq(void* ctx, const char* subject, const bb_header* headers,
                                 size_t count, const char* data, size_t len, uint64_t* seq,
                                 bb_error* err) noexcept {
        try {
            return do_publish_seq(self(ctx), subject ? subject : "", headers, count,
                                  std::string_view(data ? data : "", len), seq, err);
        } catch (const std::exception& e) {
            set_error(err, e.what());
        }
        return BB_ERROR;
    }

    static bb_status do_publish_seq(PluginInstance& p, std::string_view subject,
                                    const bb_header* headers, size_t count, std::string_view body,
                                    uint64_t* seq_out, bb_error* err) {
        if (!stream_covers(p.config_, subject)) {
            set_error(err, std::string(subject.substr(0, 200)) + " is in no stream");
            return BB_INVALID;
        }
        // The same checks as publish(): a valid subject under the binding's prefixes.
        if (bb_status s = check_publish(p, subject, err); s != BB_OK) return s;
        Headers list;
        for (size_t i = 0; i < count; ++i) {
            list.emplace_back(view(headers[i].name), view(headers[i].value));
        }
        auto seq = p.nats_.js_publish(subject, list, body, "");
        if (!seq) {
            set_error(err, seq.error().what);
            const std::string& why = seq.error().what;
            bool stale = why.find("wrong last sequence") != std::string::npos ||
                         why.find("error 10071") != std::string::npos;
            return stale ? BB_EXISTS : BB_UNAVAILABLE;
        }
        if (seq_out) *seq_out = *seq;
        p.metrics_.events_published("raw").Increment();
        return BB_OK;
    }

    static kvStore* bucket(PluginInstance& p, const char* name, bb_error* err) {
        auto it = p.buckets_.find(std::string_view(name ? name : ""));
        if (it == p.buckets_.end()) {
            set_error(err, std::string("no bucket named '") + (name ? name : "") +
                               "' is declared under buckets: in the config");
            return nullptr;
        }
        return it->second.get();
    }

    static bb_status kv_status(natsStatus s, bb_error* err) {
        if (s == NATS_OK) return BB_OK;
        if (s == NATS_NOT_FOUND) return BB_NOT_FOUND;
        std::string text = nats_GetLastError(nullptr) ? nats_GetLastError(nullptr) : "";
        set_error(err, text.empty() ? natsStatus_GetText(s) : text);
        // nats.c reports a failed create or compare-and-set only through this text.
        if (s == NATS_ERR && text.find("wrong last sequence") != std::string::npos) {
            return BB_EXISTS;
        }
        if (s == NATS_TIMEOUT || s == NATS_CONNECTION_CLOSED || s == NATS_NO_RESPONDERS) {
            return BB_UNAVAILABLE;
        }
        return BB_ERROR;
    }

    static bb_status kv_get(void* ctx, const char* name, const char* key, bb_buffer* out,
                            uint64_t* revision, bb_error* err) noexcept {
        try {
            kvStore* kv = bucket(self(ctx), name, err);
            if (!kv) return BB_INVALID;
            kvEntry* raw = nullptr;
            natsStatus s = kvStore_Get(&raw, kv, key);
            KvEntry entry(raw);
            if (s != NATS_OK) return kv_status(s, err);
            int len = kvEntry_ValueLen(entry.get());
            out->data = static_cast<char*>(std::malloc(static_cast<size_t>(len) + 1));
            if (!out->data) return BB_ERROR;
            std::memcpy(out->data, kvEntry_Value(entry.get()), static_cast<size_t>(len));
            out->data[len] = '\0';
            out->len = static_cast<size_t>(len);
            if (revision) *revision = kvEntry_Revision(entry.get());
            return BB_OK;
        } catch (const std::exception& e) {
            set_error(err, e.what());
        }
        return BB_ERROR;
    }

    static bb_status kv_put(void* ctx, const char* name, const char* key, const char* data,
                            size_t len, uint64_t* revision, bb_error* err) noexcept {
        try {
            kvStore* kv = bucket(self(ctx), name, err);
            if (!kv) return BB_INVALID;
            uint64_t rev = 0;
            natsStatus s = kvStore_Put(&rev, kv, key, data, static_cast<int>(len));
            if (revision) *revision = rev;
            return kv_status(s, err);
        } catch (const std::exception& e) {
            set_error(err, e.what());
        }
        return BB_ERROR;
    }

    static bb_status kv_create(void* ctx, const char* name, const char* key, const char* data,
                               size_t len, uint64_t* revision, bb_error* err) noexcept {
        try {
            kvStore* kv = bucket(self(ctx), name, err);
            if (!kv) return BB_INVALID;
            uint64_t rev = 0;
            natsStatus s = kvStore_Create(&rev, kv, key, data, static_cast<int>(len));
            if (revision) *revision = rev;
            return kv_status(s, err);
        } catch (const std::exception& e) {
            set_error(err, e.what());
        }
        return BB_ERROR;
    }

    static bb_status kv_update(void* ctx, const char* name, const char* key, const char* data,
                               size_t len, uint64_t last, uint64_t* revision,
                               bb_error* err) noexcept {
        try {
            kvStore* kv = bucket(self(ctx), name, err);
            if (!kv) return BB_INVALID;
            uint64_t rev = 0;
            natsStatus s = kvStore_Update(&rev, kv, key, data, static_cast<int>(len), last);
            if (revision) *revision = rev;
            return kv_status(s, err);
        } catch (const std::exception& e) {
            set_error(err, e.what());
        }
        return BB_ERROR;
    }

    static bb_status kv_delete(void* ctx, const char* name, const char* key,
                               bb_error* err) noexcept {
        try {
            kvStore* kv = bucket(self(ctx), name, err);
            if (!kv) return BB_INVALID;
            return kv_status(kvStore_Delete(kv, key), err);
        } catch (const std::exception& e) {
            set_error(err, e.what());
        }
        return BB_ERROR;
    }

    static void buffer_free(void*, bb_buffer* buffer) noexcept {
        if (!buffer) return;
        std::free(buffer->data);
        buffer->data = nullptr;
        buffer->len = 0;
    }

    static void set_tick(void* ctx, uint32_t interval_ms) noexcept {
        self(ctx).tick_interval_ms_.store(interval_ms);
    }

    static bb_status in_progress(void* ctx, const bb_event* event, bb_error* err) noexcept {
        try {
            auto& p = self(ctx);
            if (!event || !p.in_progress_) {
                set_error(err, "in_progress: no event being handled");
                return BB_INVALID;
            }
            return p.in_progress_(*event, err);
        } catch (const std::exception& e) {
            set_error(err, e.what());
        }
        return BB_ERROR;
    }

    static bb_status event_data_json(void*, const bb_event* event, bb_str* out,
                                     bb_error* err) noexcept {
        try {
            Delivery* d = delivery_handled_here(event);
            if (d == nullptr || out == nullptr) {
                set_error(err, "event_data_json: the event is not being handled on this thread");
                return BB_INVALID;
            }
            const std::string* text = ensure_data_json(*d);
            if (text == nullptr) {
                set_error(err, d->json_error);
                return BB_INVALID;
            }
            *out = bb_str{text->data(), text->size()};
            return BB_OK;
        } catch (const std::exception& e) {
            set_error(err, e.what());
        }
        return BB_ERROR;
    }
};

PluginInstance::PluginInstance(const LoadedPlugin& plugin, const BindingConfig& binding,
                               const Config& config, const NatsClient& nats, Metrics& metrics,
                               Buckets& buckets)
    : plugin_(plugin),
      binding_(binding),
      config_(config),
      nats_(nats),
      metrics_(metrics),
      buckets_(buckets),
      config_dir_(config.dir.string()) {
    host_.struct_size = sizeof(bb_host);
    host_.ctx = this;
    host_.log = &HostCalls::log;
    host_.counter_add = &HostCalls::counter_add;
    host_.gauge_set = &HostCalls::gauge_set;
    host_.publish_event = &HostCalls::publish_event;
    host_.publish = &HostCalls::publish;
    host_.kv_get = &HostCalls::kv_get;
    host_.kv_put = &HostCalls::kv_put;
    host_.kv_create = &HostCalls::kv_create;
    host_.kv_update = &HostCalls::kv_update;
    host_.kv_delete = &HostCalls::kv_delete;
    host_.buffer_free = &HostCalls::buffer_free;
    host_.set_tick = &HostCalls::set_tick;
    host_.config_dir = config_dir_.c_str();
    host_.binding_name = binding_.name.c_str();
    host_.in_progress = &HostCalls::in_progress;
    host_.publish_seq = &HostCalls::publish_seq;
    host_.event_data_json = &HostCalls::event_data_json;

    bb_error err{};
    const std::string& yaml = binding_.plugin_config_yaml;
    self_ = plugin_.descriptor().create(&host_, yaml.c_str(), yaml.size(), &err);
    if (!self_) {
        throw StartupError(binding_.where + ": binding " + binding_.name + ": plugin " +
                           binding_.plugin + " refused its config: " +
                           (err.message[0] ? err.message : "no reason given"));
    }
}

PluginInstance::~PluginInstance() {
    if (self_) plugin_.descriptor().destroy(self_);
}

}  // namespace bb::handlers
