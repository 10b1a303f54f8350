#include "broker-bridge/edge/subscription_hub.hpp"

#include <cstdlib>

#include "broker-bridge/log.hpp"

namespace bb::edge {

void use_shared_delivery_threads() { setenv("NATS_DEFAULT_TO_LIB_MSG_DELIVERY", "1", 0); }

SubscriptionHub::SubscriptionHub(natsConnection* nc, StreamReader& reader, EdgeMetrics& metrics,
                                 size_t loops, Deliver deliver)
    : nc_(nc), reader_(reader), metrics_(metrics), loops_(loops), deliver_(std::move(deliver)) {}

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
        Entry e{NatsSubscription(raw), std::vector<int>(loops_, 0), 0};
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

// A sequence that does not grow means RT was deleted and created again: the epoch changed.
bool SubscriptionHub::check_order(const std::string& subject, uint64_t seq) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(subject);
    if (it == entries_.end()) return false;
    bool regressed = seq <= it->second.last_seq;
    it->second.last_seq = seq;
    return regressed;
}

void SubscriptionHub::dispatch(natsMsg* msg) {
    std::string subject = natsMsg_GetSubject(msg);
    auto live = LiveMessage::from_nats(msg, reader_.epoch());
    if (!live) {
        log::warn("edge realtime message skipped",
                  {{"subject", subject}, {"error", live.error().what}});
        return;
    }
    if (check_order(subject, (*live)->seq())) {
        if (auto st = reader_.state(); st) {
            log::warn("edge stream epoch changed", {{"subject", subject}, {"epoch", st->epoch}});
            live = LiveMessage::from_nats(msg, st->epoch);
            if (!live) return;
        }
    }
    std::vector<int> counts;
    {
        std::lock_guard lock(mu_);
        auto it = entries_.find(subject);
        if (it == entries_.end()) return;
        counts = it->second.counts;
    }
    for (size_t i = 0; i < counts.size(); ++i) {
        if (counts[i] > 0) deliver_(i, *live);
    }
}

}  // namespace bb::edge
