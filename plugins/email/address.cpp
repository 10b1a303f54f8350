#include "address.hpp"

#include <algorithm>

namespace bb::email {
namespace {

constexpr size_t kMaxLocalBytes = 64;     // RFC 5321 4.5.3.1.1
constexpr size_t kMaxAddressBytes = 254;  // RFC 5321 path limit less the angle brackets

bool is_ascii(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return (c & 0x80) == 0; });
}

// RFC 5322 atext, plus any byte of a UTF-8 sequence (RFC 6531 extends atext so).
bool is_atext(unsigned char c) {
    if (c >= 0x80) return true;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) !=
           std::string_view::npos;
}

bool is_label_char(unsigned char c) {
    return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-';
}

std::string prefix(std::string_view what) { return std::string(what) + ": "; }

Result<void> check_local(std::string_view local, std::string_view what) {
    if (local.empty()) return make_error(prefix(what) + "the local part (before @) is empty");
    if (local.size() > kMaxLocalBytes) {
        return make_error(prefix(what) + "the local part is longer than 64 bytes");
    }
    if (local.front() == '"') {
        return make_error(prefix(what) + "quoted local parts are not supported");
    }
    if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
        return make_error(prefix(what) + "the local part has a misplaced '.'");
    }
    for (size_t i = 0; i < local.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(local[i]);
        if (c != '.' && !is_atext(c)) {
            return make_error(prefix(what) + "character not allowed in the local part at byte " +
                              std::to_string(i));
        }
    }
    return {};
}

Result<void> check_domain(std::string_view domain, std::string_view what) {
    if (domain.empty()) return make_error(prefix(what) + "the domain (after @) is empty");
    size_t start = 0;
    while (start <= domain.size()) {
        size_t end = std::min(domain.find('.', start), domain.size());
        std::string_view label = domain.substr(start, end - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
            return make_error(prefix(what) + "the domain '" + std::string(domain) +
                              "' is not a host name");
        }
        for (char c : label) {
            if (!is_label_char(static_cast<unsigned char>(c))) {
                return make_error(prefix(what) + "the domain '" + std::string(domain) +
                                  "' is not a host name");
            }
        }
        start = end + 1;
    }
    return {};
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

bool Mailbox::needs_smtputf8() const { return !is_ascii(local); }

size_t find_line_break(std::string_view value) { return value.find_first_of("\r\n"); }

Result<Mailbox> parse_mailbox(std::string_view text, std::string_view what) {
    if (size_t at = find_line_break(text); at != std::string_view::npos) {
        return make_error(prefix(what) + "contains a line break (CR or LF) at byte " +
                          std::to_string(at) + "; refused so that no header can be added");
    }
    for (size_t i = 0; i < text.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (c < 0x20 || c == 0x7f) {
            return make_error(prefix(what) + "contains a control character at byte " +
                              std::to_string(i));
        }
    }
    Mailbox m;
    std::string_view spec = trim(text);
    if (!spec.empty() && spec.back() == '>') {
        size_t open = spec.rfind('<');
        if (open == std::string_view::npos) return make_error(prefix(what) + "unmatched '>'");
        std::string_view name = trim(spec.substr(0, open));
        if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
            name = name.substr(1, name.size() - 2);
        }
        m.display_name = std::string(name);
        spec = spec.substr(open + 1, spec.size() - open - 2);
    }
    if (spec.empty()) return make_error(prefix(what) + "no address (the value is empty)");
    if (spec.size() > kMaxAddressBytes) {
        return make_error(prefix(what) + "the address is longer than 254 bytes");
    }
    size_t at = spec.rfind('@');
    if (at == std::string_view::npos) {
        return make_error(prefix(what) + "'" + std::string(spec) + "' has no '@'");
    }
    if (auto ok = check_local(spec.substr(0, at), what); !ok) return ok.error();
    if (auto ok = check_domain(spec.substr(at + 1), what); !ok) return ok.error();
    m.local = std::string(spec.substr(0, at));
    m.domain = std::string(spec.substr(at + 1));
    return m;
}

}  // namespace bb::email
