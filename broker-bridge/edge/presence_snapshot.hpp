#pragma once

#include <nats/nats.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <string>

#include "broker-bridge/edge/recovery.hpp"
#include "broker-bridge/edge/stream_reader.hpp"
#include "broker-bridge/nats_handles.hpp"
#include "broker-bridge/result.hpp"

// The start of a snapshot channel (org:<org>:presence): the state the presence plugin keeps
// in its bucket under the channel's key, {"seq": S, "data": {...}}, valid at stream RT
// sequence S, then every message of the channel after S. docs/PRESENCE.md says why nothing
// is lost between the two. Called on the edge's worker threads; thread-safe.
namespace bb::edge {

class SnapshotReader {
public:
    SnapshotReader(jsCtx* js, std::string bucket);

    // The entry at `key`, nullopt when there is none (or the bucket does not exist yet).
    Result<std::optional<std::string>> get(const std::string& key);

private:
    Result<kvStore*> store();

    jsCtx* js_;
    std::string bucket_;
    std::mutex mu_;
    KvStore kv_;  // opened at the first read that finds the bucket
};

// Reads the snapshot first, then the channel's last sequence, and replays what lies between
// (at most `max_messages`: more means the plugin is far behind, and the start fails). The
// live subscription must exist before this is called.
Result<SubscribeStart> start_snapshot(StreamReader& reader, SnapshotReader& snapshots,
                                      const std::string& subject, const std::string& key,
                                      int64_t max_messages, const std::atomic<bool>& wanted);

}  // namespace bb::edge
