#include "broker-bridge/admin_server.hpp"

#include "broker-bridge/errors.hpp"
#include "broker-bridge/log.hpp"
#include "broker-bridge/metrics.hpp"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netdb.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>
#include <exception>
#include <string_view>

namespace bb {
namespace {

constexpr unsigned kCivetwebIpv6 = 8;  // mg_check_feature bit: built with USE_IPV6
constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kTextType = "text/plain; charset=utf-8";

[[noreturn]] void bad_listen(const std::string& value, std::string_view why) {
    throw ConfigError("admin.listen: " + std::string(why) + " (got \"" + value + "\")");
}

int parse_port(const std::string& value, std::string_view text) {
    int port = -1;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    bool digits_only = !text.empty() && text.size() <= 5 && text.front() != '+' &&
                       text.front() != '-' && end == text.data() + text.size();
    if (ec != std::errc{} || !digits_only || port < 0 || port > 65535) {
        bad_listen(value, "the port must be a number from 0 to 65535");
    }
    return port;
}

// A name is resolved here rather than by civetweb, so the address bound is the one logged
// and a name that does not resolve is reported as such.
std::string resolve_ipv4(const std::string& value, const std::string& host) {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
    if (rc != 0 || found == nullptr) {
        bad_listen(value,
                   "host '" + host + "' does not resolve to an IPv4 address: " + gai_strerror(rc));
    }
    char text[INET_ADDRSTRLEN] = "";
    const auto* address = reinterpret_cast<const sockaddr_in*>(found->ai_addr);
    inet_ntop(AF_INET, &address->sin_addr, text, sizeof text);
    freeaddrinfo(found);
    return text;
}

std::string ipv6_spec(const std::string& value, const std::string& host, int port) {
    in6_addr unused{};
    if (host.size() < 3 || host.back() != ']' ||
        inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &unused) != 1) {
        bad_listen(value, "an IPv6 host must be an address in brackets, as in [::1]:9464");
    }
    if (mg_check_feature(kCivetwebIpv6) == 0) {
        bad_listen(value, "this civetweb library was built without IPv6; use an IPv4 address");
    }
    return host + ":" + std::to_string(port);
}

// admin.listen ("host:port") to civetweb's listening_ports syntax for exactly one address.
std::string listening_port_spec(const std::string& value) {
    auto colon = value.rfind(':');
    if (colon == std::string::npos) bad_listen(value, "expected host:port");
    std::string host = value.substr(0, colon);
    int port = parse_port(value, std::string_view(value).substr(colon + 1));
    if (host.empty()) bad_listen(value, "the host is empty; use 127.0.0.1 or 0.0.0.0");
    if (host.front() == '[') return ipv6_spec(value, host, port);
    if (host.find(':') != std::string::npos) {
        bad_listen(value, "an IPv6 host must be an address in brackets, as in [::1]:9464");
    }
    in_addr unused{};
    if (inet_pton(AF_INET, host.c_str(), &unused) != 1) host = resolve_ipv4(value, host);
    return host + ":" + std::to_string(port);
}

void reply(mg_connection* conn, int status, std::string_view content_type, std::string_view body,
           std::string_view extra_headers = {}) {
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\n"
              "Content-Type: %.*s\r\n"
              "Content-Length: %zu\r\n"
              "Cache-Control: no-store\r\n"
              "%.*s"
              "Connection: close\r\n\r\n",
              status, mg_get_response_code_text(conn, status),
              static_cast<int>(content_type.size()), content_type.data(), body.size(),
              static_cast<int>(extra_headers.size()), extra_headers.data());
    if (std::strcmp(mg_get_request_info(conn)->request_method, "HEAD") != 0) {
        mg_write(conn, body.data(), body.size());
    }
}

void init_civetweb() {
    static std::once_flag once;
    // Features 0: no TLS or other optional subsystem is set up for a plain HTTP endpoint.
    std::call_once(once, [] { mg_init_library(0); });
}

}  // namespace

void AdminServer::ContextStop::operator()(mg_context* context) const noexcept { mg_stop(context); }

AdminServer::AdminServer(const std::string& listen, Metrics& metrics, std::function<bool()> ready,
                         std::function<bool()> healthy)
    : metrics_(metrics), ready_(std::move(ready)), healthy_(std::move(healthy)) {
    std::string spec = listening_port_spec(listen);
    // Two workers: Prometheus and the kubelet probes. Short timeouts so a client that
    // stalls mid-request frees its worker before the next probe; no keep-alive for the same
    // reason. No document_root, so nothing on disk is reachable.
    const char* options[] = {"listening_ports",
                             spec.c_str(),
                             "num_threads",
                             "2",
                             "request_timeout_ms",
                             "5000",
                             "enable_keep_alive",
                             "no",
                             "max_request_size",
                             "8192",
                             nullptr};
    mg_callbacks callbacks{};
    callbacks.begin_request = &AdminServer::on_request;
    callbacks.log_message = &AdminServer::on_log_message;
    mg_init_data init{&callbacks, this, options};
    unsigned error_code = 0;
    char error_text[256] = "";
    mg_error_data error{&error_code, error_text, sizeof error_text};

    init_civetweb();
    context_.reset(mg_start2(&init, &error));
    std::lock_guard lock(start_mutex_);
    if (!context_) {
        std::string why = start_messages_.empty() ? error_text : start_messages_;
        throw StartupError("admin server cannot listen on " + spec + " (admin.listen): " + why);
    }
    started_ = true;
    mg_server_port bound{};
    if (mg_get_server_ports(context_.get(), 1, &bound) != 1) {
        throw StartupError("admin server on " + spec + " reports no listening port");
    }
    port_ = bound.port;
    std::string address = spec.substr(0, spec.rfind(':') + 1) + std::to_string(port_);
    log::info("admin server listening", {{"address", address}});
}

AdminServer::~AdminServer() = default;

// Entered from civetweb's C worker threads: nothing may escape.
int AdminServer::on_request(mg_connection* conn) noexcept {
    try {
        auto* self = static_cast<AdminServer*>(mg_get_user_data(mg_get_context(conn)));
        self->respond(conn);
    } catch (...) {
        // Out of memory while answering: close the connection without a reply.
    }
    return 1;  // answered here; civetweb must not look for a file
}

void AdminServer::respond(mg_connection* conn) {
    const mg_request_info* request = mg_get_request_info(conn);
    std::string_view path = request->local_uri ? request->local_uri : "";
    bool get = std::strcmp(request->request_method, "GET") == 0;

    if (path != "/metrics" && path != "/healthz" && path != "/readyz") {
        reply(conn, 404, kTextType, "not found\n");
    } else if (!get) {
        reply(conn, 405, kTextType, "method not allowed\n", "Allow: GET\r\n");
    } else if (path == "/metrics") {
        try {
            reply(conn, 200, kMetricsType, metrics_.serialize());
        } catch (const std::exception& e) {
            log::error("metrics serialization failed", {{"error", e.what()}});
            reply(conn, 500, kTextType, "metrics unavailable\n");
        }
    } else if (path == "/healthz") {
        bool ok = ask(healthy_, "healthz");
        reply(conn, ok ? 200 : 503, kTextType, ok ? "ok\n" : "unhealthy\n");
    } else {
        bool ok = ask(ready_, "readyz");
        reply(conn, ok ? 200 : 503, kTextType, ok ? "ready\n" : "not ready\n");
    }
}

// A probe callback that throws answers "no": a daemon that cannot tell is not fit for traffic.
bool AdminServer::ask(const std::function<bool()>& probe, const char* name) const {
    try {
        return probe && probe();
    } catch (const std::exception& e) {
        log::warn("probe callback failed", {{"probe", name}, {"error", e.what()}});
    } catch (...) {
        log::warn("probe callback failed", {{"probe", name}, {"error", "non-standard exception"}});
    }
    return false;
}

int AdminServer::on_log_message(const mg_connection* conn, const char* message) noexcept {
    try {
        std::string_view text = message ? message : "";
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
        const mg_context* context = conn ? mg_get_context(conn) : nullptr;
        auto* self = context ? static_cast<AdminServer*>(mg_get_user_data(context)) : nullptr;
        if (self != nullptr) {
            std::lock_guard lock(self->start_mutex_);
            if (!self->started_) {
                // The first line is the cause; the next ("Failed to setup server ports") is not.
                if (self->start_messages_.empty()) self->start_messages_ = text;
                return 1;
            }
        }
        // After start civetweb reports per-connection trouble (a client that hung up or sent
        // garbage): detail for debugging, not something to act on.
        log::debug("admin server message", {{"message", text}});
    } catch (...) {
        // Out of memory while logging: drop the line.
    }
    return 1;  // handled: civetweb must not write to stderr itself
}

}  // namespace bb
