#include "sent_marks.hpp"

#include <charconv>
#include <chrono>
#include <utility>

#include "key_names.hpp"

namespace bb::push {
namespace {

constexpr std::string_view kSending = "sending:";

int64_t now_unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string sending_value() { return std::string(kSending) + std::to_string(now_unix_ms()); }

// When the claim in `value` was taken; 0 (long ago) when unreadable.
int64_t claimed_at(std::string_view value) {
    value.remove_prefix(kSending.size());
    int64_t at = 0;
    std::from_chars(value.data(), value.data() + value.size(), at);
    return at;
}

}  // namespace

SentMarks::SentMarks(const plugin::Host& host, std::string bucket, uint32_t claim_timeout_ms)
    : host_(host), bucket_(std::move(bucket)), claim_timeout_ms_(claim_timeout_ms) {}

std::string SentMarks::key(std::string_view event_id, std::string_view device) const {
    return sent_key(host_.binding_name(), event_id, device);
}

Result<SentMarks::Claim> SentMarks::claim(std::string_view event_id,
                                          std::string_view device) const {
    const std::string k = key(event_id, device);
    plugin::KvRevision created = host_.kv_create(bucket_, k, sending_value());
    if (created) return Claim{State::kClaimed};
    if (created.code != BB_EXISTS) return make_error("claiming " + k + " failed: " + created.error);

    plugin::KvEntry entry = host_.kv_get(bucket_, k);
    if (entry.code == BB_NOT_FOUND) return Claim{State::kBusy};  // released meanwhile: next time
    if (!entry) return make_error("reading " + k + " failed: " + entry.error);
    if (!entry.value.starts_with(kSending)) {
        // A value we cannot read still says the pair was settled: never send it twice.
        return Claim{State::kSettled,
                     device_result_from(entry.value).value_or(DeviceResult::kDelivered)};
    }
    if (now_unix_ms() - claimed_at(entry.value) < claim_timeout_ms_) return Claim{State::kBusy};
    // The claimer outlived any send it could have been making: it is gone. Take over, unless
    // another delivery just did.
    plugin::KvRevision taken = host_.kv_update(bucket_, k, sending_value(), entry.revision);
    if (taken) return Claim{State::kClaimed};
    if (taken.code == BB_EXISTS) return Claim{State::kBusy};
    return make_error("claiming " + k + " failed: " + taken.error);
}

Result<void> SentMarks::settle(std::string_view event_id, std::string_view device,
                               DeviceResult result) const {
    const std::string k = key(event_id, device);
    plugin::KvRevision written = host_.kv_put(bucket_, k, to_string(result));
    if (!written) return make_error("writing " + k + " failed: " + written.error);
    return {};
}

Result<void> SentMarks::release(std::string_view event_id, std::string_view device) const {
    const std::string k = key(event_id, device);
    plugin::Status deleted = host_.kv_delete(bucket_, k);
    if (!deleted && deleted.code != BB_NOT_FOUND) {
        return make_error("releasing " + k + " failed: " + deleted.error);
    }
    return {};
}

}  // namespace bb::push
