#pragma once

#include <bb/plugin.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "push_client.hpp"

namespace bb::push {

// What became of one notification on one device.
enum class DeviceResult {
    kDelivered,  // 2xx: the push service took it
    kGone,       // 404/410: the subscription expired or was unsubscribed; removed from the store
    kRefused,    // another 4xx (400, 401, 403, 413): this request will never work; not retried
    kRetry,      // 429, 5xx, no answer: worth another attempt
};

std::string_view to_string(DeviceResult result);
std::optional<DeviceResult> device_result_from(std::string_view text);

// RFC 8030 section 5 and 8.4 (a 404 or 410 means the subscription is gone), RFC 6585 (429).
DeviceResult classify(const PushResponse& response);

struct DeviceReport {
    std::string device;
    DeviceResult result = DeviceResult::kRetry;
    std::string detail;  // "413 payload too large", "timeout", "settled before"
    std::optional<std::chrono::milliseconds> retry_after;
};

// The event's answer from its devices' results: retry while any device can still succeed
// (after the longest Retry-After, at most `max_retry_after`); reject only when every
// device refused; done otherwise, including when every device was gone.
plugin::Outcome verdict(const std::vector<DeviceReport>& reports,
                        std::chrono::milliseconds max_retry_after);

}  // namespace bb::push
