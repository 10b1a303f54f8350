#pragma once

#include <bb/plugin.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "broker-bridge/result.hpp"

namespace bb::push {

struct Subscription {
    std::string device;      // device_id(endpoint)
    std::string endpoint;    // https URL of the push service
    std::string p256dh;      // base64url, as the browser gave it
    std::string auth;        // base64url
    uint64_t added_seq = 0;  // EVENTS sequence of the event that stored it: oldest goes first
};

// The subscriptions of each user in one key-value document, `user.<id>` →
// {"devices": {"<device id>": {...}}}. One document per user, not one key per device,
// because the host's key-value calls cannot list keys: a notification reads all of a
// user's devices with one kv_get. Every change is a compare-and-set (kv_create/kv_update)
// repeated on a conflict, so replicas and concurrent events never lose each other's
// writes. Thread-safe: it holds no state but the host.
class SubscriptionStore {
public:
    SubscriptionStore(const plugin::Host& host, std::string bucket, uint32_t max_devices);

    Result<std::vector<Subscription>> devices(const std::string& user) const;
    // Adds or replaces the device; beyond max_devices the oldest is dropped.
    Result<void> add(const std::string& user, const Subscription& subscription) const;
    // Removing what is not there succeeds.
    Result<void> remove(const std::string& user, const std::string& device) const;

private:
    template <typename Change>
    Result<void> change(const std::string& user, Change&& edit) const;

    const plugin::Host& host_;
    std::string bucket_;
    uint32_t max_devices_;
};

}  // namespace bb::push
