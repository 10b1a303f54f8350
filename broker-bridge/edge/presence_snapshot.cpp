#include "broker-bridge/edge/presence_snapshot.hpp"

#include <nlohmann/json.hpp>

namespace bb::edge {
namespace {

using nlohmann::json;

using KvEntryHandle = std::unique_ptr<kvEntry, CDestroy<&kvEntry_Destroy>>;

// An entry the plugin wrote: {"seq": N, "data": {...}}. Before its first change is
// published an entry may have neither: it then stands for the empty state before any
// message of the channel (seq 0).
Result<Snapshot> parse_snapshot(const std::string& text) {
    json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return Error{"snapshot entry is not JSON"};
    auto seq = doc.find("seq");
    auto data = doc.find("data");
    if (seq != doc.end() && !seq->is_number_unsigned()) return Error{"snapshot seq is no number"};
    return Snapshot{seq != doc.end() ? seq->get<uint64_t>() : 0,
                    data != doc.end() ? *data : json::object()};
}

}  // namespace

SnapshotReader::SnapshotReader(jsCtx* js, std::string bucket)
    : js_(js), bucket_(std::move(bucket)) {}

Result<kvStore*> SnapshotReader::store() {
    std::lock_guard lock(mu_);
    if (kv_) return kv_.get();
    kvStore* raw = nullptr;
    natsStatus s = js_KeyValue(&raw, js_, bucket_.c_str());
    if (s != NATS_OK) return nats_error(s);
    kv_.reset(raw);
    return kv_.get();
}

Result<std::optional<std::string>> SnapshotReader::get(const std::string& key) {
    auto kv = store();
    // No bucket yet: no presence plugin has written anything, so there is nothing to show.
    if (!kv) return std::optional<std::string>{};
    kvEntry* raw = nullptr;
    natsStatus s = kvStore_Get(&raw, *kv, key.c_str());
    if (s == NATS_NOT_FOUND) return std::optional<std::string>{};
    if (s != NATS_OK) return nats_error(s);
    KvEntryHandle entry(raw);
    const char* data = static_cast<const char*>(kvEntry_Value(entry.get()));
    int len = kvEntry_ValueLen(entry.get());
    return std::optional<std::string>(std::string(data ? data : "", data ? len : 0));
}

Result<SubscribeStart> start_snapshot(StreamReader& reader, SnapshotReader& snapshots,
                                      const std::string& subject, const std::string& key,
                                      int64_t max_messages, const std::atomic<bool>& wanted) {
    auto text = snapshots.get(key);
    if (!text) return text.error();
    Snapshot snapshot{0, json::object()};
    if (*text) {
        auto parsed = parse_snapshot(**text);
        if (!parsed) return parsed.error();
        snapshot = std::move(*parsed);
    }
    SubscribeStart out;
    // Read after the snapshot: every message stored after the snapshot was written is
    // either at most last_seq (replayed below) or later (live).
    auto last = reader.last_seq(subject);
    if (!last) return last.error();
    auto st = reader.state();
    if (!st) return st.error();
    out.last_seq = *last;
    out.epoch = st->epoch;
    // A sequence beyond the stream's end belongs to an RT that was since recreated: the
    // channel's messages in the new stream all come after the snapshot. Each message states
    // a user's whole status, so replaying one the snapshot already holds changes nothing.
    if (snapshot.seq > st->last_seq) snapshot.seq = 0;
    auto r = replay_messages(reader, subject, snapshot.seq + 1, max_messages, wanted, out);
    if (!r) return r.error();
    if (out.miss == "too_many") return Error{"the snapshot is too far behind its channel"};
    out.recovered = true;
    out.snapshot = std::move(snapshot);
    return out;
}

}  // namespace bb::edge
