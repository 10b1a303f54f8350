#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "handlers/delivery.hpp"

namespace bb::handlers {

// The deliveries one consumer made that never arrived here, and the events held back
// behind them, for per-aggregate ordering. Consumer sequences count every delivery, so a
// jump in them is a gap: deliveries taken by another process of the group, or lost in
// transit when a connection dropped. A lost one comes back only after its ack wait, and may
// carry an earlier event of an aggregate whose later event has just arrived.
//
// A gap's missing deliveries all carry stream sequences below the first first-time delivery
// after it (its bound): first deliveries go out in stream order and redeliveries are of
// older events. While a gap is open, deliveries at or past the lowest bound are held. A gap
// closes when as many redeliveries as it misses came back, when the consumer's ack floor
// reached its bound (another process answered them), or at its give-up time.
//
// Not thread-safe: the binding's mutex guards it.
class DeliveryGaps {
public:
    using Clock = std::chrono::steady_clock;
    using Held = std::map<uint64_t, std::shared_ptr<Delivery>>;  // by stream sequence

    bool open() const { return !gaps_.empty(); }
    // `missing` deliveries went missing before `next` (first-time or a redelivery).
    void add(uint64_t missing, const Delivery& next, Clock::time_point give_up_at);
    // Whether `d`, a delivery that arrived after the gaps opened, must wait behind them.
    bool must_wait(const Delivery& d);
    // Keeps a delivery must_wait() refused; false when it replaced one of the same event.
    bool hold(std::shared_ptr<Delivery> d);
    // A redelivery that may be one of the missing ones came back (and went on). True when
    // that closed a gap.
    bool came_back(uint64_t stream_seq);
    // Closes the gaps whose events the consumer's ack floor passed; true when any closed.
    bool floor_reached(uint64_t ack_floor);
    // Closes the gaps past their give-up time; how many deliveries they still missed.
    uint64_t expire(Clock::time_point now);
    // The held deliveries no open gap holds back any more, in stream order.
    std::vector<std::shared_ptr<Delivery>> take_released();
    // Every held delivery (on shutdown).
    std::vector<std::shared_ptr<Delivery>> take_all();
    const Held& held() const { return held_; }
    // Whether the ack floor may close a gap (one has a bound) and it is time to ask for it.
    bool floor_due(Clock::time_point now, std::chrono::milliseconds every);
    // The lowest bound of the open gaps, 0 when none is known.
    uint64_t lowest_bound() const;

private:
    struct Gap {
        uint64_t bound = 0;  // 0: no first-time delivery arrived since the gap
        uint64_t missing = 0;
        Clock::time_point give_up_at;
    };
    std::vector<Gap> gaps_;  // in the order they opened: bounds never fall
    Held held_;
    Clock::time_point next_floor_check_{};
};

}  // namespace bb::handlers
