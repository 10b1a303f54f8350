#include "broker-bridge/provisioner.hpp"

#include <algorithm>
#include <string_view>
#include <vector>

#include "broker-bridge/errors.hpp"
#include "broker-bridge/log.hpp"
#include "broker-bridge/nats_handles.hpp"

namespace bb {
namespace {

// nats.c stream and bucket configs count durations in nanoseconds; ours in milliseconds.
constexpr int64_t kNanosPerMilli = 1'000'000;
constexpr int kMaxBucketHistory = 64;

int64_t to_nanos(Millis m) { return m.count() * kNanosPerMilli; }

jsStorageType to_js(Storage s) { return s == Storage::kMemory ? js_MemoryStorage : js_FileStorage; }

std::string_view storage_name(jsStorageType s) { return s == js_MemoryStorage ? "memory" : "file"; }

std::string_view retention_name(jsRetentionPolicy r) {
    switch (r) {
        case js_LimitsPolicy:
            return "limits";
        case js_InterestPolicy:
            return "interest";
        case js_WorkQueuePolicy:
            return "workqueue";
    }
    return "unknown";
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += ',';
        out += item;
    }
    return out;
}

// The stream's info, or an empty handle when it does not exist. Other failures (no
// JetStream, no permission, timeout) stop the start-up.
JsStreamInfo stream_info_or_none(jsCtx* js, const std::string& stream, const std::string& what) {
    jsStreamInfo* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&raw, js, stream.c_str(), nullptr, &jerr);
    if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) return nullptr;
    if (s != NATS_OK) {
        throw StartupError(what + ": cannot read it from the server: " + nats_error(s, &jerr).what);
    }
    return JsStreamInfo(raw);
}

[[noreturn]] void refuse_change(const std::string& what, std::string_view field,
                                std::string_view current, std::string_view wanted) {
    throw StartupError(what + " exists with " + std::string(field) + " " + std::string(current) +
                       ", config says " + std::string(wanted) + ": " + std::string(field) +
                       " cannot change; delete the " + what.substr(0, what.find(' ')) +
                       " or fix the config");
}

void update_stream(jsCtx* js, jsStreamConfig& next, const std::string& what) {
    jsStreamInfo* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_UpdateStream(&raw, js, &next, nullptr, &jerr);
    JsStreamInfo updated(raw);
    if (s != NATS_OK) {
        throw StartupError(what + ": the server refused the update: " + nats_error(s, &jerr).what);
    }
}

// Our StreamConfig in nats.c's terms. Owns the subject pointer array it lends to nats.c.
struct StreamSpec {
    explicit StreamSpec(const StreamConfig& c) : config(c) {
        for (const auto& subject : c.subjects) subjects.push_back(subject.c_str());
        jsRePublish_Init(&republish);
        if (c.republish) {
            republish.Source = c.republish->source.c_str();
            republish.Destination = c.republish->destination.c_str();
        }
    }

    // The server stores 0 and -1 for "no limit" as -1, and a replica count of at least 1.
    int64_t max_msgs() const { return config.max_msgs > 0 ? config.max_msgs : -1; }
    int64_t max_bytes() const { return config.max_bytes > 0 ? config.max_bytes : -1; }
    int64_t replicas() const { return std::max(1, config.replicas); }
    int64_t max_age() const { return to_nanos(config.max_age); }
    int64_t duplicates() const { return to_nanos(config.duplicate_window); }

    const StreamConfig& config;
    std::vector<const char*> subjects;
    jsRePublish republish;  // lent to nats.c when config.republish is set
};

std::string republish_text(const jsRePublish* rp) {
    if (!rp) return "none";
    return std::string(rp->Source ? rp->Source : "") + " -> " +
           std::string(rp->Destination ? rp->Destination : "");
}

bool same_republish(const jsRePublish* cur, const StreamConfig& c) {
    if (!c.republish) return cur == nullptr;
    auto text = [](const char* s) { return std::string_view(s ? s : ""); };
    return cur != nullptr && text(cur->Source) == c.republish->source &&
           text(cur->Destination) == c.republish->destination && !cur->HeadersOnly;
}

std::string stream_what(const StreamConfig& c) { return "stream " + c.name; }

void check_stream_config(const StreamConfig& c) {
    if (c.name.empty()) throw StartupError("stream: the name is empty");
    if (c.subjects.empty()) throw StartupError(stream_what(c) + ": subjects is empty");
    if (c.max_age.count() > 0 && c.duplicate_window > c.max_age) {
        throw StartupError(stream_what(c) + ": duplicate_window " +
                           std::to_string(c.duplicate_window.count()) +
                           "ms is longer than max_age " + std::to_string(c.max_age.count()) +
                           "ms; the server refuses that");
    }
}

// Writes every field we manage into `sc`, leaving the others as they are.
void apply_spec(jsStreamConfig& sc, StreamSpec& spec) {
    sc.Subjects = spec.subjects.data();
    sc.SubjectsLen = static_cast<int>(spec.subjects.size());
    sc.MaxAge = spec.max_age();
    if (spec.duplicates() > 0) {
        sc.Duplicates = spec.duplicates();
    } else if (sc.MaxAge > 0 && sc.Duplicates > sc.MaxAge) {
        sc.Duplicates = sc.MaxAge;  // the server default would exceed a short max_age
    }
    sc.MaxBytes = spec.max_bytes();
    sc.MaxMsgs = spec.max_msgs();
    sc.Replicas = spec.replicas();
    sc.AllowDirect = true;
    sc.RePublish = spec.config.republish ? &spec.republish : nullptr;
}

bool create_stream(jsCtx* js, StreamSpec& spec) {
    const StreamConfig& c = spec.config;
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = c.name.c_str();
    sc.Retention = js_LimitsPolicy;
    sc.Storage = to_js(c.storage);
    apply_spec(sc, spec);

    jsStreamInfo* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_AddStream(&raw, js, &sc, nullptr, &jerr);
    JsStreamInfo created(raw);
    if (s == NATS_OK) return true;
    // Another replica created it between our look and our create: compare instead.
    if (jerr == JSStreamNameExistErr) return false;
    throw StartupError(stream_what(c) + ": cannot create it: " + nats_error(s, &jerr).what);
}

std::vector<std::string> stream_changes(const jsStreamConfig& cur, const StreamSpec& spec) {
    std::vector<std::string> wanted(spec.config.subjects);
    std::vector<std::string> present(cur.Subjects, cur.Subjects + cur.SubjectsLen);
    std::sort(wanted.begin(), wanted.end());
    std::sort(present.begin(), present.end());

    std::vector<std::string> changed;
    if (wanted != present) changed.emplace_back("subjects");
    if (cur.MaxAge != spec.max_age()) changed.emplace_back("max_age");
    if (spec.duplicates() > 0 && cur.Duplicates != spec.duplicates()) {
        changed.emplace_back("duplicate_window");
    }
    if (cur.MaxBytes != spec.max_bytes()) changed.emplace_back("max_bytes");
    if (cur.MaxMsgs != spec.max_msgs()) changed.emplace_back("max_msgs");
    if (cur.Replicas != spec.replicas()) changed.emplace_back("replicas");
    if (!cur.AllowDirect) changed.emplace_back("allow_direct");
    return changed;
}

Provisioned reconcile_stream(jsCtx* js, const jsStreamConfig& cur, StreamSpec& spec) {
    const StreamConfig& c = spec.config;
    const std::string what = stream_what(c);
    if (cur.Storage != to_js(c.storage)) {
        refuse_change(what, "storage", storage_name(cur.Storage), storage_name(to_js(c.storage)));
    }
    if (cur.Retention != js_LimitsPolicy) {
        refuse_change(what, "retention", retention_name(cur.Retention), "limits");
    }
    // nats-server 2.9 refuses to change RePublish in an update (error 10052).
    if (!same_republish(cur.RePublish, c)) {
        refuse_change(what, "republish", republish_text(cur.RePublish),
                      c.republish ? c.republish->source + " -> " + c.republish->destination
                                  : std::string("none"));
    }
    std::vector<std::string> changed = stream_changes(cur, spec);
    if (changed.empty()) {
        log::info("stream up to date", {{"stream", c.name}});
        return Provisioned::kUpToDate;
    }
    jsStreamConfig next = cur;  // keeps the fields we do not manage; borrows their pointers
    apply_spec(next, spec);
    update_stream(js, next, what);
    log::info("stream updated", {{"stream", c.name}, {"changed", join(changed)}});
    return Provisioned::kUpdated;
}

void check_bucket_config(const BucketConfig& c) {
    if (c.name.empty()) throw StartupError("bucket: the name is empty");
    if (c.history < 1 || c.history > kMaxBucketHistory) {
        throw StartupError("bucket " + c.name + ": history " + std::to_string(c.history) +
                           " is outside 1.." + std::to_string(kMaxBucketHistory));
    }
}

void create_bucket(jsCtx* js, const BucketConfig& c) {
    kvConfig kc;
    kvConfig_Init(&kc);
    kc.Bucket = c.name.c_str();
    kc.History = static_cast<uint8_t>(c.history);
    kc.TTL = to_nanos(c.ttl);
    kc.StorageType = to_js(c.storage);
    kc.Replicas = std::max(1, c.replicas);
    kvStore* raw = nullptr;
    natsStatus s = js_CreateKeyValue(&raw, js, &kc);
    KvStore kv(raw);
    if (s != NATS_OK) {
        throw StartupError("bucket " + c.name + ": cannot create it: " + nats_error(s).what);
    }
}

Provisioned reconcile_bucket(jsCtx* js, const jsStreamConfig& cur, const BucketConfig& c) {
    const std::string what = "bucket " + c.name;
    if (cur.Storage != to_js(c.storage)) {
        refuse_change(what, "storage", storage_name(cur.Storage), storage_name(to_js(c.storage)));
    }
    int64_t ttl = to_nanos(c.ttl);
    int64_t replicas = std::max(1, c.replicas);
    std::vector<std::string> changed;
    if (cur.MaxMsgsPerSubject != c.history) changed.emplace_back("history");
    if (cur.MaxAge != ttl) changed.emplace_back("ttl");
    if (cur.Replicas != replicas) changed.emplace_back("replicas");
    if (changed.empty()) {
        log::info("bucket up to date", {{"bucket", c.name}});
        return Provisioned::kUpToDate;
    }
    jsStreamConfig next = cur;
    next.MaxMsgsPerSubject = c.history;
    next.MaxAge = ttl;
    next.Replicas = replicas;
    // The duplicate window may not outlast the TTL (nats.c sets it so at creation too).
    if (ttl > 0 && next.Duplicates > ttl) next.Duplicates = ttl;
    update_stream(js, next, what);
    log::info("bucket updated", {{"bucket", c.name}, {"changed", join(changed)}});
    return Provisioned::kUpdated;
}

}  // namespace

Provisioned ensure_stream(jsCtx* js, const StreamConfig& config) {
    check_stream_config(config);
    StreamSpec spec(config);
    // Two passes at most: the second only when another process created the stream first.
    for (int pass = 0; pass < 2; ++pass) {
        JsStreamInfo info = stream_info_or_none(js, config.name, stream_what(config));
        if (info) return reconcile_stream(js, *info->Config, spec);
        if (create_stream(js, spec)) {
            log::info("stream created", {{"stream", config.name},
                                         {"subjects", join(config.subjects)},
                                         {"storage", storage_name(to_js(config.storage))},
                                         {"replicas", spec.replicas()},
                                         {"max_age_ms", config.max_age.count()}});
            return Provisioned::kCreated;
        }
    }
    throw StartupError(stream_what(config) +
                       ": it exists and vanishes again; is another process deleting it?");
}

Provisioned ensure_bucket(jsCtx* js, const BucketConfig& config) {
    check_bucket_config(config);
    const std::string stream = "KV_" + config.name;
    JsStreamInfo info = stream_info_or_none(js, stream, "bucket " + config.name);
    if (info) return reconcile_bucket(js, *info->Config, config);
    create_bucket(js, config);
    log::info("bucket created", {{"bucket", config.name},
                                 {"storage", storage_name(to_js(config.storage))},
                                 {"history", config.history},
                                 {"ttl_ms", config.ttl.count()}});
    return Provisioned::kCreated;
}

Result<StreamStatus> stream_status(jsCtx* js, const std::string& name) {
    jsStreamInfo* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&raw, js, name.c_str(), nullptr, &jerr);
    JsStreamInfo info(raw);
    if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
        return Error{"stream " + name + " does not exist"};
    }
    if (s != NATS_OK) return nats_error(s, &jerr);
    const jsStreamState& st = info->State;
    return StreamStatus{name, st.Msgs, st.Bytes, st.FirstSeq, st.LastSeq, st.Consumers};
}

}  // namespace bb
