#include "broker-bridge/received_headers.hpp"

#include <cstring>
#include <string_view>

namespace bb {
namespace {

constexpr std::string_view kFirstLine = "NATS/1.0\r\n";
constexpr std::string_view kLineEnd = "\r\n";
// A header block larger than this is not ours to guess about (NATS's default max payload
// is 1 MiB; headers are a small part of it).
constexpr std::size_t kMaxBlock = 1 << 20;

// Space as nats.c trims it (isspace in the C locale).
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f'; }

// The bytes between the reply subject (or the subject) and the data: the header block
// without its terminating NUL, or an empty view when there is none or it does not fit.
std::string_view header_block(natsMsg* msg) {
    const char* data = natsMsg_GetData(msg);
    const char* before = natsMsg_GetReply(msg);
    if (before == nullptr) before = natsMsg_GetSubject(msg);
    if (data == nullptr || before == nullptr) return {};
    const char* begin = before + std::strlen(before) + 1;
    if (begin >= data || static_cast<std::size_t>(data - begin) > kMaxBlock) return {};
    if (data[-1] != '\0') return {};
    return {begin, static_cast<std::size_t>(data - 1 - begin)};
}

// One "Name: value" line (without its CRLF) as nats.c reads it: the name up to the colon,
// the value with spaces trimmed on both sides, into out[n] (reused) or a new last entry.
// False for lines nats.c reads differently.
bool parse_line(std::string_view line, Headers& out, std::size_t n) {
    if (line.empty() || is_space(line.front())) return false;  // folded continuation
    auto colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) return false;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && is_space(value.front())) value.remove_prefix(1);
    while (!value.empty() && is_space(value.back())) value.remove_suffix(1);
    if (value.empty()) return false;  // nats.c would read the next line as the value
    // A NUL: nats.c lifted this message already (it overwrites separators in place). A
    // lone CR or LF: nats.c's trimming and line search treat them in ways not worth copying.
    if (line.find_first_of(std::string_view("\0\r\n", 3)) != std::string_view::npos) {
        return false;
    }
    if (n < out.size()) {
        out[n].first.assign(line.substr(0, colon));
        out[n].second.assign(value);
    } else {
        out.emplace_back(line.substr(0, colon), value);
    }
    return true;
}

}  // namespace

bool read_received_headers_into(natsMsg* msg, Headers& out) {
    std::string_view block = header_block(msg);
    if (!block.starts_with(kFirstLine) || !block.ends_with("\r\n\r\n")) return false;
    block.remove_prefix(kFirstLine.size());
    block.remove_suffix(kLineEnd.size());  // the blank line
    std::size_t n = 0;
    while (!block.empty()) {
        auto end = block.find(kLineEnd);
        if (end == std::string_view::npos) return false;
        if (!parse_line(block.substr(0, end), out, n++)) return false;
        block.remove_prefix(end + kLineEnd.size());
    }
    out.resize(n);
    return true;
}

std::optional<Headers> read_received_headers(natsMsg* msg) {
    Headers out;
    if (!read_received_headers_into(msg, out)) return std::nullopt;
    return out;
}

}  // namespace bb
