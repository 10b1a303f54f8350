#pragma once

#include <bb/plugin.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "broker-bridge/envelope.hpp"
#include "broker-bridge/nats_handles.hpp"

namespace bb::handlers {

// One delivery of one JetStream message to one binding, from fetch to its final answer
// (ack, nak, term). Shared between the worker running the handler and the binding's timer,
// which may take the delivery over when the handler overruns its timeout: whoever moves
// `state` out of kRunning first decides what happens to the message.
struct Delivery {
    // kTakenOver: the timer answered for an overdue call; kReleased: shutdown gave it back.
    enum State : int { kQueued, kPreparing, kRunning, kFinished, kTakenOver, kReleased };

    NatsMsg msg;
    std::string subject;  // as stored in the stream
    uint64_t stream_seq = 0;
    uint64_t delivered = 1;     // JetStream's delivery count, 1 for the first
    std::string aggregate_key;  // empty unless ordering is per-aggregate
    std::atomic<int> state{kQueued};
    std::chrono::steady_clock::time_point deadline;
    // Set when a handler overran its timeout and no stand-in thread could be started: the
    // stuck call keeps its concurrency slot until it returns, so new work waits instead of
    // queueing behind a full pool while its ack wait runs out.
    bool holds_slot = false;
    uint32_t retry_delay_ms = 0;           // the delay of the last nak, for per-aggregate waiting
    const std::string* durable = nullptr;  // the consumer that delivered it (the binding's)

    // Filled on the worker before the handler runs; bb_event points into these.
    Headers headers;
    bool headers_read = false;  // `headers` are this message's (a recycled delivery's are not)
    Event event;
    // The data as JSON text: converted before the call, or on the plugin's first
    // event_data_json call for a plugin that asks on demand (see ensure_data_json).
    std::string data_json;
    bool json_converted = false;
    std::string json_error;  // why the data cannot be JSON: the event is invalid
    std::vector<bb_header> c_headers;
    bb_event c_event{};

    // Back to a fresh delivery for DeliveryPool: the message is dropped, every field reset,
    // and the strings and vectors keep their storage for the next event.
    void recycle() noexcept;
};

// Fills d.c_event (and the strings it points into) from the decoded event and the message.
// data_json is left empty (data NULL) unless it was converted already.
void build_c_event(Delivery& d, uint32_t max_attempts);

// Converts the event's data to JSON text once: d.data_json, or null with d.json_error set.
const std::string* ensure_data_json(Delivery& d);

// Marks `d` as the delivery whose handle() call runs on this thread, for the scope's life:
// bb_host.event_data_json is called from inside handle(), on its thread, and finds the
// delivery behind the event pointer here without a lock or a search.
class HandlingScope {
public:
    explicit HandlingScope(Delivery& d) noexcept;
    ~HandlingScope();
    HandlingScope(const HandlingScope&) = delete;
    HandlingScope& operator=(const HandlingScope&) = delete;

private:
    Delivery* outer_;
};

// The delivery whose bb_event is `event` and whose call runs on this thread; null if none.
Delivery* delivery_handled_here(const bb_event* event) noexcept;

}  // namespace bb::handlers
