// N WebSocket clients spread over a few reader threads, each with its own epoll set. A
// thread opens its clients (a bounded number at a time, from several 127.0.0.x source
// addresses so one address's ~28k ports are no limit), runs each through the adapter's
// handshake, then reads: every frame is scanned for messages, each message inside the
// current step's window is timed and counted against its client.
#pragma once

#include <netinet/in.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "latency_histogram.hpp"
#include "protocol_adapter.hpp"

namespace bench {

struct PoolConfig {
    sockaddr_in server{};
    std::string host_header;  // host:port
    std::string path = "/";
    uint32_t clients = 0;
    int threads = 2;
    int source_addresses = 8;  // 127.0.0.1 .. 127.0.0.<n>
    int max_opening = 64;      // per thread, connections between connect() and ready
    int retry_ms = 100;        // before a subscribe that got `limit` is sent again
    bool deflate = false;      // offer permessage-deflate
};

// Counters of one step, summed over the threads.
struct StepCounts {
    LatencyHistogram latency;
    uint64_t in_window = 0;   // messages of the window received (duplicates included)
    uint64_t unique = 0;      // distinct messages of the window, per client
    uint64_t duplicates = 0;  // a seq not above the client's last one
    uint64_t outside = 0;     // messages of earlier windows that arrived late
    uint64_t frames = 0;
    int64_t last_frame_ns = 0;
};

struct Client;
class ReaderThread;

class ClientPool {
public:
    ClientPool(PoolConfig config, const ProtocolAdapter& adapter);
    ~ClientPool();
    // Opens every client that is not open; true when all are ready within `timeout_ms`.
    bool open_all(int64_t timeout_ms);
    uint32_t ready() const;
    uint32_t failed() const;
    // Starts counting messages with seq in [first, last] (step window).
    void begin_window(uint64_t first, uint64_t last);
    StepCounts counts() const;
    // Clients closed by the server since start, by close code.
    std::map<int, uint64_t> closes() const;
    uint32_t open_clients() const;
    // Distinct messages of the current window client i received.
    uint64_t unique_of(uint32_t client) const;

private:
    PoolConfig config_;
    const ProtocolAdapter& adapter_;
    std::vector<std::unique_ptr<Client>> clients_;
    std::atomic<uint64_t> win_first_{1}, win_last_{0};  // no window yet
    std::vector<std::unique_ptr<ReaderThread>> threads_;
};

}  // namespace bench
