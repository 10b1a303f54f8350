#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "broker-bridge/config.hpp"
#include "broker-bridge/expression.hpp"
#include "broker-bridge/metrics.hpp"
#include "broker-bridge/nats_client.hpp"
#include "handlers/dead_letter_pipeline.hpp"
#include "handlers/delivery.hpp"
#include "handlers/delivery_gaps.hpp"
#include "handlers/delivery_pool.hpp"
#include "handlers/plugin_instance.hpp"
#include "handlers/worker_pool.hpp"

namespace bb::handlers {

// Runs one binding: one durable pull consumer per subject, a fetch thread per consumer that
// keeps up to `concurrency + fetch_batch` events of the binding fetched, handler calls on
// the shared worker pool, and a timer thread for handler timeouts, ack-wait extensions and
// plugin ticks.
//
// Hand-off: fetched events wait in one ready queue per binding. A worker thread of the pool
// ("drainer") takes them one after another until the queue is empty, so a batch costs a few
// thread wake-ups instead of one per event; more drainers are woken when the queue is long
// or the calls are slow (see spread_locked), never more than `concurrency` calls at once.
//
// A failed attempt is retried with NakWithDelay on the binding's backoff schedule; the last
// failed attempt, a reject and an invalid envelope go to the DLQ (acknowledged publish
// first, then Term). With ordering per-aggregate, later events of an aggregate are held in
// memory (their ack wait extended) while an earlier one is being retried, and while
// deliveries that may carry earlier ones went missing (see DeliveryGaps).
//
// Owned by the handler host; start() and stop() are called from its thread.
class BindingRunner {
public:
    BindingRunner(PluginInstance& plugin, const Config& config, const NatsClient& nats,
                  Metrics& metrics, WorkerPool& pool);
    ~BindingRunner();
    BindingRunner(const BindingRunner&) = delete;
    BindingRunner& operator=(const BindingRunner&) = delete;

    // Creates or updates the durable consumers and starts fetching. Throws StartupError.
    void start();
    // Stops fetching (returns at once; the host calls it on every binding first).
    void stop_fetching();
    // Lets running handlers finish until `deadline`, then releases every message it still
    // holds back to JetStream for redelivery.
    void stop(std::chrono::steady_clock::time_point deadline);

    const std::string& name() const { return binding_.name; }
    const std::string& plugin_name() const { return binding_.plugin; }
    const std::string& stream() const { return binding_stream(config_, binding_).name; }
    // The durable consumer names, one per subject, in the binding's subject order.
    std::vector<std::string> durables() const;

private:
    struct Consumer {
        std::string subject;
        std::string durable;
        NatsSubscription sub;
        bool outstanding = false;        // deliveries awaited an answer when the binding started
        uint64_t last_consumer_seq = 0;  // of the last fetched delivery, see note_gap
        // Per-aggregate bindings only; guarded by mutex_.
        DeliveryGaps gaps;
        std::thread fetcher;
    };
    struct Aggregate {
        uint64_t active_seq = 0;
        bool active_waiting = false;  // the active event was nak'd and awaits redelivery
        std::chrono::steady_clock::time_point give_up_at;  // when waiting, see release()
        const std::string* waiting_durable = nullptr;      // the consumer it comes back from
        std::map<uint64_t, std::shared_ptr<Delivery>> held;
    };
    enum class Outcome { kDone, kRetry, kReject, kTimeout, kSkipped, kInvalid };

    void bind_consumer(Consumer& c);
    void fetch_loop(Consumer& c);
    // Starts (or holds) one fetched message; true when it is a suspect of a crash.
    bool dispatch(NatsMsg msg, Consumer& c);
    uint64_t note_gap(Consumer& c, uint64_t consumer_seq, const Delivery& d);
    void admit_locked(std::shared_ptr<Delivery> d, bool suspect);
    // binding_gaps.cpp: holding events back behind deliveries that went missing.
    bool dispatch_past_gap_locked(Consumer& c, std::shared_ptr<Delivery> d, uint64_t missing,
                                  bool suspect);
    bool have_locked(const Delivery& d) const;
    bool release_past_gaps_locked(Consumer& c);
    void check_gaps();
    int fetch_room(bool careful) const;
    void run_now(std::shared_ptr<Delivery> d);
    void spread_locked();
    void submit_drainer_locked();
    void drain();
    bool should_yield(int taken_here) const;
    void spread_if_stalled();
    bool fetcher_may_proceed_locked() const;
    void process(const std::shared_ptr<Delivery>& d);
    std::optional<Outcome> prepare(Delivery& d, std::string& error);
    void answer(const std::shared_ptr<Delivery>& d, Outcome outcome, uint32_t delay_ms,
                const std::string& error);
    void fail_attempt(const std::shared_ptr<Delivery>& d, uint32_t delay_ms,
                      const std::string& error);
    void dead_letter(const std::shared_ptr<Delivery>& d, DlqReason reason,
                     const std::string& error);
    void finish_dead_letter(const std::shared_ptr<Delivery>& d, const DeadLetter& info,
                            const Result<void>& published);
    void release(const std::shared_ptr<Delivery>& d, bool final);
    uint32_t next_delay_ms(uint64_t failed_attempt);
    void timer_loop();
    void tick_loop();
    void check_timeouts();
    bb_status keep_alive(const bb_event& event, bb_error* err);
    void extend_waiting();
    void unblock_abandoned_aggregates();
    std::optional<uint64_t> ack_floor(const std::string& durable);
    bool any_aggregate_waiting_locked() const;
    std::shared_ptr<Delivery> next_of(Aggregate& agg);
    void count(Outcome outcome);

    PluginInstance& plugin_;
    const BindingConfig& binding_;
    const Config& config_;
    const NatsClient& nats_;
    Metrics& metrics_;
    WorkerPool& pool_;
    std::optional<expr::Expression> filter_;
    bool filter_reads_data_ = false;  // the filter reads `data`: JSON before every call
    std::chrono::milliseconds ack_wait_;
    std::chrono::milliseconds gap_wait_;  // the longest events wait behind missing deliveries
    std::array<std::atomic<prometheus::Counter*>, 6> attempt_counters_{};  // by Outcome
    prometheus::Histogram* handler_duration_;

    std::mutex mutex_;
    std::condition_variable changed_;     // the fetch threads, isolation and stop wait on it
    std::condition_variable timer_wake_;  // the timer and ticker threads wait on it
    bool stopping_ = false;               // no more fetching
    bool timer_stopping_ = false;         // the drain is over: the timer ends too
    bool isolating_ = false;              // a suspect of a crash waits to run alone: fetch nothing
    uint64_t isolated_seq_ = 0;           // the suspect running alone, 0 when none
    int running_ = 0;           // dispatched and not yet answered: ready, preparing or in a call
    int active_ = 0;            // taken by a drainer and not yet answered (at most `concurrency`)
    int drainers_ = 0;          // drainer tasks submitted and not yet ended
    int pending_drainers_ = 0;  // drainer tasks submitted that have not started yet
    uint64_t taken_ = 0;        // events drainers took, for the timer's stall check
    uint64_t taken_at_check_ = 0;
    int64_t avg_call_us_;  // moving average of one event's handling, see spread_locked
    int held_ = 0;
    int stuck_ = 0;
    int stuck_slots_ = 0;  // stuck calls that keep their concurrency slot (no stand-in)
    std::vector<std::shared_ptr<Delivery>> in_flight_;  // running handler calls
    std::deque<std::shared_ptr<Delivery>> ready_;       // waiting for a drainer
    std::unordered_map<std::string, Aggregate> aggregates_;
    std::unordered_map<uint64_t, std::string> first_failed_at_;  // by stream seq
    std::mt19937_64 random_;

    std::unique_ptr<DeadLetterPipeline> dead_letters_;
    std::shared_ptr<DeliveryPool> deliveries_;
    std::vector<std::unique_ptr<Consumer>> consumers_;
    std::thread timer_;
    std::thread ticker_;
};

}  // namespace bb::handlers
