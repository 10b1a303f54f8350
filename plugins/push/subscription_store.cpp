#include "subscription_store.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <utility>

#include "key_names.hpp"

namespace bb::push {
namespace {

using nlohmann::json;

// Compare-and-set rounds before giving up for this attempt (the event is retried): enough
// for the handful of writers one user's document ever has at once.
constexpr int kMaxCasRounds = 16;

json to_json(const Subscription& s) {
    return json{{"endpoint", s.endpoint},
                {"p256dh", s.p256dh},
                {"auth", s.auth},
                {"added_seq", s.added_seq}};
}

Subscription from_json(const std::string& device, const json& j) {
    Subscription s;
    s.device = device;
    s.endpoint = j.value("endpoint", "");
    s.p256dh = j.value("p256dh", "");
    s.auth = j.value("auth", "");
    s.added_seq = j.value("added_seq", uint64_t{0});
    return s;
}

Result<json> parse_document(const std::string& key, const std::string& text) {
    json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("devices") ||
        !doc["devices"].is_object()) {
        return make_error("subscriptions of " + key + " are not a device document");
    }
    return doc;
}

void drop_oldest(json& devices, uint32_t max_devices) {
    while (devices.size() > max_devices) {
        auto oldest = devices.begin();
        for (auto it = devices.begin(); it != devices.end(); ++it) {
            if (it->value("added_seq", uint64_t{0}) < oldest->value("added_seq", uint64_t{0})) {
                oldest = it;
            }
        }
        devices.erase(oldest);
    }
}

}  // namespace

SubscriptionStore::SubscriptionStore(const plugin::Host& host, std::string bucket,
                                     uint32_t max_devices)
    : host_(host), bucket_(std::move(bucket)), max_devices_(max_devices) {}

Result<std::vector<Subscription>> SubscriptionStore::devices(const std::string& user) const {
    const std::string key = user_key(user);
    plugin::KvEntry entry = host_.kv_get(bucket_, key);
    if (entry.code == BB_NOT_FOUND) return std::vector<Subscription>{};
    if (!entry) return make_error("reading " + key + " failed: " + entry.error);
    auto doc = parse_document(key, entry.value);
    if (!doc) return doc.error();
    std::vector<Subscription> out;
    for (const auto& [device, value] : (*doc)["devices"].items()) {
        if (value.is_object()) out.push_back(from_json(device, value));
    }
    return out;
}

template <typename Change>
Result<void> SubscriptionStore::change(const std::string& user, Change&& edit) const {
    const std::string key = user_key(user);
    for (int round = 0; round < kMaxCasRounds; ++round) {
        plugin::KvEntry entry = host_.kv_get(bucket_, key);
        if (!entry && entry.code != BB_NOT_FOUND) {
            return make_error("reading " + key + " failed: " + entry.error);
        }
        const bool exists = entry.code == BB_OK;
        json doc = json{{"devices", json::object()}};
        if (exists) {
            auto parsed = parse_document(key, entry.value);
            if (!parsed) return parsed.error();
            doc = std::move(*parsed);
        }
        if (!edit(doc["devices"])) return {};  // nothing to change
        const std::string text = doc.dump();
        plugin::KvRevision written = exists ? host_.kv_update(bucket_, key, text, entry.revision)
                                            : host_.kv_create(bucket_, key, text);
        if (written) return {};
        if (written.code != BB_EXISTS)
            return make_error("writing " + key + " failed: " + written.error);
        // Someone else changed the document since we read it: read it again.
    }
    return make_error("writing " + key + " kept conflicting with other writers");
}

Result<void> SubscriptionStore::add(const std::string& user, const Subscription& s) const {
    return change(user, [&](json& devices) {
        devices[s.device] = to_json(s);
        drop_oldest(devices, max_devices_);
        return true;
    });
}

Result<void> SubscriptionStore::remove(const std::string& user, const std::string& device) const {
    return change(user, [&](json& devices) { return devices.erase(device) > 0; });
}

}  // namespace bb::push
