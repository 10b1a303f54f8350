// Session: channel subscriptions, recovery hand-over, live delivery and client publishes.
#include "broker-bridge/edge/session.hpp"

#include "broker-bridge/edge/client_event.hpp"
#include "broker-bridge/edge/event_loop.hpp"
#include "broker-bridge/edge/presence_snapshot.hpp"
#include "broker-bridge/log.hpp"

namespace bb::edge {
namespace {

// Live messages buffered while a recovery is read; past this the client is too far behind.
constexpr size_t kMaxPendingMessages = 10000;
// Subscribe starts and publishes one connection may have waiting on the workers; more are
// answered `limit` at once, so one client cannot fill the shared queue.
constexpr int kMaxTasksPerConnection = 4;

}  // namespace

bool Session::may_subscribe(const Command& c, const ResolvedChannel& r, std::string& why) const {
    const ChannelRule& rule = r.rule->subscribe;
    if (rule.kind() != ChannelRule::Kind::kToken) {
        why = "rule";
        return rule.allows(claims(), r.vars);
    }
    if (c.token.empty()) {
        why = "no subscription token";
        return false;
    }
    auto ok = ctx_.verifier.verify_subscription(c.token, c.channel, now_unix_seconds());
    if (!ok) why = ok.error().what;
    return ok.ok() && ok->sub == user_;
}

bool Session::may_queue(const nlohmann::json& id) {
    if (tasks_in_flight_ < kMaxTasksPerConnection) return true;
    refuse(id, "limit", "too many commands in progress", "limit");
    return false;
}

void Session::handle_subscribe(Command& c) {
    if (channels_.count(c.channel)) return send_error(c.id, "bad_request", "already subscribed");
    if (!may_queue(c.id)) return;
    if (static_cast<int64_t>(channels_.size()) >= ctx_.config.limits.max_subscriptions) {
        return refuse(c.id, "limit", "too many subscriptions", "limit");
    }
    auto r = ctx_.rules.resolve(c.channel);
    if (!r) {
        log::info("edge subscribe refused",
                  {{"client", client_id_}, {"user", user_}, {"reason", r.error().what}});
        return refuse(c.id, "bad_channel", r.error().what, "bad_channel");
    }
    std::string why;
    if (!may_subscribe(c, *r, why)) {
        log::info("edge subscribe forbidden", {{"client", client_id_},
                                               {"user", user_},
                                               {"pattern", r->rule->config.pattern},
                                               {"reason", why}});
        return refuse(c.id, "forbidden", "not allowed on this channel", "forbidden");
    }
    start_channel(c, std::move(*r));
}

void Session::start_channel(const Command& c, ResolvedChannel r) {
    if (auto w = loop_.watch(r, this); !w) {
        log::warn("edge subscribe failed", {{"client", client_id_}, {"error", w.error().what}});
        return send_error(c.id, "unavailable", "the channel cannot be read now");
    }
    auto it = channels_.try_emplace(c.channel).first;
    Channel& ch = it->second;
    ch.name = c.channel;
    ch.resolved = std::move(r);
    ch.generation = next_generation_++;
    ch.wanted = std::make_shared<std::atomic<bool>>(true);
    ctx_.metrics.subscriptions().Increment();
    if (!ctx_.pool.submit(subscribe_task(c, ch))) {
        drop_channel(it);
        return refuse(c.id, "limit", "the server is busy, retry later", "limit");
    }
    ++tasks_in_flight_;
}

// Reads the start on a worker, unless the channel was dropped while the task waited. The
// hub learns the start at once, on the worker: a copy lost before anything of the subject
// was delivered (a reconnect) is then read back from there.
std::function<void()> Session::subscribe_task(const Command& c, const Channel& ch) {
    EventLoop* loop = &loop_;
    StreamReader* reader = &ctx_.reader;
    SnapshotReader* snapshots = ctx_.snapshots;
    SubscriptionHub* hub = &ctx_.hub;
    std::string id = client_id_, channel = c.channel, subject = ch.resolved.subject;
    std::string live_subject = ch.resolved.live_subject;
    const auto& key_template = ch.resolved.rule->snapshot_key;
    // A snapshot channel starts from its snapshot; a client's `since` does not apply there.
    std::string key = key_template && snapshots ? key_template->expand(ch.resolved.vars) : "";
    uint64_t generation = ch.generation;
    int64_t max = ctx_.config.limits.max_recovery_messages;
    return [=, since = c.since, reply_id = c.id, wanted = ch.wanted] {
        Result<SubscribeStart> start = Error{"the subscription is no longer wanted"};
        if (wanted->load()) {
            start = key.empty() ? start_subscription(*reader, subject, since, max, *wanted)
                                : start_snapshot(*reader, *snapshots, subject, key, max, *wanted);
            if (start) hub->subscription_started(live_subject, subject, start->last_seq);
        }
        loop->post([=, start = std::move(start)](EventLoop& l) mutable {
            if (Session* s = l.find(id)) {
                s->on_subscribe_started(channel, generation, reply_id, std::move(start));
            }
        });
    };
}

void Session::on_subscribe_started(const std::string& channel, uint64_t generation,
                                   const nlohmann::json& id, Result<SubscribeStart> start) {
    --tasks_in_flight_;
    auto it = channels_.find(channel);
    if (it == channels_.end() || it->second.generation != generation) return;
    if (!start) {
        log::warn("edge subscription start failed",
                  {{"client", client_id_}, {"error", start.error().what}});
        drop_channel(it);
        return send_error(id, "unavailable", "the channel cannot be read now");
    }
    Channel& ch = it->second;
    bool asked = (!start->miss.empty() || start->recovered) && !start->snapshot;
    if (asked)
        (start->recovered ? ctx_.metrics.recovery_hits() : ctx_.metrics.recovery_misses())
            .Increment();
    nlohmann::json r = reply("subscribed", id);
    r["channel"] = channel;
    r["seq"] = start->last_seq;
    r["epoch"] = start->epoch;
    r["recovered"] = start->recovered;
    send(r);
    ch.epoch = start->epoch;
    // Replayed messages follow the client's position; without one, the client starts at the
    // channel's last stored message and receives only what comes after it.
    ch.last_seq = start->last_seq;
    if (start->recovered && !start->replay.empty()) ch.last_seq = start->replay.front()->seq() - 1;
    if (start->snapshot) {
        // The snapshot holds everything up to its seq; the replay and live messages follow.
        ch.last_seq = start->snapshot->seq;
        send({{"op", "snapshot"},
              {"channel", channel},
              {"seq", start->snapshot->seq},
              {"epoch", start->epoch},
              {"data", start->snapshot->data}});
    }
    ch.live = true;
    for (const auto& m : start->replay) deliver(ch, m);
    std::vector<LivePtr> pending;
    pending.swap(ch.pending);
    for (const auto& m : pending) deliver(ch, m);
}

void Session::on_live(const LivePtr& message) {
    for (auto& [name, ch] : channels_) {
        if (ch.resolved.subject != message->subject()) continue;
        if (ch.live) {
            deliver(ch, message);
            continue;
        }
        ch.pending.push_back(message);
        ch.pending_bytes += message->size_hint();
        if (ch.pending.size() > kMaxPendingMessages ||
            ch.pending_bytes > static_cast<size_t>(ctx_.config.limits.send_queue_bytes)) {
            return close_now(kCloseTooSlow, "too slow", "slow");
        }
    }
}

void Session::deliver(Channel& ch, const LivePtr& m) {
    if (m->epoch() != ch.epoch && !m->epoch().empty()) {
        ch.epoch = m->epoch();  // RT was recreated: its sequences start again
        ch.last_seq = 0;
    }
    if (m->seq() <= ch.last_seq) return;
    ch.last_seq = m->seq();
    SkipAuthor skip = ch.resolved.rule->config.skip_author;
    if (skip == SkipAuthor::kUser && !m->author().empty() && m->author() == user_) return;
    if (skip == SkipAuthor::kConnection && m->connection_id() == client_id_) return;
    send_encoded(loop_.wire_form(m, ch.name, format_), true);
}

void Session::handle_unsubscribe(const Command& c) {
    auto it = channels_.find(c.channel);
    if (it == channels_.end()) return send_error(c.id, "not_found", "not subscribed");
    drop_channel(it);
    nlohmann::json r = reply("unsubscribed", c.id);
    r["channel"] = c.channel;
    send(r);
}

void Session::drop_channel(std::unordered_map<std::string, Channel>::iterator it) {
    it->second.wanted->store(false);
    loop_.unwatch(it->second.resolved, this);
    ctx_.metrics.subscriptions().Decrement();
    channels_.erase(it);
}

void Session::handle_publish(const Command& c) {
    if (!may_queue(c.id)) return;
    auto r = ctx_.rules.resolve(c.channel);
    if (!r) return refuse(c.id, "bad_channel", r.error().what, "bad_channel");
    const CompiledChannel& rule = *r->rule;
    if (!rule.publish || !rule.publish->allows(claims(), r->vars)) {
        log::info("edge publish forbidden",
                  {{"client", client_id_}, {"user", user_}, {"pattern", rule.config.pattern}});
        return refuse(c.id, "forbidden", "publishing is not allowed here", "forbidden");
    }
    auto wire = client_event(*r, c.channel, c.data, user_, client_id_, ctx_.events_prefix);
    if (!wire) return refuse(c.id, "bad_request", wire.error().what, "limit");
    EventLoop* loop = &loop_;
    const NatsClient* nats = &ctx_.nats;
    std::string id = client_id_;
    bool queued = ctx_.pool.submit([=, wire = std::move(*wire), reply_id = c.id, open = open_] {
        if (!open->load()) return;  // the client left while this waited
        auto seq = nats->js_publish(wire.message.subject, wire.message.headers, wire.message.body,
                                    wire.event_id);
        Result<std::string> done =
            seq ? Result<std::string>(wire.event_id) : Result<std::string>(seq.error());
        loop->post([=](EventLoop& l) {
            if (Session* s = l.find(id)) s->on_published(reply_id, done);
        });
    });
    if (!queued) return refuse(c.id, "limit", "the server is busy, retry later", "limit");
    ++tasks_in_flight_;
}

void Session::on_published(const nlohmann::json& id, Result<std::string> event_id) {
    --tasks_in_flight_;
    if (!event_id) {
        log::warn("edge publish failed",
                  {{"client", client_id_}, {"error", event_id.error().what}});
        return send_error(id, "unavailable", "the event could not be stored");
    }
    nlohmann::json r = reply("published", id);
    r["event_id"] = *event_id;
    send(r);
}

}  // namespace bb::edge
