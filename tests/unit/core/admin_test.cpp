#include "broker-bridge/admin_server.hpp"

#include "broker-bridge/errors.hpp"
#include "broker-bridge/metrics.hpp"

#include <civetweb.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct HttpResponse {
    long status = 0;
    std::string body;
    std::string headers;  // lower-cased, as received
};

size_t append_to(char* data, size_t size, size_t count, void* out) {
    static_cast<std::string*>(out)->append(data, size * count);
    return size * count;
}

// One request to the admin server on loopback; never through a proxy from the environment.
HttpResponse http(const std::string& method, int port, const std::string& path) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    BOOST_TEST_REQUIRE(curl != nullptr);

    HttpResponse response;
    std::string url = "http://127.0.0.1:" + std::to_string(port) + path;
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl.get(), CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, append_to);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(curl.get(), CURLOPT_HEADERFUNCTION, append_to);
    curl_easy_setopt(curl.get(), CURLOPT_HEADERDATA, &response.headers);
    if (method == "HEAD") {
        curl_easy_setopt(curl.get(), CURLOPT_NOBODY, 1L);
    } else if (method == "POST") {
        curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, "x=1");
    } else if (method != "GET") {
        curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    CURLcode rc = curl_easy_perform(curl.get());
    BOOST_TEST_REQUIRE(rc == CURLE_OK, url << ": " << curl_easy_strerror(rc));
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &response.status);
    for (char& c : response.headers) c = static_cast<char>(std::tolower(c));
    return response;
}

HttpResponse get(int port, const std::string& path) { return http("GET", port, path); }

std::function<bool()> up() {
    return [] { return true; };
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// A probe state the test flips while the server's workers read it.
struct Probes {
    std::atomic<bool> ready{false};
    std::atomic<bool> healthy{true};
    std::function<bool()> ready_fn() {
        return [this] { return ready.load(); };
    }
    std::function<bool()> healthy_fn() {
        return [this] { return healthy.load(); };
    }
};

struct AdminFixture {
    bb::Metrics metrics;
    Probes probes;
    bb::AdminServer server{"127.0.0.1:0", metrics, probes.ready_fn(), probes.healthy_fn()};
};

// Local addresses (hex, as /proc writes them) of listening TCP sockets on `port`.
std::vector<std::string> listeners_on(const std::string& proc_file, int port) {
    std::ifstream in(proc_file);
    std::string line;
    std::getline(in, line);  // header
    std::vector<std::string> found;
    char wanted[8];
    std::snprintf(wanted, sizeof wanted, "%04X", port);
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string slot, local, remote, state;
        fields >> slot >> local >> remote >> state;
        auto colon = local.rfind(':');
        if (state == "0A" && local.substr(colon + 1) == wanted) {
            found.push_back(local.substr(0, colon));
        }
    }
    return found;
}

// A listening socket the test owns, to make a port busy.
struct BusyPort {
    int fd = -1;
    int port = 0;
    BusyPort() {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        BOOST_TEST_REQUIRE(fd >= 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        BOOST_TEST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        BOOST_TEST_REQUIRE(::listen(fd, 1) == 0);
        socklen_t length = sizeof address;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
        port = ntohs(address.sin_port);
    }
    ~BusyPort() { ::close(fd); }
};

// Sends raw bytes and reads the reply until the server closes (bounded in size and time).
std::string raw_exchange(int port, const std::string& request) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    BOOST_TEST_REQUIRE(fd >= 0);
    timeval timeout{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    std::string reply;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
        ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
        char buffer[4096];
        ssize_t n = 0;
        while (reply.size() < 65536 && (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) {
            reply.append(buffer, static_cast<size_t>(n));
        }
    }
    ::close(fd);
    return reply;
}

template <typename Error>
std::string message_of(const std::string& listen) {
    bb::Metrics metrics;
    try {
        bb::AdminServer server(listen, metrics, up(), up());
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(admin)

BOOST_FIXTURE_TEST_CASE(metrics_shows_a_counter_after_it_is_incremented, AdminFixture) {
    const std::string series =
        "broker_bridge_handler_attempts_total{binding=\"welcome_email\",outcome=\"done\","
        "plugin=\"email\"}";
    BOOST_TEST(!contains(get(server.port(), "/metrics").body, series));

    metrics.attempts("welcome_email", "email", "done").Increment(3);
    HttpResponse response = get(server.port(), "/metrics");
    BOOST_TEST(response.status == 200);
    BOOST_TEST(contains(response.headers, "content-type: text/plain; version=0.0.4"));
    BOOST_TEST(contains(response.body, series + " 3\n"));
    BOOST_TEST(contains(response.body, "# TYPE broker_bridge_nats_connected gauge\n"));
}

BOOST_FIXTURE_TEST_CASE(metrics_escape_label_values_on_the_wire, AdminFixture) {
    metrics.handlers_stuck("a\"b\nc").Set(2);
    HttpResponse response = get(server.port(), "/metrics");
    BOOST_TEST(contains(response.body, "broker_bridge_handlers_stuck{binding=\"a\\\"b\\nc\"} 2\n"));
}

BOOST_FIXTURE_TEST_CASE(readyz_follows_the_readiness_callback, AdminFixture) {
    HttpResponse before = get(server.port(), "/readyz");
    BOOST_TEST(before.status == 503);
    BOOST_TEST(before.body == "not ready\n");

    probes.ready = true;
    HttpResponse after = get(server.port(), "/readyz");
    BOOST_TEST(after.status == 200);
    BOOST_TEST(after.body == "ready\n");

    probes.ready = false;
    BOOST_TEST(get(server.port(), "/readyz").status == 503);
}

BOOST_FIXTURE_TEST_CASE(healthz_follows_the_health_callback, AdminFixture) {
    HttpResponse healthy = get(server.port(), "/healthz");
    BOOST_TEST(healthy.status == 200);
    BOOST_TEST(healthy.body == "ok\n");

    probes.healthy = false;
    BOOST_TEST(get(server.port(), "/healthz").status == 503);
}

BOOST_AUTO_TEST_CASE(a_throwing_probe_answers_not_ready) {
    bb::Metrics metrics;
    bb::AdminServer server(
        "127.0.0.1:0", metrics, []() -> bool { throw std::runtime_error("nats state unknown"); },
        up());
    HttpResponse response = get(server.port(), "/readyz");
    BOOST_TEST(response.status == 503);
    BOOST_TEST(get(server.port(), "/healthz").status == 200);  // the server keeps serving
}

BOOST_FIXTURE_TEST_CASE(unknown_paths_are_not_found, AdminFixture) {
    for (const char* path : {"/", "/metrics/", "/metricsx", "/readyz/extra", "/index.html",
                             "/../../etc/passwd", "/%2e%2e/etc/passwd"}) {
        BOOST_TEST(get(server.port(), path).status == 404, path);
    }
}

BOOST_FIXTURE_TEST_CASE(a_query_string_does_not_change_the_route, AdminFixture) {
    probes.ready = true;
    BOOST_TEST(get(server.port(), "/readyz?verbose=1").status == 200);
}

BOOST_FIXTURE_TEST_CASE(methods_other_than_get_are_not_allowed, AdminFixture) {
    for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "HEAD"}) {
        for (const char* path : {"/metrics", "/healthz", "/readyz"}) {
            HttpResponse response = http(method, server.port(), path);
            BOOST_TEST(response.status == 405, method << " " << path);
            BOOST_TEST(contains(response.headers, "allow: get"), method << " " << path);
        }
    }
    BOOST_TEST(http("POST", server.port(), "/nothing").status == 404);
}

BOOST_FIXTURE_TEST_CASE(malformed_requests_are_refused_and_the_server_keeps_serving, AdminFixture) {
    std::string garbage = raw_exchange(server.port(), "\x16\x03\x01 not http at all\r\n\r\n");
    BOOST_TEST(garbage.find("HTTP/1.1 200") == std::string::npos, garbage);

    std::string huge_header =
        "GET /metrics HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n";
    std::string too_big = raw_exchange(server.port(), huge_header);
    BOOST_TEST(too_big.find("HTTP/1.1 200") == std::string::npos, too_big.substr(0, 200));

    BOOST_TEST(get(server.port(), "/healthz").status == 200);
}

BOOST_FIXTURE_TEST_CASE(port_zero_binds_a_free_port_on_the_given_host_only, AdminFixture) {
    BOOST_TEST_REQUIRE(server.port() > 0);
    BOOST_TEST(server.port() <= 65535);
    std::vector<std::string> ipv4 = listeners_on("/proc/net/tcp", server.port());
    BOOST_TEST_REQUIRE(ipv4.size() == 1u);
    BOOST_TEST(ipv4.front() == "0100007F");  // 127.0.0.1, not 0.0.0.0
    BOOST_TEST(listeners_on("/proc/net/tcp6", server.port()).empty());
}

BOOST_AUTO_TEST_CASE(two_servers_on_port_zero_get_different_ports) {
    bb::Metrics metrics;
    bb::AdminServer a("127.0.0.1:0", metrics, up(), up());
    bb::AdminServer b("127.0.0.1:0", metrics, up(), up());
    BOOST_TEST(a.port() != b.port());
    BOOST_TEST(get(b.port(), "/healthz").status == 200);
}

BOOST_AUTO_TEST_CASE(localhost_is_resolved_to_the_loopback_address) {
    bb::Metrics metrics;
    bb::AdminServer server("localhost:0", metrics, up(), up());
    BOOST_TEST(get(server.port(), "/healthz").status == 200);
    std::vector<std::string> ipv4 = listeners_on("/proc/net/tcp", server.port());
    BOOST_TEST_REQUIRE(ipv4.size() == 1u);
    BOOST_TEST(ipv4.front() == "0100007F");
}

BOOST_AUTO_TEST_CASE(malformed_listen_values_are_config_errors_naming_admin_listen) {
    for (const std::string bad :
         {"", "127.0.0.1", "127.0.0.1:", ":9464", "127.0.0.1:65536", "127.0.0.1:99999",
          "127.0.0.1:123456", "127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1:80x", "127.0.0.1: 80",
          "::1:9464", "[::1:9464", "[not-an-address]:9464", "[]:9464"}) {
        std::string message = message_of<bb::ConfigError>(bad);
        BOOST_TEST(contains(message, "admin.listen"), "'" << bad << "' gave: " << message);
        BOOST_TEST(contains(message, "\"" + bad + "\""), "'" << bad << "' gave: " << message);
    }
}

BOOST_AUTO_TEST_CASE(an_ipv6_address_works_only_when_civetweb_supports_it) {
    if (mg_check_feature(8) != 0) {
        bb::Metrics metrics;
        bb::AdminServer server("[::1]:0", metrics, up(), up());
        BOOST_TEST(server.port() > 0);
    } else {
        std::string message = message_of<bb::ConfigError>("[::1]:9464");
        BOOST_TEST(contains(message, "IPv6"), message);
        BOOST_TEST(contains(message, "[::1]:9464"), message);
    }
}

BOOST_AUTO_TEST_CASE(a_port_in_use_is_a_startup_error_naming_the_address) {
    BusyPort busy;
    std::string address = "127.0.0.1:" + std::to_string(busy.port);
    std::string message = message_of<bb::StartupError>(address);
    BOOST_TEST(contains(message, address), message);
    BOOST_TEST(contains(message, "admin.listen"), message);
    BOOST_TEST(contains(message, "in use"), message);
}

BOOST_AUTO_TEST_CASE(a_port_taken_by_another_admin_server_is_a_startup_error) {
    bb::Metrics metrics;
    bb::AdminServer first("127.0.0.1:0", metrics, up(), up());
    std::string address = "127.0.0.1:" + std::to_string(first.port());
    BOOST_TEST(contains(message_of<bb::StartupError>(address), address));
    BOOST_TEST(get(first.port(), "/healthz").status == 200);  // the first one is unharmed
}

BOOST_AUTO_TEST_CASE(the_port_is_released_when_the_server_is_destroyed) {
    bb::Metrics metrics;
    int port = 0;
    {
        bb::AdminServer server("127.0.0.1:0", metrics, up(), up());
        port = server.port();
    }
    BOOST_TEST(listeners_on("/proc/net/tcp", port).empty());
    bb::AdminServer again("127.0.0.1:" + std::to_string(port), metrics, up(), up());
    BOOST_TEST(again.port() == port);
}

BOOST_AUTO_TEST_SUITE_END()
