#pragma once

#include <cstddef>
#include <string_view>

// Strict UTF-8 decoding and the character classes the envelope and the templates refuse in
// subject tokens and attribute values. Header-only so plugins (through bb_expr) and the core
// share one definition.
namespace bb::utf8 {

struct CodePoint {
    char32_t value;
    std::size_t length;  // 0: the bytes at this place are not valid UTF-8
};

// The code point at `i`, refusing overlong forms, surrogates and values above U+10FFFF.
inline CodePoint next_code_point(std::string_view s, std::size_t i) {
    const auto lead = static_cast<unsigned char>(s[i]);
    if (lead < 0x80) return {lead, 1};
    std::size_t length = 0;
    char32_t min = 0;
    char32_t code = 0;
    if (lead >= 0xC2 && lead <= 0xDF) length = 2, min = 0x80, code = lead & 0x1F;
    if (lead >= 0xE0 && lead <= 0xEF) length = 3, min = 0x800, code = lead & 0x0F;
    if (lead >= 0xF0 && lead <= 0xF4) length = 4, min = 0x10000, code = lead & 0x07;
    if (length == 0 || i + length > s.size()) return {0, 0};
    for (std::size_t k = 1; k < length; ++k) {
        const auto c = static_cast<unsigned char>(s[i + k]);
        if ((c & 0xC0) != 0x80) return {0, 0};
        code = (code << 6) | (c & 0x3F);
    }
    const bool surrogate = code >= 0xD800 && code <= 0xDFFF;
    if (code < min || code > 0x10FFFF || surrogate) return {0, 0};
    return {code, length};
}

// C0, DEL and C1: CloudEvents forbids them in attribute values.
inline bool is_control(char32_t cp) { return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f); }

// Unicode White_Space outside the control ranges (those are refused as controls already).
inline bool is_space(char32_t cp) {
    return cp == 0x20 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// Byte offset of the first invalid UTF-8 sequence, or npos.
inline std::size_t error_at(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto cp = next_code_point(s, i);
        if (cp.length == 0) return i;
        i += cp.length;
    }
    return std::string_view::npos;
}

}  // namespace bb::utf8
