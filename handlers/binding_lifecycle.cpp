// BindingRunner's timer, ticker and shutdown: everything that runs beside the handlers.
#include <algorithm>

#include "broker-bridge/log.hpp"
#include "handlers/binding_runner.hpp"

namespace bb::handlers {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

void BindingRunner::timer_loop() {
    // Fine enough to notice an overrun within a quarter of the timeout, and never busy.
    auto period = std::clamp(binding_.timeout / 4, std::chrono::milliseconds(5),
                             std::chrono::milliseconds(250));
    auto extend_every = std::max(ack_wait_ / 3, std::chrono::milliseconds(10));
    auto next_extend = Clock::now() + extend_every;
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        changed_.wait_for(lock, period, [this] { return stopping_; });
        if (stopping_) break;
        lock.unlock();
        check_timeouts();
        if (Clock::now() >= next_extend) {
            extend_held();
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
            if (d->holds_slot) ++running_;
        }
    }
    for (const auto& d : overdue) {
        metrics_.handlers_stuck(binding_.name).Increment();
        log::warn("handler overran its timeout",
                  {{"binding", binding_.name}, {"seq", d->stream_seq},
                   {"timeout_ms", binding_.timeout.count()},
                   {"stand_in_thread", !d->holds_slot}});
        std::string error = "handler timed out after " +
                            std::to_string(binding_.timeout.count()) + "ms";
        answer(d, Outcome::kTimeout, next_delay_ms(d->delivered), error);
    }
}

// Held events wait behind an earlier one of their aggregate; "in progress" restarts their
// ack wait so JetStream does not redeliver them meanwhile.
void BindingRunner::extend_held() {
    std::vector<std::shared_ptr<Delivery>> held;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [key, agg] : aggregates_) {
            for (const auto& [seq, d] : agg.held) held.push_back(d);
        }
    }
    for (const auto& d : held) natsMsg_InProgress(d->msg.get(), nullptr);
}

void BindingRunner::tick_loop() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        uint32_t interval = plugin_.tick_interval_ms();
        auto wait = std::chrono::milliseconds(interval ? interval : 100);
        changed_.wait_for(lock, wait, [this] { return stopping_; });
        if (stopping_ || interval == 0) continue;
        lock.unlock();
        plugin_.tick();
        lock.lock();
    }
}

void BindingRunner::stop(std::chrono::steady_clock::time_point deadline) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && consumers_.empty()) return;
        stopping_ = true;
    }
    changed_.notify_all();
    for (auto& c : consumers_) {
        if (c->fetcher.joinable()) c->fetcher.join();
    }
    std::vector<std::shared_ptr<Delivery>> leftovers;
    {
        std::unique_lock lock(mutex_);
        changed_.wait_until(lock, deadline, [this] { return running_ - stuck_ <= 0; });
        for (auto& [key, agg] : aggregates_) {
            for (auto& [seq, d] : agg.held) leftovers.push_back(d);
        }
        aggregates_.clear();
        held_ = 0;
        for (const auto& d : in_flight_) {
            int expected = Delivery::kRunning;
            if (d->state.compare_exchange_strong(expected, Delivery::kTakenOver)) {
                leftovers.push_back(d);
            }
        }
    }
    // Released at once for redelivery: to another replica now, or to this one after restart.
    for (const auto& d : leftovers) natsMsg_Nak(d->msg.get(), nullptr);
    if (!leftovers.empty()) {
        log::info("released unfinished events", {{"binding", binding_.name},
                                                 {"count", leftovers.size()}});
    }
    if (timer_.joinable()) timer_.join();
    if (ticker_.joinable()) ticker_.join();
    consumers_.clear();
}

}  // namespace bb::handlers
