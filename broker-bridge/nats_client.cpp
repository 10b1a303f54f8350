#include "broker-bridge/nats_client.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <vector>

#include "broker-bridge/errors.hpp"
#include "broker-bridge/log.hpp"
#include "broker-bridge/nkey.hpp"

namespace bb {
namespace {

// How long close() and the destructor wait for nats.c's closed callback. nats.c posts it
// right after its threads are joined, so only a stuck user callback delays it.
constexpr Millis kClosedCallbackWait{5000};

// URLs may carry credentials (nats://user:password@host): logs and errors show "***@host".
std::string redact_url(std::string_view urls) {
    std::string out;
    size_t pos = 0;
    while (pos < urls.size()) {
        size_t scheme = urls.find("://", pos);
        if (scheme == std::string_view::npos) break;
        size_t host = scheme + 3;
        size_t at = urls.find('@', host);
        size_t stop = urls.find_first_of(",/", host);
        out += urls.substr(pos, host - pos);
        if (at != std::string_view::npos && (stop == std::string_view::npos || at < stop)) {
            out += "***";
            pos = at;
        } else {
            pos = host;
        }
    }
    out += urls.substr(std::min(pos, urls.size()));
    return out;
}

std::string current_url(natsConnection* nc) {
    char buf[256] = {};
    if (natsConnection_GetConnectedUrl(nc, buf, sizeof buf) != NATS_OK) return {};
    return redact_url(buf);
}

// nats.c calls into us from C threads: nothing may escape, not even bad_alloc from a log line.
template <typename F>
void guarded(F&& f) noexcept {
    try {
        f();
    } catch (...) {
    }
}

}  // namespace

// Everything nats.c callbacks touch. Heap-held so its address survives moves of NatsClient.
struct NatsClientState {
    NatsClientState() = default;
    NatsClientState(const NatsClientState&) = delete;
    NatsClientState& operator=(const NatsClientState&) = delete;
    ~NatsClientState() { OPENSSL_cleanse(nkey_seed.data(), nkey_seed.size()); }

    std::string name;
    std::string nkey_seed;  // signs the server's nonce; read once at start-up
    Millis reconnect_wait;
    Millis reconnect_wait_max;
    Millis request_timeout;

    std::atomic<bool> connected{false};
    std::atomic<bool> closing{false};  // close or drain asked for: the closed event is ours

    std::mutex mu;
    std::condition_variable changed;
    bool closed = false;      // guarded by mu
    bool event_seen = false;  // guarded by mu: a callback already set `connected`
    std::mt19937_64 jitter_rng{std::random_device{}()};  // reconnect thread only

    std::mutex listener_mu;                      // held while the listener runs
    std::function<void()> reconnected_listener;  // guarded by listener_mu

    void set_connected(bool value) {
        std::lock_guard lock(mu);
        event_seen = true;
        connected.store(value);
        changed.notify_all();
    }

    void set_closed() {
        std::lock_guard lock(mu);
        connected.store(false);
        closed = true;
        changed.notify_all();
    }

    bool wait_closed(Millis timeout) {
        std::unique_lock lock(mu);
        return changed.wait_for(lock, timeout, [this] { return closed; });
    }

    Millis next_reconnect_delay(int attempts) {
        std::uniform_real_distribution<double> unit(0.0, 1.0);
        return reconnect_delay(reconnect_wait, reconnect_wait_max, attempts, unit(jitter_rng));
    }
};

namespace {

using State = NatsClientState;

void on_connected(natsConnection* nc, void* closure) {
    auto* st = static_cast<State*>(closure);
    guarded([&] {
        st->set_connected(true);
        log::info("nats connected", {{"name", st->name}, {"url", current_url(nc)}});
    });
}

void on_disconnected(natsConnection* /*nc*/, void* closure) {
    auto* st = static_cast<State*>(closure);
    guarded([&] {
        st->set_connected(false);
        if (!st->closing.load()) log::warn("nats disconnected", {{"name", st->name}});
    });
}

void on_reconnected(natsConnection* nc, void* closure) {
    auto* st = static_cast<State*>(closure);
    guarded([&] {
        st->set_connected(true);
        log::info("nats reconnected", {{"name", st->name}, {"url", current_url(nc)}});
        std::lock_guard lock(st->listener_mu);
        if (st->reconnected_listener) st->reconnected_listener();
    });
}

// Last callback nats.c makes for a connection; set_closed() is its last touch of State.
void on_closed(natsConnection* nc, void* closure) {
    auto* st = static_cast<State*>(closure);
    guarded([&] {
        if (st->closing.load()) {
            log::info("nats connection closed", {{"name", st->name}});
            return;
        }
        // nats.c gives up on its own only on errors a retry cannot fix (such as an
        // authentication failure twice in a row): say which.
        const char* text = nullptr;
        natsStatus err = natsConnection_GetLastError(nc, &text);
        log::error("nats connection closed", {{"name", st->name},
                                              {"expected", false},
                                              {"status", natsStatus_GetText(err)},
                                              {"error", text != nullptr ? text : ""}});
    });
    st->set_closed();
}

void on_async_error(natsConnection* /*nc*/, natsSubscription* sub, natsStatus err, void* closure) {
    auto* st = static_cast<State*>(closure);
    guarded([&] {
        const char* subject = sub != nullptr ? natsSubscription_GetSubject(sub) : nullptr;
        log::warn("nats async error", {{"name", st->name},
                                       {"error", natsStatus_GetText(err)},
                                       {"subject", subject != nullptr ? subject : ""}});
    });
}

int64_t on_reconnect_delay(natsConnection* /*nc*/, int attempts, void* closure) {
    auto* st = static_cast<State*>(closure);
    Millis delay = st->reconnect_wait;
    guarded([&] {
        delay = st->next_reconnect_delay(attempts);
        // Powers of two only: a long outage logs a handful of lines, not one per attempt.
        if ((attempts & (attempts - 1)) == 0) {
            log::warn("nats reconnecting",
                      {{"name", st->name}, {"attempts", attempts}, {"delay_ms", delay.count()}});
        }
    });
    return delay.count();
}

// Runs on whichever nats.c thread is connecting. nats.c frees the signature and the text.
natsStatus on_sign_nonce(char** error_text, unsigned char** signature, int* length,
                         const char* nonce, void* closure) {
    auto* st = static_cast<State*>(closure);
    natsStatus s = nats_Sign(st->nkey_seed.c_str(), nonce, signature, length);
    if (s != NATS_OK && error_text != nullptr) {
        *error_text = ::strdup("cannot sign the server nonce with the nkey seed");
    }
    return s;
}

void check_option(natsStatus s, std::string_view field) {
    if (s == NATS_OK) return;
    Error e = nats_error(s);
    throw StartupError("nats." + std::string(field) + ": " + e.what);
}

void require_readable(const std::string& file, std::string_view field) {
    if (!std::ifstream(file)) {
        throw StartupError("nats." + std::string(field) + ": cannot read " + file);
    }
}

void apply_auth(natsOptions* o, const NatsConfig& c, State* st) {
    if (!c.user.empty()) {
        check_option(natsOptions_SetUserInfo(o, c.user.c_str(), c.password.c_str()), "user");
    }
    if (!c.token.empty()) check_option(natsOptions_SetToken(o, c.token.c_str()), "token");
    if (!c.credentials_file.empty() && !c.nkey_seed_file.empty()) {
        throw StartupError(
            "nats.credentials_file and nats.nkey_seed_file exclude each other: a .creds file "
            "already holds the nkey seed");
    }
    if (!c.credentials_file.empty()) {
        require_readable(c.credentials_file, "credentials_file");
        check_option(
            natsOptions_SetUserCredentialsFromFiles(o, c.credentials_file.c_str(), nullptr),
            "credentials_file");
    }
    if (!c.nkey_seed_file.empty()) {
        auto seed = read_nkey_seed_file(c.nkey_seed_file);
        if (!seed) throw StartupError("nats.nkey_seed_file: " + seed.error().what);
        auto pub = nkey_public_from_seed(*seed);
        if (!pub) throw StartupError("nats.nkey_seed_file: " + pub.error().what);
        // Signing ourselves, rather than natsOptions_SetNKeyFromSeed, uses the seed exactly
        // as we read and checked it: nats.c's own reader failed on a seed file with a blank
        // line and spaces around the seed, and only once connecting, with no hint why.
        st->nkey_seed = std::move(*seed);
        check_option(natsOptions_SetNKey(o, pub->c_str(), on_sign_nonce, st), "nkey_seed_file");
    }
}

void apply_tls(natsOptions* o, const TlsConfig& tls) {
    if (!tls.enabled()) return;
    check_option(natsOptions_SetSecure(o, true), "tls");
    if (!tls.ca_file.empty()) {
        require_readable(tls.ca_file, "tls.ca_file");
        check_option(natsOptions_LoadCATrustedCertificates(o, tls.ca_file.c_str()), "tls.ca_file");
    }
    if (!tls.cert_file.empty()) {
        if (tls.key_file.empty()) throw StartupError("nats.tls.cert_file needs nats.tls.key_file");
        require_readable(tls.cert_file, "tls.cert_file");
        require_readable(tls.key_file, "tls.key_file");
        check_option(
            natsOptions_LoadCertificatesChain(o, tls.cert_file.c_str(), tls.key_file.c_str()),
            "tls.cert_file");
    }
}

void apply_callbacks(natsOptions* o, State* st) {
    // A connected callback is what makes nats.c retry a failed first connect in the
    // background; without one, natsConnection_Connect would retry inline and never return.
    check_option(natsOptions_SetRetryOnFailedConnect(o, true, on_connected, st), "url");
    check_option(natsOptions_SetDisconnectedCB(o, on_disconnected, st), "url");
    check_option(natsOptions_SetReconnectedCB(o, on_reconnected, st), "url");
    check_option(natsOptions_SetClosedCB(o, on_closed, st), "url");
    check_option(natsOptions_SetErrorHandler(o, on_async_error, st), "url");
    check_option(natsOptions_SetCustomReconnectDelay(o, on_reconnect_delay, st), "reconnect_wait");
}

// nats.c 3.4.1 takes natsOptions_SetURL's text as one URL: "nats://a:1,nats://b:2" never
// connects. A comma-separated list (how `nats.url` names a cluster) goes to SetServers.
void apply_urls(natsOptions* o, const std::string& urls) {
    if (urls.find(',') == std::string::npos) {
        check_option(natsOptions_SetURL(o, urls.c_str()), "url");
        return;
    }
    std::vector<std::string> list;
    for (size_t pos = 0; pos <= urls.size();) {
        size_t comma = std::min(urls.find(',', pos), urls.size());
        std::string one = urls.substr(pos, comma - pos);
        one.erase(0, one.find_first_not_of(' '));
        one.erase(one.find_last_not_of(' ') + 1);
        if (!one.empty()) list.push_back(one);
        pos = comma + 1;
    }
    std::vector<const char*> servers;
    for (const auto& u : list) servers.push_back(u.c_str());
    check_option(natsOptions_SetServers(o, servers.data(), static_cast<int>(servers.size())),
                 "url");
}

NatsOptions make_options(const NatsConfig& c, State* st) {
    natsOptions* raw = nullptr;
    check_option(natsOptions_Create(&raw), "url");
    NatsOptions opts(raw);
    natsOptions* o = opts.get();
    apply_urls(o, c.url);
    check_option(natsOptions_SetName(o, st->name.c_str()), "name");
    check_option(natsOptions_SetTimeout(o, c.connect_timeout.count()), "connect_timeout");
    check_option(natsOptions_SetMaxReconnect(o, -1), "url");
    check_option(natsOptions_SetReconnectWait(o, c.reconnect_wait.count()), "reconnect_wait");
    apply_auth(o, c, st);
    apply_tls(o, c.tls);
    apply_callbacks(o, st);
    return opts;
}

JsCtx make_js(natsConnection* nc, Millis request_timeout) {
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = request_timeout.count();
    jsCtx* js = nullptr;
    natsStatus s = natsConnection_JetStream(&js, nc, &jo);
    if (s != NATS_OK) {
        throw StartupError("nats: cannot create a JetStream context: " + nats_error(s).what);
    }
    return JsCtx(js);
}

}  // namespace

Millis reconnect_delay(Millis first, Millis max, int attempts, double unit_random) {
    int64_t cap = std::max<int64_t>(1, max.count());
    int64_t delay = std::clamp<int64_t>(first.count(), 1, cap);
    for (int i = 1; i < attempts && delay < cap; ++i) delay = std::min(cap, delay * 2);
    double unit = std::clamp(unit_random, 0.0, 1.0);
    int64_t low = std::max<int64_t>(1, delay / 2);  // never 0: that would spin
    return Millis{low + static_cast<int64_t>(unit * static_cast<double>(delay - low))};
}

NatsClient::NatsClient(std::unique_ptr<NatsClientState> state, NatsConnection conn, JsCtx js)
    : state_(std::move(state)), conn_(std::move(conn)), js_(std::move(js)) {}

NatsClient::NatsClient(NatsClient&& other) noexcept = default;

NatsClient& NatsClient::operator=(NatsClient&& other) noexcept {
    if (this != &other) {
        shut_down();
        state_ = std::move(other.state_);
        conn_ = std::move(other.conn_);
        js_ = std::move(other.js_);
    }
    return *this;
}

NatsClient::~NatsClient() { shut_down(); }

NatsClient NatsClient::connect(const NatsConfig& config, std::string_view client_name) {
    auto state = std::make_unique<NatsClientState>();
    state->name = client_name.empty() ? config.name : config.name + "/" + std::string(client_name);
    state->reconnect_wait = config.reconnect_wait;
    state->reconnect_wait_max = config.reconnect_wait_max;
    state->request_timeout = config.request_timeout;
    NatsOptions opts = make_options(config, state.get());

    natsConnection* raw = nullptr;
    natsStatus s = natsConnection_Connect(&raw, opts.get());
    Error connect_error = s == NATS_OK ? Error{} : nats_error(s);
    NatsClientState* st = state.get();
    NatsClient client(std::move(state), NatsConnection(raw), JsCtx{});
    if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
        throw StartupError("nats.url: cannot connect to " + redact_url(config.url) + ": " +
                           connect_error.what);
    }
    if (s == NATS_OK) {
        std::unique_lock lock(st->mu);
        if (!st->event_seen) st->connected.store(true);  // no callback for a first connect
        lock.unlock();
        log::info("nats connected", {{"name", st->name}, {"url", current_url(raw)}});
    } else {
        log::warn("nats not connected yet, retrying in the background",
                  {{"name", st->name}, {"url", redact_url(config.url)}});
    }
    client.js_ = make_js(raw, config.request_timeout);
    return client;
}

bool NatsClient::connected() const { return state_ && state_->connected.load(); }

bool NatsClient::closed() const {
    if (!state_) return true;
    std::lock_guard lock(state_->mu);
    return state_->closed;
}

bool NatsClient::wait_connected(Millis timeout) const {
    if (!state_) return false;
    std::unique_lock lock(state_->mu);
    state_->changed.wait_for(lock, timeout,
                             [this] { return state_->connected.load() || state_->closed; });
    return state_->connected.load();
}

void NatsClient::on_reconnected(std::function<void()> listener) const {
    if (!state_) return;
    std::lock_guard lock(state_->listener_mu);
    state_->reconnected_listener = std::move(listener);
}

std::string NatsClient::connected_url() const {
    if (!conn_ || !connected()) return {};
    return current_url(conn_.get());
}

Result<void> NatsClient::drain(Millis timeout) {
    if (!conn_) return Error{"nats drain: the client holds no connection"};
    state_->closing.store(true);
    natsStatus s = natsConnection_DrainTimeout(conn_.get(), timeout.count());
    if (s != NATS_OK) {
        Error e = nats_error(s);
        close();
        return Error{"nats drain could not start: " + e.what};
    }
    // nats.c closes the connection itself when the drain ends or its timeout passes.
    if (!state_->wait_closed(timeout + kClosedCallbackWait)) {
        close();
        return Error{"nats drain did not finish in " + std::to_string(timeout.count()) + " ms"};
    }
    const char* text = nullptr;
    if (natsConnection_GetLastError(conn_.get(), &text) == NATS_TIMEOUT) {
        return Error{"nats drain timed out after " + std::to_string(timeout.count()) +
                     " ms; undelivered messages return to their streams"};
    }
    log::info("nats drained", {{"name", state_->name}});
    return {};
}

void NatsClient::close() {
    if (!conn_) return;
    state_->closing.store(true);
    natsConnection_Close(conn_.get());
    if (!state_->wait_closed(kClosedCallbackWait)) {
        log::error("nats closed callback did not arrive; keeping its state alive",
                   {{"name", state_->name}});
    }
}

void NatsClient::shut_down() noexcept {
    if (!conn_) return;
    guarded([this] { close(); });
    js_.reset();
    bool callbacks_done = false;
    {
        std::lock_guard lock(state_->mu);
        callbacks_done = state_->closed;
    }
    conn_.reset();
    // A callback still pending would write into freed memory: leaking one small block
    // is the lesser harm, and close() has already logged it.
    if (!callbacks_done) (void)state_.release();
    state_.reset();
}

namespace {

// A message with checked headers (see add_headers), ready to publish.
Result<NatsMsg> make_message(std::string_view subject, const Headers& headers,
                             std::string_view body) {
    std::string subj(subject);
    natsMsg* raw = nullptr;
    natsStatus s =
        natsMsg_Create(&raw, subj.c_str(), nullptr, body.data(), static_cast<int>(body.size()));
    if (s != NATS_OK) return nats_error(s);
    NatsMsg msg(raw);
    if (auto added = add_headers(msg.get(), headers); !added) return added.error();
    return msg;
}

}  // namespace

Result<PublishAck> NatsClient::js_publish_ack(std::string_view subject, const Headers& headers,
                                              std::string_view body,
                                              std::string_view msg_id) const {
    if (!js_) return Error{"nats publish: the client holds no connection"};
    auto msg = make_message(subject, headers, body);
    if (!msg) return msg.error();

    std::string id(msg_id);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = state_->request_timeout.count();
    if (!id.empty()) po.MsgId = id.c_str();

    jsPubAck* ack_raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_PublishMsg(&ack_raw, js_.get(), msg->get(), &po, &jerr);
    if (s != NATS_OK) return nats_error(s, &jerr);
    JsPubAck ack(ack_raw);
    return PublishAck{ack->Stream != nullptr ? ack->Stream : "", ack->Sequence, ack->Duplicate};
}

Result<uint64_t> NatsClient::js_publish(std::string_view subject, const Headers& headers,
                                        std::string_view body, std::string_view msg_id,
                                        OnDuplicate on_duplicate) const {
    auto ack = js_publish_ack(subject, headers, body, msg_id);
    if (!ack) return ack.error();
    if (ack->duplicate && on_duplicate == OnDuplicate::kFail) {
        return Error{"duplicate publish: stream " + ack->stream + " already holds Nats-Msg-Id " +
                     std::string(msg_id) + " at sequence " + std::to_string(ack->seq)};
    }
    return ack->seq;
}

}  // namespace bb

namespace bb {

Result<void> NatsClient::publish(std::string_view subject, const Headers& headers,
                                 std::string_view body) const {
    if (!conn_) return Error{"nats publish: the client holds no connection"};
    auto msg = make_message(subject, headers, body);
    if (!msg) return msg.error();
    natsStatus s = natsConnection_PublishMsg(conn_.get(), msg->get());
    if (s != NATS_OK) return nats_error(s);
    return {};
}

}  // namespace bb

namespace bb {

std::string redacted_url(std::string_view urls) { return redact_url(urls); }

}  // namespace bb
