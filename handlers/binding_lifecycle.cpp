// BindingRunner's timer, ticker, keep-alive and shutdown: everything beside the handler calls.
#include <algorithm>

#include <bb/plugin.hpp>

#include "broker-bridge/log.hpp"
#include "handlers/binding_runner.hpp"

namespace bb::handlers {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

}  // namespace

void BindingRunner::timer_loop() {
    // Fine enough to notice an overrun within a quarter of the timeout, and never busy.
    auto period = std::clamp(binding_.timeout / 4, std::chrono::milliseconds(5),
                             std::chrono::milliseconds(250));
    // And to ask for ack floors as often as `gap_poll_interval` says (check_gaps).
    if (binding_.ordering == Ordering::kPerAggregate) {
        period = std::min(period, config_.handlers.gap_poll_interval);
    }
    auto extend_every = std::max(ack_wait_ / 3, std::chrono::milliseconds(10));
    auto next_extend = Clock::now() + extend_every;
    std::unique_lock lock(mutex_);
    // Runs through the drain too: calls that overrun then are still taken over, and held or
    // queued events keep their ack wait extended.
    while (!timer_stopping_) {
        timer_wake_.wait_for(lock, period, [this] { return timer_stopping_; });
        if (timer_stopping_) break;
        lock.unlock();
        check_timeouts();
        spread_if_stalled();
        check_gaps();
        if (Clock::now() >= next_extend) {
            extend_waiting();
            unblock_abandoned_aggregates();
            next_extend = Clock::now() + extend_every;
        }
        lock.lock();
    }
}

void BindingRunner::check_timeouts() {
    std::vector<std::shared_ptr<Delivery>> overdue;
    auto now = Clock::now();
    {
        std::lock_guard lock(mutex_);
        for (const auto& d : in_flight_) {
            if (d->deadline > now) continue;
            int expected = Delivery::kRunning;
            if (!d->state.compare_exchange_strong(expected, Delivery::kTakenOver)) continue;
            overdue.push_back(d);
            ++stuck_;
            // Decided under the lock the returning handler takes too: without a stand-in
            // thread the stuck call keeps its slot (answer() below releases one, this
            // takes it back), so new work waits rather than queueing behind a full pool.
            d->holds_slot = !pool_.add_replacement();
            if (d->holds_slot) {
                ++running_;
                ++active_;
                ++stuck_slots_;
            }
        }
    }
    for (const auto& d : overdue) {
        metrics_.handlers_stuck(binding_.name).Increment();
        log::warn("handler overran its timeout", {{"binding", binding_.name},
                                                  {"seq", d->stream_seq},
                                                  {"timeout_ms", binding_.timeout.count()},
                                                  {"stand_in_thread", !d->holds_slot}});
        std::string error =
            "handler timed out after " + std::to_string(binding_.timeout.count()) + "ms";
        answer(d, Outcome::kTimeout, next_delay_ms(d->delivered), error);
    }
}

// bb_host.in_progress: the call handling `event` is alive. Its take-over moves to one timeout
// from now (under the lock check_timeouts() reads deadlines with) and JetStream restarts the
// message's ack wait, which is a timeout plus the ack margin long.
bb_status BindingRunner::keep_alive(const bb_event& event, bb_error* err) {
    std::shared_ptr<Delivery> d;
    {
        std::lock_guard lock(mutex_);
        for (const auto& f : in_flight_) {
            if (&f->c_event == &event && f->state.load() == Delivery::kRunning) d = f;
        }
        if (d) d->deadline = std::max(d->deadline, Clock::now() + binding_.timeout);
    }
    if (!d) {
        bb_error_set(err, "in_progress: the event is not being handled (or its call timed out)");
        return BB_INVALID;
    }
    natsStatus s = natsMsg_InProgress(d->msg.get(), nullptr);
    if (s != NATS_OK) {
        bb_error_set(err, std::string("in_progress: ") + natsStatus_GetText(s));
        return BB_UNAVAILABLE;
    }
    return BB_OK;
}

// Held events wait behind an earlier one of their aggregate or missing deliveries, queued
// ones for a worker thread; "in progress" restarts their ack wait so JetStream does not
// redeliver them.
void BindingRunner::extend_waiting() {
    std::vector<std::shared_ptr<Delivery>> waiting;
    {
        std::lock_guard lock(mutex_);
        waiting.assign(ready_.begin(), ready_.end());
        for (const auto& [key, agg] : aggregates_) {
            for (const auto& [seq, d] : agg.held) waiting.push_back(d);
        }
        for (const auto& c : consumers_) {
            for (const auto& [seq, d] : c->gaps.held()) waiting.push_back(d);
        }
    }
    for (const auto& d : waiting) natsMsg_InProgress(d->msg.get(), nullptr);
}

// An aggregate waits for its retried event to come back. Its held events may go on only
// once that event has left the consumer (acknowledged or terminated, by another replica
// maybe): an event still pending comes back, however late (a consumer leader lost with
// its nak redelivers after an ack wait, once a new leader is elected), and running its
// successors first would store them before it. Past its retry delay plus two ack waits,
// the consumer's ack floor tells which it is; while unknown (no answer), it waits on.
void BindingRunner::unblock_abandoned_aggregates() {
    auto now = Clock::now();
    std::map<const std::string*, std::optional<uint64_t>> floors;  // by consumer
    {
        std::lock_guard lock(mutex_);
        for (const auto& [key, agg] : aggregates_) {
            if (agg.active_waiting && now >= agg.give_up_at && agg.waiting_durable) {
                floors.emplace(agg.waiting_durable, std::nullopt);
            }
        }
    }
    if (floors.empty()) return;
    for (auto& [durable, floor] : floors) floor = ack_floor(*durable);
    std::vector<std::shared_ptr<Delivery>> next;
    {
        std::lock_guard lock(mutex_);
        for (auto it = aggregates_.begin(); it != aggregates_.end();) {
            Aggregate& agg = it->second;
            auto floor = floors.find(agg.waiting_durable);
            if (!agg.active_waiting || now < agg.give_up_at || floor == floors.end()) {
                ++it;
                continue;
            }
            if (!floor->second || *floor->second < agg.active_seq) {
                log::debug("aggregate waits for its retry",
                           {{"binding", binding_.name},
                            {"waited_for_seq", agg.active_seq},
                            {"ack_floor", floor->second ? std::to_string(*floor->second)
                                                        : std::string("unknown")},
                            {"held", agg.held.size()}});
                agg.give_up_at = now + ack_wait_;
                ++it;
                continue;
            }
            log::warn("aggregate unblocked", {{"binding", binding_.name},
                                              {"waited_for_seq", agg.active_seq},
                                              {"ack_floor", *floor->second},
                                              {"held", agg.held.size()}});
            first_failed_at_.erase(agg.active_seq);
            if (auto d = next_of(agg)) {
                next.push_back(std::move(d));
                ++it;
            } else {
                it = aggregates_.erase(it);
            }
        }
    }
    for (auto& d : next) run_now(std::move(d));
}

// The stream sequence below which every event has left the consumer `durable`, or nullopt
// without an answer. Asked from the timer thread, so it waits at most a third of an ack
// wait (the period of this check) or the request timeout, whichever is shorter.
std::optional<uint64_t> BindingRunner::ack_floor(const std::string& durable) {
    jsOptions opts;
    jsOptions_Init(&opts);
    opts.Wait = std::min(config_.nats.request_timeout, std::max(ack_wait_ / 3, 10ms)).count();
    jsConsumerInfo* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s =
        js_GetConsumerInfo(&raw, nats_.js(), stream().c_str(), durable.c_str(), &opts, &jerr);
    JsConsumerInfo info(raw);
    if (s != NATS_OK) {
        log::debug("ack floor unknown", {{"binding", binding_.name},
                                         {"consumer", durable},
                                         {"error", nats_error(s, &jerr).what}});
        return std::nullopt;
    }
    return info->AckFloor.Stream;
}

// Whether an aggregate waits for the retry of its event (caller holds mutex_).
bool BindingRunner::any_aggregate_waiting_locked() const {
    return std::any_of(aggregates_.begin(), aggregates_.end(),
                       [](const auto& entry) { return entry.second.active_waiting; });
}

void BindingRunner::tick_loop() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        uint32_t interval = plugin_.tick_interval_ms();
        auto wait = std::chrono::milliseconds(interval ? interval : 100);
        timer_wake_.wait_for(lock, wait, [this] { return stopping_; });
        if (stopping_ || interval == 0) continue;
        lock.unlock();
        plugin_.tick();
        lock.lock();
    }
}

void BindingRunner::stop_fetching() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    timer_wake_.notify_all();
    for (auto& c : consumers_) {
        if (c->fetcher.joinable()) c->fetcher.join();
    }
}

void BindingRunner::stop(std::chrono::steady_clock::time_point deadline) {
    stop_fetching();
    std::vector<std::shared_ptr<Delivery>> leftovers;
    {
        std::unique_lock lock(mutex_);
        // Stuck calls that kept their slot will not return in time; the others may.
        changed_.wait_until(lock, deadline, [this] { return running_ - stuck_slots_ <= 0; });
        for (auto& [key, agg] : aggregates_) {
            for (auto& [seq, d] : agg.held) leftovers.push_back(d);
        }
        aggregates_.clear();
        for (auto& c : consumers_) {
            for (auto& d : c->gaps.take_all()) leftovers.push_back(std::move(d));
        }
        held_ = 0;
        for (const auto& d : ready_) {
            int expected = Delivery::kQueued;
            if (d->state.compare_exchange_strong(expected, Delivery::kReleased)) {
                leftovers.push_back(d);
            }
        }
        ready_.clear();
        for (const auto& d : in_flight_) {
            int expected = Delivery::kRunning;
            if (d->state.compare_exchange_strong(expected, Delivery::kReleased)) {
                leftovers.push_back(d);
            }
        }
    }
    {
        std::lock_guard lock(mutex_);
        timer_stopping_ = true;
    }
    changed_.notify_all();
    timer_wake_.notify_all();
    // Released at once for redelivery: to another replica now, or to this one after restart.
    for (const auto& d : leftovers) natsMsg_Nak(d->msg.get(), nullptr);
    if (!leftovers.empty()) {
        log::info("released unfinished events",
                  {{"binding", binding_.name}, {"count", leftovers.size()}});
    }
    if (timer_.joinable()) timer_.join();
    if (ticker_.joinable()) ticker_.join();
    // Dead letters still awaiting their acknowledgement get up to one request timeout.
    dead_letters_.reset();
    consumers_.clear();
}

}  // namespace bb::handlers
