#include "broker-bridge/edge/session.hpp"

#include <libwebsockets.h>

#include "broker-bridge/edge/event_loop.hpp"
#include "broker-bridge/edge/presence_reporter.hpp"
#include "broker-bridge/log.hpp"

namespace bb::edge {
namespace {

constexpr int kCloseFlushSeconds = 5;

}  // namespace

Session::Session(EventLoop& loop, EdgeContext& ctx, lws* wsi, std::string client_id,
                 WireFormat format, std::string address)
    : loop_(loop),
      ctx_(ctx),
      wsi_(wsi),
      client_id_(std::move(client_id)),
      format_(format),
      address_(std::move(address)),
      connect_deadline_(Clock::now() + ctx.config.connect_timeout),
      commands_(ctx.config.limits.commands_per_second, ctx.config.limits.command_burst) {
    log::debug("edge connection opened", {{"client", client_id_}, {"address", address_}});
    loop_.remind_at(connect_deadline_, client_id_);
}

Session::~Session() {
    open_->store(false);
    while (!channels_.empty()) drop_channel(channels_.begin());
    if (connected_) ctx_.limits.release_user(user_);
    if (connected_ && ctx_.presence) ctx_.presence->closed(client_id_, user_);
    ctx_.metrics.dropped().Increment(static_cast<double>(queue_.size()));
    log::debug("edge connection closed", {{"client", client_id_}, {"reason", metric_reason_}});
}

int64_t Session::now_unix_seconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

int Session::on_receive(const void* in, size_t len, bool first, bool final, bool binary) {
    if (closing_) return 0;
    if (first) rx_.clear();
    if (rx_.size() + len > static_cast<size_t>(ctx_.config.limits.max_message_size)) {
        rx_.clear();
        close_now(kCloseTooBig, "message too big", "too_big");
        return 0;
    }
    rx_.append(static_cast<const char*>(in), len);
    if (!final) return 0;
    std::string payload;
    payload.swap(rx_);
    handle(payload, binary);
    return 0;
}

void Session::handle(std::string_view payload, bool binary) {
    if (!commands_.allow()) {
        ctx_.metrics.refusals("rate").Increment();
        log::info("edge client rate limited", {{"client", client_id_}, {"user", user_}});
        // The replies owed for the commands accepted so far go out before the close frame,
        // and what the client still sends is read and dropped meanwhile (see on_receive), so
        // the close does not turn into a reset. A client that stops reading is not waited for.
        close_after_flush(kCloseRateLimited, "rate limited", "rate_limited");
        lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, kCloseFlushSeconds);
        return;
    }
    auto parsed = parse_command(payload, binary);
    if (auto* bad = std::get_if<CommandError>(&parsed)) {
        send_error(bad->id, "bad_request", bad->message);
        // Only a valid connect opens a session: anything else first is refused.
        if (connected_) return;
        ctx_.metrics.refusals("unauthorized").Increment();
        close_after_flush(kCloseUnauthorized, "unauthorized", "unauthorized");
        return;
    }
    Command& c = std::get<Command>(parsed);
    if (!connected_ && c.op != Op::kConnect) {
        refuse(c.id, "unauthorized", "connect first", "unauthorized");
        close_after_flush(kCloseUnauthorized, "unauthorized", "unauthorized");
        return;
    }
    switch (c.op) {
        case Op::kConnect:
            return handle_connect(c);
        case Op::kRefresh:
            return handle_refresh(c);
        case Op::kSubscribe:
            return handle_subscribe(c);
        case Op::kUnsubscribe:
            return handle_unsubscribe(c);
        case Op::kPublish:
            return handle_publish(c);
        case Op::kPresence:
            return handle_presence(c);
    }
}

void Session::handle_connect(const Command& c) {
    if (connected_) return send_error(c.id, "bad_request", "already connected");
    auto claims = ctx_.verifier.verify(c.token, now_unix_seconds());
    if (!claims) {
        log::info("edge connect refused",
                  {{"client", client_id_}, {"address", address_}, {"reason", claims.error().what}});
        refuse(c.id, "unauthorized", "invalid token", "unauthorized");
        return close_after_flush(kCloseUnauthorized, "unauthorized", "unauthorized");
    }
    if (!ctx_.limits.add_user(claims->sub)) {
        log::warn("edge connect refused", {{"client", client_id_}, {"reason", "user limit"}});
        refuse(c.id, "limit", "too many connections for this user", "user");
        return close_after_flush(kClosePolicy, "too many connections", "limit");
    }
    connected_ = true;
    user_ = claims->sub;
    keep_claims(claims->all);
    set_expiry(claims->exp);
    nlohmann::json r = reply("connected", c.id);
    r["client"] = client_id_;
    send(r);
    report_opened();
    log::debug("edge client connected", {{"client", client_id_}, {"user", user_}});
}

// The orgs claim as text (rule_claims turned numbers into text), for the presence plugin.
void Session::report_opened() {
    if (!ctx_.presence) return;
    std::vector<std::string> orgs;
    nlohmann::json all = claims();
    if (auto it = all.find("orgs"); it != all.end() && it->is_array()) {
        for (const auto& o : *it) {
            if (o.is_string()) orgs.push_back(o.get<std::string>());
        }
    }
    ctx_.presence->opened(client_id_, user_, orgs, presence_status_);
}

void Session::handle_presence(const Command& c) {
    if (!ctx_.presence) return send_error(c.id, "bad_request", "presence is not enabled here");
    if (c.status != presence_status_) {
        presence_status_ = c.status;
        ctx_.presence->status(client_id_, user_, presence_status_);
    }
    nlohmann::json r = reply("presence_set", c.id);
    r["status"] = presence_status_;
    send(r);
}

void Session::disable() {
    if (!connected_ || closing_) return;
    log::info("edge user deactivated", {{"client", client_id_}, {"user", user_}});
    close_now(kCloseAccountDisabled, "account disabled", "disabled");
}

void Session::handle_refresh(const Command& c) {
    auto claims = ctx_.verifier.verify(c.token, now_unix_seconds());
    if (!claims) {
        log::info("edge refresh refused",
                  {{"client", client_id_}, {"reason", claims.error().what}});
        return refuse(c.id, "unauthorized", "invalid token", "unauthorized");
    }
    if (claims->sub != user_) {
        return refuse(c.id, "forbidden", "the token is for another subject", "forbidden");
    }
    keep_claims(claims->all);
    set_expiry(claims->exp);
    send(reply("refreshed", c.id));
}

// Sets the token's expiry (exp + leeway, 0 without exp) and a reminder for it.
void Session::set_expiry(int64_t exp_unix_seconds) {
    if (exp_unix_seconds <= 0) {
        expires_unix_ms_ = 0;
        return;
    }
    expires_unix_ms_ = exp_unix_seconds * 1000 + ctx_.config.auth.leeway.count();
    int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    auto left = std::chrono::milliseconds(std::max<int64_t>(expires_unix_ms_ - now_ms, 0));
    expiry_reminder_ = Clock::now() + left;
    loop_.remind_at(expiry_reminder_, client_id_);
}

void Session::keep_claims(const nlohmann::json& claims) {
    std::vector<uint8_t> packed = nlohmann::json::to_msgpack(rule_claims(claims));
    claims_msgpack_.assign(packed.begin(), packed.end());
}

nlohmann::json Session::claims() const {
    if (claims_msgpack_.empty()) return nlohmann::json::object();
    return nlohmann::json::from_msgpack(claims_msgpack_);
}

void Session::on_tick(Clock::time_point now, int64_t unix_ms) {
    if (closing_) return;
    if (!connected_ && now >= connect_deadline_) {
        log::info("edge connect timeout", {{"client", client_id_}, {"address", address_}});
        return close_now(kCloseUnauthorized, "no connect in time", "unauthorized");
    }
    if (connected_ && expires_unix_ms_ > 0 && unix_ms >= expires_unix_ms_) {
        log::debug("edge token expired", {{"client", client_id_}, {"user", user_}});
        return close_now(kCloseTokenExpired, "token expired", "token_expired");
    }
    // Early (the reminder of a replaced token, or the wall clock moved): remind again.
    if (connected_ && expires_unix_ms_ > 0 && now >= expiry_reminder_) {
        expiry_reminder_ = now + std::chrono::milliseconds(expires_unix_ms_ - unix_ms);
        loop_.remind_at(expiry_reminder_, client_id_);
    }
}

void Session::begin_shutdown(std::chrono::milliseconds reconnect_in) {
    if (closing_) return;
    send({{"op", "shutdown"}, {"reconnect_in_ms", reconnect_in.count()}});
    close_after_flush(kCloseGoingAway, "going away", "shutdown");
}

void Session::send(const nlohmann::json& message) { send_encoded(encode(message, format_)); }

void Session::send_encoded(Encoded message, bool live) {
    if (closing_) return;
    queue_.push(std::move(message));
    if (queue_.bytes() > static_cast<size_t>(ctx_.config.limits.send_queue_bytes)) {
        log::info("edge client too slow",
                  {{"client", client_id_}, {"user", user_}, {"queued_bytes", queue_.bytes()}});
        return close_now(kCloseTooSlow, "too slow", "slow");
    }
    request_write(live);
}

// A live message to a session that was sent a frame less than coalesce_delay ago waits out
// the rest of it: the messages that arrive meanwhile leave in the same frame, saving the
// send, lws's writable round trip and the client's read that a frame each would cost. At
// a low rate the previous frame is older than the delay and nothing waits.
void Session::request_write(bool live) {
    if (write_requested_) {
        if (!live && held_until_ != Clock::time_point{}) release();  // replies never wait
        return;
    }
    write_requested_ = true;
    auto delay = ctx_.config.coalesce_delay;
    if (live && delay.count() > 0) {
        auto due = last_frame_at_ + delay;
        if (due > Clock::now()) {
            held_until_ = due;
            loop_.hold(this, due);
            return;
        }
    }
    lws_callback_on_writable(wsi_);
}

void Session::release() {
    if (held_until_ == Clock::time_point{}) return;
    held_until_ = {};
    lws_callback_on_writable(wsi_);
}

void Session::send_error(const nlohmann::json& id, std::string_view code,
                         std::string_view message) {
    send(error_reply(id, code, message));
}

void Session::refuse(const nlohmann::json& id, std::string_view code, std::string_view message,
                     std::string_view metric) {
    ctx_.metrics.refusals(metric).Increment();
    send_error(id, code, message);
}

int Session::on_writable() {
    write_requested_ = false;
    held_until_ = {};  // a reply or a close got here first: what was held goes now
    if (queue_.empty()) {
        if (!close_after_flush_ || close_frame_requested_) return 0;
        close_frame_requested_ = true;
        lws_close_reason(wsi_, static_cast<lws_close_status>(close_code_),
                         reinterpret_cast<unsigned char*>(close_text_.data()), close_text_.size());
        return -1;
    }
    std::string& frame = loop_.frame_buffer();
    frame.assign(LWS_PRE, '\0');
    size_t count =
        queue_.take_frame(frame, ctx_.config.limits.max_frame_bytes, format_ == WireFormat::kJson);
    size_t len = frame.size() - LWS_PRE;
    auto* data = reinterpret_cast<unsigned char*>(frame.data()) + LWS_PRE;
    auto mode = format_ == WireFormat::kJson ? LWS_WRITE_TEXT : LWS_WRITE_BINARY;
    if (lws_write(wsi_, data, len, mode) < static_cast<int>(len)) return -1;
    if (ctx_.config.coalesce_delay.count() > 0) last_frame_at_ = Clock::now();
    ctx_.metrics.frames_out().Increment();
    ctx_.metrics.messages_out().Increment(static_cast<double>(count));
    ctx_.metrics.bytes_out().Increment(static_cast<double>(len));
    // Also when the queue is now empty but a close waits: it goes out on the next round.
    if (!queue_.empty() || close_after_flush_) {
        write_requested_ = true;
        lws_callback_on_writable(wsi_);
    }
    return 0;
}

// Drops what is queued and sends the close frame when the socket next takes a write. A
// client that never reads again is cut off after kCloseFlushSeconds.
void Session::close_now(int code, std::string_view reason, std::string_view metric) {
    if (hard_closing_) return;
    hard_closing_ = true;
    ctx_.metrics.dropped().Increment(static_cast<double>(queue_.size()));
    queue_.clear();
    closing_ = false;
    close_after_flush(code, reason, metric);
    close_after_flush_ = true;
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, kCloseFlushSeconds);
}

void Session::close_after_flush(int code, std::string_view reason, std::string_view metric) {
    if (closing_) return;
    closing_ = true;
    close_after_flush_ = true;
    close_code_ = code;
    close_text_ = reason;
    metric_reason_ = metric;
    write_requested_ = true;
    lws_callback_on_writable(wsi_);
}

}  // namespace bb::edge
