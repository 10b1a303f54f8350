#pragma once

#include <string>

// The edge's listening sockets: one per event loop, all bound to the same address and port
// with SO_REUSEPORT, so the kernel spreads new connections over the loops (lws 4.1.6 cannot
// share a port between contexts by itself). Bound to exactly the configured address, never
// to every interface.
namespace bb::edge {

struct ListenAddress {
    std::string host;  // as configured: 127.0.0.1, ::1, localhost, 0.0.0.0 ...
    int port = 0;
};

// Parses "host:port" or "[v6]:port". Throws ConfigError.
ListenAddress parse_listen(const std::string& listen);

// A non-blocking, close-on-exec listening socket. `port` 0 lets the kernel choose; pass the
// chosen one (bound_port) for the next socket. Throws StartupError naming the address.
int open_listen_socket(const ListenAddress& address, int port);
int bound_port(int fd);

}  // namespace bb::edge
