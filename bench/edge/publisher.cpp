#include "publisher.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <stdexcept>

#include "clock.hpp"
#include "ws_frame.hpp"

namespace bench {
namespace {

void check(natsStatus s, const char* what) {
    if (s != NATS_OK) {
        throw std::runtime_error(std::string(what) + ": " + natsStatus_GetText(s) + " (" +
                                 nats_GetLastError(nullptr) + ")");
    }
}

void sleep_until(int64_t due_ns) {
    timespec t{static_cast<time_t>(due_ns / 1000000000), static_cast<long>(due_ns % 1000000000)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, nullptr);
}

}  // namespace

std::string make_payload(uint64_t seq, int64_t ts_ns, const std::string& pad) {
    return "{\"seq\":" + std::to_string(seq) + ",\"ts\":" + std::to_string(ts_ns) + ",\"pad\":\"" +
           pad + "\"}";
}

NatsPublisher::NatsPublisher(const std::string& url, bool jetstream,
                             std::function<std::string(uint64_t)> subject_of, size_t payload_bytes)
    : subject_of_(std::move(subject_of)), pad_(payload_bytes > 48 ? payload_bytes - 48 : 1, 'x') {
    natsOptions* opts = nullptr;
    check(natsOptions_Create(&opts), "nats options");
    natsOptions_SetURL(opts, url.c_str());
    natsOptions_SetName(opts, "bench-edge-publisher");
    natsStatus s = natsConnection_Connect(&nc_, opts);
    natsOptions_Destroy(opts);
    check(s, "nats connect");
    if (jetstream) {
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.PublishAsync.MaxPending = 4096;
        check(natsConnection_JetStream(&js_, nc_, &jo), "jetstream context");
    }
}

NatsPublisher::~NatsPublisher() {
    if (js_) jsCtx_Destroy(js_);
    if (nc_) natsConnection_Destroy(nc_);
}

double NatsPublisher::publish(uint64_t first, uint64_t count, double rate) {
    int64_t start = monotonic_ns();
    double interval_ns = 1e9 / rate;
    for (uint64_t k = 0; k < count; ++k) {
        int64_t due = start + static_cast<int64_t>(std::llround(double(k) * interval_ns));
        if (monotonic_ns() < due) sleep_until(due);
        uint64_t seq = first + k;
        std::string body = make_payload(seq, monotonic_ns(), pad_);
        std::string subject = subject_of_(seq);
        if (js_) {
            check(js_PublishAsync(js_, subject.c_str(), body.data(), static_cast<int>(body.size()),
                                  nullptr),
                  "jetstream publish");
        } else {
            check(natsConnection_Publish(nc_, subject.c_str(), body.data(),
                                         static_cast<int>(body.size())),
                  "publish");
        }
    }
    double seconds = double(monotonic_ns() - start) / 1e9;
    if (js_) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = 30000;
        check(js_PublishAsyncComplete(js_, &po), "jetstream acks");
    } else {
        check(natsConnection_FlushTimeout(nc_, 30000), "flush");
    }
    return seconds;
}

FloorPublisher::FloorPublisher(const std::string& host, int port, uint32_t per_user_clients,
                               size_t payload_bytes)
    : per_user_clients_(per_user_clients), payload_bytes_(payload_bytes) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        throw std::runtime_error("floor control connection refused");
    }
    timeval tv{120, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string req = "GET / HTTP/1.1\r\nHost: " + host +
                      "\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n";
    if (write(fd_, req.data(), req.size()) != ssize_t(req.size())) {
        throw std::runtime_error("floor control: write");
    }
    std::string got;
    char buf[1024];
    while (got.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = read(fd_, buf, sizeof buf);
        if (n <= 0) throw std::runtime_error("floor control: no upgrade response");
        got.append(buf, static_cast<size_t>(n));
    }
}

FloorPublisher::~FloorPublisher() {
    if (fd_ >= 0) close(fd_);
}

double FloorPublisher::publish(uint64_t first, uint64_t count, double rate) {
    std::string cmd = "pub " + std::to_string(first) + " " + std::to_string(count) + " " +
                      std::to_string(rate) + " " + std::to_string(per_user_clients_) + " " +
                      std::to_string(payload_bytes_);
    std::string frame;
    ws::append_client_frame(frame, ws::kText, cmd);
    if (write(fd_, frame.data(), frame.size()) != ssize_t(frame.size())) {
        throw std::runtime_error("floor control: write");
    }
    std::string got;
    char buf[512];
    for (;;) {  // the reply: one small unmasked text frame "done <seconds>"
        ssize_t n = read(fd_, buf, sizeof buf);
        if (n <= 0) throw std::runtime_error("floor control: no reply to pub");
        got.append(buf, static_cast<size_t>(n));
        ws::Frame f;
        if (ws::parse_frame(got.data(), got.size(), f) > 0) {
            std::string text(f.payload);
            if (!text.starts_with("done ")) throw std::runtime_error("floor: " + text);
            return std::stod(text.substr(5));
        }
    }
}

}  // namespace bench
