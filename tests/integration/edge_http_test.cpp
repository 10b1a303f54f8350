// Plain HTTP on the edge's port: the static files at `/` and the development token endpoint.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <fstream>

#include "broker-bridge/edge/token_verifier.hpp"
#include "integration/edge_fixture.hpp"
#include "integration/edge_ws_client.hpp"

using namespace bb::itest;
using nlohmann::json;

namespace {

struct HttpResponse {
    int status = 0;  // 0: the connection closed without a response
    std::string headers;
    std::string body;
};

// One request over a fresh loopback connection, read until the server closes it (or 5 s).
HttpResponse http(int port, const std::string& request_head, const std::string& body = "") {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    std::string req = request_head + "Host: 127.0.0.1\r\nConnection: close\r\n";
    if (!body.empty()) req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    BOOST_REQUIRE(send(fd, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size()));
    std::string raw;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        raw.append(buf, static_cast<size_t>(n));
        size_t head_end = raw.find("\r\n\r\n");
        size_t cl = raw.find("content-length: ");
        if (head_end != std::string::npos && cl != std::string::npos && cl < head_end &&
            raw.size() - head_end - 4 >= std::stoul(raw.substr(cl + 16))) {
            break;  // lws keeps the connection open after a complete reply
        }
    }
    close(fd);
    HttpResponse r;
    size_t head_end = raw.find("\r\n\r\n");
    if (raw.rfind("HTTP/1.1 ", 0) != 0 || head_end == std::string::npos) return r;
    r.status = std::stoi(raw.substr(9, 3));
    r.headers = raw.substr(0, head_end);
    r.body = raw.substr(head_end + 4);
    return r;
}

HttpResponse post_token(int port, const std::string& body) {
    return http(port, "POST /dev/token HTTP/1.1\r\nContent-Type: application/json\r\n", body);
}

bool has_header(const HttpResponse& r, const std::string& line) {
    return r.headers.find(line) != std::string::npos;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(edge_http, EdgeFixture)

BOOST_AUTO_TEST_CASE(the_static_dir_is_served_at_root_with_content_types) {
    auto site = dir() / "site";
    std::filesystem::create_directories(site);
    std::ofstream(site / "index.html") << "<h1>demo</h1>";
    std::ofstream(site / "app.js") << "export {};";
    std::ofstream(site / "app.js.map") << "{}";
    start_edge("  static_dir: " + site.string() + "\n");
    auto index = http(port(), "GET / HTTP/1.1\r\n");
    BOOST_TEST(index.status == 200);
    BOOST_TEST(has_header(index, "content-type: text/html"));
    BOOST_TEST(index.body == "<h1>demo</h1>");
    auto js = http(port(), "GET /app.js HTTP/1.1\r\n");
    BOOST_TEST(has_header(js, "content-type: text/javascript"));
    auto map = http(port(), "GET /app.js.map HTTP/1.1\r\n");
    BOOST_TEST(has_header(map, "content-type: application/json"));
    // The WebSocket path still upgrades beside the files.
    WsClient ws(port());
    BOOST_TEST(ws.connect(token("u-1")).value("op", "") == "connected");
}

BOOST_AUTO_TEST_CASE(paths_above_the_static_dir_are_refused) {
    auto site = dir() / "site";
    std::filesystem::create_directories(site);
    std::ofstream(site / "index.html") << "ok";
    std::ofstream(dir() / "secret.txt") << "do-not-serve";
    start_edge("  static_dir: " + site.string() + "\n");
    for (const char* path :
         {"/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt", "/missing.txt"}) {
        auto r = http(port(), std::string("GET ") + path + " HTTP/1.1\r\n");
        BOOST_TEST_INFO("path " << path);
        BOOST_TEST(r.status != 200);
        BOOST_TEST(r.body.find("do-not-serve") == std::string::npos);
    }
}

// A browser asking for a file that is not there (a favicon, a stale bundle name) gets a
// plain 404 it can show, not a closed connection; as without static files.
BOOST_AUTO_TEST_CASE(a_missing_file_is_answered_404) {
    auto site = dir() / "site";
    std::filesystem::create_directories(site / "assets");
    std::ofstream(site / "index.html") << "ok";
    start_edge("  static_dir: " + site.string() + "\n");
    for (const char* path : {"/missing.txt", "/favicon.ico", "/assets/old-bundle.js", "/nodir/x"}) {
        BOOST_TEST_CONTEXT("path " << path) {
            auto r = http(port(), std::string("GET ") + path + " HTTP/1.1\r\n");
            BOOST_TEST(r.status == 404, "status " << r.status << " headers " << r.headers);
            // The edge closes after every reply; a 404 must say so like the others, or a
            // keep-alive client sends its next request into a closing socket.
            BOOST_TEST(has_header(r, "connection: close"), r.headers);
        }
    }
    BOOST_TEST(http(port(), "GET / HTTP/1.1\r\n").status == 200);  // and the edge still serves
}

BOOST_AUTO_TEST_CASE(without_the_config_key_there_is_no_token_endpoint_and_no_files) {
    start_edge();
    auto r = post_token(port(), R"({"user":"u-1"})");
    BOOST_TEST(r.body.find("token") == std::string::npos);
    BOOST_TEST(r.status != 200);
    auto root = http(port(), "GET / HTTP/1.1\r\n");
    BOOST_TEST(root.status == 404);
    BOOST_TEST(has_header(root, "connection: close"), root.headers);
}

BOOST_AUTO_TEST_CASE(the_dev_endpoint_mints_a_token_the_edge_accepts) {
    start_edge("  dev_tokens: {enabled: true, ttl: 10m}\n");
    auto r = post_token(port(), R"({"user":"u-9","orgs":[7,"8"]})");
    BOOST_TEST(r.status == 200);
    BOOST_TEST(has_header(r, "content-type: application/json"));
    json reply = json::parse(r.body);
    BOOST_TEST(reply["expires_in_ms"].get<int64_t>() == 600000);
    bb::edge::TokenVerifier verifier(config().edge->auth);
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    auto claims = verifier.verify(reply["token"].get<std::string>(), now);
    BOOST_REQUIRE(static_cast<bool>(claims));
    BOOST_TEST(claims->sub == "u-9");
    WsClient ws(port());
    BOOST_TEST(ws.connect(reply["token"].get<std::string>()).value("op", "") == "connected");
    BOOST_TEST(ws.subscribe("user:u-9:notifications", 2).value("op", "") == "subscribed");
}

BOOST_AUTO_TEST_CASE(the_dev_endpoint_refuses_bad_requests_naming_the_field) {
    start_edge("  dev_tokens: {enabled: true}\n");
    auto bad_user = post_token(port(), R"({"user":"a.b"})");
    BOOST_TEST(bad_user.status == 400);
    BOOST_TEST(bad_user.body.find("user must be") != std::string::npos);
    auto bad_orgs = post_token(port(), R"({"user":"u","orgs":"7"})");
    BOOST_TEST(bad_orgs.status == 400);
    BOOST_TEST(bad_orgs.body.find("orgs must be") != std::string::npos);
    BOOST_TEST(post_token(port(), "not json").status == 400);
    BOOST_TEST(http(port(), "GET /dev/token HTTP/1.1\r\n").status == 405);
    BOOST_TEST(post_token(port(), std::string(5000, ' ')).status != 200);
}

BOOST_AUTO_TEST_SUITE_END()
