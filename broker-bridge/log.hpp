#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

// Structured logging: one event per line, a lower-case phrase then key=value fields, as text
//   2026-12-04T16:40:00.123Z info consumer bound binding=analytics stream=EVENTS
// or as one JSON object per line. Values never go into the phrase, so lines group and grep.
// Thread-safe; each line is written with one write(2) so lines from threads never interleave.
namespace bb::log {

enum class Level { kTrace = 0, kDebug, kInfo, kWarn, kError, kOff };
enum class Format { kText, kJson };

struct Field {
    Field(std::string_view k, std::string_view v) : key(k), value(v) {}
    Field(std::string_view k, const char* v) : key(k), value(v ? v : "") {}
    Field(std::string_view k, const std::string& v) : key(k), value(v) {}
    Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false"), quoted(false) {}
    template <typename N, typename = std::enable_if_t<std::is_arithmetic_v<N>>>
    Field(std::string_view k, N v) : key(k), value(to_text(v)), quoted(false) {}

    std::string_view key;
    std::string value;
    bool quoted = true;  // in JSON: a string, or a bare number/boolean

private:
    template <typename N>
    static std::string to_text(N v) {
        if constexpr (std::is_floating_point_v<N>) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.6g", static_cast<double>(v));
            return buf;
        } else {
            return std::to_string(v);
        }
    }
};

void configure(Level level, Format format);
Level level();
inline bool enabled(Level l) { return l >= level(); }

// Parses "trace|debug|info|warn|error|off"; false when the name is unknown.
bool parse_level(std::string_view name, Level& out);
std::string_view level_name(Level l);

void write(Level l, std::string_view phrase, std::initializer_list<Field> fields);
// A line whose phrase and fields were already formatted (a plugin's line): fields appended.
void write_raw(Level l, std::string_view line, std::initializer_list<Field> fields);

inline void trace(std::string_view p, std::initializer_list<Field> f = {}) {
    if (enabled(Level::kTrace)) write(Level::kTrace, p, f);
}
inline void debug(std::string_view p, std::initializer_list<Field> f = {}) {
    if (enabled(Level::kDebug)) write(Level::kDebug, p, f);
}
inline void info(std::string_view p, std::initializer_list<Field> f = {}) {
    if (enabled(Level::kInfo)) write(Level::kInfo, p, f);
}
inline void warn(std::string_view p, std::initializer_list<Field> f = {}) {
    if (enabled(Level::kWarn)) write(Level::kWarn, p, f);
}
inline void error(std::string_view p, std::initializer_list<Field> f = {}) {
    if (enabled(Level::kError)) write(Level::kError, p, f);
}

}  // namespace bb::log
