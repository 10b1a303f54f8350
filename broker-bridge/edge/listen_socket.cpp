#include "broker-bridge/edge/listen_socket.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "broker-bridge/errors.hpp"

namespace bb::edge {
namespace {

constexpr int kBacklog = 1024;

struct AddrInfoFree {
    void operator()(addrinfo* a) const noexcept { freeaddrinfo(a); }
};

[[noreturn]] void fail(const ListenAddress& a, int port, const std::string& why) {
    throw StartupError("edge.listen " + a.host + ":" + std::to_string(port) + ": " + why);
}

int bind_one(const addrinfo* ai, const ListenAddress& a, int port) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) fail(a, port, std::string("socket: ") + std::strerror(errno));
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0 ||
        (ai->ai_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on))) {
        int err = errno;
        close(fd);
        fail(a, port, std::string("setsockopt: ") + std::strerror(err));
    }
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, kBacklog) != 0) {
        int err = errno;
        close(fd);
        fail(a, port, std::strerror(err));
    }
    return fd;
}

}  // namespace

ListenAddress parse_listen(const std::string& listen) {
    ListenAddress a;
    size_t colon = listen.rfind(':');
    if (colon == std::string::npos) throw ConfigError("edge.listen: expected host:port");
    a.host = listen.substr(0, colon);
    if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']') {
        a.host = a.host.substr(1, a.host.size() - 2);
    }
    std::string port = listen.substr(colon + 1);
    char* end = nullptr;
    long p = std::strtol(port.c_str(), &end, 10);
    if (a.host.empty() || port.empty() || *end != '\0' || p < 0 || p > 65535) {
        throw ConfigError("edge.listen: '" + listen + "' is not host:port");
    }
    a.port = static_cast<int>(p);
    return a;
}

int open_listen_socket(const ListenAddress& a, int port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* raw = nullptr;
    std::string service = std::to_string(port);
    int rc = getaddrinfo(a.host.c_str(), service.c_str(), &hints, &raw);
    std::unique_ptr<addrinfo, AddrInfoFree> list(raw);
    if (rc != 0 || !raw) fail(a, port, gai_strerror(rc));
    return bind_one(raw, a, port);  // the first address only: one exact address
}

int bound_port(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return -1;
    if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

}  // namespace bb::edge
