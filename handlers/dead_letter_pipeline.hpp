#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "broker-bridge/nats_client.hpp"
#include "broker-bridge/result.hpp"
#include "handlers/dead_letter.hpp"

namespace bb::handlers {

// Dead-letter publishes without a round trip per event: each DLQ message goes out with
// js_PublishMsgAsync on a JetStream context of its own, and its completion runs when the
// DLQ stream's acknowledgement (or an error, or a timeout after `max_wait`) comes back, on
// nats.c's thread. The caller terminates the original only in that completion, so the order
// "acknowledged publish first, then Term" holds as with a synchronous publish, while many
// dead letters are on the wire at once.
//
// Owned by one binding; thread-safe. The destructor waits up to `max_wait` for publishes
// still awaiting their acknowledgement; their completions no longer run after it returns.
class DeadLetterPipeline {
public:
    using Done = std::function<void(const Result<void>&)>;

    DeadLetterPipeline(const NatsClient& nats, std::chrono::milliseconds max_wait);
    ~DeadLetterPipeline();
    DeadLetterPipeline(const DeadLetterPipeline&) = delete;
    DeadLetterPipeline& operator=(const DeadLetterPipeline&) = delete;

    // Sends `message`; `done` runs once: with success when the stream acknowledged it (a
    // duplicate too: that failure was dead-lettered already), or with the error. A publish
    // that cannot start calls `done` before publish() returns.
    void publish(const DeadLetterMessage& message, Done done);

private:
    struct State;
    static void on_ack(jsCtx* js, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure);

    std::chrono::milliseconds max_wait_;
    std::shared_ptr<State> state_;
    jsCtx* js_ = nullptr;
};

}  // namespace bb::handlers
