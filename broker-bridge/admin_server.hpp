#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

struct mg_context;
struct mg_connection;

namespace bb {

class Metrics;

// The admin HTTP endpoint for Prometheus and probes:
//   GET /metrics  200, text format 0.0.4
//   GET /healthz  200 "ok" while healthy(), else 503
//   GET /readyz   200 "ready" while ready(), else 503 "not ready"
// Other paths get 404, other methods on these paths 405. Nothing is served from disk.
//
// Owned by main. Two civetweb worker threads answer requests from construction until the
// destructor returns; they call `ready`, `healthy` and Metrics::serialize concurrently with
// the rest of the daemon, so both callbacks must be thread-safe and quick. `metrics` must
// outlive this object.
class AdminServer {
public:
    // `listen` is admin.listen: "host:port". host is an IPv4 address or a name resolving to
    // one ("[v6]" only when civetweb was built with IPv6); only that address is bound. Port 0
    // takes a free port: see port(). Throws ConfigError for a malformed value and
    // StartupError when the address cannot be bound (port in use, address not local).
    AdminServer(const std::string& listen, Metrics& metrics, std::function<bool()> ready,
                std::function<bool()> healthy);
    // Stops the workers. Takes up to 2 s: civetweb's accept loop notices the stop only when
    // its poll times out (SOCKET_TIMEOUT_QUANTUM, fixed when the library is built).
    ~AdminServer();
    AdminServer(const AdminServer&) = delete;
    AdminServer& operator=(const AdminServer&) = delete;

    // The port bound, the real one when admin.listen asked for port 0.
    int port() const { return port_; }

private:
    struct ContextStop {
        void operator()(mg_context* context) const noexcept;
    };

    static int on_request(mg_connection* conn) noexcept;
    static int on_log_message(const mg_connection* conn, const char* message) noexcept;
    void respond(mg_connection* conn);
    bool ask(const std::function<bool()>& probe, const char* name) const;

    Metrics& metrics_;
    std::function<bool()> ready_;
    std::function<bool()> healthy_;
    int port_ = 0;

    // civetweb reports why it could not start only through its log callback.
    std::mutex start_mutex_;
    bool started_ = false;
    std::string start_messages_;

    // Declared last: mg_stop joins the worker threads before the members they use go away.
    std::unique_ptr<mg_context, ContextStop> context_;
};

}  // namespace bb
