#include "client_pool.hpp"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>

#include "clock.hpp"
#include "seq_scan.hpp"
#include "ws_frame.hpp"

namespace bench {

enum class State : uint8_t { kIdle, kConnecting, kUpgrading, kControl, kReady, kClosed };

struct Client {
    uint32_t index = 0;
    int fd = -1;
    State state = State::kIdle;
    std::string partial;  // bytes of an incomplete frame (or of the HTTP response)
    std::string carry;    // the start of a message cut by a frame's end
    std::string out;      // bytes the socket did not take yet
    uint64_t last_seq = 0;
    int64_t retry_at_ns = 0;
    std::unique_ptr<z_stream> inflater;  // when permessage-deflate was agreed
    std::atomic<uint64_t> unique{0};

    ~Client() {
        if (inflater) inflateEnd(inflater.get());  // zlib's window is not freed otherwise
    }

    // Back to unopened, for a new connection; the last seq seen stays (seqs only grow).
    void reset() {
        fd = -1;
        state = State::kIdle;
        partial.clear();
        carry.clear();
        out.clear();
        retry_at_ns = 0;
        if (inflater) inflateEnd(inflater.get());
        inflater.reset();
    }
};

namespace {
constexpr size_t kReadBuffer = 256 * 1024;
constexpr size_t kMaxResponseHeader = 16 * 1024;

std::string inflate_message(z_stream& z, std::string_view in) {
    std::string input(in);
    input.append("\x00\x00\xff\xff", 4);
    z.next_in = reinterpret_cast<Bytef*>(input.data());
    z.avail_in = static_cast<uInt>(input.size());
    std::string out;
    char chunk[16384];
    for (int guard = 0; guard < 4096; ++guard) {
        z.next_out = reinterpret_cast<Bytef*>(chunk);
        z.avail_out = sizeof chunk;
        int rc = inflate(&z, Z_SYNC_FLUSH);
        out.append(chunk, sizeof chunk - z.avail_out);
        if (rc != Z_OK || z.avail_in == 0) break;
    }
    return out;
}
}  // namespace

class ReaderThread {
public:
    ReaderThread(const PoolConfig& config, const ProtocolAdapter& adapter,
                 const std::atomic<uint64_t>& first, const std::atomic<uint64_t>& last)
        : config_(config),
          adapter_(adapter),
          win_first_(first),
          win_last_(last),
          buf_(kReadBuffer) {
        epfd_ = epoll_create1(EPOLL_CLOEXEC);
    }
    ~ReaderThread() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
        for (Client* c : mine_) {
            if (c->fd >= 0) close(c->fd);
        }
        close(epfd_);
    }
    void add(Client* c) { mine_.push_back(c); }
    void start() {
        thread_ = std::thread([this] { run(); });
    }
    void request_open() { open_request_ = true; }
    uint32_t ready() const { return ready_; }
    uint32_t failed() const { return failed_; }
    uint32_t open_clients() const { return open_; }
    void add_counts(StepCounts& into) const {
        std::lock_guard lock(mu_);
        into.latency.merge(counts_.latency);
        into.in_window += counts_.in_window;
        into.duplicates += counts_.duplicates;
        into.outside += counts_.outside;
        into.frames += counts_.frames;
        into.last_frame_ns = std::max(into.last_frame_ns, counts_.last_frame_ns);
    }
    void reset_counts() {
        std::lock_guard lock(mu_);
        counts_ = StepCounts();
    }
    void add_closes(std::map<int, uint64_t>& into) const {
        std::lock_guard lock(mu_);
        for (auto& [code, n] : closes_) into[code] += n;
    }

private:
    void run() {
        std::vector<epoll_event> events(512);
        while (!stop_) {
            if (open_request_.exchange(false)) queue_closed();
            while (opening_ < config_.max_opening && !to_open_.empty()) {
                Client* c = to_open_.front();
                to_open_.pop_front();
                connect_client(*c);
            }
            int n = epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), 10);
            std::lock_guard lock(mu_);
            for (int i = 0; i < n; ++i) {
                auto* c = static_cast<Client*>(events[i].data.ptr);
                int64_t now = monotonic_ns();  // per socket: a batch can take milliseconds
                if (events[i].events & EPOLLOUT) on_writable(*c);
                if (c->fd >= 0 && (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
                    on_readable(*c, now);
                }
            }
            if (!retries_.empty()) send_retries(monotonic_ns());
        }
    }

    void queue_closed() {
        for (Client* c : mine_) {
            if (c->state == State::kIdle || c->state == State::kClosed) to_open_.push_back(c);
        }
    }

    void connect_client(Client& c) {
        c.reset();
        c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) return fail(c, "socket");
        int one = 1;
        setsockopt(c.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in local{};
        local.sin_family = AF_INET;
        local.sin_addr.s_addr = htonl(0x7f000001u + c.index % config_.source_addresses);
        if (bind(c.fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
            return fail(c, "bind");
        }
        int rc = connect(c.fd, reinterpret_cast<const sockaddr*>(&config_.server),
                         sizeof config_.server);
        if (rc != 0 && errno != EINPROGRESS) return fail(c, "connect");
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.ptr = &c;
        epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev);
        c.state = State::kConnecting;
        ++opening_;
        ++open_;
    }

    void fail(Client& c, const char* what) {
        if (failed_ < 5)
            std::fprintf(stderr, "client %u: %s: %s\n", c.index, what, std::strerror(errno));
        ++failed_;
        drop(c, -1);
    }

    void drop(Client& c, int code) {
        if (c.fd >= 0) {
            close(c.fd);
            --open_;
        }
        c.fd = -1;
        if (c.state == State::kReady) --ready_;
        if (c.state != State::kReady && c.state != State::kIdle && c.state != State::kClosed) {
            --opening_;
        }
        if (code != 0) ++closes_[code];
        c.state = State::kClosed;
    }

    void on_writable(Client& c) {
        if (c.state == State::kConnecting) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0) {
                errno = err;
                return fail(c, "connect");
            }
            c.state = State::kUpgrading;
            c.out += "GET " + config_.path + " HTTP/1.1\r\nHost: " + config_.host_header +
                     "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n" +
                     adapter_.upgrade_headers();
            if (config_.deflate) {
                c.out += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
            }
            c.out += "\r\n";
        }
        flush(c);
    }

    void flush(Client& c) {
        while (!c.out.empty()) {
            ssize_t n = write(c.fd, c.out.data(), c.out.size());
            if (n < 0 && errno == EAGAIN) break;
            if (n <= 0) return fail(c, "write");
            c.out.erase(0, static_cast<size_t>(n));
        }
        epoll_event ev{};
        ev.events = EPOLLIN | (c.out.empty() ? 0u : uint32_t(EPOLLOUT));
        ev.data.ptr = &c;
        epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev);
        if (c.out.empty()) c.out.shrink_to_fit();
    }

    void send(Client& c, uint8_t opcode, std::string_view payload) {
        ws::append_client_frame(c.out, opcode, payload);
        flush(c);
    }

    void on_readable(Client& c, int64_t now) {
        size_t have = c.partial.size();
        std::memcpy(buf_.data(), c.partial.data(), have);
        ssize_t n = read(c.fd, buf_.data() + have, buf_.size() - have);
        if (n == 0 || (n < 0 && errno != EAGAIN)) return drop(c, 1006);
        if (n < 0) return;
        size_t len = have + static_cast<size_t>(n);
        size_t at = 0;
        if (c.state == State::kUpgrading && !read_upgrade(c, len, at)) return;
        while (c.fd >= 0 && at < len) {
            ws::Frame f;
            int64_t used = ws::parse_frame(buf_.data() + at, len - at, f);
            if (used < 0) return drop(c, 1009);
            if (used == 0) break;
            at += static_cast<size_t>(used);
            on_frame(c, f, now);
        }
        if (c.fd >= 0) c.partial.assign(buf_.data() + at, len - at);
        if (c.partial.empty()) c.partial.shrink_to_fit();
        if (len - at > buf_.size() / 2) buf_.resize(buf_.size() * 2);
    }

    bool read_upgrade(Client& c, size_t len, size_t& at) {
        std::string_view text(buf_.data(), len);
        size_t end = text.find("\r\n\r\n");
        if (end == std::string_view::npos) {
            if (len > kMaxResponseHeader)
                fail(c, "upgrade response too long");
            else
                c.partial.assign(buf_.data(), len);
            return false;
        }
        if (!text.starts_with("HTTP/1.1 101")) {
            std::fprintf(stderr, "client %u: upgrade refused: %.*s\n", c.index,
                         static_cast<int>(text.find("\r\n")), text.data());
            errno = 0;
            fail(c, "upgrade");
            return false;
        }
        if (text.substr(0, end).find("permessage-deflate") != std::string_view::npos) {
            c.inflater = std::make_unique<z_stream>();
            inflateInit2(c.inflater.get(), -15);
        }
        at = end + 4;
        c.state = State::kControl;
        std::string first = adapter_.on_open(c.index);
        if (!first.empty()) send(c, ws::kText, first);
        return c.fd >= 0;
    }

    void on_frame(Client& c, const ws::Frame& f, int64_t now) {
        ++counts_.frames;
        counts_.last_frame_ns = now;
        if (f.opcode == ws::kPing) return send(c, ws::kPong, f.payload);
        if (f.opcode == ws::kPong) return;
        if (f.opcode == ws::kClose) {
            int code =
                f.payload.size() >= 2 ? (uint8_t(f.payload[0]) << 8) | uint8_t(f.payload[1]) : 1005;
            return drop(c, code);
        }
        std::string inflated;
        std::string_view text = f.payload;
        if (f.compressed && c.inflater) text = inflated = inflate_message(*c.inflater, text);
        if (c.state == State::kControl) on_control(c, text, now);
        if (auto reply = adapter_.keepalive_reply(text); !reply.empty()) send(c, ws::kText, reply);
        scan(c, text, now);
    }

    void on_control(Client& c, std::string_view text, int64_t now) {
        ControlStep step = adapter_.on_control(c.index, text);
        if (step.failed) {
            std::fprintf(stderr, "client %u refused: %.*s\n", c.index,
                         static_cast<int>(std::min<size_t>(text.size(), 200)), text.data());
            errno = 0;
            return fail(c, "refused");
        }
        if (!step.send.empty()) send(c, ws::kText, step.send);
        if (step.retry_later) {
            c.retry_at_ns = now + int64_t(config_.retry_ms) * 1000000;
            retries_.push_back(&c);
        }
        if (step.ready) {
            c.state = State::kReady;
            --opening_;
            ++ready_;
        }
    }

    void send_retries(int64_t now) {
        std::vector<Client*> later;
        for (Client* c : retries_) {
            if (c->state != State::kControl) continue;
            if (c->retry_at_ns > now)
                later.push_back(c);
            else
                send(*c, ws::kText, adapter_.resubscribe(c->index));
        }
        retries_.swap(later);
    }

    void scan(Client& c, std::string_view text, int64_t now) {
        uint64_t first = win_first_.load(std::memory_order_relaxed);
        uint64_t last = win_last_.load(std::memory_order_relaxed);
        auto on = [&](SeqTs m) {
            if (m.seq < first || m.seq > last) return void(++counts_.outside);
            ++counts_.in_window;
            counts_.latency.add((now - m.ts_ns) / 1000);
            if (m.seq > c.last_seq) {
                c.last_seq = m.seq;
                c.unique.fetch_add(1, std::memory_order_relaxed);
            } else {
                ++counts_.duplicates;
            }
        };
        if (c.carry.empty()) {
            size_t keep = scan_seq_ts(text, on);
            if (keep) c.carry.assign(text.substr(text.size() - keep));
            return;
        }
        std::string joined = c.carry + std::string(text);
        size_t keep = scan_seq_ts(joined, on);
        c.carry.assign(joined, joined.size() - keep, keep);
    }

    const PoolConfig& config_;
    const ProtocolAdapter& adapter_;
    const std::atomic<uint64_t>& win_first_;
    const std::atomic<uint64_t>& win_last_;
    std::vector<char> buf_;
    int epfd_ = -1;
    std::thread thread_;
    std::atomic<bool> stop_{false}, open_request_{false};
    std::atomic<uint32_t> ready_{0}, failed_{0}, open_{0};
    int opening_ = 0;
    std::vector<Client*> mine_;
    std::deque<Client*> to_open_;
    std::vector<Client*> retries_;
    mutable std::mutex mu_;
    StepCounts counts_;
    std::map<int, uint64_t> closes_;
};

ClientPool::ClientPool(PoolConfig config, const ProtocolAdapter& adapter)
    : config_(std::move(config)), adapter_(adapter) {
    for (int t = 0; t < config_.threads; ++t) {
        threads_.push_back(
            std::make_unique<ReaderThread>(config_, adapter_, win_first_, win_last_));
    }
    for (uint32_t i = 0; i < config_.clients; ++i) {
        clients_.push_back(std::make_unique<Client>());
        clients_.back()->index = i;
        threads_[i % threads_.size()]->add(clients_.back().get());
    }
    for (auto& t : threads_) t->start();
}

ClientPool::~ClientPool() = default;

bool ClientPool::open_all(int64_t timeout_ms) {
    for (auto& t : threads_) t->request_open();
    int64_t deadline = monotonic_ns() + timeout_ms * 1000000;
    while (monotonic_ns() < deadline) {
        if (ready() == config_.clients) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return ready() == config_.clients;
}

uint32_t ClientPool::ready() const {
    uint32_t n = 0;
    for (auto& t : threads_) n += t->ready();
    return n;
}

uint32_t ClientPool::failed() const {
    uint32_t n = 0;
    for (auto& t : threads_) n += t->failed();
    return n;
}

uint32_t ClientPool::open_clients() const {
    uint32_t n = 0;
    for (auto& t : threads_) n += t->open_clients();
    return n;
}

void ClientPool::begin_window(uint64_t first, uint64_t last) {
    for (auto& t : threads_) t->reset_counts();
    for (auto& c : clients_) c->unique.store(0, std::memory_order_relaxed);
    win_last_.store(last);
    win_first_.store(first);
}

StepCounts ClientPool::counts() const {
    StepCounts sum;
    for (auto& t : threads_) t->add_counts(sum);
    for (auto& c : clients_) sum.unique += c->unique.load(std::memory_order_relaxed);
    return sum;
}

std::map<int, uint64_t> ClientPool::closes() const {
    std::map<int, uint64_t> sum;
    for (auto& t : threads_) t->add_closes(sum);
    return sum;
}

uint64_t ClientPool::unique_of(uint32_t client) const {
    return clients_[client]->unique.load(std::memory_order_relaxed);
}

}  // namespace bench
