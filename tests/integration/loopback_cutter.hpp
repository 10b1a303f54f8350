#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

// A TCP forwarder on loopback between a client and a server, which the test can cut: every
// connection through it is closed and new ones are refused until resume(). It stands for a
// network fault between one client and its server, which no server-side switch gives.
// Hand-written (one poll loop) because the packaged fault proxies run as separate daemons
// with an HTTP control API, far more than this needs.
namespace bb::itest {

class LoopbackCutter {
public:
    explicit LoopbackCutter(int upstream_port) : upstream_(upstream_port) {
        listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a = address(0);
        ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a);
        ::listen(listener_, 16);
        socklen_t len = sizeof a;
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { run(); });
    }
    ~LoopbackCutter() {
        stop_ = true;
        thread_.join();
        close_all();
        ::close(listener_);
    }
    LoopbackCutter(const LoopbackCutter&) = delete;
    LoopbackCutter& operator=(const LoopbackCutter&) = delete;

    int port() const { return port_; }
    void cut() {
        std::lock_guard lock(mu_);
        cut_ = true;
        swallow_ = false;
        close_all();
    }
    // What the server sends from now on is read and thrown away until cut(): the server
    // takes it as delivered, the client never sees it (a fault in transit).
    void swallow_replies() {
        std::lock_guard lock(mu_);
        swallow_ = true;
    }
    void resume() {
        std::lock_guard lock(mu_);
        cut_ = false;
    }

private:
    static sockaddr_in address(int port) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<uint16_t>(port));
        return a;
    }

    void close_all() {
        for (auto [a, b] : pairs_) {
            ::close(a);
            ::close(b);
        }
        pairs_.clear();
    }

    void accept_one() {
        int client = ::accept(listener_, nullptr, nullptr);
        if (client < 0) return;
        int server = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a = address(upstream_);
        if (cut_ || ::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            ::close(client);
            ::close(server);
            return;
        }
        pairs_.emplace_back(client, server);
    }

    // Copies what one side sent to the other; false when either side closed.
    static bool pump(int from, int to) {
        char buf[16384];
        ssize_t n = ::recv(from, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;  // stale readiness
        if (n <= 0) return false;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = ::write(to, buf + done, static_cast<size_t>(n - done));
            if (w <= 0) return false;
            done += w;
        }
        return true;
    }

    static bool discard(int from) {
        char buf[16384];
        ssize_t n = ::recv(from, buf, sizeof buf, MSG_DONTWAIT);
        return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    }

    void run() {
        while (!stop_) {
            std::vector<pollfd> fds{{listener_, POLLIN, 0}};
            {
                std::lock_guard lock(mu_);
                for (auto [a, b] : pairs_) {
                    fds.push_back({a, POLLIN, 0});
                    fds.push_back({b, POLLIN, 0});
                }
            }
            if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
            std::lock_guard lock(mu_);
            if (fds[0].revents & POLLIN) accept_one();
            for (size_t i = 1; i + 1 < fds.size(); i += 2) step(fds[i], fds[i + 1]);
        }
    }

    // One pair's readiness, from a poll made before cut() may have closed it.
    void step(const pollfd& a, const pollfd& b) {
        auto it = pairs_.begin();
        while (it != pairs_.end() && it->first != a.fd) ++it;
        if (it == pairs_.end()) return;
        bool ok = true;
        if (a.revents) ok = pump(a.fd, b.fd);
        if (ok && b.revents) ok = swallow_ ? discard(b.fd) : pump(b.fd, a.fd);
        if (!ok) {
            ::close(it->first);
            ::close(it->second);
            pairs_.erase(it);
        }
    }

    int upstream_;
    int listener_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::mutex mu_;
    bool cut_ = false;                        // guarded by mu_
    bool swallow_ = false;                    // guarded by mu_
    std::vector<std::pair<int, int>> pairs_;  // guarded by mu_: client side, server side
    std::thread thread_;
};

}  // namespace bb::itest
