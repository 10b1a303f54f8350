#include "device_outcome.hpp"

#include <algorithm>

namespace bb::push {
namespace {

// The reason names at most this many devices: it ends up in a 511-byte DLQ header.
constexpr std::size_t kDevicesNamed = 4;

std::string describe(const std::vector<DeviceReport>& reports, DeviceResult which) {
    std::string text;
    std::size_t named = 0;
    std::size_t total = 0;
    for (const DeviceReport& r : reports) {
        if (r.result != which) continue;
        ++total;
        if (named++ < kDevicesNamed) {
            text += (text.empty() ? "" : ", ") + r.device.substr(0, 8) + " " + r.detail;
        }
    }
    if (total > kDevicesNamed) text += ", and " + std::to_string(total - kDevicesNamed) + " more";
    return text;
}

}  // namespace

std::string_view to_string(DeviceResult result) {
    switch (result) {
        case DeviceResult::kDelivered:
            return "delivered";
        case DeviceResult::kGone:
            return "gone";
        case DeviceResult::kRefused:
            return "refused";
        case DeviceResult::kRetry:
            return "retry";
    }
    return "retry";
}

std::optional<DeviceResult> device_result_from(std::string_view text) {
    for (auto r : {DeviceResult::kDelivered, DeviceResult::kGone, DeviceResult::kRefused,
                   DeviceResult::kRetry}) {
        if (to_string(r) == text) return r;
    }
    return std::nullopt;
}

DeviceResult classify(const PushResponse& response) {
    const long s = response.status;
    if (s >= 200 && s < 300) return DeviceResult::kDelivered;
    if (s == 404 || s == 410) return DeviceResult::kGone;
    if (s == 0 || s == 429 || s >= 500) return DeviceResult::kRetry;
    // Other 4xx, and redirects, which a push service has no reason to send and we do not
    // follow: the same request would get the same answer.
    return DeviceResult::kRefused;
}

plugin::Outcome verdict(const std::vector<DeviceReport>& reports,
                        std::chrono::milliseconds max_retry_after) {
    auto count = [&](DeviceResult which) {
        return std::count_if(reports.begin(), reports.end(),
                             [&](const DeviceReport& r) { return r.result == which; });
    };
    if (count(DeviceResult::kRetry) > 0) {
        std::optional<std::chrono::milliseconds> delay;
        for (const DeviceReport& r : reports) {
            if (r.result == DeviceResult::kRetry && r.retry_after) {
                delay = std::max(delay.value_or(r.retry_after.value()), r.retry_after.value());
            }
        }
        std::string reason = "push to retry on " + std::to_string(count(DeviceResult::kRetry)) +
                             " of " + std::to_string(reports.size()) +
                             " devices: " + describe(reports, DeviceResult::kRetry);
        if (!delay) return plugin::Outcome::retry(std::move(reason));
        return plugin::Outcome::retry(std::move(reason), std::min(*delay, max_retry_after));
    }
    if (!reports.empty() && count(DeviceResult::kRefused) == static_cast<long>(reports.size())) {
        return plugin::Outcome::reject("push refused by every device: " +
                                       describe(reports, DeviceResult::kRefused));
    }
    return plugin::Outcome::done();
}

}  // namespace bb::push
