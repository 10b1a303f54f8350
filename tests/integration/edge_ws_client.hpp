#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

// A WebSocket client for the edge tests, on Boost.Beast: one I/O thread per client, incoming
// frames split into messages (newline-separated JSON, or consecutive MessagePack values) and
// queued for the test thread, which waits on them with deadlines.
namespace bb::itest {

struct WsOptions {
    std::string subprotocol = "bridge.json.v1";  // empty: none asked for
    std::string path = "/ws";
    std::string origin;      // empty: no Origin header
    int receive_buffer = 0;  // SO_RCVBUF before connecting; 0: the system's
    bool read = true;        // false: read nothing until resume_reading()
};

class WsClient {
public:
    // Connects and completes the upgrade; throws std::runtime_error when either fails.
    WsClient(int port, WsOptions options = {});
    ~WsClient();
    WsClient(const WsClient&) = delete;
    WsClient& operator=(const WsClient&) = delete;

    void send(const nlohmann::json& message);  // JSON text, or MessagePack for msgpack clients
    void send_text(const std::string& text);
    // After pause_reading() the frame being read still arrives; then reading stops (the
    // socket's receive buffer fills and the server sees a client that fell behind).
    void pause_reading();
    void resume_reading();

    // The next message, or nullopt when none arrives in time (or the connection closed).
    std::optional<nlohmann::json> next(std::chrono::milliseconds timeout = std::chrono::seconds(5));
    // The next message with this op, skipping others (kept in skipped()).
    std::optional<nlohmann::json> next_op(
        const std::string& op, std::chrono::milliseconds timeout = std::chrono::seconds(5));
    // The close code once the server closed (1006 for a close without a close frame), -1
    // when the connection is still open at the deadline.
    int close_code(std::chrono::milliseconds timeout = std::chrono::seconds(5));
    size_t frames() const;
    std::vector<nlohmann::json> skipped() const;

    // connect, then wait for `connected`; returns the reply (or null json).
    nlohmann::json connect(const std::string& token, int id = 1);
    nlohmann::json subscribe(const std::string& channel, int id,
                             const nlohmann::json& extra = nlohmann::json::object());

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The `data.n` of the next `count` messages, fewer when one does not arrive within 5 s.
std::vector<int> read_values(WsClient& c, size_t count);

}  // namespace bb::itest
