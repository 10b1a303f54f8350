#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace bb {

// Retry delays for a failed attempt: initial * factor^(attempt-1), capped at max, then
// spread by +/- jitter (a fraction, 0..1) so many failing events do not retry in lockstep.
struct BackoffPolicy {
    std::chrono::milliseconds initial{1000};
    double factor = 2.0;
    std::chrono::milliseconds max{30000};
    double jitter = 0.2;
};

// Delay before the retry that follows failed attempt number `failed_attempt` (1-based).
// `unit_random` is a number in [0, 1): the caller owns the random source so tests are exact.
// The result lies in [nominal * (1 - jitter), min(nominal * (1 + jitter), max)]: the cap holds
// after jitter, and at the cap the spread goes downwards only, so capped retries still do not
// line up. Attempt 0 counts as attempt 1; a unit_random outside [0, 1) is clamped into it.
std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, uint32_t failed_attempt,
                                        double unit_random);

// The same without jitter: the nominal schedule, for docs and tests.
std::chrono::milliseconds backoff_nominal(const BackoffPolicy& policy, uint32_t failed_attempt);

// Why the policy cannot be used, or nothing when it can. Refused: initial < 0, factor < 1,
// jitter outside [0, 1], max < initial. The text names the field (`factor must be at least 1,
// got 0.5`); the caller prefixes the place, such as bindings[2].backoff.
std::optional<std::string> validate(const BackoffPolicy& policy);

}  // namespace bb
