#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker-bridge/edge/edge_context.hpp"
#include "broker-bridge/edge/live_message.hpp"
#include "broker-bridge/edge/protocol.hpp"
#include "broker-bridge/edge/rate_limiter.hpp"
#include "broker-bridge/edge/recovery.hpp"
#include "broker-bridge/edge/send_queue.hpp"

struct lws;

// One WebSocket client: its authentication, channel subscriptions and send queue. Created
// when the upgrade completes and deleted when lws reports the close; lives on its event
// loop's thread and is touched by nothing else (worker results arrive through the loop).
namespace bb::edge {

class EventLoop;

class Session {
public:
    using Clock = std::chrono::steady_clock;

    Session(EventLoop& loop, EdgeContext& ctx, lws* wsi, std::string client_id, WireFormat format,
            std::string address);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    const std::string& client_id() const { return client_id_; }
    const std::string& address() const { return address_; }
    const std::string& user() const { return user_; }
    // The user was deactivated: close with 4010 (docs/PRESENCE.md).
    void disable();
    std::string_view close_reason() const { return metric_reason_; }

    // lws events; a negative return asks lws to close the connection.
    int on_receive(const void* in, size_t len, bool first, bool final, bool binary);
    int on_writable();
    void on_peer_close() {
        if (metric_reason_.empty()) metric_reason_ = "client";
    }

    // Deadlines: connect timeout and token expiry.
    void on_tick(Clock::time_point now, int64_t unix_ms);
    void on_live(const LivePtr& message);
    void on_subscribe_started(const std::string& channel, uint64_t generation,
                              const nlohmann::json& id, Result<SubscribeStart> start);
    void on_published(const nlohmann::json& id, Result<std::string> event_id);
    void begin_shutdown(std::chrono::milliseconds reconnect_in);
    // Coalescing (edge.coalesce_delay): while held, queued live messages wait for the loop
    // to release the session at held_until(); the epoch (a default time point) when not held.
    Clock::time_point held_until() const { return held_until_; }
    void release();

private:
    struct Channel {
        std::string name;
        ResolvedChannel resolved;
        uint64_t generation = 0;
        bool live = false;             // false while the start (and any recovery) is being read
        std::vector<LivePtr> pending;  // live messages that arrived meanwhile
        size_t pending_bytes = 0;
        uint64_t last_seq = 0;
        std::string epoch;
        // Cleared when the channel is dropped: its queued start is then skipped.
        std::shared_ptr<std::atomic<bool>> wanted;
    };

    void handle(std::string_view payload, bool binary);
    void handle_connect(const Command& c);
    void handle_refresh(const Command& c);
    void handle_subscribe(Command& c);
    void handle_unsubscribe(const Command& c);
    void handle_publish(const Command& c);
    void handle_presence(const Command& c);
    void report_opened();
    bool may_subscribe(const Command& c, const ResolvedChannel& r, std::string& why) const;
    void start_channel(const Command& c, ResolvedChannel r);
    std::function<void()> subscribe_task(const Command& c, const Channel& ch);
    bool may_queue(const nlohmann::json& id);
    void deliver(Channel& ch, const LivePtr& m);
    void drop_channel(std::unordered_map<std::string, Channel>::iterator it);

    void send(const nlohmann::json& message);
    // `live`: a live message, which may wait for the coalescing delay; replies never wait.
    void send_encoded(Encoded message, bool live = false);
    void request_write(bool live);
    void send_error(const nlohmann::json& id, std::string_view code, std::string_view message);
    void close_now(int code, std::string_view reason, std::string_view metric);
    void close_after_flush(int code, std::string_view reason, std::string_view metric);
    void refuse(const nlohmann::json& id, std::string_view code, std::string_view message,
                std::string_view metric);
    int64_t now_unix_seconds() const;
    nlohmann::json claims() const;
    void keep_claims(const nlohmann::json& claims);
    void set_expiry(int64_t exp_unix_seconds);

    EventLoop& loop_;
    EdgeContext& ctx_;
    lws* wsi_;
    std::string client_id_;
    WireFormat format_;
    std::string address_;

    bool connected_ = false;
    std::string user_;
    // rule_claims() of the token's claims as MessagePack, read back by claims() for the rare
    // rule check: a JSON object tree costs about 600 bytes per connection.
    std::string claims_msgpack_;
    Clock::time_point connect_deadline_;
    int64_t expires_unix_ms_ = 0;          // 0: the token has no exp
    Clock::time_point expiry_reminder_{};  // when the loop calls on_tick for the expiry
    std::string presence_status_ = "online";

    std::string rx_;
    RateLimiter commands_;
    SendQueue queue_;
    bool write_requested_ = false;
    Clock::time_point last_frame_at_{};  // when on_writable last sent a frame
    Clock::time_point held_until_{};
    bool closing_ = false;
    bool close_after_flush_ = false;
    // Set once the close frame is asked for. lws calls SERVER_WRITEABLE again while it sends
    // that frame; another -1 then would cut the connection at once, with the client's
    // unread input turning the close into a reset that loses the frame and the replies.
    bool close_frame_requested_ = false;
    bool hard_closing_ = false;  // close_now: the queue was dropped
    int close_code_ = 0;
    std::string close_text_;
    std::string metric_reason_;

    std::unordered_map<std::string, Channel> channels_;  // by channel name
    uint64_t next_generation_ = 1;
    // Subscribe starts and publishes handed to the workers and not yet answered.
    int tasks_in_flight_ = 0;
    // Cleared when the session goes: its queued publishes are then skipped.
    std::shared_ptr<std::atomic<bool>> open_ = std::make_shared<std::atomic<bool>>(true);
};

}  // namespace bb::edge
