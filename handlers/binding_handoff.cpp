// BindingRunner's hand-off of fetched events to the worker pool: a ready queue per binding
// that drainer tasks work through, so a fetched batch costs a few thread wake-ups instead of
// one (and one more back) per event.
#include <algorithm>
#include <vector>

#include "handlers/binding_runner.hpp"

namespace bb::handlers {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kDropBurst = 32;

}  // namespace

void BindingRunner::run_now(std::shared_ptr<Delivery> d) {
    std::lock_guard lock(mutex_);
    ready_.push_back(std::move(d));
    spread_locked();
}

// Wakes one more drainer when the ready queue needs it (caller holds mutex_). Never more
// drainers than free call slots, and one wake-up at a time: a drainer that starts calls
// this again, so slow calls fan out to `concurrency` threads within a few wake-ups. While
// calls are fast on average (under `spread_after`), one drainer per `handoff_batch` waiting
// events is enough: more threads would only take turns on the same cores.
void BindingRunner::spread_locked() {
    if (ready_.empty() || pending_drainers_ > 0) return;
    if (active_ >= binding_.concurrency) return;
    const auto slow_us = std::chrono::microseconds(config_.handlers.spread_after).count();
    const bool slow = avg_call_us_ >= slow_us;
    const auto per_drainer = static_cast<size_t>(config_.handlers.handoff_batch);
    if (!slow && drainers_ > 0 && ready_.size() <= per_drainer * static_cast<size_t>(drainers_))
        return;
    submit_drainer_locked();
}

void BindingRunner::submit_drainer_locked() {
    ++drainers_;
    ++pending_drainers_;
    pool_.submit(binding_.priority, [this] { drain(); });
}

// A pool task: takes ready events of this binding one after another and handles each, until
// the queue is empty, every call slot is taken, or other work should have the thread.
void BindingRunner::drain() {
    // Answered deliveries are dropped in bursts: nats.c frees a received message on its
    // garbage-collector thread and wakes that thread when its list was empty, which one
    // drop per event turned into a thread switch per event.
    std::vector<std::shared_ptr<Delivery>> answered;
    answered.reserve(kDropBurst);
    std::unique_lock lock(mutex_);
    --pending_drainers_;
    int taken_here = 0;
    while (!ready_.empty() && active_ < binding_.concurrency) {
        if (should_yield(taken_here)) {
            // Back into the pool's queue behind the waiting work; this task ends.
            --drainers_;
            submit_drainer_locked();
            lock.unlock();  // `answered` is dropped outside the lock
            return;
        }
        std::shared_ptr<Delivery> d = std::move(ready_.front());
        ready_.pop_front();
        ++active_;
        ++taken_;
        ++taken_here;
        spread_locked();
        lock.unlock();
        auto started = Clock::now();
        process(d);
        auto took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
        answered.push_back(std::move(d));
        if (answered.size() >= kDropBurst) answered.clear();
        lock.lock();
        // An exponential moving average over about the last eight events.
        avg_call_us_ += (took.count() - avg_call_us_) / 8;
    }
    --drainers_;
    lock.unlock();  // `answered` is dropped outside the lock
}

// Priority across bindings: a drainer gives its thread up at once when work of a higher
// priority waits in the pool, and after a hand-off batch when work of its own priority does.
bool BindingRunner::should_yield(int taken_here) const {
    if (pool_.waiting_above(binding_.priority)) return true;
    return taken_here >= config_.handlers.handoff_batch && pool_.waiting_at(binding_.priority);
}

// A drainer whose call blocks (a handler that is fast on average but not this once) would
// leave the events behind it waiting: when no event was taken for a whole timer period,
// one drainer per waiting event is woken (up to the free call slots).
void BindingRunner::spread_if_stalled() {
    std::lock_guard lock(mutex_);
    const bool stalled = !ready_.empty() && taken_ == taken_at_check_;
    taken_at_check_ = taken_;
    if (!stalled) return;
    const int free_slots = binding_.concurrency - active_ - pending_drainers_;
    const int wake = std::min(free_slots, static_cast<int>(ready_.size()));
    for (int i = 0; i < wake; ++i) submit_drainer_locked();
}

// Whether an answer just made true what a fetch thread, an isolated suspect or stop() waits
// for (caller holds mutex_). Counts fall one at a time, so each threshold is met exactly.
bool BindingRunner::fetcher_may_proceed_locked() const {
    const int batch = config_.handlers.fetch_batch;
    const int room_at = binding_.concurrency + batch - std::max(1, batch / 2);
    return running_ - stuck_slots_ <= 0 || running_ == binding_.concurrency - 1 ||
           running_ == room_at || held_ == config_.handlers.max_ack_pending / 2 - 1 || stopping_;
}

}  // namespace bb::handlers
