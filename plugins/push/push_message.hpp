#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "broker-bridge/result.hpp"
#include "broker-bridge/webpush/vapid.hpp"
#include "push_client.hpp"
#include "push_config.hpp"
#include "subscription_store.hpp"

namespace bb::push {

// The origin a VAPID token is for (RFC 8292 section 2: the push resource's origin, e.g.
// "https://fcm.googleapis.com"), or why `endpoint` is not a usable push endpoint: not an
// absolute https URL (http only when `allow_http`), or with user info.
Result<std::string> endpoint_origin(std::string_view endpoint, bool allow_http);

// Why `topic` cannot be a Topic header (RFC 8030 section 5.4: at most 32 characters of the
// base64url alphabet), empty when it can.
std::string topic_problem(std::string_view topic);

// Builds the encrypted, VAPID-signed request for one device. Thread-safe; tokens are
// signed once per push service origin and reused until half their lifetime is left.
class MessageBuilder {
public:
    explicit MessageBuilder(const PushConfig& config);

    // `topic` empty: no Topic header.
    Result<PushRequest> build(const Subscription& device, std::string_view payload,
                              const std::string& topic);

private:
    struct CachedToken {
        std::string authorization;
        int64_t expires_unix = 0;
    };

    Result<std::string> authorization_for(const std::string& origin);

    const PushConfig& config_;
    webpush::VapidKey key_;
    std::mutex mutex_;  // guards tokens_
    std::unordered_map<std::string, CachedToken> tokens_;
};

}  // namespace bb::push
