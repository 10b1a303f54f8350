#include "presence_state.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace bb::presence {

std::string key_token(std::string_view id) {
    bool plain = !id.empty();
    for (char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        plain = plain && ok;
    }
    // Plain tokens never start with "x" followed by hex only by accident of encoding: an
    // encoded token is "x" + hex, and a plain id that looks like that is encoded as well.
    bool looks_encoded = !id.empty() && id.front() == 'x';
    if (plain && !looks_encoded) return std::string(id);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "x";
    for (char ch : id) {
        auto c = static_cast<unsigned char>(ch);
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
    return out;
}

bool is_subject_token(std::string_view id) {
    if (id.empty() || id.size() > 256) return false;
    for (char ch : id) {
        auto c = static_cast<unsigned char>(ch);
        if (c <= 0x20 || c == 0x7f || c == '.' || c == '*' || c == '>') return false;
    }
    return true;
}

std::string resolve_status(const json& conns) {
    if (!conns.is_object() || conns.empty()) return "offline";
    for (const auto& [id, c] : conns.items()) {
        if (c.value("status", "online") != "away") return "online";
    }
    return "away";
}

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string now_text() {
    int64_t ms = now_ms();
    std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char out[80];
    std::snprintf(out, sizeof out, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms % 1000));
    return out;
}

Versioned Store::read(const std::string& key) const {
    plugin::KvEntry e = host_.kv_get(bucket_, key);
    if (e.code == BB_NOT_FOUND) return Versioned{};
    if (!e) throw std::runtime_error("reading " + key + " failed: " + e.error);
    json value = json::parse(e.value, nullptr, false);
    if (value.is_discarded() || !value.is_object()) value = json::object();
    return Versioned{std::move(value), e.revision};
}

bool Store::write(const std::string& key, const json& value, uint64_t revision,
                  uint64_t* written) const {
    std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
    plugin::KvRevision r = revision == 0 ? host_.kv_create(bucket_, key, text)
                                         : host_.kv_update(bucket_, key, text, revision);
    if (r.code == BB_EXISTS) return false;
    if (!r) throw std::runtime_error("writing " + key + " failed: " + r.error);
    if (written) *written = r.revision;
    return true;
}

Versioned Store::update(const std::string& key, const std::function<bool(json&)>& change) const {
    for (int attempt = 0; attempt < max_attempts_; ++attempt) {
        Versioned current = read(key);
        json next = current.value;
        if (!change(next)) return current;
        uint64_t written = 0;
        if (write(key, next, current.revision, &written))
            return Versioned{std::move(next), written};
        host_.counter_add("cas_conflicts_total", 1);
    }
    throw std::runtime_error("gave up on " + key + " after " + std::to_string(max_attempts_) +
                             " compare-and-set conflicts");
}

}  // namespace bb::presence
