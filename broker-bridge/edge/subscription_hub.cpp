#include "broker-bridge/edge/subscription_hub.hpp"

#include <algorithm>
#include <cstdlib>

#include "broker-bridge/log.hpp"
#include "broker-bridge/nats_handles.hpp"

namespace bb::edge {

void use_shared_delivery_threads() { setenv("NATS_DEFAULT_TO_LIB_MSG_DELIVERY", "1", 0); }

SubscriptionHub::SubscriptionHub(natsConnection* nc, StreamReader& reader, EdgeMetrics& metrics,
                                 size_t loops, int64_t max_fill, Deliver deliver)
    : nc_(nc),
      reader_(reader),
      metrics_(metrics),
      loops_(loops),
      max_fill_(max_fill),
      deliver_(std::move(deliver)) {}

SubscriptionHub::~SubscriptionHub() {
    std::unordered_map<std::string, Entry> entries;
    {
        std::lock_guard lock(mu_);
        entries.swap(entries_);
    }
    for (auto& [subject, e] : entries) natsSubscription_Unsubscribe(e.sub.get());
    metrics_.nats_subscriptions().Set(0);
}

Result<void> SubscriptionHub::add(const std::string& live_subject, size_t loop) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(live_subject);
    if (it == entries_.end()) {
        natsSubscription* raw = nullptr;
        natsStatus s = natsConnection_Subscribe(&raw, nc_, live_subject.c_str(), on_message, this);
        if (s != NATS_OK) return nats_error(s);
        Entry e;
        e.sub = NatsSubscription(raw);
        e.counts.assign(loops_, 0);
        it = entries_.emplace(live_subject, std::move(e)).first;
        metrics_.nats_subscriptions().Increment();
        log::debug("edge subject subscribed", {{"subject", live_subject}});
    }
    ++it->second.counts.at(loop);
    return {};
}

void SubscriptionHub::remove(const std::string& live_subject, size_t loop) {
    NatsSubscription gone;
    {
        std::lock_guard lock(mu_);
        auto it = entries_.find(live_subject);
        if (it == entries_.end() || it->second.counts.at(loop) == 0) return;
        --it->second.counts[loop];
        for (int c : it->second.counts) {
            if (c > 0) return;
        }
        gone = std::move(it->second.sub);
        entries_.erase(it);
    }
    natsSubscription_Unsubscribe(gone.get());
    metrics_.nats_subscriptions().Decrement();
    log::debug("edge subject unsubscribed", {{"subject", live_subject}});
}

void SubscriptionHub::subscription_started(const std::string& live_subject,
                                           const std::string& stream_subject, uint64_t last_seq) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(live_subject);
    if (it == entries_.end() || it->second.delivered) return;
    Entry& e = it->second;
    e.last_seq = e.started ? std::min(e.last_seq, last_seq) : last_seq;
    e.started = true;
    e.stream_subject = stream_subject;
}

size_t SubscriptionHub::subjects() const {
    std::lock_guard lock(mu_);
    return entries_.size();
}

void SubscriptionHub::on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    NatsMsg owned(msg);
    try {
        static_cast<SubscriptionHub*>(closure)->dispatch(owned.get());
    } catch (const std::exception& e) {
        log::error("edge message dispatch failed", {{"error", e.what()}});
    }
}

std::shared_ptr<std::mutex> SubscriptionHub::order_of(const std::string& subject) const {
    std::lock_guard lock(mu_);
    auto it = entries_.find(subject);
    return it == entries_.end() ? nullptr : it->second.order;
}

std::optional<SubscriptionHub::Position> SubscriptionHub::position(
    const std::string& subject) const {
    std::lock_guard lock(mu_);
    auto it = entries_.find(subject);
    if (it == entries_.end()) return std::nullopt;
    const Entry& e = it->second;
    return Position{e.started, e.delivered, e.last_seq, e.epoch, e.stream_subject};
}

void SubscriptionHub::record(const std::string& subject, const LiveMessage& m) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(subject);
    if (it == entries_.end()) return;
    it->second.started = true;
    it->second.delivered = true;
    it->second.last_seq = m.seq();
    it->second.epoch = m.epoch();
    it->second.stream_subject = m.subject();
}

void SubscriptionHub::deliver_all(const std::string& subject, const LivePtr& m) {
    record(subject, *m);
    std::vector<int> counts;
    {
        std::lock_guard lock(mu_);
        auto it = entries_.find(subject);
        if (it == entries_.end()) return;
        counts = it->second.counts;
    }
    for (size_t i = 0; i < counts.size(); ++i) {
        if (counts[i] > 0) deliver_(i, m);
    }
}

void SubscriptionHub::dispatch(natsMsg* msg) {
    std::string subject = natsMsg_GetSubject(msg);
    auto order = order_of(subject);
    if (!order) return;
    std::lock_guard serial(*order);
    dispatch_in_order(msg, subject);
}

// A sequence that does not grow is either a copy already delivered by a fill, or RT was
// deleted and created again (the epoch changed); any other step past the previous sequence
// stored on the subject (Nats-Last-Sequence) is a gap to fill first. Before the first
// delivery the position is a subscription's start: a copy at or before it is late, not
// seen, and goes out (subscribers that started after it drop it).
void SubscriptionHub::dispatch_in_order(natsMsg* msg, const std::string& subject) {
    auto live = LiveMessage::from_nats(msg, reader_.epoch());
    if (!live) {
        log::warn("edge realtime message skipped",
                  {{"subject", subject}, {"error", live.error().what}});
        return;
    }
    auto at = position(subject);
    if (!at) return;
    if (at->delivered && (*live)->seq() <= at->last_seq) {
        auto st = reader_.state();
        if (!st) return;
        if (st->epoch == at->epoch) return;  // delivered already, by a fill
        log::warn("edge stream epoch changed", {{"subject", subject}, {"epoch", st->epoch}});
        live = LiveMessage::from_nats(msg, st->epoch);
        if (!live) return;
    } else if (at->started) {
        const char* previous = header_value(msg, "Nats-Last-Sequence");
        uint64_t stored_before = previous ? std::strtoull(previous, nullptr, 10) : 0;
        if (stored_before > at->last_seq) {
            fill(subject, (*live)->subject(), at->last_seq + 1, stored_before);
        }
    }
    deliver_all(subject, *live);
}

// Reads [from, to] on `stream_subject` from RT and delivers it; at most max_fill_ messages.
void SubscriptionHub::fill(const std::string& subject, const std::string& stream_subject,
                           uint64_t from, uint64_t to) {
    metrics_.live_fills().Increment();
    log::info("edge live gap filled from stream",
              {{"subject", stream_subject}, {"from", from}, {"to", to}});
    uint64_t next = from;
    for (int64_t read = 0; next <= to; ++read) {
        if (read >= max_fill_) {
            log::warn("edge live gap too long, rest skipped",
                      {{"subject", stream_subject}, {"from", next}, {"to", to}});
            return;
        }
        auto got = reader_.next(stream_subject, next);
        if (!got) {
            log::warn("edge live gap fill failed", {{"subject", stream_subject},
                                                    {"from", next},
                                                    {"to", to},
                                                    {"error", got.error().what}});
            return;
        }
        if (!*got || (*got)->seq() > to) return;
        next = (*got)->seq() + 1;
        deliver_all(subject, *got);
    }
}

void SubscriptionHub::fill_after_reconnect() {
    std::vector<std::string> subjects;
    {
        std::lock_guard lock(mu_);
        for (const auto& [subject, e] : entries_) subjects.push_back(subject);
    }
    for (const auto& subject : subjects) {
        auto order = order_of(subject);
        if (!order) continue;
        std::lock_guard serial(*order);
        auto at = position(subject);
        if (!at || !at->started) continue;  // no subscription has started: nothing to miss
        auto stored = reader_.last_seq(at->stream_subject);
        if (!stored) {
            log::warn("edge live gap check failed",
                      {{"subject", at->stream_subject}, {"error", stored.error().what}});
            continue;
        }
        if (*stored > at->last_seq) fill(subject, at->stream_subject, at->last_seq + 1, *stored);
    }
}

}  // namespace bb::edge
