#include "broker-bridge/envelope.hpp"

#include "broker-bridge/utf8.hpp"

#include <fmt/format.h>
#include <msgpack.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <set>
#include <unordered_set>

namespace bb {
namespace {

using nlohmann::json;

constexpr std::string_view kSpecVersion = "1.0";
constexpr std::size_t kNoProblem = std::string_view::npos;

// ---------------------------------------------------------------------------------------
// Text helpers

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// A short rendering of a value for an error text: at most 32 input bytes, every byte outside
// printable ASCII (and '"', '\') as \xNN. An error may end up in a log line or a header
// (Bridge-Dlq-Error), so it never carries a line break or a huge value.
std::string preview(std::string_view v) {
    constexpr std::size_t kMax = 32;
    std::string out = "\"";
    for (std::size_t i = 0; i < v.size() && i < kMax; ++i) {
        auto c = static_cast<unsigned char>(v[i]);
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out += static_cast<char>(c);
        } else {
            out += fmt::format("\\x{:02x}", c);
        }
    }
    out += '"';
    if (v.size() > kMax) out += fmt::format("... ({} bytes)", v.size());
    return out;
}

using utf8::CodePoint;
using utf8::is_control;
using utf8::is_space;
using utf8::next_code_point;

// Why an attribute value is not acceptable text: invalid UTF-8 or a control character.
std::string text_problem(std::string_view v) {
    for (std::size_t i = 0; i < v.size();) {
        auto cp = next_code_point(v, i);
        if (cp.length == 0) return fmt::format("is not valid UTF-8 at byte {}", i);
        if (is_control(cp.value)) return fmt::format("contains a control character at byte {}", i);
        i += cp.length;
    }
    return {};
}

std::string header_value_problem(std::string_view v) {
    if (!v.empty() && (v.front() == ' ' || v.back() == ' ')) {
        return "has a leading or trailing space";
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
        auto c = static_cast<unsigned char>(v[i]);
        if (c < 0x20 || c == 0x7f) return fmt::format("contains a control character at byte {}", i);
    }
    if (auto at = utf8::error_at(v); at != kNoProblem) {
        return fmt::format("is not valid UTF-8 at byte {}", at);
    }
    return {};
}

Error field_error(std::string_view label, std::string_view problem, std::string_view value) {
    return make_error(fmt::format("{} {}: {}", label, problem, preview(value)));
}

// ---------------------------------------------------------------------------------------
// Percent-encoding and quoted strings (CloudEvents NATS binding, 3.1.3.2)

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// RFC 7230 quoted-string: the value between the quotes, with backslash escapes undone.
Result<std::string> unquote(std::string_view v) {
    if (v.size() < 2 || v.back() != '"') return make_error("has an unterminated quoted string");
    std::string out;
    for (std::size_t i = 1; i + 1 < v.size(); ++i) {
        if (v[i] == '\\') {
            if (i + 2 >= v.size()) return make_error("ends in a lone backslash");
            out += v[++i];
        } else if (v[i] == '"') {
            return make_error(fmt::format("has an unescaped '\"' at byte {}", i));
        } else {
            out += v[i];
        }
    }
    return out;
}

// ---------------------------------------------------------------------------------------
// RFC 3339

struct TimeCursor {
    std::string_view s;
    std::size_t i = 0;

    bool digits(std::size_t n, int& out) {
        if (i + n > s.size()) return false;
        out = 0;
        for (std::size_t k = 0; k < n; ++k, ++i) {
            if (s[i] < '0' || s[i] > '9') return false;
            out = out * 10 + (s[i] - '0');
        }
        return true;
    }
    // Matches one character, case-insensitively ('T'/'t' and 'Z'/'z' are both allowed).
    bool literal(char c) {
        if (i >= s.size() || ascii_lower(s[i]) != c) return false;
        ++i;
        return true;
    }
};

int days_in_month(int year, int month) {
    static constexpr std::array<int, 12> kDays{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return (month == 2 && leap) ? 29 : kDays[static_cast<std::size_t>(month - 1)];
}

bool time_offset_ok(TimeCursor& c) {
    if (c.literal('z')) return true;
    if (!c.literal('+') && !c.literal('-')) return false;
    int h = 0, m = 0;
    return c.digits(2, h) && c.literal(':') && c.digits(2, m) && h <= 23 && m <= 59;
}

// ---------------------------------------------------------------------------------------
// msgpack: a structural scan before msgpack::unpack allocates anything

struct MsgpackHead {
    std::uint64_t size = 0;      // bytes of this value's header and payload (not children)
    std::uint64_t children = 0;  // values a container declares (a map: 2 per pair)
    bool container = false;
};

// Walks one msgpack value without building it. Every container's declared length joins
// `owed`, the values still to come; a length the remaining input cannot back (each value
// takes at least one byte) is refused on the spot. msgpack::unpack runs only afterwards, so
// it never allocates for elements that are not there (msgpack-cxx reserves a whole declared
// array up front: `dd ff ff ff ff` would ask for ~100 GB).
class MsgpackScan {
public:
    explicit MsgpackScan(std::string_view in) : in_(in) {}

    Result<void> run() const {
        std::size_t pos = 0;
        std::vector<std::uint64_t> open;  // values each open container still owes
        std::uint64_t owed = 0;           // their sum
        do {
            if (!open.empty()) {  // this value is one of those the innermost owes
                --open.back();
                --owed;
            }
            MsgpackHead head;
            if (auto ok = read_head(pos, head); !ok) return ok;
            std::size_t at = pos;
            pos += static_cast<std::size_t>(head.size);
            if (head.container) {
                if (open.size() >= kMaxDataDepth) {
                    return fail(fmt::format("nests deeper than {} at byte {}", kMaxDataDepth, at));
                }
                if (head.children > in_.size() - pos - owed) {
                    return fail(
                        fmt::format("declares {} values at byte {} with only {} bytes "
                                    "left",
                                    head.children, at, in_.size() - pos));
                }
                open.push_back(head.children);
                owed += head.children;
            }
            while (!open.empty() && open.back() == 0) open.pop_back();
        } while (!open.empty());
        if (pos != in_.size()) return fail(fmt::format("has trailing bytes from byte {}", pos));
        return {};
    }

private:
    static Error fail(std::string why) { return make_error("msgpack data " + std::move(why)); }
    static Error truncated(std::size_t pos) {
        return fail(fmt::format("is truncated in the value at byte {}", pos));
    }

    // A big-endian length of n bytes after the type byte at pos.
    bool length(std::size_t pos, std::size_t n, std::uint64_t& out) const {
        if (n > in_.size() - pos - 1) return false;
        out = 0;
        for (std::size_t k = 0; k < n; ++k) {
            out = (out << 8) | static_cast<unsigned char>(in_[pos + 1 + k]);
        }
        return true;
    }

    // A scalar of `size` bytes in all.
    Result<void> fixed(std::size_t pos, std::uint64_t size, MsgpackHead& h) const {
        h = {size, 0, false};
        if (size > in_.size() - pos) return truncated(pos);
        return {};
    }

    // str, bin, ext: a length field, `extra` bytes (the ext type), then the payload.
    Result<void> sized(std::size_t pos, std::size_t len_bytes, std::size_t extra,
                       MsgpackHead& h) const {
        std::uint64_t len = 0;
        if (!length(pos, len_bytes, len)) return truncated(pos);
        return fixed(pos, 1 + len_bytes + extra + len, h);
    }

    // array, map: a count field; `per` values per counted item.
    Result<void> counted(std::size_t pos, std::size_t len_bytes, std::uint64_t per,
                         MsgpackHead& h) const {
        std::uint64_t n = 0;
        if (!length(pos, len_bytes, n)) return truncated(pos);
        h = {1 + len_bytes, n * per, true};
        return {};
    }

    Result<void> read_head(std::size_t pos, MsgpackHead& h) const;

    std::string_view in_;
};

// One case per msgpack type byte (the format spec's table).
Result<void> MsgpackScan::read_head(std::size_t pos, MsgpackHead& h) const {
    if (pos >= in_.size()) return truncated(pos);
    auto c = static_cast<unsigned char>(in_[pos]);
    if (c <= 0x7f || c >= 0xe0) return fixed(pos, 1, h);  // positive, negative fixint
    if (c <= 0x8f) {
        h = {1, 2u * (c & 0x0fu), true};  // fixmap
        return {};
    }
    if (c <= 0x9f) {
        h = {1, c & 0x0fu, true};  // fixarray
        return {};
    }
    if (c <= 0xbf) return fixed(pos, 1u + (c & 0x1fu), h);  // fixstr
    switch (c) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
            return fixed(pos, 1, h);  // nil, false, true
        case 0xc4:
        case 0xd9:
            return sized(pos, 1, 0, h);  // bin 8, str 8
        case 0xc5:
        case 0xda:
            return sized(pos, 2, 0, h);
        case 0xc6:
        case 0xdb:
            return sized(pos, 4, 0, h);
        case 0xc7:
            return sized(pos, 1, 1, h);  // ext 8, 16, 32
        case 0xc8:
            return sized(pos, 2, 1, h);
        case 0xc9:
            return sized(pos, 4, 1, h);
        case 0xca:
            return fixed(pos, 5, h);  // float 32, 64
        case 0xcb:
            return fixed(pos, 9, h);
        case 0xcc:
        case 0xd0:
            return fixed(pos, 2, h);  // (u)int 8, 16, 32, 64
        case 0xcd:
        case 0xd1:
            return fixed(pos, 3, h);
        case 0xce:
        case 0xd2:
            return fixed(pos, 5, h);
        case 0xcf:
        case 0xd3:
            return fixed(pos, 9, h);
        case 0xd4:
            return fixed(pos, 3, h);  // fixext 1, 2, 4, 8, 16
        case 0xd5:
            return fixed(pos, 4, h);
        case 0xd6:
            return fixed(pos, 6, h);
        case 0xd7:
            return fixed(pos, 10, h);
        case 0xd8:
            return fixed(pos, 18, h);
        case 0xdc:
            return counted(pos, 2, 1, h);  // array 16, 32
        case 0xdd:
            return counted(pos, 4, 1, h);
        case 0xde:
            return counted(pos, 2, 2, h);  // map 16, 32
        case 0xdf:
            return counted(pos, 4, 2, h);
        default:
            break;
    }
    return fail(fmt::format("has the unused type byte 0xc1 at byte {}", pos));
}

// msgpack object -> JSON value. Depth is bounded by the scan and the unpack limit.
class MsgpackToJson {
public:
    bool convert(const msgpack::object& o, json& out) {
        switch (o.type) {
            case msgpack::type::NIL:
                out = nullptr;
                return true;
            case msgpack::type::BOOLEAN:
                out = o.via.boolean;
                return true;
            case msgpack::type::POSITIVE_INTEGER:
                out = o.via.u64;
                return true;
            case msgpack::type::NEGATIVE_INTEGER:
                out = o.via.i64;
                return true;
            case msgpack::type::FLOAT32:
            case msgpack::type::FLOAT64:
                if (!std::isfinite(o.via.f64)) return fail("holds a NaN or infinite float");
                out = o.via.f64;
                return true;
            case msgpack::type::STR:
                return string(o.via.str.ptr, o.via.str.size, out);
            case msgpack::type::ARRAY:
                return array(o, out);
            case msgpack::type::MAP:
                return map(o, out);
            case msgpack::type::BIN:
                return fail("holds a bin value, which JSON cannot hold");
            case msgpack::type::EXT:
                return fail("holds an ext value, which JSON cannot hold");
        }
        return fail("holds an unknown msgpack type");
    }

    std::string error;

private:
    bool fail(std::string_view why) {
        error = fmt::format("msgpack data {}", why);
        return false;
    }

    bool utf8(std::string_view s) {
        if (auto at = utf8::error_at(s); at == kNoProblem) return true;
        return fail(fmt::format("holds a string that is not valid UTF-8: {}", preview(s)));
    }

    bool string(const char* p, std::uint32_t size, json& out) {
        std::string_view s(p, size);
        if (!utf8(s)) return false;
        out = std::string(s);
        return true;
    }

    bool array(const msgpack::object& o, json& out) {
        out = json::array();
        auto& items = out.get_ref<json::array_t&>();
        items.resize(o.via.array.size);
        for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
            if (!convert(o.via.array.ptr[i], items[i])) return false;
        }
        return true;
    }

    bool map(const msgpack::object& o, json& out) {
        out = json::object();
        for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
            const auto& kv = o.via.map.ptr[i];
            if (kv.key.type != msgpack::type::STR) {
                return fail("has a map key that is not a string (JSON keys are strings)");
            }
            std::string_view key(kv.key.via.str.ptr, kv.key.via.str.size);
            if (!utf8(key)) return false;
            auto [it, fresh] = out.emplace(std::string(key), nullptr);
            if (!fresh) return fail(fmt::format("repeats the map key {}", preview(it.key())));
            if (!convert(kv.val, it.value())) return false;
        }
        return true;
    }
};

// msgpack object -> compact JSON text: the text nlohmann's dump() gives for the value
// MsgpackToJson builds (keys sorted bytewise, the same escapes, numbers and errors), without
// building that value. The handler host converts the data of every event it hands to a
// plugin; building and dumping a json value was a quarter of its CPU.
class MsgpackToJsonText {
public:
    bool convert(const msgpack::object& o, std::string& out) {
        switch (o.type) {
            case msgpack::type::NIL:
                out += "null";
                return true;
            case msgpack::type::BOOLEAN:
                out += o.via.boolean ? "true" : "false";
                return true;
            case msgpack::type::POSITIVE_INTEGER:
                return number(o.via.u64, out);
            case msgpack::type::NEGATIVE_INTEGER:
                return number(o.via.i64, out);
            case msgpack::type::FLOAT32:
            case msgpack::type::FLOAT64:
                if (!std::isfinite(o.via.f64)) return fail("holds a NaN or infinite float");
                out += json(o.via.f64).dump();  // nlohmann's shortest round-trip form
                return true;
            case msgpack::type::STR:
                return string(std::string_view(o.via.str.ptr, o.via.str.size), out);
            case msgpack::type::ARRAY:
                return array(o, out);
            case msgpack::type::MAP:
                return map(o, out);
            case msgpack::type::BIN:
                return fail("holds a bin value, which JSON cannot hold");
            case msgpack::type::EXT:
                return fail("holds an ext value, which JSON cannot hold");
        }
        return fail("holds an unknown msgpack type");
    }

    std::string error;

private:
    bool fail(std::string_view why) {
        error = fmt::format("msgpack data {}", why);
        return false;
    }

    template <typename N>
    static bool number(N n, std::string& out) {
        char buf[24];
        auto end = std::to_chars(buf, buf + sizeof buf, n).ptr;
        out.append(buf, end);
        return true;
    }

    bool string(std::string_view s, std::string& out) {
        if (auto at = utf8::error_at(s); at != kNoProblem) {
            return fail(fmt::format("holds a string that is not valid UTF-8: {}", preview(s)));
        }
        escaped(s, out);
        return true;
    }

    // As nlohmann's dump_escaped without ensure_ascii, for valid UTF-8. Runs of characters
    // that need no escape are appended whole.
    static void escaped(std::string_view s, std::string& out) {
        out += '"';
        std::size_t run = 0;
        for (std::size_t i = 0; i < s.size(); ++i) {
            auto c = static_cast<unsigned char>(s[i]);
            if (c > 0x1f && c != '"' && c != '\\') continue;
            out.append(s, run, i - run);
            run = i + 1;
            switch (c) {
                case '\b':
                    out += "\\b";
                    break;
                case '\t':
                    out += "\\t";
                    break;
                case '\n':
                    out += "\\n";
                    break;
                case '\f':
                    out += "\\f";
                    break;
                case '\r':
                    out += "\\r";
                    break;
                case '"':
                    out += "\\\"";
                    break;
                case '\\':
                    out += "\\\\";
                    break;
                default:
                    out += fmt::format("\\u{:04x}", c);
            }
        }
        out.append(s, run, s.size() - run);
        out += '"';
    }

    bool array(const msgpack::object& o, std::string& out) {
        out += '[';
        for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
            if (i > 0) out += ',';
            if (!convert(o.via.array.ptr[i], out)) return false;
        }
        out += ']';
        return true;
    }

    // Values are written in msgpack order (so errors come in the order MsgpackToJson finds
    // them), then the section is rewritten with the keys in sorted order.
    bool map(const msgpack::object& o, std::string& out) {
        struct Entry {
            std::string_view key;
            std::size_t begin, end;
        };
        std::vector<Entry> entries;
        entries.reserve(o.via.map.size);
        std::unordered_set<std::string_view> seen;  // only for maps too large to scan
        const bool large = o.via.map.size > 32;
        const std::size_t section = out.size();
        for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
            const auto& kv = o.via.map.ptr[i];
            if (kv.key.type != msgpack::type::STR) {
                return fail("has a map key that is not a string (JSON keys are strings)");
            }
            std::string_view key(kv.key.via.str.ptr, kv.key.via.str.size);
            if (auto at = utf8::error_at(key); at != kNoProblem) {
                return fail(
                    fmt::format("holds a string that is not valid UTF-8: {}", preview(key)));
            }
            bool repeated = large ? !seen.insert(key).second
                                  : std::any_of(entries.begin(), entries.end(),
                                                [&](const Entry& e) { return e.key == key; });
            if (repeated) {
                return fail(fmt::format("repeats the map key {}", preview(key)));
            }
            std::size_t begin = out.size();
            if (!convert(kv.val, out)) return false;
            entries.push_back({key, begin, out.size()});
        }
        std::string values = out.substr(section);
        out.resize(section);
        std::sort(entries.begin(), entries.end(),
                  [](const Entry& a, const Entry& b) { return a.key < b.key; });
        out += '{';
        for (std::size_t i = 0; i < entries.size(); ++i) {
            if (i > 0) out += ',';
            escaped(entries[i].key, out);
            out += ':';
            out.append(values, entries[i].begin - section, entries[i].end - entries[i].begin);
        }
        out += '}';
        return true;
    }
};

// ---------------------------------------------------------------------------------------
// JSON: a depth-limited check without building a value, and a check of built values

class JsonCheck {
public:
    using string_t = json::string_t;
    explicit JsonCheck(std::size_t max_depth) : max_depth_(max_depth) {}

    bool null() { return true; }
    bool boolean(bool) { return true; }
    bool number_integer(json::number_integer_t) { return true; }
    bool number_unsigned(json::number_unsigned_t) { return true; }
    bool number_float(json::number_float_t, const string_t&) { return true; }
    bool string(string_t&) { return true; }
    bool binary(json::binary_t&) { return true; }
    bool key(string_t&) { return true; }
    bool start_object(std::size_t) { return enter(); }
    bool start_array(std::size_t) { return enter(); }
    bool end_object() { return leave(); }
    bool end_array() { return leave(); }
    bool parse_error(std::size_t position, const std::string&,
                     const nlohmann::detail::exception& e) {
        // nlohmann's own text quotes the input; only its kind and the position are kept.
        constexpr int kNumberOverflow = 406;  // out_of_range.406: 1e400 and the like
        std::string_view kind = "has a syntax error";
        if (std::string_view(e.what()).find("UTF-8") != std::string_view::npos) {
            kind = "is not valid UTF-8";
        } else if (e.id == kNumberOverflow) {
            kind = "holds a number too large for a double";
        }
        error = fmt::format("{} at byte {}", kind, position);
        return false;
    }

    std::string error;

private:
    bool enter() {
        if (++depth_ <= max_depth_) return true;
        error = fmt::format("nests deeper than {}", max_depth_);
        return false;
    }
    bool leave() {
        --depth_;
        return true;
    }

    std::size_t max_depth_;
    std::size_t depth_ = 0;
};

// Why a built JSON value could not travel as event data (and come back the same): depth,
// invalid UTF-8 (a value built in code may hold any bytes), non-finite numbers, binary.
std::string json_value_problem(const json& v, std::size_t depth) {
    switch (v.type()) {
        case json::value_t::object:
            if (depth + 1 > kMaxDataDepth) {
                return fmt::format("nests deeper than {}", kMaxDataDepth);
            }
            for (const auto& [key, item] : v.items()) {
                if (utf8::error_at(key) != kNoProblem) return "has a key that is not valid UTF-8";
                if (auto p = json_value_problem(item, depth + 1); !p.empty()) return p;
            }
            return {};
        case json::value_t::array:
            if (depth + 1 > kMaxDataDepth) {
                return fmt::format("nests deeper than {}", kMaxDataDepth);
            }
            for (const auto& item : v) {
                if (auto p = json_value_problem(item, depth + 1); !p.empty()) return p;
            }
            return {};
        case json::value_t::string:
            if (utf8::error_at(v.get_ref<const std::string&>()) != kNoProblem) {
                return "has a string that is not valid UTF-8";
            }
            return {};
        case json::value_t::number_float:
            return std::isfinite(v.get<double>()) ? "" : "has a NaN or infinite number";
        case json::value_t::binary:
            return "has a binary value, which JSON text cannot hold";
        case json::value_t::discarded:
            return "is a discarded value";
        default:
            return {};
    }
}

Result<json> parse_json_text(std::string_view text, std::size_t max_depth) {
    if (auto ok = check_json_text(text, max_depth); !ok) return ok.error();
    try {
        return json::parse(text.begin(), text.end());
    } catch (const json::exception&) {
        return make_error("JSON text could not be parsed");
    }
}

// ---------------------------------------------------------------------------------------
// Attributes: one table drives encode, both decode modes and validation

struct Attribute {
    std::string_view header;  // binary mode
    std::string_view name;    // structured mode (CloudEvents JSON format)
    std::string Event::*field;
};

constexpr std::array<Attribute, 10> kAttributes{{
    {"ce-id", "id", &Event::id},
    {"ce-type", "type", &Event::type},
    {"ce-source", "source", &Event::source},
    {"ce-time", "time", &Event::time},
    {"ce-subject", "subject", &Event::subject},
    {"ce-aggregatetype", "aggregatetype", &Event::aggregate_type},
    {"ce-correlationid", "correlationid", &Event::correlation_id},
    {"ce-causationid", "causationid", &Event::causation_id},
    {"ce-userid", "userid", &Event::user_id},
    {"ce-dataversion", "dataversion", &Event::data_version},
}};

constexpr std::string_view kMsgIdHeader = "Nats-Msg-Id";
constexpr std::string_view kSpecVersionHeader = "ce-specversion";
constexpr std::string_view kContentTypeHeader = "ce-datacontenttype";
constexpr std::string_view kTraceparentHeader = "traceparent";

// What each field is called in an error, per input shape.
struct Labels {
    std::string_view id, type, source, subject, time, aggregate_type;
    std::string_view correlation_id, causation_id, user_id, data_version, traceparent;
};

constexpr Labels kHeaderLabels{
    "ce-id",     "ce-type",          "ce-source",        "ce-subject (aggregate id)",
    "ce-time",   "ce-aggregatetype", "ce-correlationid", "ce-causationid",
    "ce-userid", "ce-dataversion",   "traceparent"};
constexpr Labels kStructuredLabels{"attribute id",
                                   "attribute type",
                                   "attribute source",
                                   "attribute subject (aggregate id)",
                                   "attribute time",
                                   "attribute aggregatetype",
                                   "attribute correlationid",
                                   "attribute causationid",
                                   "attribute userid",
                                   "attribute dataversion",
                                   "traceparent"};
constexpr Labels kInputLabels{"id",
                              "type",
                              "metadata.source",
                              "aggregateId",
                              "metadata.timestamp",
                              "aggregateType",
                              "metadata.correlationId",
                              "metadata.causationId",
                              "metadata.userId",
                              "metadata.version",
                              "metadata.traceparent"};

bool is_envelope_header(std::string_view name) {
    if (iequals(name, kMsgIdHeader) || iequals(name, kSpecVersionHeader) ||
        iequals(name, kContentTypeHeader) || iequals(name, kTraceparentHeader)) {
        return true;
    }
    return std::any_of(kAttributes.begin(), kAttributes.end(),
                       [&](const Attribute& a) { return iequals(name, a.header); });
}

// The base media type of a Content-Type value, lower-case, parameters dropped.
std::string media_type(std::string_view value) {
    return lower(trim(value.substr(0, value.find(';'))));
}

bool is_structured_content_type(std::string_view value) {
    return media_type(value).rfind("application/cloudevents", 0) == 0;
}

Result<void> check_required(std::string_view value, std::string_view label) {
    if (value.empty()) return make_error(fmt::format("{} is missing", label));
    return {};
}

Result<void> check_token(std::string_view value, std::string_view label) {
    if (auto ok = check_required(value, label); !ok) return ok;
    if (auto p = subject_token_problem(value); !p.empty()) {
        return field_error(label, "must be one subject token but " + p, value);
    }
    return {};
}

Result<void> check_text(std::string_view value, std::string_view label) {
    if (auto p = text_problem(value); !p.empty()) return field_error(label, p, value);
    return {};
}

Result<void> check_event_id(std::string_view id, std::string_view label) {
    if (auto ok = check_required(id, label); !ok) return ok;
    if (id.size() > kMaxEventIdBytes) {
        return field_error(label, fmt::format("is longer than {} bytes", kMaxEventIdBytes), id);
    }
    for (std::size_t i = 0; i < id.size(); ++i) {
        auto c = static_cast<unsigned char>(id[i]);
        if (c < 0x21 || c > 0x7e) {
            return field_error(label,
                               fmt::format("has a byte outside printable ASCII at byte {}", i), id);
        }
    }
    return {};
}

Result<void> check_attributes(const Event& e, const Labels& l) {
    // All checks run; the first failure in this order is the one reported.
    for (auto check :
         {check_event_id(e.id, l.id), check_token(e.type, l.type),
          check_required(e.source, l.source), check_text(e.source, l.source),
          check_token(e.subject, l.subject), check_token(e.aggregate_type, l.aggregate_type),
          check_text(e.correlation_id, l.correlation_id),
          check_text(e.causation_id, l.causation_id), check_text(e.user_id, l.user_id),
          check_text(e.data_version, l.data_version)}) {
        if (!check) return check;
    }
    if (!e.time.empty() && !is_valid_rfc3339(e.time)) {
        return field_error(l.time, "is not an RFC 3339 date-time", e.time);
    }
    if (auto p = header_value_problem(e.traceparent); !p.empty()) {
        return field_error(l.traceparent, p, e.traceparent);
    }
    return {};
}

Result<void> check_extra_headers(const HeaderList& extras) {
    for (const auto& [name, value] : extras) {
        if (!is_valid_header_name(name)) {
            return field_error("extra header name", "is not an RFC 7230 token", name);
        }
        if (is_envelope_header(name)) {
            return make_error(fmt::format("extra header {} would repeat an envelope header", name));
        }
        if (auto p = header_value_problem(value); !p.empty()) {
            return field_error("extra header " + name, p, value);
        }
        if (iequals(name, "Content-Type") && is_structured_content_type(value)) {
            return make_error("extra header Content-Type would mark the message structured");
        }
    }
    return {};
}

Result<void> check_data(const Event& e) {
    if (e.data.empty()) return {};  // an event without data
    if (e.format == DataFormat::kMsgpack) return check_msgpack(e.data);
    return check_json_text(e.data);
}

Result<void> validate_event_as(const Event& e, const Labels& labels) {
    if (auto ok = check_attributes(e, labels); !ok) return ok;
    if (auto ok = check_extra_headers(e.extra_headers); !ok) return ok;
    if (auto ok = check_data(e); !ok) return make_error("data: " + ok.error().what);
    return {};
}

// ---------------------------------------------------------------------------------------
// decode: binary mode

// The string an attribute header fills (every envelope header but Nats-Msg-Id); null for
// any other header.
std::string* binary_header_target(std::string_view name, Event& e, std::string& spec,
                                  std::string& content) {
    if (iequals(name, kTraceparentHeader)) return &e.traceparent;
    if (iequals(name, kSpecVersionHeader)) return &spec;
    if (iequals(name, kContentTypeHeader)) return &content;
    for (const auto& a : kAttributes) {
        if (iequals(name, a.header)) return &(e.*a.field);
    }
    return nullptr;
}

Result<void> read_binary_header(const std::string& name, const std::string& value,
                                std::string* target, const Event& e) {
    if (target == &e.traceparent) {
        *target = value;  // W3C trace context: not a CloudEvents attribute, not encoded
        return {};
    }
    if (auto ok = decode_header_value_into(value, *target); !ok) {
        return field_error("header " + lower(name), ok.error().what, value);
    }
    return {};
}

// Empties every field of `e` and keeps the strings' storage for the next event.
void clear_keeping_storage(Event& e) {
    for (const auto& a : kAttributes) (e.*a.field).clear();
    e.format = DataFormat::kMsgpack;
    e.data.clear();
    e.traceparent.clear();
    e.extra_headers.clear();
}

Result<void> decode_binary(const HeaderList& headers, std::string_view body, Event& e) {
    clear_keeping_storage(e);
    // Scratch strings of this thread: decoding reuses their storage from event to event.
    thread_local std::string spec, content;
    spec.clear();
    content.clear();
    // The attributes read so far, by the string each fills (a handful: no set to allocate).
    std::array<const std::string*, std::size(kAttributes) + 3> seen{};
    std::size_t seen_count = 0;
    for (const auto& [name, value] : headers) {
        if (iequals(name, kMsgIdHeader)) continue;  // encode derives it from the id again
        std::string* target = binary_header_target(name, e, spec, content);
        if (target == nullptr) {
            e.extra_headers.emplace_back(name, value);
            continue;
        }
        auto seen_end = seen.begin() + static_cast<std::ptrdiff_t>(seen_count);
        if (std::find(seen.begin(), seen_end, target) != seen_end) {
            return make_error(fmt::format("header {} appears more than once", lower(name)));
        }
        seen[seen_count++] = target;
        if (auto ok = read_binary_header(name, value, target, e); !ok) return ok.error();
    }
    if (spec.empty()) return make_error("header ce-specversion is missing");
    if (spec != kSpecVersion) return field_error("header ce-specversion", "is not 1.0", spec);
    if (!content.empty()) {
        auto format = parse_content_type(content);
        if (!format) return make_error("header ce-datacontenttype: " + format.error().what);
        e.format = *format;
    }
    e.data.assign(body);
    return validate_event_as(e, kHeaderLabels);
}

// ---------------------------------------------------------------------------------------
// decode: structured mode

Result<std::string> attribute_text(const json& v, std::string_view name) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return std::string(v.get<bool>() ? "true" : "false");
    if (v.is_number_integer()) return v.dump();
    return make_error(fmt::format("attribute {} must be a string, integer or boolean", name));
}

// An extension attribute (not one of ours): carried on as a ce-<name> header.
Result<void> read_extension(const std::string& name, const json& v, Event& e) {
    bool name_ok =
        !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        });
    if (!name_ok) return field_error("attribute name", "is not [a-z0-9]{1,64}", name);
    if (v.is_null()) return {};
    auto text = attribute_text(v, name);
    if (!text) return text.error();
    e.extra_headers.emplace_back("ce-" + name, percent_encode(*text));
    return {};
}

Result<void> read_structured_member(const std::string& name, const json& v, Event& e,
                                    std::string& spec, std::string& content) {
    if (name == "data" || name == "data_base64") return {};
    if (v.is_null()) return {};  // the JSON format writes an absent attribute as null
    std::string* target = nullptr;
    if (name == "specversion") target = &spec;
    if (name == "datacontenttype") target = &content;
    if (name == "traceparent") target = &e.traceparent;
    for (const auto& a : kAttributes) {
        if (name == a.name) target = &(e.*a.field);
    }
    if (target == nullptr) return read_extension(name, v, e);
    if (!v.is_string()) return make_error(fmt::format("attribute {} must be a string", name));
    *target = v.get<std::string>();
    return {};
}

Result<void> read_structured_data(const json& root, const std::string& content, Event& e) {
    bool has_data = root.contains("data"), has_base64 = root.contains("data_base64");
    if (has_data && has_base64) return make_error("event has both data and data_base64");
    e.format = has_data ? DataFormat::kJson : DataFormat::kMsgpack;
    if (!content.empty()) {
        auto format = parse_content_type(content);
        if (!format) return make_error("attribute datacontenttype: " + format.error().what);
        e.format = *format;
    }
    if (has_base64) {
        const auto& v = root.at("data_base64");
        if (!v.is_string()) return make_error("data_base64 must be a string");
        auto bytes = base64_decode(v.get_ref<const std::string&>());
        if (!bytes) return make_error("data_base64 " + bytes.error().what);
        e.data = std::move(*bytes);
    } else if (has_data && e.format == DataFormat::kJson) {
        e.data = root.at("data").dump();
    } else if (has_data) {
        // msgpack data shown as JSON (event_to_json writes it so): packed again. The value
        // survives, the bytes may differ from the original sender's choice of encodings.
        auto packed = json_to_msgpack(root.at("data"));
        if (!packed) return make_error("data: " + packed.error().what);
        e.data = std::move(*packed);
    }
    return {};
}

Result<void> read_structured_headers(const HeaderList& headers, Event& e) {
    for (const auto& [name, value] : headers) {
        if (iequals(name, kMsgIdHeader) || iequals(name, "Content-Type")) continue;
        if (iequals(name, kTraceparentHeader)) {
            e.traceparent = value;
        } else if (lower(name).rfind("ce-", 0) == 0) {
            return make_error(fmt::format("header {} in a structured-mode message", lower(name)));
        } else {
            e.extra_headers.emplace_back(name, value);
        }
    }
    return {};
}

Result<Event> decode_structured(const HeaderList& headers, std::string_view body,
                                const std::string& content_type_value) {
    auto media = media_type(content_type_value);
    if (media != "application/cloudevents+json" && media != "application/cloudevents") {
        return field_error("header Content-Type", "names an unsupported event format", media);
    }
    auto root = parse_json_text(body, kMaxDataDepth + 1);
    if (!root) return make_error("structured event: " + root.error().what);
    if (!root->is_object()) return make_error("structured event is not a JSON object");
    Event e;
    if (auto ok = read_structured_headers(headers, e); !ok) return ok.error();
    std::string header_trace = e.traceparent, spec, content;
    for (const auto& [name, v] : root->items()) {
        if (auto ok = read_structured_member(name, v, e, spec, content); !ok) return ok.error();
    }
    if (!header_trace.empty() && e.traceparent != header_trace) {
        return make_error("traceparent header and attribute differ");
    }
    if (spec.empty()) return make_error("attribute specversion is missing");
    if (spec != kSpecVersion) return field_error("attribute specversion", "is not 1.0", spec);
    if (auto ok = read_structured_data(*root, content, e); !ok) return ok.error();
    if (auto ok = validate_event_as(e, kStructuredLabels); !ok) return ok.error();
    return e;
}

// ---------------------------------------------------------------------------------------
// The publish input shape

Result<std::string> input_string(const json& obj, std::string_view key, std::string_view label,
                                 bool required) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
        if (required) return make_error(fmt::format("{} is missing", label));
        return std::string();
    }
    if (!it->is_string()) return make_error(fmt::format("{} must be a string", label));
    return it->get<std::string>();
}

Result<void> check_known_keys(const json& obj, std::initializer_list<std::string_view> known,
                              std::string_view where) {
    for (const auto& [key, value] : obj.items()) {
        if (std::find(known.begin(), known.end(), key) == known.end()) {
            return field_error(where, "has an unknown field", key);
        }
    }
    return {};
}

Result<std::string> input_version(const json& metadata) {
    auto it = metadata.find("version");
    if (it == metadata.end() || it->is_null()) return std::string();
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number_integer()) return it->dump();
    return make_error("metadata.version must be an integer or a string");
}

Result<void> read_metadata(const json& obj, Event& e) {
    auto it = obj.find("metadata");
    if (it == obj.end() || it->is_null()) return {};
    if (!it->is_object()) return make_error("metadata must be an object");
    const json& m = *it;
    if (auto ok = check_known_keys(m,
                                   {"userId", "correlationId", "causationId", "timestamp", "source",
                                    "version", "traceparent"},
                                   "metadata");
        !ok) {
        return ok;
    }
    struct Field {
        std::string_view key;
        std::string Event::*field;
    };
    for (auto f : {Field{"userId", &Event::user_id}, Field{"correlationId", &Event::correlation_id},
                   Field{"causationId", &Event::causation_id}, Field{"timestamp", &Event::time},
                   Field{"source", &Event::source}, Field{"traceparent", &Event::traceparent}}) {
        auto v = input_string(m, f.key, fmt::format("metadata.{}", f.key), false);
        if (!v) return v.error();
        e.*f.field = std::move(*v);
    }
    auto version = input_version(m);
    if (!version) return version.error();
    e.data_version = std::move(*version);
    return {};
}

Result<std::string> input_data(const json& obj, DataFormat format) {
    auto it = obj.find("data");
    if (it == obj.end()) return make_error("data is missing");
    if (format == DataFormat::kMsgpack) {
        auto packed = json_to_msgpack(*it);
        if (!packed) return make_error("data: " + packed.error().what);
        return packed;
    }
    if (auto p = json_value_problem(*it, 0); !p.empty()) return make_error("data " + p);
    return it->dump();
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Public functions

std::string subject_token_problem(std::string_view t) {
    if (t.empty()) return "is empty";
    if (t.size() > kMaxSubjectTokenBytes) {
        return fmt::format("is longer than {} bytes", kMaxSubjectTokenBytes);
    }
    for (std::size_t i = 0; i < t.size();) {
        auto cp = next_code_point(t, i);
        if (cp.length == 0) return fmt::format("is not valid UTF-8 at byte {}", i);
        if (cp.value == '.' || cp.value == '*' || cp.value == '>') {
            return fmt::format("contains '{}' at byte {}", static_cast<char>(cp.value), i);
        }
        if (is_control(cp.value)) return fmt::format("contains a control character at byte {}", i);
        if (is_space(cp.value)) return fmt::format("contains white space at byte {}", i);
        i += cp.length;
    }
    return {};
}

bool is_valid_subject_token(std::string_view token) { return subject_token_problem(token).empty(); }

bool is_valid_subject(std::string_view subject) {
    if (subject.empty() || subject.size() > kMaxSubjectBytes) return false;
    std::size_t start = 0;
    while (true) {
        std::size_t dot = subject.find('.', start);
        if (!is_valid_subject_token(subject.substr(start, dot - start))) return false;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

bool is_valid_header_value(std::string_view value) { return header_value_problem(value).empty(); }

bool is_valid_header_name(std::string_view name) {
    static constexpr std::string_view kTokenPunct = "!#$%&'*+-.^_`|~";
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               kTokenPunct.find(c) != std::string_view::npos;
    });
}

std::string percent_encode(std::string_view value) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(value.size());
    for (char ch : value) {
        auto c = static_cast<unsigned char>(ch);
        if (c >= 0x21 && c <= 0x7e && c != '"' && c != '%') {
            out += ch;
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 0x0f];
        }
    }
    return out;
}

Result<void> percent_decode_into(std::string_view value, std::string& out) {
    out.clear();
    std::size_t run = 0;  // the start of the bytes not yet copied
    for (std::size_t i = value.find('%'); i != std::string_view::npos; i = value.find('%', i)) {
        int hi = i + 2 < value.size() ? hex_value(value[i + 1]) : -1;
        int lo = hi >= 0 ? hex_value(value[i + 2]) : -1;
        if (lo < 0) return make_error(fmt::format("has a malformed percent escape at byte {}", i));
        out.append(value, run, i - run);
        out += static_cast<char>(hi * 16 + lo);
        i += 3;
        run = i;
    }
    out.append(value, run, value.size() - run);
    if (auto at = utf8::error_at(out); at != kNoProblem) {
        return make_error(fmt::format("decodes to invalid UTF-8 at byte {}", at));
    }
    return {};
}

Result<std::string> percent_decode(std::string_view value) {
    std::string out;
    if (auto ok = percent_decode_into(value, out); !ok) return ok.error();
    return out;
}

Result<void> decode_header_value_into(std::string_view value, std::string& out) {
    if (!value.empty() && value.front() == '"') {
        auto inner = unquote(value);
        if (!inner) return inner.error();
        return percent_decode_into(*inner, out);
    }
    if (auto at = value.find('"'); at != std::string_view::npos) {
        return make_error(fmt::format("has an unescaped '\"' at byte {}", at));
    }
    return percent_decode_into(value, out);
}

Result<std::string> decode_header_value(std::string_view value) {
    std::string out;
    if (auto ok = decode_header_value_into(value, out); !ok) return ok.error();
    return out;
}

bool is_valid_rfc3339(std::string_view time) {
    TimeCursor c{time};
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!c.digits(4, year) || !c.literal('-') || !c.digits(2, month) || !c.literal('-') ||
        !c.digits(2, day) || !c.literal('t') || !c.digits(2, hour) || !c.literal(':') ||
        !c.digits(2, minute) || !c.literal(':') || !c.digits(2, second)) {
        return false;
    }
    if (c.literal('.')) {
        std::size_t start = c.i;
        while (c.i < time.size() && time[c.i] >= '0' && time[c.i] <= '9') ++c.i;
        if (c.i == start) return false;
    }
    if (!time_offset_ok(c) || c.i != time.size()) return false;
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return false;
    return hour <= 23 && minute <= 59 && second <= 60;  // 60: a leap second
}

std::string_view content_type(DataFormat format) {
    return format == DataFormat::kJson ? kContentTypeJson : kContentTypeMsgpack;
}

Result<DataFormat> parse_content_type(std::string_view value) {
    auto media = media_type(value);
    if (media == "application/json" || media == "text/json" ||
        (media.size() > 5 && media.compare(media.size() - 5, 5, "+json") == 0)) {
        return DataFormat::kJson;
    }
    if (media == "application/msgpack" || media == "application/x-msgpack" ||
        media == "application/vnd.msgpack") {
        return DataFormat::kMsgpack;
    }
    return make_error(fmt::format("unsupported media type {}", preview(value)));
}

const std::string* find_header(const HeaderList& headers, std::string_view name) {
    for (const auto& [n, v] : headers) {
        if (iequals(n, name)) return &v;
    }
    return nullptr;
}

Result<std::string> event_subject(const Event& e, std::string_view prefix) {
    if (!is_valid_subject(prefix)) {
        return field_error("subject prefix", "is not a valid subject", prefix);
    }
    if (auto ok = check_token(e.aggregate_type, kHeaderLabels.aggregate_type); !ok) {
        return ok.error();
    }
    if (auto ok = check_token(e.type, kHeaderLabels.type); !ok) return ok.error();
    // ASCII only: a locale-dependent lower-casing would give one type two subjects.
    auto subject = fmt::format("{}.{}.{}", prefix, lower(e.aggregate_type), e.type);
    if (subject.size() > kMaxSubjectBytes) {
        return make_error(fmt::format("subject is longer than {} bytes", kMaxSubjectBytes));
    }
    return subject;
}

Result<void> validate_event(const Event& e) { return validate_event_as(e, kHeaderLabels); }

Result<WireMessage> encode(const Event& e, std::string_view prefix) {
    if (auto ok = validate_event(e); !ok) return ok.error();
    auto subject = event_subject(e, prefix);
    if (!subject) return subject.error();
    WireMessage m;
    m.subject = std::move(*subject);
    m.headers.reserve(kAttributes.size() + 4 + e.extra_headers.size());
    m.headers.emplace_back(kMsgIdHeader, e.id);
    m.headers.emplace_back(kSpecVersionHeader, kSpecVersion);
    for (const auto& a : kAttributes) {
        const std::string& v = e.*a.field;
        if (!v.empty()) m.headers.emplace_back(a.header, percent_encode(v));
    }
    m.headers.emplace_back(kContentTypeHeader, content_type(e.format));
    if (!e.traceparent.empty()) m.headers.emplace_back(kTraceparentHeader, e.traceparent);
    m.headers.insert(m.headers.end(), e.extra_headers.begin(), e.extra_headers.end());
    m.body = e.data;
    return m;
}

Result<void> decode_into(const HeaderList& headers, std::string_view body, Event& out) {
    const std::string* ct = find_header(headers, "Content-Type");
    if (ct != nullptr && is_structured_content_type(*ct)) {
        auto e = decode_structured(headers, body, *ct);
        if (!e) return e.error();
        out = std::move(*e);
        return {};
    }
    return decode_binary(headers, body, out);
}

Result<Event> decode(const HeaderList& headers, std::string_view body) {
    Event e;
    if (auto ok = decode_into(headers, body, e); !ok) return ok.error();
    return e;
}

Result<void> check_msgpack(std::string_view bytes) {
    if (bytes.empty()) return make_error("msgpack data is empty");
    return MsgpackScan(bytes).run();
}

Result<void> check_json_text(std::string_view text, std::size_t max_depth) {
    JsonCheck check(max_depth);
    bool ok = json::sax_parse(text.data(), text.data() + text.size(), &check);
    if (ok) return {};
    return make_error("JSON text " + (check.error.empty() ? "is not valid" : check.error));
}

Result<nlohmann::json> msgpack_to_json(std::string_view bytes) {
    // The scan proved every declared length is backed by input bytes; the limits restate that
    // for msgpack-cxx, whose defaults would allocate a whole declared array up front.
    if (auto ok = check_msgpack(bytes); !ok) return ok.error();
    std::size_t n = bytes.size();
    msgpack::unpack_limit limit(n, n / 2, n, n, n, kMaxDataDepth);
    try {
        std::size_t off = 0;
        auto handle = msgpack::unpack(bytes.data(), n, off, nullptr, nullptr, limit);
        if (off != n)
            return make_error(fmt::format("msgpack data has trailing bytes from {}", off));
        json out;
        MsgpackToJson convert;
        if (!convert.convert(handle.get(), out)) return make_error(convert.error);
        return out;
    } catch (const msgpack::insufficient_bytes&) {
        return make_error("msgpack data is truncated");
    } catch (const msgpack::size_overflow& e) {
        return make_error(fmt::format("msgpack data exceeds a limit ({})", e.what()));
    } catch (const msgpack::unpack_error& e) {
        return make_error(fmt::format("msgpack data is malformed ({})", e.what()));
    }
}

Result<std::string> msgpack_to_json_text(std::string_view bytes) {
    // The same checks and limits as msgpack_to_json.
    if (auto ok = check_msgpack(bytes); !ok) return ok.error();
    std::size_t n = bytes.size();
    msgpack::unpack_limit limit(n, n / 2, n, n, n, kMaxDataDepth);
    try {
        std::size_t off = 0;
        auto handle = msgpack::unpack(bytes.data(), n, off, nullptr, nullptr, limit);
        if (off != n)
            return make_error(fmt::format("msgpack data has trailing bytes from {}", off));
        std::string out;
        out.reserve(n + n / 2);
        MsgpackToJsonText convert;
        if (!convert.convert(handle.get(), out)) return make_error(convert.error);
        return out;
    } catch (const msgpack::insufficient_bytes&) {
        return make_error("msgpack data is truncated");
    } catch (const msgpack::size_overflow& e) {
        return make_error(fmt::format("msgpack data exceeds a limit ({})", e.what()));
    } catch (const msgpack::unpack_error& e) {
        return make_error(fmt::format("msgpack data is malformed ({})", e.what()));
    }
}

Result<std::string> json_to_msgpack(const nlohmann::json& v) {
    if (auto p = json_value_problem(v, 0); !p.empty()) return make_error("value " + p);
    auto bytes = json::to_msgpack(v);
    return std::string(bytes.begin(), bytes.end());
}

Result<nlohmann::json> data_as_json_value(const Event& e) {
    if (e.data.empty()) return json(nullptr);
    if (e.format == DataFormat::kMsgpack) return msgpack_to_json(e.data);
    return parse_json_text(e.data, kMaxDataDepth);
}

Result<std::string> data_as_json(const Event& e) {
    if (!e.data.empty() && e.format == DataFormat::kMsgpack) return msgpack_to_json_text(e.data);
    auto value = data_as_json_value(e);
    if (!value) return value.error();
    return value->dump();
}

Result<Event> event_from_json(const nlohmann::json& obj, DataFormat format) {
    if (!obj.is_object()) return make_error("event is not a JSON object");
    if (auto ok = check_known_keys(
            obj, {"id", "type", "aggregateId", "aggregateType", "data", "metadata"}, "event");
        !ok) {
        return ok.error();
    }
    Event e;
    e.format = format;
    struct Field {
        std::string_view key;
        std::string Event::*field;
    };
    for (auto f :
         {Field{"id", &Event::id}, Field{"type", &Event::type},
          Field{"aggregateId", &Event::subject}, Field{"aggregateType", &Event::aggregate_type}}) {
        auto v = input_string(obj, f.key, f.key, true);
        if (!v) return v.error();
        e.*f.field = std::move(*v);
    }
    if (auto ok = read_metadata(obj, e); !ok) return ok.error();
    auto data = input_data(obj, format);
    if (!data) return data.error();
    e.data = std::move(*data);
    if (auto ok = validate_event_as(e, kInputLabels); !ok) return ok.error();
    return e;
}

nlohmann::json event_to_json(const Event& e) {
    json j = json::object();
    j["specversion"] = std::string(kSpecVersion);
    for (const auto& a : kAttributes) {
        const std::string& v = e.*a.field;
        if (!v.empty()) j[std::string(a.name)] = v;
    }
    j["datacontenttype"] = std::string(content_type(e.format));
    if (!e.traceparent.empty()) j["traceparent"] = e.traceparent;
    if (!e.data.empty()) {
        auto value = data_as_json_value(e);
        if (value) {
            j["data"] = std::move(*value);
        } else {
            j["data_base64"] = base64_encode(e.data);
        }
    }
    if (!e.extra_headers.empty()) {
        json headers = json::array();
        for (const auto& [name, value] : e.extra_headers) headers.push_back({name, value});
        j["headers"] = std::move(headers);
    }
    return j;
}

std::string base64_encode(std::string_view bytes) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
        std::uint32_t n = static_cast<unsigned char>(bytes[i]) << 16;
        if (i + 1 < bytes.size()) n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
        if (i + 2 < bytes.size()) n |= static_cast<unsigned char>(bytes[i + 2]);
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
        out += i + 2 < bytes.size() ? kAlphabet[n & 63] : '=';
    }
    return out;
}

Result<std::string> base64_decode(std::string_view text) {
    auto sextet = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        return c == '+' ? 62 : c == '/' ? 63 : -1;
    };
    if (text.size() % 4 != 0) return make_error("is not base64 (length not a multiple of 4)");
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        bool last = i + 4 == text.size();
        int pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=' && text[i + 3] == '=') : 0;
        std::uint32_t n = 0;
        for (std::size_t k = 0; k < 4; ++k) {
            int v = k >= 4u - static_cast<std::size_t>(pad) ? 0 : sextet(text[i + k]);
            if (v < 0) return make_error(fmt::format("is not base64 at byte {}", i + k));
            n = (n << 6) | static_cast<std::uint32_t>(v);
        }
        // The bits after the last byte must be zero (RFC 4648 3.5): otherwise two texts
        // would decode to the same bytes, and the text would not survive a round trip.
        std::uint32_t unused = pad == 2 ? 0xffffu : pad == 1 ? 0xffu : 0u;
        if ((n & unused) != 0) {
            return make_error(
                fmt::format("is not canonical base64 (non-zero bits before the "
                            "padding at byte {})",
                            i + 3 - static_cast<std::size_t>(pad)));
        }
        out += static_cast<char>((n >> 16) & 0xff);
        if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
        if (pad < 1) out += static_cast<char>(n & 0xff);
    }
    return out;
}

}  // namespace bb
