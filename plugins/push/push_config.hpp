#pragma once

#include <bb/plugin.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "broker-bridge/template.hpp"

namespace bb::push {

// Where a PushSubscriptionAdded / PushSubscriptionRemoved event holds the subscription.
// The defaults read the browser's PushSubscription.toJSON() plus the user's id.
struct SubscriptionEvents {
    std::string added_type = "PushSubscriptionAdded";
    std::string removed_type = "PushSubscriptionRemoved";
    tmpl::Template user;
    tmpl::Template endpoint;
    tmpl::Template p256dh;  // read for added events only
    tmpl::Template auth;    // read for added events only
};

// The binding's `config:`, read once at create(); only read afterwards.
struct PushConfig {
    std::string vapid_subject{};      // mailto: or https: contact, the JWT's sub
    std::string vapid_private_key{};  // base64url scalar or PEM text, never logged
    uint32_t token_lifetime_ms = 12 * 3600 * 1000;

    std::string subscriptions_bucket = "push_subscriptions";
    std::string sent_bucket = "push_sent";
    SubscriptionEvents subscriptions;

    tmpl::Template user;                          // whose devices a notification goes to
    std::optional<tmpl::JsonTemplate> payload{};  // absent: the event data as it arrived
    uint32_t ttl_seconds = 86400;                 // the TTL header (RFC 8030 section 5.2)
    std::string urgency{};                        // empty: no Urgency header (section 5.3)
    std::optional<tmpl::Template> topic{};        // Topic header (section 5.4)

    uint32_t connect_timeout_ms = 5000;
    uint32_t request_timeout_ms = 10000;
    uint32_t max_retry_after_ms = 3600 * 1000;
    uint32_t max_devices_per_user = 20;
    bool allow_http_endpoints = false;  // plain http:// endpoints: test receivers only
};

// Reads the binding's `config:` YAML text; relative key files resolve through `host`.
// Throws bb::ConfigError naming the key ("vapid.private_key_file: cannot read ...") for an
// unknown or repeated key, a wrong type, a bad template or an unusable VAPID key.
PushConfig parse_push_config(const std::string& yaml_text, const plugin::Host& host);

}  // namespace bb::push
