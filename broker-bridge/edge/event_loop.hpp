#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "broker-bridge/edge/channel_rules.hpp"
#include "broker-bridge/edge/edge_context.hpp"
#include "broker-bridge/edge/live_message.hpp"
#include "broker-bridge/result.hpp"

struct lws;
struct lws_context;
struct lws_vhost;

// One event loop: a thread running its own lws_context, which accepts from its own
// SO_REUSEPORT listening socket and owns the sessions it accepted. Other threads never call
// lws for it: they post() work or post_live() messages into a locked inbox and wake it with
// lws_cancel_service, and the loop drains the inbox on its own thread.
struct ev_loop;

namespace bb::edge {

class Session;
class HttpMounts;

class EventLoop {
public:
    // Takes ownership of `listen_fd`.
    EventLoop(size_t index, EdgeContext& ctx, int listen_fd);
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    // Creates the context on the loop's thread; throws StartupError when lws refuses.
    void start();
    // Destroys the context (closing whatever is still open) and joins the thread.
    void stop();

    // Thread-safe.
    void post(std::function<void(EventLoop&)> task);
    void post_live(const LivePtr& message);
    void begin_shutdown();  // clients get `shutdown`, then 1001; new connections are refused
    void disable_user(const std::string& user);  // the user's connections close with 4010
    size_t connections() const { return connections_.load(); }

    // Loop thread only.
    size_t index() const { return index_; }
    Result<void> watch(const ResolvedChannel& channel, Session* session);
    void unwatch(const ResolvedChannel& channel, Session* session);
    Session* find(const std::string& client_id);
    // Asks for the session's on_tick at `when` (its connect deadline, its token's expiry):
    // the tick visits only sessions with a reminder due, not every connection.
    void remind_at(std::chrono::steady_clock::time_point when, const std::string& client_id);
    std::string& frame_buffer() { return frame_; }
    // The message's wire form for `channel`: built once per message and shared (LiveMessage
    // caches it), and asked of it once per fan-out rather than per session: the lookup locks
    // a mutex that every loop fanning out the same message would otherwise bounce.
    Encoded wire_form(const LivePtr& message, const std::string& channel, WireFormat format);
    // The session's live messages wait until `due` (edge.coalesce_delay); then the loop asks
    // lws to call its on_writable.
    void hold(Session* session, std::chrono::steady_clock::time_point due);

    // lws entry points (public for the protocol table).
    static int on_ws(lws* wsi, int reason, void* user, void* in, size_t len);
    static int on_listener(lws* wsi, int reason, void* user, void* in, size_t len);
    const EdgeContext& context() const { return ctx_; }

private:
    struct Inbox {
        std::vector<std::function<void(EventLoop&)>> tasks;
        std::vector<LivePtr> live;
    };

    void run(std::function<void(bool)> started);
    lws_context* create_context();
    void accept_all(lws* listener);
    void pause_accepting(lws* listener, int error);
    void resume_accepting();
    void drain_inbox();
    void fan_out(const LivePtr& message);
    void schedule_tick();
    void schedule_release(std::chrono::steady_clock::time_point due);
    void release_held();
    void tick();
    bool filter(lws* wsi);
    int open_session(lws* wsi, void* user);
    void close_session(void* user);
    std::string next_client_id();
    void wake(bool was_empty);
    void cancel_service();

    const size_t index_;
    EdgeContext& ctx_;
    int listen_fd_;       // owned until lws adopts it
    int accept_fd_ = -1;  // the same socket, once lws owns it
    std::thread thread_;
    // Other threads wake the loop through the context; the lock keeps the loop thread from
    // destroying it while one of them is inside lws_cancel_service.
    std::mutex context_mu_;
    lws_context* context_ = nullptr;
    // The loop's libev loop (epoll): lws's own poll() loop costs a scan of every
    // connection per wake-up, which at 10,000 connections dominates the edge's CPU.
    ::ev_loop* ev_ = nullptr;
    lws_vhost* vhost_ = nullptr;
    std::atomic<bool> stopping_{false};
    std::atomic<size_t> connections_{0};
    bool draining_ = false;

    std::mutex inbox_mu_;
    Inbox inbox_;

    std::unordered_map<std::string, Session*> sessions_;
    std::multimap<std::chrono::steady_clock::time_point, std::string> reminders_;
    std::unordered_map<std::string, std::unordered_map<Session*, int>> watchers_;  // by subject
    std::string frame_;
    struct LastWireForm {
        LivePtr message;  // kept alive, so its address is not reused for another message
        std::string channel;
        WireFormat format = WireFormat::kJson;
        Encoded wire;
    } last_wire_form_;
    uint64_t next_id_ = 0;
    struct TickTimer;
    std::unique_ptr<TickTimer> tick_;
    // Sessions held by the coalescing delay, and one timer for the earliest of them.
    std::unordered_set<Session*> held_;
    struct ReleaseTimer;
    std::unique_ptr<ReleaseTimer> release_;
    std::chrono::steady_clock::time_point release_at_{};  // the epoch: not scheduled
    // Out of descriptors: the listener is left unpolled for a moment instead of spinning.
    struct ResumeTimer;
    std::unique_ptr<ResumeTimer> resume_;
    lws* paused_listener_ = nullptr;
    std::unique_ptr<HttpMounts> mounts_;  // outlives the lws context, which points into it
    std::chrono::steady_clock::time_point last_accept_warning_{};
    uint64_t accept_errors_since_warning_ = 0;
};

}  // namespace bb::edge
