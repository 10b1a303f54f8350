#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "broker-bridge/config.hpp"
#include "broker-bridge/nats_handles.hpp"
#include "broker-bridge/result.hpp"

namespace bb {

struct NatsClientState;  // what nats.c callbacks touch; defined in nats_client.cpp

// What a publish acknowledgement said. `duplicate`: the stream already held a message with
// this Nats-Msg-Id inside its duplicate window; `seq` is then that message's sequence.
struct PublishAck {
    std::string stream;
    uint64_t seq = 0;
    bool duplicate = false;
};

// `urls` with any credentials shown as "***@host", for logs and error messages.
std::string redacted_url(std::string_view urls);

// Whether a duplicate acknowledgement counts as success. A producer that retries a publish
// wants kAccept (the event is stored once either way); a writer that must know it stored
// something new (a dead-letter entry, a compare-and-set) asks for kFail.
enum class OnDuplicate { kAccept, kFail };

// Delay before reconnect pass `attempts` (1-based, as nats.c counts passes over the server
// list): `first` doubled per pass up to `max`, then a point in [d/2, d] chosen by
// `unit_random` in [0, 1), so clients that lost the same server do not return in step.
Millis reconnect_delay(Millis first, Millis max, int attempts, double unit_random);

// One NATS connection and its JetStream context, created at start-up on the main thread.
// An unreachable server at start is not fatal: nats.c keeps trying in the background, as it
// does after any disconnect, forever, with a doubling and jittered delay. Accessors and the
// publish helpers may be called from any thread (nats.c connections are thread-safe).
// nats.c runs the connection callbacks on its own thread; they touch only a heap-held state
// block, and destroying the client closes the connection and waits for the closed callback,
// so no callback outlives that block.
class NatsClient {
public:
    // Throws StartupError for configuration mistakes (unreadable credentials, nkey seed or
    // TLS files, a malformed URL); never for a server that cannot be reached yet.
    static NatsClient connect(const NatsConfig& config, std::string_view client_name);

    NatsClient(NatsClient&& other) noexcept;
    NatsClient& operator=(NatsClient&& other) noexcept;
    NatsClient(const NatsClient&) = delete;
    NatsClient& operator=(const NatsClient&) = delete;
    ~NatsClient();

    natsConnection* connection() const { return conn_.get(); }
    // JetStream API calls made through it wait up to NatsConfig::request_timeout.
    jsCtx* js() const { return js_.get(); }

    // True between a successful (re)connect and the next disconnect; cheap, for /readyz.
    bool connected() const;
    // Waits until connected or the timeout passes; false on timeout or once closed.
    bool wait_connected(Millis timeout) const;
    // True once the connection is closed for good: by close() or drain(), or by nats.c
    // giving up (an authentication failure repeated on two attempts in a row). A daemon
    // that finds it closed without asking should exit: nothing will reconnect it.
    bool closed() const;
    // The server URL in use, empty while disconnected.
    std::string connected_url() const;
    // Runs `listener` on nats.c's callback thread after each reconnect, replacing an earlier
    // one; an empty function removes it, waiting for a call in progress to return.
    void on_reconnected(std::function<void()> listener) const;

    // Lets subscriptions finish what they hold, flushes publishes, then closes. Fails when
    // the drain could not start (not connected) or ran past `timeout`; closed either way.
    Result<void> drain(Millis timeout);
    // Closes at once; later calls and a second close are harmless.
    void close();

    // Publishes and waits for the stream's acknowledgement. `msg_id` (may be empty) becomes
    // Nats-Msg-Id; headers are checked as add_headers() describes.
    Result<PublishAck> js_publish_ack(std::string_view subject, const Headers& headers,
                                      std::string_view body, std::string_view msg_id) const;
    // The same, giving the stream sequence; a duplicate is an error only under kFail.
    Result<uint64_t> js_publish(std::string_view subject, const Headers& headers,
                                std::string_view body, std::string_view msg_id,
                                OnDuplicate on_duplicate = OnDuplicate::kAccept) const;
    // A core publish, fire and forget (no stream acknowledgement): for subjects outside
    // every stream. Headers are checked as add_headers() describes.
    Result<void> publish(std::string_view subject, const Headers& headers,
                         std::string_view body) const;

private:
    NatsClient(std::unique_ptr<NatsClientState> state, NatsConnection conn, JsCtx js);
    void shut_down() noexcept;

    std::unique_ptr<NatsClientState> state_;  // outlives conn_: nats.c callbacks point into it
    NatsConnection conn_;
    JsCtx js_;
};

}  // namespace bb
