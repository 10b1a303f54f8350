// Finds every message of a received frame by its `"seq":N,"ts":T` pair, whatever the
// protocol wraps it in (the edge's newline-separated JSON, several NATS MSG in one frame,
// tRPC's envelope), so frames that carry several messages are split without a parser per
// protocol. Key order seq-then-ts holds for insertion-ordered and for sorted encoders.
#pragma once

#include <cstdint>
#include <string_view>

namespace bench {

struct SeqTs {
    uint64_t seq;
    int64_t ts_ns;
};

namespace scan_detail {
inline size_t skip_spaces(std::string_view t, size_t i) {
    while (i < t.size() && (t[i] == ' ' || t[i] == '\t')) ++i;
    return i;
}
// Reads digits at i; returns the position after them, or npos when there are none or the
// text ends inside them (the number may go on in the next frame).
inline size_t read_number(std::string_view t, size_t i, uint64_t& v) {
    size_t start = i;
    v = 0;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') v = v * 10 + uint64_t(t[i++] - '0');
    if (i == start || i == t.size()) return std::string_view::npos;
    return i;
}
}  // namespace scan_detail

// Calls on(SeqTs) for each complete pair in `text`; returns how many bytes at the end
// may hold the start of a pair that continues in the next frame (carry them over).
template <class On>
size_t scan_seq_ts(std::string_view text, On&& on) {
    using namespace scan_detail;
    constexpr std::string_view kSeq = "\"seq\":";
    constexpr std::string_view kTs = "\"ts\":";
    size_t done = 0;  // everything before this is consumed
    size_t at = 0;
    while ((at = text.find(kSeq, at)) != std::string_view::npos) {
        uint64_t seq = 0, ts = 0;
        size_t i = read_number(text, skip_spaces(text, at + kSeq.size()), seq);
        if (i == std::string_view::npos) return text.size() - at;  // cut off: carry
        i = skip_spaces(text, i);
        if (i < text.size() && text[i] == ',') i = skip_spaces(text, i + 1);
        if (text.size() - i < kTs.size() && kTs.substr(0, text.size() - i) == text.substr(i)) {
            return text.size() - at;
        }
        if (text.substr(i, kTs.size()) != kTs) {  // another "seq" (e.g. the edge's own)
            at = done = i;
            continue;
        }
        i = read_number(text, skip_spaces(text, i + kTs.size()), ts);
        if (i == std::string_view::npos) return text.size() - at;
        on(SeqTs{seq, static_cast<int64_t>(ts)});
        at = done = i;
    }
    // A "seq": split by the frame's end: keep the last few bytes.
    size_t tail = text.size() - done;
    return tail < kSeq.size() ? tail : kSeq.size() - 1;
}

}  // namespace bench
