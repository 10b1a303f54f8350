#include "handlers/binding_runner.hpp"

#include <algorithm>

#include "broker-bridge/backoff.hpp"
#include "broker-bridge/errors.hpp"
#include "broker-bridge/log.hpp"
#include "broker-bridge/subject.hpp"
#include "broker-bridge/time_text.hpp"
#include "handlers/consumer_setup.hpp"
#include "handlers/dead_letter.hpp"

namespace bb::handlers {
namespace {

using Clock = std::chrono::steady_clock;

std::string_view outcome_label(int o) {
    static constexpr std::string_view kLabels[] = {"done",    "retry",   "reject",
                                                   "timeout", "skipped", "invalid"};
    return kLabels[o];
}

// The JSON document a binding filter reads: every attribute by its CloudEvents name, and
// `data` only when the filter reads it (converting msgpack costs more than the rest).
nlohmann::json filter_document(const Event& e, const std::string& data_json, bool with_data) {
    nlohmann::json doc = {{"id", e.id},
                          {"type", e.type},
                          {"source", e.source},
                          {"subject", e.subject},
                          {"time", e.time},
                          {"aggregatetype", e.aggregate_type},
                          {"correlationid", e.correlation_id},
                          {"causationid", e.causation_id},
                          {"userid", e.user_id},
                          {"dataversion", e.data_version}};
    if (with_data) doc["data"] = nlohmann::json::parse(data_json, nullptr, false);
    return doc;
}

// Messages a pull subscription already holds (answers to an earlier request that arrived
// after its fetch gave up, or around a reconnect), plus a margin for those still arriving.
// nats.c 3.4.1 hands such leftovers to the next fetch; a fetch asking for fewer than that
// was seen overrunning its message array (heap corruption after a server restart), so a
// fetch always asks for at least as many. The extra ones wait in the pool's queue.
int leftover_messages(natsSubscription* sub) {
    int msgs = 0;
    int bytes = 0;
    if (natsSubscription_GetPending(sub, &msgs, &bytes) != NATS_OK || msgs <= 0) return 0;
    return msgs + 16;
}

}  // namespace

BindingRunner::BindingRunner(PluginInstance& plugin, const Config& config, const NatsClient& nats,
                             Metrics& metrics, WorkerPool& pool)
    : plugin_(plugin),
      binding_(plugin.binding()),
      config_(config),
      nats_(nats),
      metrics_(metrics),
      pool_(pool),
      ack_wait_(binding_.timeout + config.handlers.ack_margin),
      gap_wait_(config.handlers.gap_wait.value_or(ack_wait_ * 3 / 2)),
      handler_duration_(&metrics.handler_duration(binding_.name)),
      // Slow until measured: the first events of a binding spread over threads at once.
      avg_call_us_(2 * std::chrono::microseconds(config.handlers.spread_after).count()),
      random_(std::random_device{}()) {
    if (!binding_.filter.empty()) {
        filter_ = expr::Expression::parse(
            binding_.filter, binding_.where + ": bindings " + binding_.name + " filter");
        const auto& roots = filter_->roots();
        filter_reads_data_ = std::find(roots.begin(), roots.end(), "data") != roots.end();
    }
    plugin_.set_in_progress(
        [this](const bb_event& event, bb_error* err) { return keep_alive(event, err); });
}

BindingRunner::~BindingRunner() { stop(Clock::now()); }

std::vector<std::string> BindingRunner::durables() const {
    std::vector<std::string> out;
    for (const auto& s : binding_.subjects)
        out.push_back(durable_name(binding_.name, s, config_.handlers.group));
    return out;
}

void BindingRunner::start() {
    dead_letters_ = std::make_unique<DeadLetterPipeline>(nats_, config_.nats.request_timeout);
    // Enough idle deliveries for everything a binding keeps fetched at once.
    deliveries_ = DeliveryPool::make(
        static_cast<std::size_t>(binding_.concurrency + 2 * config_.handlers.fetch_batch));
    for (const auto& subject : binding_.subjects) {
        auto c = std::make_unique<Consumer>();
        c->subject = subject;
        c->durable = durable_name(binding_.name, subject, config_.handlers.group);
        c->sub = bind_pull_consumer(nats_, config_, binding_, subject, c->durable, ack_wait_,
                                    &c->outstanding);
        consumers_.push_back(std::move(c));
    }
    timer_ = std::thread([this] { timer_loop(); });
    if (plugin_.has_tick()) ticker_ = std::thread([this] { tick_loop(); });
    for (auto& c : consumers_) {
        Consumer* raw = c.get();
        c->fetcher = std::thread([this, raw] { fetch_loop(*raw); });
    }
}

// How many messages the next fetch may ask for (caller holds mutex_). While careful, one
// at a time and only when a call slot is free; otherwise a full batch as soon as half a
// batch fits under `concurrency + fetch_batch` events fetched and not yet answered, so the
// next batch is on its way while the drainers work through the current one.
int BindingRunner::fetch_room(bool careful) const {
    if (careful) return running_ < binding_.concurrency ? 1 : 0;
    const int batch = config_.handlers.fetch_batch;
    const int limit = binding_.concurrency + batch;
    if (running_ > limit - std::max(1, batch / 2)) return 0;
    return std::min(batch, limit - running_);
}

void BindingRunner::fetch_loop(Consumer& c) {
    const auto wait_ms = static_cast<int64_t>(config_.handlers.fetch_wait.count());
    const int held_max = config_.handlers.max_ack_pending / 2;
    int failures = 0;
    // Careful: one message per fetch. JetStream counts every message of a fetched batch as
    // delivered, so a crash would use up a delivery of each innocent batch-mate. Events lost
    // to a crash come back within an ack wait of it: a binding whose consumer had deliveries
    // outstanding at start (a crashed process's among them, maybe) is careful for
    // `careful_window` (one and a half ack waits by default), and so is any binding after
    // each suspect of a crash (see dispatch). A consumer with nothing outstanding has no
    // crash to come back from: it fetches full batches at once.
    const auto careful_span = config_.handlers.careful_window.value_or(ack_wait_ * 3 / 2);
    auto careful_until = std::chrono::steady_clock::now();
    if (c.outstanding) careful_until += careful_span;
    while (true) {
        int want = 0;
        {
            std::unique_lock lock(mutex_);
            auto careful = [&] { return std::chrono::steady_clock::now() < careful_until; };
            // Past the held limit, fetching goes on only for the retry an aggregate waits
            // for: it comes back in a fetch, and nothing else lets the held events run.
            // So does fetching for the missing deliveries that held events wait for.
            auto held_room = [&] {
                return held_ < held_max || any_aggregate_waiting_locked() || c.gaps.open();
            };
            changed_.wait_for(lock, std::chrono::milliseconds(200), [&] {
                return stopping_ || (fetch_room(careful()) > 0 && held_room() && !isolating_ &&
                                     isolated_seq_ == 0);
            });
            if (stopping_) return;
            if (!held_room() || isolating_ || isolated_seq_ != 0) continue;
            want = fetch_room(careful());
        }
        if (want <= 0) continue;
        want = std::max(want, leftover_messages(c.sub.get()));
        NatsMsgList list;
        jsErrCode jerr = static_cast<jsErrCode>(0);
        natsStatus s = natsSubscription_Fetch(list.get(), c.sub.get(), want, wait_ms, &jerr);
        if (s == NATS_TIMEOUT) continue;
        if (s != NATS_OK) {
            // Logged once per outage, not per poll; nats.c reconnects on its own.
            if (failures++ == 0) {
                log::warn("fetch failed", {{"binding", binding_.name},
                                           {"consumer", c.durable},
                                           {"error", nats_error(s, &jerr).what}});
            }
            std::unique_lock lock(mutex_);
            changed_.wait_for(lock, std::chrono::milliseconds(250), [&] { return stopping_; });
            continue;
        }
        if (failures > 0) {
            log::info("fetch recovered", {{"binding", binding_.name}, {"consumer", c.durable}});
            failures = 0;
        }
        bool any_suspect = false;
        for (natsMsg*& raw : list) {
            NatsMsg msg(raw);
            raw = nullptr;  // the list no longer owns it
            any_suspect = dispatch(std::move(msg), c) || any_suspect;
        }
        {
            std::lock_guard lock(mutex_);
            spread_locked();  // the batch is queued: wake the drainers it needs
        }
        if (any_suspect) careful_until = std::chrono::steady_clock::now() + careful_span;
    }
}

bool BindingRunner::dispatch(NatsMsg msg, Consumer& c) {
    auto d = deliveries_->take();
    d->durable = &c.durable;
    uint64_t missing = 0;
    jsMsgMetaData* raw_meta = nullptr;
    if (natsMsg_GetMetaData(&raw_meta, msg.get()) == NATS_OK) {
        JsMsgMetaData meta(raw_meta);
        d->stream_seq = meta->Sequence.Stream;
        d->delivered = meta->NumDelivered;
        missing = note_gap(c, meta->Sequence.Consumer, *d);
    }
    d->subject = natsMsg_GetSubject(msg.get());
    d->msg = std::move(msg);
    if (binding_.ordering == Ordering::kPerAggregate) {
        const char* type = header_value(d->msg.get(), "ce-aggregatetype");
        const char* id = header_value(d->msg.get(), "ce-subject");
        if (type && id) d->aggregate_key = std::string(type) + '\n' + id;
    }
    std::unique_lock lock(mutex_);
    if (isolated_seq_ != 0) {
        spread_locked();  // what this batch queued before must run for the suspect to end
        // Nothing starts beside a suspect running alone (see below).
        changed_.wait(lock, [this] { return stopping_ || isolated_seq_ == 0; });
    }
    if (stopping_) {
        natsMsg_Nak(d->msg.get(), nullptr);  // not started: back to JetStream at once
        return false;
    }
    bool suspect = d->delivered > 1 && !first_failed_at_.count(d->stream_seq);
    if (suspect) {
        // Delivered before, yet no failure of it was seen here: its last handler call may
        // have taken the process down. It runs alone, so a crash-looping event uses up only
        // its own deliveries, not those of events that happened to share a batch with it.
        // Batch-mates queued before it run first.
        isolating_ = true;
        spread_locked();
        // Calls stuck past their timeout without a stand-in keep a slot: not waited for.
        changed_.wait(lock, [this] { return stopping_ || running_ - stuck_slots_ <= 0; });
        isolating_ = false;
        if (stopping_) {
            natsMsg_Nak(d->msg.get(), nullptr);  // not started: back to JetStream at once
            return false;
        }
        isolated_seq_ = d->stream_seq;
    }
    if (missing > 0 || c.gaps.open()) {
        return dispatch_past_gap_locked(c, std::move(d), missing, suspect);
    }
    admit_locked(std::move(d), suspect);
    return suspect;
}

// Queues a delivery, or holds it behind an earlier event of its aggregate (caller holds
// mutex_).
void BindingRunner::admit_locked(std::shared_ptr<Delivery> d, bool suspect) {
    if (!d->aggregate_key.empty()) {
        Aggregate& agg = aggregates_[d->aggregate_key];
        if (agg.active_seq != 0 && agg.active_seq != d->stream_seq) {
            // An earlier event of this aggregate is running or waiting for its retry.
            auto [it, added] = agg.held.insert_or_assign(d->stream_seq, d);
            if (added) ++held_;
            if (isolated_seq_ == d->stream_seq) isolated_seq_ = 0;  // it does not run now
            return;
        }
        agg.active_seq = d->stream_seq;
        agg.active_waiting = false;
    }
    ++running_;
    // Queued without waking anyone yet: the fetch loop wakes drainers once per batch.
    ready_.push_back(std::move(d));
    if (suspect) spread_locked();
}

// Deliveries this consumer made that never arrived here: taken by another process of the
// group, or lost in transit when a connection dropped. JetStream redelivers lost ones only
// after their ack wait, so later events (of their aggregate, too) arrive before them.
// Returns how many deliveries are missing before this one.
uint64_t BindingRunner::note_gap(Consumer& c, uint64_t consumer_seq, const Delivery& d) {
    uint64_t missing = 0;
    if (c.last_consumer_seq != 0 && consumer_seq > c.last_consumer_seq + 1) {
        missing = consumer_seq - c.last_consumer_seq - 1;
        log::debug("deliveries did not arrive", {{"binding", binding_.name},
                                                 {"consumer", c.durable},
                                                 {"missing", missing},
                                                 {"next_stream_seq", d.stream_seq},
                                                 {"next_delivered", d.delivered}});
    }
    c.last_consumer_seq = std::max(c.last_consumer_seq, consumer_seq);
    return missing;
}

std::optional<BindingRunner::Outcome> BindingRunner::prepare(Delivery& d, std::string& error) {
    // Into the recycled delivery's own strings (see DeliveryPool).
    if (auto read = read_headers_into(d.msg.get(), d.headers); !read) {
        d.headers.clear();
        error = "cannot read headers: " + read.error().what;
        return Outcome::kInvalid;
    }
    d.headers_read = true;
    if (const auto* only = find_header(d.headers, kReplayBinding)) {
        if (*only != binding_.name) return Outcome::kSkipped;  // a replay for another binding
    }
    std::string_view body(natsMsg_GetData(d.msg.get()),
                          static_cast<size_t>(natsMsg_GetDataLength(d.msg.get())));
    if (auto decoded = decode_into(d.headers, body, d.event); !decoded) {
        error = decoded.error().what;
        return Outcome::kInvalid;
    }
    // A plugin that asks for the JSON text on demand gets it converted only then (most of
    // the cost of an event that the plugin does not read as JSON).
    if (!plugin_.json_on_demand() || filter_reads_data_) {
        if (ensure_data_json(d) == nullptr) {
            error = d.json_error;
            return Outcome::kInvalid;
        }
    }
    if (filter_ && !filter_->matches(filter_document(d.event, d.data_json, filter_reads_data_))) {
        return Outcome::kSkipped;
    }
    build_c_event(d, static_cast<uint32_t>(binding_.attempts));
    return std::nullopt;
}

void BindingRunner::process(const std::shared_ptr<Delivery>& d) {
    int expected_queued = Delivery::kQueued;
    // Shutdown already released it back to JetStream.
    if (!d->state.compare_exchange_strong(expected_queued, Delivery::kPreparing)) return;
    std::string error;
    if (auto early = prepare(*d, error)) {
        d->state = Delivery::kFinished;
        answer(d, *early, 0, error);
        return;
    }
    uint32_t delay_ms = next_delay_ms(d->delivered);
    auto started = Clock::now();
    d->deadline = started + binding_.timeout;
    {
        std::lock_guard lock(mutex_);
        d->state = Delivery::kRunning;
        in_flight_.push_back(d);
    }
    bb_error err{};
    bb_result result = BB_RESULT_RETRY;
    try {
        HandlingScope scope(*d);
        result = plugin_.handle(d->c_event, &delay_ms, &err);
    } catch (...) {
        std::snprintf(err.message, sizeof err.message, "the plugin threw through its C entry");
    }
    int expected = Delivery::kRunning;
    bool ours = d->state.compare_exchange_strong(expected, Delivery::kFinished);
    if (!ours && expected == Delivery::kReleased) {
        // Shutdown gave the message back while this call ran; its answer no longer counts.
        std::lock_guard lock(mutex_);
        in_flight_.erase(std::remove(in_flight_.begin(), in_flight_.end(), d), in_flight_.end());
        return;
    }
    bool held_slot = false;
    {
        std::lock_guard lock(mutex_);
        in_flight_.erase(std::remove(in_flight_.begin(), in_flight_.end(), d), in_flight_.end());
        if (!ours) {
            --stuck_;
            held_slot = d->holds_slot;
            if (held_slot) {
                --running_;
                --active_;
                --stuck_slots_;
            }
        }
    }
    if (!ours) {
        // The timer already answered for this delivery when it overran its timeout.
        if (held_slot) {
            changed_.notify_all();
        } else {
            pool_.release_replacement();
        }
        metrics_.handlers_stuck(binding_.name).Decrement();
        log::info("handler returned after its timeout",
                  {{"binding", binding_.name}, {"seq", d->stream_seq}});
        return;
    }
    handler_duration_->Observe(std::chrono::duration<double>(Clock::now() - started).count());
    if (!d->json_error.empty()) {
        // The plugin asked for the data as JSON and it cannot be JSON: invalid, as it would
        // have been before the call for a plugin that takes data_json with every event.
        answer(d, Outcome::kInvalid, 0, d->json_error);
        return;
    }
    Outcome o = result == BB_RESULT_DONE     ? Outcome::kDone
                : result == BB_RESULT_REJECT ? Outcome::kReject
                                             : Outcome::kRetry;
    answer(d, o, delay_ms, err.message);
}

void BindingRunner::answer(const std::shared_ptr<Delivery>& d, Outcome outcome, uint32_t delay_ms,
                           const std::string& error) {
    count(outcome);
    switch (outcome) {
        case Outcome::kDone:
        case Outcome::kSkipped:
            natsMsg_Ack(d->msg.get(), nullptr);
            release(d, true);
            return;
        case Outcome::kReject:
            dead_letter(d, DlqReason::kReject, error);
            return;
        case Outcome::kInvalid:
            dead_letter(d, DlqReason::kInvalid, error);
            return;
        case Outcome::kRetry:
        case Outcome::kTimeout:
            fail_attempt(d, delay_ms, error);
            return;
    }
}

void BindingRunner::fail_attempt(const std::shared_ptr<Delivery>& d, uint32_t delay_ms,
                                 const std::string& error) {
    {
        std::lock_guard lock(mutex_);
        first_failed_at_.try_emplace(d->stream_seq, rfc3339_now());
    }
    if (d->delivered >= static_cast<uint64_t>(binding_.attempts)) {
        dead_letter(d, DlqReason::kExhausted, error);
        return;
    }
    log::debug("attempt failed", {{"binding", binding_.name},
                                  {"seq", d->stream_seq},
                                  {"attempt", d->delivered},
                                  {"retry_in_ms", delay_ms},
                                  {"error", error}});
    natsMsg_NakWithDelay(d->msg.get(), static_cast<int64_t>(delay_ms), nullptr);
    d->retry_delay_ms = delay_ms;
    release(d, false);
}

// Publishes the DLQ entry; once the DLQ stream has acknowledged it, terminates the original
// (finish_dead_letter). The publish does not wait on this thread: many dead letters are on
// the wire at once, each holding its call slot until its acknowledgement.
void BindingRunner::dead_letter(const std::shared_ptr<Delivery>& d, DlqReason reason,
                                const std::string& error) {
    DeadLetter info;
    info.binding = binding_.name;
    info.plugin = binding_.plugin;
    info.reason = reason;
    info.error = error;
    info.attempts = static_cast<uint32_t>(d->delivered);
    info.stream = stream();
    info.stream_seq = d->stream_seq;
    info.original_subject = d->subject;
    {
        std::lock_guard lock(mutex_);
        auto it = first_failed_at_.find(d->stream_seq);
        if (it != first_failed_at_.end()) info.first_failed_at = it->second;
    }
    if (!d->headers_read) {
        if (!read_headers_into(d->msg.get(), d->headers)) d->headers.clear();
        d->headers_read = true;
    }
    std::string_view body(natsMsg_GetData(d->msg.get()),
                          static_cast<size_t>(natsMsg_GetDataLength(d->msg.get())));
    DeadLetterMessage message = build_dead_letter(d->headers, body, info);
    dead_letters_->publish(message, [this, d, info](const Result<void>& published) {
        finish_dead_letter(d, info, published);
    });
}

// The DLQ publish is answered. When it failed the message is released with a nak instead:
// it comes back, or reaches the DLQ by the max-deliveries advisory.
void BindingRunner::finish_dead_letter(const std::shared_ptr<Delivery>& d, const DeadLetter& info,
                                       const Result<void>& published) {
    if (!published) {
        log::error("dead-letter publish failed", {{"binding", binding_.name},
                                                  {"seq", d->stream_seq},
                                                  {"error", published.error().what},
                                                  {"reason", reason_name(info.reason)},
                                                  {"event_error", info.error}});
        natsMsg_NakWithDelay(d->msg.get(), 1000, nullptr);
        release(d, false);
        return;
    }
    natsMsg_Term(d->msg.get(), nullptr);
    metrics_.dead_letters(binding_.name, reason_name(info.reason)).Increment();
    log::warn("event dead-lettered", {{"binding", binding_.name},
                                      {"seq", d->stream_seq},
                                      {"reason", reason_name(info.reason)},
                                      {"attempts", info.attempts},
                                      {"error", info.error}});
    release(d, true);
}

// The delivery is answered. `final`: the message left the consumer (ack or term), so the
// next held event of its aggregate may run; otherwise the aggregate waits for the retry.
void BindingRunner::release(const std::shared_ptr<Delivery>& d, bool final) {
    std::shared_ptr<Delivery> next;
    bool wake = false;
    {
        std::lock_guard lock(mutex_);
        --running_;
        --active_;
        if (d->stream_seq == isolated_seq_) {
            isolated_seq_ = 0;
            wake = true;
        }
        if (final) first_failed_at_.erase(d->stream_seq);
        auto it = d->aggregate_key.empty() ? aggregates_.end() : aggregates_.find(d->aggregate_key);
        if (it != aggregates_.end() && it->second.active_seq == d->stream_seq) {
            Aggregate& agg = it->second;
            if (!final) {
                // Its retry comes back after the nak's delay (which a plugin may lengthen);
                // two ack waits later, the held events stop waiting for it.
                agg.active_waiting = true;
                agg.give_up_at = std::chrono::steady_clock::now() +
                                 std::chrono::milliseconds(d->retry_delay_ms) + 2 * ack_wait_;
                agg.waiting_durable = d->durable;
            } else {
                next = next_of(agg);
                if (!next) aggregates_.erase(it);
            }
        }
        wake = wake || fetcher_may_proceed_locked();
        if (next) {
            ready_.push_back(std::move(next));
        }
        spread_locked();
    }
    // Waking the fetch thread on every answer would cost a thread switch per event: only
    // when what it may wait for (a free slot, room for a batch, an empty binding) came true.
    if (wake) changed_.notify_all();
}

// The next held event of an aggregate becomes active (caller holds mutex_); null if none.
std::shared_ptr<Delivery> BindingRunner::next_of(Aggregate& agg) {
    agg.active_waiting = false;
    if (agg.held.empty()) {
        agg.active_seq = 0;
        return nullptr;
    }
    auto first = agg.held.begin();
    std::shared_ptr<Delivery> next = first->second;
    agg.active_seq = first->first;
    agg.held.erase(first);
    --held_;
    ++running_;
    return next;
}

uint32_t BindingRunner::next_delay_ms(uint64_t failed_attempt) {
    double u;
    {
        std::lock_guard lock(mutex_);
        u = std::uniform_real_distribution<double>(0.0, 1.0)(random_);
    }
    auto d = backoff_delay(binding_.backoff, static_cast<uint32_t>(failed_attempt), u);
    return static_cast<uint32_t>(std::min<int64_t>(d.count(), UINT32_MAX));
}

// The counters are looked up once per outcome (a family lookup hashes every label, which
// showed in profiles at one lookup per event) and kept: prometheus-cpp never moves them.
void BindingRunner::count(Outcome outcome) {
    auto& slot = attempt_counters_[static_cast<size_t>(outcome)];
    prometheus::Counter* counter = slot.load(std::memory_order_acquire);
    if (!counter) {
        counter = &metrics_.attempts(binding_.name, binding_.plugin,
                                     outcome_label(static_cast<int>(outcome)));
        slot.store(counter, std::memory_order_release);
    }
    counter->Increment();
}

}  // namespace bb::handlers
