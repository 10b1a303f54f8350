// BindingRunner's per-aggregate ordering across lost deliveries: events that arrive after
// a gap in a consumer's deliveries wait until the missing ones came back, the consumer's
// ack floor passed them, or `gap_wait` ran out (see DeliveryGaps).
#include "broker-bridge/log.hpp"
#include "handlers/binding_runner.hpp"

namespace bb::handlers {

// Dispatch's last step while a gap is open or has just opened (caller holds mutex_).
bool BindingRunner::dispatch_past_gap_locked(Consumer& c, std::shared_ptr<Delivery> d,
                                             uint64_t missing, bool suspect) {
    if (binding_.ordering != Ordering::kPerAggregate || gap_wait_.count() == 0) {
        admit_locked(std::move(d), suspect);
        return suspect;
    }
    if (missing > 0) c.gaps.add(missing, *d, std::chrono::steady_clock::now() + gap_wait_);
    // A second copy of an event this binding has already (its ack wait ran out while the
    // connection was down) goes where the first one is.
    const bool known = have_locked(*d);
    if (c.gaps.must_wait(*d) && !d->aggregate_key.empty() && !known) {
        if (c.gaps.hold(d)) ++held_;
        if (isolated_seq_ == d->stream_seq) isolated_seq_ = 0;  // it does not run now
        return suspect;
    }
    // A redelivery that failed nowhere here (a suspect, see dispatch) and is not a second
    // copy of an event held here may be one of the missing deliveries.
    const bool may_be_missing = suspect && !known;
    const uint64_t seq = d->stream_seq;
    admit_locked(std::move(d), suspect);
    // Released after it, so an aggregate's later events queue behind it.
    if (may_be_missing && c.gaps.came_back(seq)) release_past_gaps_locked(c);
    return suspect;
}

// Whether this event is running, queued or held here already (caller holds mutex_).
bool BindingRunner::have_locked(const Delivery& d) const {
    if (d.aggregate_key.empty()) return false;
    auto it = aggregates_.find(d.aggregate_key);
    if (it == aggregates_.end()) return false;
    return it->second.active_seq == d.stream_seq || it->second.held.count(d.stream_seq) > 0;
}

// Admits, in stream order, the held events no open gap holds back (caller holds mutex_).
// True when any went on.
bool BindingRunner::release_past_gaps_locked(Consumer& c) {
    auto released = c.gaps.take_released();
    for (auto& d : released) {
        --held_;
        admit_locked(std::move(d), false);
    }
    if (!released.empty()) spread_locked();
    return !released.empty();
}

// From the timer thread: closes the gaps past `gap_wait` and, every `gap_poll_interval`
// while a gap with held events behind it is open, those the consumer's ack floor passed.
void BindingRunner::check_gaps() {
    if (binding_.ordering != Ordering::kPerAggregate) return;
    const auto now = std::chrono::steady_clock::now();
    std::vector<Consumer*> ask;
    bool released = false;
    {
        std::lock_guard lock(mutex_);
        for (auto& c : consumers_) {
            if (!c->gaps.open()) continue;
            if (uint64_t missing = c->gaps.expire(now)) {
                log::info("held events go on without missing deliveries",
                          {{"binding", binding_.name},
                           {"consumer", c->durable},
                           {"missing", missing},
                           {"waited_ms", gap_wait_.count()}});
                released = release_past_gaps_locked(*c) || released;
            }
            if (c->gaps.floor_due(now, config_.handlers.gap_poll_interval)) ask.push_back(c.get());
        }
    }
    for (Consumer* c : ask) {
        auto floor = ack_floor(c->durable);  // a request: outside the lock
        if (!floor) continue;
        std::lock_guard lock(mutex_);
        if (c->gaps.floor_reached(*floor)) released = release_past_gaps_locked(*c) || released;
    }
    if (released) changed_.notify_all();  // the fetch thread may wait for room
}

}  // namespace bb::handlers
