// The floor of this machine: a minimal WebSocket server on one epoll thread that does
// nothing per message but stamp it, frame it once and write that frame to each client.
// Clients send "sub <key>" (answered "subscribed"); a control client sends
// "pub <first> <count> <rate> <per-user clients> <payload bytes>", the server generates
// messages seq first.. at that rate (to every "all" subscriber, or per user to "u<seq % n>")
// and answers "done <seconds>". Messages due at once go out in one frame, newline-separated.
//
//   bench-edge-floor --port 0   prints "listening <port>" once it accepts connections
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "../js/bench_nats.hpp"
#include "clock.hpp"
#include "publisher.hpp"
#include "ws_frame.hpp"

namespace bench {
namespace {

constexpr size_t kMaxQueued = 8u << 20;  // a client further behind is dropped

struct Conn {
    int fd = -1;
    bool upgraded = false;
    std::string in, out;
};

struct Job {
    Conn* owner = nullptr;
    uint64_t first = 0, count = 0, sent = 0;
    double rate = 0;
    uint32_t per_user = 0;
    std::string pad;
    int64_t start_ns = 0;
};

class FloorServer {
public:
    explicit FloorServer(int listen_fd) : listen_fd_(listen_fd) {
        epfd_ = epoll_create1(EPOLL_CLOEXEC);
        watch(listen_fd_, nullptr, EPOLLIN);
    }

    [[noreturn]] void run() {
        std::vector<epoll_event> events(1024);
        for (;;) {
            int n = epoll_wait(epfd_, events.data(), int(events.size()), timeout_ms());
            for (int i = 0; i < n; ++i) {
                auto* c = static_cast<Conn*>(events[i].data.ptr);
                if (!c) {
                    accept_all();
                    continue;
                }
                if (events[i].events & EPOLLOUT) flush(*c);
                if (c->fd >= 0 && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                    read_from(*c);
            }
            if (job_.owner) generate();
            reap();
        }
    }

private:
    void watch(int fd, Conn* c, uint32_t ev, int op = EPOLL_CTL_ADD) {
        epoll_event e{};
        e.events = ev;
        e.data.ptr = c;
        epoll_ctl(epfd_, op, fd, &e);
    }

    int timeout_ms() const {
        if (!job_.owner) return 1000;
        double next = double(job_.sent) / job_.rate * 1e9 + double(job_.start_ns);
        double wait = (next - double(monotonic_ns())) / 1e6;
        return wait <= 0 ? 0 : int(std::ceil(wait));
    }

    void accept_all() {
        for (int i = 0; i < 1024; ++i) {
            int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) return;
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            auto c = std::make_unique<Conn>();
            c->fd = fd;
            watch(fd, c.get(), EPOLLIN);
            conns_.push_back(std::move(c));
        }
    }

    void read_from(Conn& c) {
        char buf[65536];
        ssize_t n = read(c.fd, buf, sizeof buf);
        if (n == 0 || (n < 0 && errno != EAGAIN)) return drop(c);
        if (n < 0) return;
        c.in.append(buf, size_t(n));
        if (!c.upgraded) {
            size_t end = c.in.find("\r\n\r\n");
            if (end == std::string::npos) return;
            upgrade(c, c.in.substr(0, end));
            c.in.erase(0, end + 4);
        }
        for (;;) {
            ws::Frame f;
            int64_t used = ws::parse_frame(c.in.data(), c.in.size(), f);
            if (used <= 0) break;
            std::string text(f.payload);
            c.in.erase(0, size_t(used));
            if (f.opcode == ws::kClose) return drop(c);
            if (f.opcode == ws::kText) command(c, text);
        }
    }

    void upgrade(Conn& c, const std::string& head) {
        std::string key;
        size_t at = head.find("Sec-WebSocket-Key:");
        if (at != std::string::npos) {
            size_t start = head.find_first_not_of(' ', at + 18);
            key = head.substr(start, head.find("\r\n", start) - start);
        }
        send_raw(c,
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Accept: " +
                     ws::accept_key(key) + "\r\n\r\n");
        c.upgraded = true;
    }

    void command(Conn& c, const std::string& text) {
        if (text.rfind("sub ", 0) == 0) {
            channels_[text.substr(4)].push_back(&c);
            return send_text(c, "subscribed");
        }
        unsigned long long first = 0, count = 0, per_user = 0, bytes = 0;
        double rate = 0;
        if (std::sscanf(text.c_str(), "pub %llu %llu %lf %llu %llu", &first, &count, &rate,
                        &per_user, &bytes) == 5 &&
            rate > 0 && !job_.owner) {
            job_ = Job{&c,
                       first,
                       count,
                       0,
                       rate,
                       uint32_t(per_user),
                       std::string(bytes > 48 ? bytes - 48 : 1, 'x'),
                       monotonic_ns()};
            return;
        }
        send_text(c, "error: bad command or a step already running");
    }

    void generate() {
        int64_t now = monotonic_ns();
        auto due = uint64_t(double(now - job_.start_ns) / 1e9 * job_.rate) + 1;
        due = std::min(due, job_.count);
        if (due > job_.sent) {
            if (job_.per_user)
                send_per_user(due, now);
            else
                send_broadcast(due, now);
            job_.sent = due;
        }
        if (job_.sent == job_.count) {
            double s = double(monotonic_ns() - job_.start_ns) / 1e9;
            Conn* owner = job_.owner;
            job_ = Job{};
            send_text(*owner, "done " + std::to_string(s));
        }
    }

    void send_broadcast(uint64_t due, int64_t now) {
        std::string body;
        for (uint64_t k = job_.sent; k < due; ++k) {
            if (!body.empty()) body.push_back('\n');
            body += make_payload(job_.first + k, now, job_.pad);
        }
        std::string frame;
        ws::append_server_frame(frame, ws::kText, body);
        for (Conn* c : channels_["all"]) send_raw(*c, frame);
    }

    void send_per_user(uint64_t due, int64_t now) {
        for (uint64_t k = job_.sent; k < due; ++k) {
            uint64_t seq = job_.first + k;
            std::string frame;
            ws::append_server_frame(frame, ws::kText, make_payload(seq, now, job_.pad));
            auto it = channels_.find("u" + std::to_string(seq % job_.per_user));
            if (it == channels_.end()) continue;
            for (Conn* c : it->second) send_raw(*c, frame);
        }
    }

    void send_text(Conn& c, const std::string& text) {
        std::string frame;
        ws::append_server_frame(frame, ws::kText, text);
        send_raw(c, frame);
    }

    void send_raw(Conn& c, const std::string& bytes) {
        if (c.fd < 0) return;
        size_t done = 0;
        if (c.out.empty()) {
            ssize_t n = write(c.fd, bytes.data(), bytes.size());
            if (n < 0 && errno != EAGAIN) return drop(c);
            done = n > 0 ? size_t(n) : 0;
        }
        if (done == bytes.size()) return;
        if (c.out.empty()) watch(c.fd, &c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
        c.out.append(bytes, done);
        if (c.out.size() > kMaxQueued) drop(c);
    }

    void flush(Conn& c) {
        ssize_t n = write(c.fd, c.out.data(), c.out.size());
        if (n < 0 && errno != EAGAIN) return drop(c);
        if (n > 0) c.out.erase(0, size_t(n));
        if (c.out.empty()) watch(c.fd, &c, EPOLLIN, EPOLL_CTL_MOD);
    }

    void drop(Conn& c) {
        if (c.fd < 0) return;
        close(c.fd);
        c.fd = -1;
        dead_ = true;
    }

    // Forgets dropped connections (after the loop, so no pointer in `events` dangles).
    void reap() {
        if (!dead_) return;
        dead_ = false;
        for (auto& [key, list] : channels_) std::erase_if(list, [](Conn* c) { return c->fd < 0; });
        if (job_.owner && job_.owner->fd < 0) job_ = Job{};
        std::erase_if(conns_, [](const std::unique_ptr<Conn>& c) { return c->fd < 0; });
    }

    int listen_fd_;
    int epfd_;
    bool dead_ = false;
    std::vector<std::unique_ptr<Conn>> conns_;
    std::unordered_map<std::string, std::vector<Conn*>> channels_;
    Job job_;
};

int listen_on(const std::string& host, int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 4096) != 0) {
        std::perror("listen");
        std::exit(1);
    }
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    std::printf("listening %d\n", ntohs(a.sin_port));
    std::fflush(stdout);
    return fd;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
    bench::Args args(argc, argv, "bench-edge-floor [--host 127.0.0.1] [--port 0]\n");
    rlimit r{};
    getrlimit(RLIMIT_NOFILE, &r);
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
    int fd = bench::listen_on(args.text("host", "127.0.0.1"), int(args.number("port", 0)));
    bench::FloorServer(fd).run();
}
