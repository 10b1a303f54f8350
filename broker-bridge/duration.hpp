#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace bb {

// Parses a duration such as "500ms", "2s", "1m30s", "7d". Units: ms, s, m, h, d. A bare
// number is refused: "5" could be seconds or milliseconds, and guessing wrong delays a retry
// by a factor of a thousand. Returns nullopt for anything else; `why` says what was wrong.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text, std::string* why);

// The shortest exact text for a duration: 1500 ms -> "1500ms", 120000 -> "2m".
std::string format_duration(std::chrono::milliseconds d);

}  // namespace bb
