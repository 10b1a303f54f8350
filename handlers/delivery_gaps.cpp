#include "handlers/delivery_gaps.hpp"

#include <algorithm>

namespace bb::handlers {

void DeliveryGaps::add(uint64_t missing, const Delivery& next, Clock::time_point give_up_at) {
    // A redelivery says nothing about where the missing first deliveries stood in the
    // stream: the next first-time delivery does (must_wait).
    const uint64_t bound = next.delivered == 1 ? next.stream_seq : 0;
    gaps_.push_back(Gap{bound, missing, give_up_at});
}

bool DeliveryGaps::must_wait(const Delivery& d) {
    if (d.delivered == 1) {
        for (auto& g : gaps_) {
            if (g.bound == 0) g.bound = d.stream_seq;
        }
    }
    const uint64_t lowest = lowest_bound();
    return lowest != 0 && d.stream_seq >= lowest;
}

bool DeliveryGaps::hold(std::shared_ptr<Delivery> d) {
    const uint64_t seq = d->stream_seq;
    return held_.insert_or_assign(seq, std::move(d)).second;
}

// Counted against the oldest gap it may belong to. A redelivery of an event handed to
// another process of the group may be counted too: that only ends the wait sooner, and
// across processes the order of an aggregate is not kept anyway.
bool DeliveryGaps::came_back(uint64_t stream_seq) {
    for (auto it = gaps_.begin(); it != gaps_.end(); ++it) {
        if (it->bound != 0 && stream_seq >= it->bound) continue;
        if (--it->missing > 0) return false;
        gaps_.erase(it);
        return true;
    }
    return false;
}

bool DeliveryGaps::floor_reached(uint64_t ack_floor) {
    const auto before = gaps_.size();
    std::erase_if(gaps_, [&](const Gap& g) { return g.bound != 0 && ack_floor + 1 >= g.bound; });
    return gaps_.size() != before;
}

uint64_t DeliveryGaps::expire(Clock::time_point now) {
    uint64_t still_missing = 0;
    std::erase_if(gaps_, [&](const Gap& g) {
        if (now < g.give_up_at) return false;
        still_missing += g.missing;
        return true;
    });
    return still_missing;
}

// Gaps without a bound opened after every held delivery arrived (its arrival gave the gaps
// before it their bound), so they hold none of them back.
std::vector<std::shared_ptr<Delivery>> DeliveryGaps::take_released() {
    const uint64_t lowest = lowest_bound();
    auto end = lowest == 0 ? held_.end() : held_.lower_bound(lowest);
    std::vector<std::shared_ptr<Delivery>> out;
    for (auto it = held_.begin(); it != end; ++it) out.push_back(std::move(it->second));
    held_.erase(held_.begin(), end);
    return out;
}

std::vector<std::shared_ptr<Delivery>> DeliveryGaps::take_all() {
    std::vector<std::shared_ptr<Delivery>> out;
    for (auto& [seq, d] : held_) out.push_back(std::move(d));
    held_.clear();
    return out;
}

bool DeliveryGaps::floor_due(Clock::time_point now, std::chrono::milliseconds every) {
    if (lowest_bound() == 0 || now < next_floor_check_) return false;
    next_floor_check_ = now + every;
    return true;
}

uint64_t DeliveryGaps::lowest_bound() const {
    uint64_t lowest = 0;
    for (const auto& g : gaps_) {
        if (g.bound != 0 && (lowest == 0 || g.bound < lowest)) lowest = g.bound;
    }
    return lowest;
}

}  // namespace bb::handlers
