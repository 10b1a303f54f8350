#include "log.hpp"

#include "broker-bridge/time_text.hpp"

#include <nlohmann/json.hpp>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>

namespace bb::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<Format> g_format{Format::kText};

bool needs_quotes(std::string_view v) {
    if (v.empty()) return true;
    for (unsigned char c : v) {
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
    }
    return false;
}

// Control characters are escaped so one event stays one line whatever a value holds.
void append_text_value(std::string& out, std::string_view v) {
    if (!needs_quotes(v)) {
        out += v;
        return;
    }
    out += '"';
    for (unsigned char c : v) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\x%02x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
}

void emit(const std::string& line) {
    const char* p = line.data();
    size_t left = line.size();
    while (left > 0) {
        ssize_t n = ::write(STDERR_FILENO, p, left);
        if (n <= 0) return;  // nowhere to report a failing stderr
        p += n;
        left -= static_cast<size_t>(n);
    }
}

std::string format_text(Level l, std::string_view phrase, std::initializer_list<Field> fields) {
    std::string out = rfc3339_now();
    out += ' ';
    out += level_name(l);
    out += ' ';
    out += phrase;
    for (const auto& f : fields) {
        out += ' ';
        out += f.key;
        out += '=';
        append_text_value(out, f.value);
    }
    out += '\n';
    return out;
}

std::string format_json(Level l, std::string_view phrase, std::initializer_list<Field> fields) {
    nlohmann::ordered_json j;
    j["time"] = rfc3339_now();
    j["level"] = level_name(l);
    j["msg"] = phrase;
    for (const auto& f : fields) {
        std::string key(f.key);
        if (!f.quoted) {
            auto parsed = nlohmann::json::parse(f.value, nullptr, false);
            if (!parsed.is_discarded()) {
                j[key] = parsed;
                continue;
            }
        }
        j[key] = f.value;
    }
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace

void configure(Level l, Format f) {
    g_level.store(l);
    g_format.store(f);
}

Level level() { return g_level.load(std::memory_order_relaxed); }

bool parse_level(std::string_view name, Level& out) {
    static constexpr std::pair<std::string_view, Level> kNames[] = {
        {"trace", Level::kTrace}, {"debug", Level::kDebug}, {"info", Level::kInfo},
        {"warn", Level::kWarn},   {"error", Level::kError}, {"off", Level::kOff}};
    for (const auto& [n, l] : kNames) {
        if (n == name) {
            out = l;
            return true;
        }
    }
    return false;
}

std::string_view level_name(Level l) {
    switch (l) {
        case Level::kTrace: return "trace";
        case Level::kDebug: return "debug";
        case Level::kInfo: return "info";
        case Level::kWarn: return "warn";
        case Level::kError: return "error";
        case Level::kOff: return "off";
    }
    return "info";
}

void write(Level l, std::string_view phrase, std::initializer_list<Field> fields) {
    if (g_format.load(std::memory_order_relaxed) == Format::kJson) {
        emit(format_json(l, phrase, fields));
    } else {
        emit(format_text(l, phrase, fields));
    }
}

void write_raw(Level l, std::string_view line, std::initializer_list<Field> fields) {
    // A plugin's line is "phrase k=v ...": split at the first " k=" so JSON output keeps
    // the phrase as msg and the plugin's own fields as one text field.
    if (g_format.load(std::memory_order_relaxed) == Format::kText) {
        // A plugin's line may hold anything: control characters must not start a new line.
        std::string safe(line);
        for (char& c : safe) {
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
        }
        emit(format_text(l, safe, fields));
        return;
    }
    size_t cut = line.size();
    for (size_t i = 0; i < line.size(); ++i) {
        if (line[i] != ' ') continue;
        size_t eq = line.find('=', i + 1);
        size_t sp = line.find(' ', i + 1);
        if (eq != std::string_view::npos && (sp == std::string_view::npos || eq < sp)) {
            cut = i;
            break;
        }
    }
    std::string_view phrase = line.substr(0, cut);
    std::string_view rest = cut < line.size() ? line.substr(cut + 1) : std::string_view{};
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(
        format_json(l, phrase, fields), nullptr, false);
    if (!rest.empty()) j["fields"] = rest;
    emit(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

}  // namespace bb::log
