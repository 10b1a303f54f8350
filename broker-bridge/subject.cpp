#include "broker-bridge/subject.hpp"

#include <cstdint>
#include <cstdio>
#include <vector>

namespace bb {
namespace {

std::vector<std::string_view> split_tokens(std::string_view s) {
    std::vector<std::string_view> out;
    size_t start = 0;
    while (true) {
        size_t dot = s.find('.', start);
        out.push_back(s.substr(start, dot == std::string_view::npos ? dot : dot - start));
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    return out;
}

bool token_ok(std::string_view t, bool last) {
    if (t.empty()) return false;
    if (t == "*") return true;
    if (t == ">") return last;
    for (unsigned char c : t) {
        if (c <= ' ' || c == 0x7f || c == '*' || c == '>') return false;
    }
    return true;
}

uint64_t fnv1a(std::string_view s) {
    uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    return h;
}

}  // namespace

bool is_valid_subject_pattern(std::string_view pattern) {
    if (pattern.empty()) return false;
    auto tokens = split_tokens(pattern);
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (!token_ok(tokens[i], i + 1 == tokens.size())) return false;
    }
    return true;
}

bool subject_pattern_covers(std::string_view outer, std::string_view inner) {
    auto o = split_tokens(outer);
    auto in = split_tokens(inner);
    for (size_t i = 0; i < o.size(); ++i) {
        if (o[i] == ">") return i < in.size();
        if (i >= in.size()) return false;
        if (in[i] == ">") return false;  // inner reaches further than this outer token
        if (o[i] == "*") continue;
        if (in[i] == "*" || in[i] != o[i]) return false;
    }
    return o.size() == in.size();
}

bool subject_patterns_overlap(std::string_view a, std::string_view b) {
    auto x = split_tokens(a);
    auto y = split_tokens(b);
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
        if (x[i] == ">" || y[i] == ">") return true;
        if (x[i] != "*" && y[i] != "*" && x[i] != y[i]) return false;
    }
    return x.size() == y.size();
}

std::string durable_name(std::string_view binding, std::string_view subject,
                         std::string_view group) {
    std::string out;
    if (group != "default") out.append(group).append("_");
    out.append(binding);
    out += "__";
    for (char c : subject) {
        if (c == '.') {
            out += '_';
        } else if (c == '*') {
            out += "star";
        } else if (c == '>') {
            out += "gt";
        } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_') {
            out += c;
        } else {
            out += 'x';
        }
    }
    // Always suffixed with a hash of group, binding and subject: replaced characters (a.b and
    // a_b), cuts, the group prefix (group "mail" + binding "x" reads like binding "mail_x")
    // and separators inside names ("a__b" + "c" against "a" + "b__c") could otherwise make
    // two consumers one.
    constexpr size_t kMax = 64;
    std::string whole(group);
    whole.append(1, '\0').append(binding).append(1, '\0').append(subject);
    char hash[17];
    std::snprintf(hash, sizeof hash, "%08x", static_cast<unsigned>(fnv1a(whole) & 0xffffffffu));
    if (out.size() > kMax - 9) out.resize(kMax - 9);
    out += "_";
    out += hash;
    return out;
}

}  // namespace bb
