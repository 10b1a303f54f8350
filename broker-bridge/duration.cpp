#include "broker-bridge/duration.hpp"

#include <cstdint>
#include <limits>

namespace bb {
namespace {

struct Unit {
    std::string_view name;
    int64_t millis;
};

// Longest names first so "ms" is not read as "m" followed by garbage.
constexpr Unit kUnits[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000},
                           {"d", 86400000}};

bool fail(std::string* why, std::string text) {
    if (why) *why = std::move(text);
    return false;
}

bool read_unit(std::string_view& rest, int64_t& millis) {
    for (const auto& unit : kUnits) {
        if (rest.substr(0, unit.name.size()) == unit.name) {
            millis = unit.millis;
            rest.remove_prefix(unit.name.size());
            return true;
        }
    }
    return false;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text,
                                                        std::string* why) {
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max() / 1000000;  // fits in ns
    if (text.empty()) {
        fail(why, "empty duration: give a number with a unit, e.g. 500ms, 2s, 1m, 7d");
        return std::nullopt;
    }
    int64_t total = 0;
    std::string_view rest = text;
    while (!rest.empty()) {
        int64_t number = 0;
        size_t digits = 0;
        while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') {
            number = number * 10 + (rest[digits] - '0');
            if (number > kMax) {
                fail(why, "duration '" + std::string(text) + "' is too long");
                return std::nullopt;
            }
            ++digits;
        }
        if (digits == 0) {
            fail(why, "bad duration '" + std::string(text) +
                          "': expected a number with a unit (ms, s, m, h, d), e.g. 1m30s");
            return std::nullopt;
        }
        rest.remove_prefix(digits);
        int64_t unit = 0;
        if (!read_unit(rest, unit)) {
            fail(why, "bad duration '" + std::string(text) +
                          "': each number needs a unit (ms, s, m, h, d), e.g. 500ms or 2s");
            return std::nullopt;
        }
        if (number > (kMax - total) / unit) {
            fail(why, "duration '" + std::string(text) + "' is too long");
            return std::nullopt;
        }
        total += number * unit;
    }
    return std::chrono::milliseconds(total);
}

std::string format_duration(std::chrono::milliseconds d) {
    int64_t ms = d.count();
    if (ms == 0) return "0s";
    for (auto it = std::rbegin(kUnits); it != std::rend(kUnits); ++it) {
        if (ms % it->millis == 0) return std::to_string(ms / it->millis) + std::string(it->name);
    }
    return std::to_string(ms) + "ms";
}

}  // namespace bb
