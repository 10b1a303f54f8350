#include "broker-bridge/edge/event_loop.hpp"

#include <ev.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>

#include "broker-bridge/edge/client_address.hpp"
#include "broker-bridge/edge/http_routes.hpp"
#include "broker-bridge/edge/session.hpp"
#include "broker-bridge/errors.hpp"
#include "broker-bridge/log.hpp"

namespace bb::edge {
namespace {

constexpr int kMaxAcceptsPerWake = 64;
constexpr lws_usec_t kTickUs = 50 * 1000;  // connect timeouts and token expiry
constexpr int kMaxRemindersPerTick = 4096;
// Without descriptors a pending connection keeps the listener readable: polling it again at
// once would spin. Connections wait in the backlog meanwhile.
constexpr lws_usec_t kAcceptBackoffUs = 100 * 1000;
constexpr auto kAcceptWarningEvery = std::chrono::seconds(1);
constexpr const char* kListenerProtocol = "bridge-listener";
// lws gives every WebSocket connection a receive buffer of this size for its whole life;
// client commands are small, and larger messages arrive in chunks the session reassembles.
// 4096 cost about 3.5 KiB more memory per idle connection.
constexpr size_t kRxBufferBytes = 512;

struct PerSession {
    Session* session;
};

int ws_callback(lws* wsi, lws_callback_reasons r, void* user, void* in, size_t len) {
    return EventLoop::on_ws(wsi, r, user, in, len);
}

int listener_callback(lws* wsi, lws_callback_reasons r, void* user, void* in, size_t len) {
    return EventLoop::on_listener(wsi, r, user, in, len);
}

// Index 0 answers plain HTTP with 404.
const lws_protocols kProtocols[] = {
    {"http", not_found_callback, 0, 0, 0, nullptr, 0},
    {kJsonProtocol.data(), ws_callback, sizeof(PerSession), kRxBufferBytes, 0, nullptr, 0},
    {kMsgpackProtocol.data(), ws_callback, sizeof(PerSession), kRxBufferBytes, 1, nullptr, 0},
    {kListenerProtocol, listener_callback, 0, 0, 0, nullptr, 0},
    {kDevTokenProtocol, dev_token_callback, sizeof(DevTokenSession), 0, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0}};

// A client that names no subprotocol speaks JSON: the "default" option makes the JSON
// protocol the vhost's choice for such upgrades (otherwise lws leaves them on index 0).
const lws_protocol_vhost_options kDefaultOption = {nullptr, nullptr, "default", "1"};
const lws_protocol_vhost_options kJsonIsDefault = {nullptr, &kDefaultOption, kJsonProtocol.data(),
                                                   ""};

const lws_extension kDeflate[] = {
    {"permessage-deflate", lws_extension_callback_pm_deflate,
     "permessage-deflate; client_no_context_takeover; client_max_window_bits"},
    {nullptr, nullptr, nullptr}};

EventLoop* loop_of(lws* wsi) {
    return static_cast<EventLoop*>(lws_context_user(lws_get_context(wsi)));
}

uint16_t whole_seconds(std::chrono::milliseconds ms) {
    auto s = (ms.count() + 999) / 1000;
    return static_cast<uint16_t>(std::clamp<int64_t>(s, 1, 65535));
}

std::string header(lws* wsi, lws_token_indexes token) {
    int len = lws_hdr_total_length(wsi, token);
    if (len <= 0 || len > 4096) return {};
    std::string out(static_cast<size_t>(len) + 1, '\0');
    if (lws_hdr_copy(wsi, out.data(), len + 1, token) < 0) return {};
    out.resize(static_cast<size_t>(len));
    return out;
}

}  // namespace

struct EventLoop::TickTimer {
    lws_sorted_usec_list_t sul;  // first member: the callback gets its address
    EventLoop* loop;
    lws_retry_bo_t retry;
};

struct EventLoop::ReleaseTimer {
    lws_sorted_usec_list_t sul;  // first member: the callback gets its address
    EventLoop* loop;
};

struct EventLoop::ResumeTimer {
    lws_sorted_usec_list_t sul;  // first member: the callback gets its address
    EventLoop* loop;
};

EventLoop::EventLoop(size_t index, EdgeContext& ctx, int listen_fd)
    : index_(index),
      ctx_(ctx),
      listen_fd_(listen_fd),
      tick_(std::make_unique<TickTimer>()),
      release_(std::make_unique<ReleaseTimer>()),
      resume_(std::make_unique<ResumeTimer>()),
      mounts_(std::make_unique<HttpMounts>(ctx.config)) {
    std::memset(&release_->sul, 0, sizeof release_->sul);
    release_->loop = this;
    std::memset(&resume_->sul, 0, sizeof resume_->sul);
    resume_->loop = this;
    std::memset(&tick_->sul, 0, sizeof tick_->sul);
    tick_->loop = this;
    tick_->retry = {};
    tick_->retry.secs_since_valid_ping = whole_seconds(ctx.config.ping_interval);
    tick_->retry.secs_since_valid_hangup = whole_seconds(ctx.config.ping_timeout);
}

EventLoop::~EventLoop() {
    stop();
    if (listen_fd_ >= 0) close(listen_fd_);
}

void EventLoop::start() {
    std::promise<bool> created;
    auto result = created.get_future();
    thread_ = std::thread([this, &created] { run([&](bool ok) { created.set_value(ok); }); });
    if (!result.get()) {
        thread_.join();
        throw StartupError("edge: libwebsockets could not create event loop " +
                           std::to_string(index_) +
                           " (is lws's libev plugin installed? Debian package "
                           "libwebsockets-evlib-ev)");
    }
}

void EventLoop::stop() {
    stopping_ = true;
    cancel_service();
    if (thread_.joinable()) thread_.join();
}

// Makes the loop's lws_service return; a no-op once the loop has let go of its context.
void EventLoop::cancel_service() {
    std::lock_guard lock(context_mu_);
    if (context_) lws_cancel_service(context_);
}

void EventLoop::run(std::function<void(bool)> started) {
    ev_ = ev_loop_new(static_cast<unsigned>(EVBACKEND_EPOLL) | static_cast<unsigned>(EVFLAG_NOENV));
    lws_context* context = ev_ ? create_context() : nullptr;
    if (!context) {
        if (ev_) ev_loop_destroy(ev_);
        return started(false);
    }
    {
        std::lock_guard lock(context_mu_);
        context_ = context;
    }
    schedule_tick();
    started(true);
    // Returns when the wake-up handler sees stopping_ (ev_break).
    while (!stopping_.load()) ev_run(ev_, 0);
    {
        std::lock_guard lock(context_mu_);
        context_ = nullptr;
    }
    lws_context_destroy(context);  // closes every session: CLOSED callbacks run here
    ev_loop_destroy(ev_);
}

lws_context* EventLoop::create_context() {
    lws_context_creation_info info;
    std::memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = kProtocols;
    info.gid = -1;
    info.uid = -1;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_LIBEV;
    void* loops[1] = {ev_};
    info.foreign_loops = loops;
    info.user = this;
    info.retry_and_idle_policy = &tick_->retry;
    info.pvo = &kJsonIsDefault;
    info.mounts = mounts_->first();
    if (ctx_.config.permessage_deflate) info.extensions = kDeflate;
    lws_context* context = lws_create_context(&info);
    if (!context) return nullptr;
    vhost_ = lws_get_vhost_by_name(context, "default");
    lws_sock_file_fd_type fd;
    fd.filefd = listen_fd_;
    if (!vhost_ || !lws_adopt_descriptor_vhost(vhost_, LWS_ADOPT_RAW_FILE_DESC, fd,
                                               kListenerProtocol, nullptr)) {
        lws_context_destroy(context);
        return nullptr;
    }
    accept_fd_ = listen_fd_;
    listen_fd_ = -1;  // lws owns it now and closes it with the context
    return context;
}

void EventLoop::post(std::function<void(EventLoop&)> task) {
    bool was_empty;
    {
        std::lock_guard lock(inbox_mu_);
        was_empty = inbox_.tasks.empty() && inbox_.live.empty();
        inbox_.tasks.push_back(std::move(task));
    }
    wake(was_empty);
}

void EventLoop::post_live(const LivePtr& message) {
    bool was_empty;
    {
        std::lock_guard lock(inbox_mu_);
        was_empty = inbox_.tasks.empty() && inbox_.live.empty();
        inbox_.live.push_back(message);
    }
    wake(was_empty);
}

// One wake-up per batch: the loop empties the whole inbox when it wakes.
void EventLoop::wake(bool was_empty) {
    if (!was_empty) return;
    cancel_service();
}

void EventLoop::begin_shutdown() {
    post([](EventLoop& l) {
        l.draining_ = true;
        for (auto& [id, s] : l.sessions_) s->begin_shutdown(l.ctx_.config.shutdown_reconnect_in);
    });
}

void EventLoop::disable_user(const std::string& user) {
    post([user](EventLoop& l) {
        for (auto& [id, s] : l.sessions_) {
            if (s->user() == user) s->disable();
        }
    });
}

void EventLoop::drain_inbox() {
    Inbox batch;
    {
        std::lock_guard lock(inbox_mu_);
        std::swap(batch, inbox_);
    }
    for (const auto& m : batch.live) fan_out(m);
    for (auto& task : batch.tasks) task(*this);
    last_wire_form_ = {};  // lets the last message go
}

void EventLoop::fan_out(const LivePtr& message) {
    auto it = watchers_.find(message->subject());
    if (it == watchers_.end()) return;
    for (auto& [session, count] : it->second) session->on_live(message);
}

Encoded EventLoop::wire_form(const LivePtr& message, const std::string& channel,
                             WireFormat format) {
    auto& last = last_wire_form_;
    if (last.message != message || last.format != format || last.channel != channel) {
        last = {message, channel, format, message->encoded(channel, format)};
    }
    return last.wire;
}

Result<void> EventLoop::watch(const ResolvedChannel& channel, Session* session) {
    if (auto added = ctx_.hub.add(channel.live_subject, index_); !added) return added;
    ++watchers_[channel.subject][session];
    return {};
}

void EventLoop::unwatch(const ResolvedChannel& channel, Session* session) {
    ctx_.hub.remove(channel.live_subject, index_);
    auto it = watchers_.find(channel.subject);
    if (it == watchers_.end()) return;
    auto s = it->second.find(session);
    if (s != it->second.end() && --s->second <= 0) it->second.erase(s);
    if (it->second.empty()) watchers_.erase(it);
}

Session* EventLoop::find(const std::string& client_id) {
    auto it = sessions_.find(client_id);
    return it == sessions_.end() ? nullptr : it->second;
}

void EventLoop::schedule_tick() {
    lws_sul_schedule(
        context_, 0, &tick_->sul,
        [](lws_sorted_usec_list_t* sul) { reinterpret_cast<TickTimer*>(sul)->loop->tick(); },
        kTickUs);
}

void EventLoop::tick() {
    auto now = Session::Clock::now();
    int64_t unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
    // Bounded per tick so a burst of due reminders cannot stall the loop.
    for (int i = 0; i < kMaxRemindersPerTick && !reminders_.empty(); ++i) {
        if (reminders_.begin()->first > now) break;
        auto due = reminders_.extract(reminders_.begin());
        if (Session* s = find(due.mapped())) s->on_tick(now, unix_ms);
    }
    schedule_tick();
}

void EventLoop::hold(Session* session, std::chrono::steady_clock::time_point due) {
    held_.insert(session);
    if (release_at_ == std::chrono::steady_clock::time_point{} || due < release_at_) {
        schedule_release(due);
    }
}

void EventLoop::schedule_release(std::chrono::steady_clock::time_point due) {
    release_at_ = due;
    auto wait = std::chrono::duration_cast<std::chrono::microseconds>(
        due - std::chrono::steady_clock::now());
    lws_sul_schedule(
        context_, 0, &release_->sul,
        [](lws_sorted_usec_list_t* sul) {
            reinterpret_cast<ReleaseTimer*>(sul)->loop->release_held();
        },
        std::max<lws_usec_t>(wait.count(), 0));
}

// Releases the sessions that are due and waits for the earliest of the others. A session
// released early (by a reply, a close or its own frame) is just forgotten here.
void EventLoop::release_held() {
    auto now = std::chrono::steady_clock::now();
    auto next = std::chrono::steady_clock::time_point::max();
    for (auto it = held_.begin(); it != held_.end();) {
        auto due = (*it)->held_until();
        if (due == std::chrono::steady_clock::time_point{} || due <= now) {
            (*it)->release();
            it = held_.erase(it);
            continue;
        }
        next = std::min(next, due);
        ++it;
    }
    release_at_ = {};
    if (!held_.empty()) schedule_release(next);
}

void EventLoop::remind_at(std::chrono::steady_clock::time_point when,
                          const std::string& client_id) {
    reminders_.emplace(when, client_id);
}

void EventLoop::accept_all(lws* listener) {
    for (int i = 0; i < kMaxAcceptsPerWake; ++i) {
        int fd = accept4(accept_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) pause_accepting(listener, errno);
            return;
        }
        if (draining_) {
            close(fd);  // shutting down: the client reconnects to another instance
            continue;
        }
        // Each writable callback sends one whole frame, so Nagle only delays: a close frame
        // after a reply waited for the client's delayed ACK, about 40 ms per closed connection.
        int on = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        lws_adopt_socket_vhost(vhost_, fd);  // on failure lws closes fd itself
    }
}

void EventLoop::pause_accepting(lws* listener, int error) {
    ctx_.metrics.accept_errors().Increment();
    ++accept_errors_since_warning_;
    auto now = std::chrono::steady_clock::now();
    if (now - last_accept_warning_ >= kAcceptWarningEvery) {
        log::warn("edge cannot accept connections", {{"loop", index_},
                                                     {"error", std::strerror(error)},
                                                     {"failures", accept_errors_since_warning_}});
        last_accept_warning_ = now;
        accept_errors_since_warning_ = 0;
    }
    paused_listener_ = listener;
    lws_rx_flow_control(listener, 0);
    lws_sul_schedule(
        context_, 0, &resume_->sul,
        [](lws_sorted_usec_list_t* sul) {
            reinterpret_cast<ResumeTimer*>(sul)->loop->resume_accepting();
        },
        kAcceptBackoffUs);
}

void EventLoop::resume_accepting() {
    if (!paused_listener_) return;
    lws_rx_flow_control(paused_listener_, 1);
    paused_listener_ = nullptr;
}

int EventLoop::on_listener(lws* wsi, int reason, void*, void*, size_t) {
    switch (reason) {
        case LWS_CALLBACK_RAW_RX_FILE:
            loop_of(wsi)->accept_all(wsi);
            return 0;
        case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
            EventLoop* loop = loop_of(wsi);
            loop->drain_inbox();
            if (loop->stopping_.load()) ev_break(loop->ev_, EVBREAK_ALL);
            return 0;
        }
        default:
            return 0;
    }
}

int EventLoop::on_ws(lws* wsi, int reason, void* user, void* in, size_t len) {
    auto* pss = static_cast<PerSession*>(user);
    Session* s = pss ? pss->session : nullptr;
    switch (reason) {
        case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
            return loop_of(wsi)->filter(wsi) ? 0 : -1;
        case LWS_CALLBACK_ESTABLISHED:
            return loop_of(wsi)->open_session(wsi, user);
        case LWS_CALLBACK_RECEIVE:
            if (!s) return -1;
            return s->on_receive(in, len, lws_is_first_fragment(wsi), lws_is_final_fragment(wsi),
                                 lws_frame_is_binary(wsi));
        case LWS_CALLBACK_SERVER_WRITEABLE:
            return s ? s->on_writable() : -1;
        case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
            if (s) s->on_peer_close();
            return 0;
        case LWS_CALLBACK_CLOSED:
            loop_of(wsi)->close_session(user);
            return 0;
        default:
            return 0;
    }
}

// Before the upgrade: the path and the Origin. Refused upgrades get an HTTP error.
bool EventLoop::filter(lws* wsi) {
    if (header(wsi, WSI_TOKEN_GET_URI) != ctx_.config.path) return false;
    const auto& allowed = ctx_.config.allowed_origins;
    if (allowed.empty()) return true;
    std::string origin = header(wsi, WSI_TOKEN_ORIGIN);
    if (std::find(allowed.begin(), allowed.end(), origin) != allowed.end()) return true;
    ctx_.metrics.refusals("origin").Increment();
    log::info("edge origin refused", {{"origin", origin.substr(0, 128)}});
    return false;
}

int EventLoop::open_session(lws* wsi, void* user) {
    auto* pss = static_cast<PerSession*>(user);
    pss->session = nullptr;
    char peer[128] = {};
    lws_get_peer_simple(wsi, peer, sizeof peer);
    std::string address =
        client_address(peer, header(wsi, WSI_TOKEN_X_FORWARDED_FOR), ctx_.config.trusted_proxies);
    std::string refused = draining_ ? std::string("capacity") : ctx_.limits.admit(address);
    if (!refused.empty()) {
        ctx_.metrics.refusals(refused).Increment();
        ctx_.metrics.disconnects("capacity").Increment();
        log::warn("edge connection refused", {{"address", address}, {"reason", refused}});
        std::string text = "try again later";
        lws_close_reason(wsi, static_cast<lws_close_status>(kCloseTryLater),
                         reinterpret_cast<unsigned char*>(text.data()), text.size());
        return -1;
    }
    WireFormat format = lws_get_protocol(wsi)->id == 1 ? WireFormat::kMsgpack : WireFormat::kJson;
    auto* s = new Session(*this, ctx_, wsi, next_client_id(), format, address);
    pss->session = s;
    sessions_[s->client_id()] = s;
    ++connections_;
    ctx_.metrics.connections().Increment();
    return 0;
}

void EventLoop::close_session(void* user) {
    auto* pss = static_cast<PerSession*>(user);
    if (!pss || !pss->session) return;
    std::unique_ptr<Session> s(pss->session);
    pss->session = nullptr;
    sessions_.erase(s->client_id());
    held_.erase(s.get());
    ctx_.limits.release_address(s->address());
    ctx_.metrics.disconnects(s->close_reason().empty() ? "client" : s->close_reason()).Increment();
    ctx_.metrics.connections().Decrement();
    --connections_;
}

// Unique in the process and not guessable: the loop, a counter and random bits.
std::string EventLoop::next_client_id() {
    unsigned char random[6];
    lws_get_random(context_, random, sizeof random);
    char out[48];
    std::snprintf(out, sizeof out, "%zx-%llx-%02x%02x%02x%02x%02x%02x", index_,
                  static_cast<unsigned long long>(++next_id_), random[0], random[1], random[2],
                  random[3], random[4], random[5]);
    return out;
}

}  // namespace bb::edge
