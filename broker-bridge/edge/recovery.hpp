#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "broker-bridge/edge/live_message.hpp"
#include "broker-bridge/edge/protocol.hpp"
#include "broker-bridge/edge/stream_reader.hpp"
#include "broker-bridge/result.hpp"

// What a subscription starts from: the channel's last stored sequence and, when the client
// gave a position, the messages it missed. Runs on a worker thread, after the live
// subscription exists, so nothing stored from here on can fall between the two.
namespace bb::edge {

// A channel's state read from the presence bucket, valid at stream RT sequence `seq`.
struct Snapshot {
    uint64_t seq = 0;
    nlohmann::json data;
};

struct SubscribeStart {
    uint64_t last_seq = 0;  // the channel's last stored sequence (0: none yet)
    std::string epoch;
    bool recovered = false;       // meaningful when a position was given
    std::string miss;             // why not recovered: epoch, foreign, expired, future, too_many
    std::vector<LivePtr> replay;  // in order, each after since.seq and at most last_seq
    std::optional<Snapshot> snapshot;  // snapshot channels: the replay follows its seq
};

// `since`: the client's position, if any. A position is refused (recovered=false) when its
// epoch is not the stream's (checked again against a fresh stream info), when the message at
// since.seq belongs to another subject, when it lies beyond the stream's end, when messages
// after it have expired, or when more than `max_messages` were missed. The replay ends at
// last_seq: what is stored later reaches the client through the live feed, so a busy
// channel cannot stretch the replay (or its count) without end. Once `wanted` turns false
// (the client left or unsubscribed) the reads stop and the result is an error.
Result<SubscribeStart> start_subscription(StreamReader& reader, const std::string& subject,
                                          const std::optional<Position>& since,
                                          int64_t max_messages, const std::atomic<bool>& wanted);

// Appends the channel's messages from `from` up to out.last_seq to out.replay; past
// `max_messages` the replay is emptied and out.miss says too_many.
Result<void> replay_messages(StreamReader& reader, const std::string& subject, uint64_t from,
                             int64_t max_messages, const std::atomic<bool>& wanted,
                             SubscribeStart& out);

}  // namespace bb::edge
