#include "integration/edge_ws_client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <stdexcept>

namespace bb::itest {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

struct WsClient::Impl {
    asio::io_context io;
    websocket::stream<tcp::socket> ws{io};
    beast::flat_buffer buffer;
    std::deque<std::string> writes;
    std::thread thread;
    bool msgpack = false;
    bool paused = false;   // I/O thread only
    bool reading = false;  // I/O thread only

    mutable std::mutex mu;
    std::condition_variable changed;
    std::deque<nlohmann::json> inbox;
    std::vector<nlohmann::json> skipped;
    std::optional<int> close_code;
    size_t frames = 0;

    void read_loop() {
        if (paused) {
            reading = false;
            return;
        }
        reading = true;
        ws.async_read(buffer, [this](beast::error_code ec, size_t) {
            if (ec) return closed(ec);
            std::string frame = beast::buffers_to_string(buffer.data());
            buffer.consume(buffer.size());
            take(frame);
            read_loop();
        });
    }

    void take(const std::string& frame) {
        std::vector<nlohmann::json> messages;
        if (msgpack) {
            size_t at = 0;
            while (at < frame.size()) {
                auto first = reinterpret_cast<const uint8_t*>(frame.data()) + at;
                size_t used = 0;
                // One value at a time: msgpack has no separator between values.
                for (size_t n = 1; n <= frame.size() - at; ++n) {
                    auto v = nlohmann::json::from_msgpack(first, first + n, true, false);
                    if (!v.is_discarded()) {
                        messages.push_back(v);
                        used = n;
                        break;
                    }
                }
                if (used == 0) break;
                at += used;
            }
        } else {
            size_t start = 0;
            while (start <= frame.size()) {
                size_t nl = frame.find('\n', start);
                if (nl == std::string::npos) nl = frame.size();
                messages.push_back(nlohmann::json::parse(frame.substr(start, nl - start)));
                start = nl + 1;
            }
        }
        std::lock_guard lock(mu);
        ++frames;
        for (auto& m : messages) inbox.push_back(std::move(m));
        changed.notify_all();
    }

    void closed(beast::error_code ec) {
        std::lock_guard lock(mu);
        // A received close frame sets reason() even when the socket fails right after it.
        int code = static_cast<int>(ws.reason().code);
        close_code = code != 0 ? code : (ec == websocket::error::closed ? 1005 : 1006);
        changed.notify_all();
    }

    void write_next() {
        ws.binary(msgpack);
        ws.async_write(asio::buffer(writes.front()), [this](beast::error_code ec, size_t) {
            writes.pop_front();
            if (!ec && !writes.empty()) write_next();
        });
    }
};

WsClient::WsClient(int port, WsOptions o) : impl_(std::make_unique<Impl>()) {
    Impl& i = *impl_;
    i.msgpack = o.subprotocol == "bridge.msgpack.v1";
    tcp::socket& sock = i.ws.next_layer();
    sock.open(tcp::v4());
    if (o.receive_buffer > 0)
        sock.set_option(asio::socket_base::receive_buffer_size(o.receive_buffer));
    sock.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)));
    i.ws.set_option(websocket::stream_base::decorator([o](websocket::request_type& req) {
        if (!o.subprotocol.empty())
            req.set(beast::http::field::sec_websocket_protocol, o.subprotocol);
        if (!o.origin.empty()) req.set(beast::http::field::origin, o.origin);
    }));
    i.ws.read_message_max(64 * 1024 * 1024);
    i.ws.handshake("127.0.0.1:" + std::to_string(port), o.path);
    if (o.read) asio::post(i.io, [&i] { i.read_loop(); });
    i.thread = std::thread([&i] {
        auto guard = asio::make_work_guard(i.io);
        i.io.run();
    });
}

WsClient::~WsClient() {
    impl_->io.stop();
    impl_->thread.join();
}

void WsClient::resume_reading() {
    asio::post(impl_->io, [this] {
        impl_->paused = false;
        if (!impl_->reading) impl_->read_loop();
    });
}

void WsClient::pause_reading() {
    asio::post(impl_->io, [this] { impl_->paused = true; });
}

void WsClient::send_text(const std::string& text) {
    asio::post(impl_->io, [this, text] {
        impl_->writes.push_back(text);
        if (impl_->writes.size() == 1) impl_->write_next();
    });
}

void WsClient::send(const nlohmann::json& message) {
    if (!impl_->msgpack) return send_text(message.dump());
    auto bytes = nlohmann::json::to_msgpack(message);
    send_text(std::string(bytes.begin(), bytes.end()));
}

std::optional<nlohmann::json> WsClient::next(std::chrono::milliseconds timeout) {
    std::unique_lock lock(impl_->mu);
    impl_->changed.wait_for(lock, timeout,
                            [&] { return !impl_->inbox.empty() || impl_->close_code.has_value(); });
    if (impl_->inbox.empty()) return std::nullopt;
    nlohmann::json m = std::move(impl_->inbox.front());
    impl_->inbox.pop_front();
    return m;
}

std::optional<nlohmann::json> WsClient::next_op(const std::string& op,
                                                std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        auto m = next(left);
        if (!m) return std::nullopt;
        if (m->value("op", "") == op) return m;
        std::lock_guard lock(impl_->mu);
        impl_->skipped.push_back(*m);
    }
}

int WsClient::close_code(std::chrono::milliseconds timeout) {
    std::unique_lock lock(impl_->mu);
    impl_->changed.wait_for(lock, timeout, [&] { return impl_->close_code.has_value(); });
    return impl_->close_code.value_or(-1);
}

size_t WsClient::frames() const {
    std::lock_guard lock(impl_->mu);
    return impl_->frames;
}

std::vector<nlohmann::json> WsClient::skipped() const {
    std::lock_guard lock(impl_->mu);
    return impl_->skipped;
}

nlohmann::json WsClient::connect(const std::string& token, int id) {
    send({{"op", "connect"}, {"id", id}, {"token", token}});
    auto r = next();
    return r ? *r : nlohmann::json();
}

nlohmann::json WsClient::subscribe(const std::string& channel, int id,
                                   const nlohmann::json& extra) {
    nlohmann::json m = {{"op", "subscribe"}, {"id", id}, {"channel", channel}};
    for (auto& [k, v] : extra.items()) m[k] = v;
    send(m);
    auto r = next();
    return r ? *r : nlohmann::json();
}

std::vector<int> read_values(WsClient& c, size_t count) {
    std::vector<int> out;
    while (out.size() < count) {
        auto m = c.next_op("message", std::chrono::seconds(5));
        if (!m) break;
        out.push_back((*m)["data"]["n"].get<int>());
    }
    return out;
}

}  // namespace bb::itest
