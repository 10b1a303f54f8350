#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bb::push {

// One POST to a push service (RFC 8030 section 5).
struct PushRequest {
    std::string endpoint;
    std::vector<std::string> headers;  // "Name: value"
    std::string body;                  // the aes128gcm message
};

struct PushResponse {
    long status = 0;    // HTTP status; 0 when no response came (see error)
    std::string error;  // transport failure or timeout, empty when a response came
    std::optional<std::chrono::milliseconds> retry_after;
    std::string body_excerpt;  // the first bytes of the reply, for the log
};

struct PushTimeouts {
    uint32_t connect_ms = 5000;
    uint32_t request_ms = 10000;
};

// Sends requests in parallel over libcurl's multi interface and waits for all. A new curl
// handle set per call: handle() runs on several threads, and libcurl handles are not
// shared between threads. Only http (when allowed) and https, no redirects.
class PushClient {
public:
    PushClient(PushTimeouts timeouts, bool allow_http);

    std::vector<PushResponse> send_all(const std::vector<PushRequest>& requests) const;

private:
    PushTimeouts timeouts_;
    bool allow_http_;
};

// A Retry-After value (RFC 9110 section 10.2.3): delay-seconds or an HTTP-date, as a delay
// from `now_unix`; nullopt when unreadable.
std::optional<std::chrono::milliseconds> parse_retry_after(const std::string& value,
                                                           int64_t now_unix);

}  // namespace bb::push
