#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace bb::itest {

// One scripted answer of a device: status and headers (e.g. Retry-After).
struct Reply {
    int status = 201;
    std::map<std::string, std::string> headers;
};

// A device as the receiver made it: where to push and the keys a browser would report.
struct ReceiverDevice {
    std::string endpoint;
    std::string p256dh;
    std::string auth;
};

// One request the receiver got, after decrypting and verifying it.
struct ReceivedPush {
    std::string device;
    int64_t at_ms = 0;
    int status = 0;
    std::vector<std::string> problems;  // failed checks; empty for a well-formed push
    nlohmann::json payload;             // the decrypted text (null when it did not decrypt)
    nlohmann::json ttl, urgency, topic;
};

// tests/push-receiver/receiver.mjs in Node.js as a child process: a push service on a free
// loopback port that decrypts with http_ece and verifies VAPID with jose. The destructor
// stops it by its PID.
class PushReceiver {
public:
    // `devices`: name → replies in order (the last repeats). Fails the test if it does not
    // start within a deadline.
    PushReceiver(const std::filesystem::path& dir, const std::string& vapid_public_key,
                 const std::string& subject,
                 const std::map<std::string, std::vector<Reply>>& devices);
    ~PushReceiver();
    PushReceiver(const PushReceiver&) = delete;
    PushReceiver& operator=(const PushReceiver&) = delete;

    const ReceiverDevice& device(const std::string& name) const { return devices_.at(name); }
    std::vector<ReceivedPush> received() const;
    std::vector<ReceivedPush> received(const std::string& device) const;
    std::string log_text() const;

private:
    std::filesystem::path dir_;
    std::map<std::string, ReceiverDevice> devices_;
    pid_t pid_ = -1;
};

}  // namespace bb::itest
