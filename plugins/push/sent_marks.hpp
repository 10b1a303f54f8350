#pragma once

#include <bb/plugin.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "broker-bridge/result.hpp"
#include "device_outcome.hpp"

namespace bb::push {

// Which (event, device) pairs are taken or settled, in the `sent` bucket, so a retried or
// redelivered event reaches only the devices still open, and two copies of one event
// handled at once (a producer that published it twice) send it once:
//
//   absent          open: claim() creates "sending:<unix ms>" (kv_create: one winner)
//   sending:<ms>    another delivery is sending; after `claim_timeout_ms` it counts as
//                   crashed and may be taken over (compare-and-set on its revision)
//   delivered|gone|refused   settled: never sent again while the bucket keeps the key
//
// The bucket's TTL bounds how long an event id is remembered.
class SentMarks {
public:
    SentMarks(const plugin::Host& host, std::string bucket, uint32_t claim_timeout_ms);

    enum class State { kClaimed, kSettled, kBusy };
    struct Claim {
        State state = State::kBusy;
        DeviceResult settled = DeviceResult::kRetry;  // when kSettled
    };

    Result<Claim> claim(std::string_view event_id, std::string_view device) const;
    // After the push service answered with a final result.
    Result<void> settle(std::string_view event_id, std::string_view device,
                        DeviceResult result) const;
    // After an answer worth a retry: the pair is open again.
    Result<void> release(std::string_view event_id, std::string_view device) const;

private:
    std::string key(std::string_view event_id, std::string_view device) const;

    const plugin::Host& host_;
    std::string bucket_;
    uint32_t claim_timeout_ms_;
};

}  // namespace bb::push
