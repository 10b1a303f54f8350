#pragma once

#include <nats/nats.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "broker-bridge/edge/live_message.hpp"
#include "broker-bridge/result.hpp"

// Blocking reads of stream RT for subscriptions and recovery: one JetStream round trip each.
// Called from the edge's worker threads (and the hub when a stream seems recreated), never
// from an event loop. Thread-safe.
namespace bb::edge {

struct StreamState {
    uint64_t first_seq = 0;
    uint64_t last_seq = 0;
    std::string epoch;  // the stream's creation time in ns since 1970, as text
};

class StreamReader {
public:
    StreamReader(jsCtx* js, std::string stream);

    // Stream info; refreshes epoch() as a side effect.
    Result<StreamState> state();
    // The epoch last read; empty before the first state() call.
    std::string epoch() const;

    // The sequence of the last message stored on `subject`, 0 when there is none.
    Result<uint64_t> last_seq(const std::string& subject);
    // The subject of the message at `seq`, nullopt when it is gone (or never was).
    Result<std::optional<std::string>> subject_at(uint64_t seq);
    // The first message on `subject` at or after `seq`, nullptr when there is none.
    Result<LivePtr> next(const std::string& subject, uint64_t seq);

private:
    Result<natsMsg*> direct_get(const jsDirectGetMsgOptions& options);

    jsCtx* js_;
    std::string stream_;
    mutable std::mutex mu_;
    std::string epoch_;
};

}  // namespace bb::edge
