#include "broker-bridge/backoff.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace bb {
namespace {

using std::chrono::milliseconds;

// The arithmetic runs in double so factor^attempt cannot overflow an integer; a policy that
// validate() would refuse is clamped here rather than trusted, so no input gives a negative
// delay or one above the cap.
milliseconds effective_max(const BackoffPolicy& policy) {
    return std::max(policy.max, milliseconds{0});
}

double nominal_ms(const BackoffPolicy& policy, uint32_t failed_attempt) {
    const double cap = static_cast<double>(effective_max(policy).count());
    const double initial = std::max(0.0, static_cast<double>(policy.initial.count()));
    if (initial == 0.0) {
        return 0.0;  // checked first: 0 * pow(...) would be NaN once pow overflows to inf
    }
    const uint32_t exponent = failed_attempt == 0 ? 0 : failed_attempt - 1;
    const double value = initial * std::pow(policy.factor, static_cast<double>(exponent));
    // pow gives inf long before attempt numbers run out (2^1024); inf and NaN take the cap.
    if (!(value < cap)) {
        return cap;
    }
    return std::max(0.0, value);
}

// Rounds to whole milliseconds without ever passing the cap: a double near INT64_MAX would
// overflow llround, and the cap itself is exact as an integer.
milliseconds to_millis(const BackoffPolicy& policy, double ms) {
    const milliseconds cap = effective_max(policy);
    if (!(ms < static_cast<double>(cap.count()))) {
        return cap;
    }
    return std::clamp(milliseconds{std::llround(std::max(0.0, ms))}, milliseconds{0}, cap);
}

}  // namespace

milliseconds backoff_nominal(const BackoffPolicy& policy, uint32_t failed_attempt) {
    return to_millis(policy, nominal_ms(policy, failed_attempt));
}

milliseconds backoff_delay(const BackoffPolicy& policy, uint32_t failed_attempt,
                           double unit_random) {
    const double nominal = nominal_ms(policy, failed_attempt);
    const double cap = static_cast<double>(effective_max(policy).count());
    const double jitter = std::isnan(policy.jitter) ? 0.0 : std::clamp(policy.jitter, 0.0, 1.0);
    const double u = std::isnan(unit_random) ? 0.0 : std::clamp(unit_random, 0.0, 1.0);

    // Below the cap this is nominal * (1 + jitter * (2u - 1)). Near the cap the upper end is
    // cut to the cap and u still spreads over what is left, so events that have all reached
    // the cap keep retrying at different moments instead of piling up on exactly `max`.
    const double low = nominal * (1.0 - jitter);
    const double high = std::min(nominal * (1.0 + jitter), cap);
    return to_millis(policy, low + u * (high - low));
}

std::optional<std::string> validate(const BackoffPolicy& policy) {
    if (policy.initial.count() < 0) {
        return fmt::format("initial must not be negative, got {}ms", policy.initial.count());
    }
    if (!std::isfinite(policy.factor)) {
        return fmt::format("factor must be a finite number, got {}", policy.factor);
    }
    if (policy.factor < 1.0) {
        return fmt::format("factor must be at least 1, got {}", policy.factor);
    }
    if (!(policy.jitter >= 0.0 && policy.jitter <= 1.0)) {
        return fmt::format("jitter must be between 0 and 1, got {}", policy.jitter);
    }
    if (policy.max < policy.initial) {
        return fmt::format("max ({}ms) must not be less than initial ({}ms)", policy.max.count(),
                           policy.initial.count());
    }
    return std::nullopt;
}

}  // namespace bb
