#include "broker-bridge/edge/recovery.hpp"

namespace bb::edge {
namespace {

// Why the position cannot be recovered from, or "" when it can.
Result<std::string> check_position(StreamReader& reader, const std::string& subject,
                                   const Position& since, const StreamState& st) {
    if (since.epoch != st.epoch) return std::string("epoch");
    if (since.seq > st.last_seq) return std::string("future");
    if (since.seq == 0) return std::string(st.first_seq <= 1 ? "" : "expired");
    auto at = reader.subject_at(since.seq);
    if (!at) return at.error();
    if (at->has_value()) return std::string(**at == subject ? "" : "foreign");
    // Gone: fine while everything after it is still stored (it may have been deleted alone).
    return std::string(st.first_seq <= since.seq + 1 ? "" : "expired");
}

}  // namespace

Result<void> replay_messages(StreamReader& reader, const std::string& subject, uint64_t from,
                             int64_t max_messages, const std::atomic<bool>& wanted,
                             SubscribeStart& out) {
    while (from <= out.last_seq) {
        if (!wanted.load()) return Error{"the subscription is no longer wanted"};
        auto next = reader.next(subject, from);
        if (!next) return next.error();
        if (!*next || (*next)->seq() > out.last_seq) return {};
        if (static_cast<int64_t>(out.replay.size()) >= max_messages) {
            out.replay.clear();
            out.recovered = false;
            out.miss = "too_many";
            return {};
        }
        from = (*next)->seq() + 1;
        out.replay.push_back(std::move(*next));
    }
    return {};
}

Result<SubscribeStart> start_subscription(StreamReader& reader, const std::string& subject,
                                          const std::optional<Position>& since,
                                          int64_t max_messages, const std::atomic<bool>& wanted) {
    SubscribeStart out;
    auto last = reader.last_seq(subject);
    if (!last) return last.error();
    out.last_seq = *last;
    // Fresh stream info for every position: it gives the epoch and the first sequence.
    auto st = since ? reader.state() : Result<StreamState>(StreamState{0, 0, reader.epoch()});
    if (!st) return st.error();
    out.epoch = st->epoch;
    if (!since) return out;
    auto miss = check_position(reader, subject, *since, *st);
    if (!miss) return miss.error();
    out.miss = *miss;
    if (!out.miss.empty()) return out;
    out.recovered = true;
    auto r = replay_messages(reader, subject, since->seq + 1, max_messages, wanted, out);
    if (!r) return r.error();
    return out;
}

}  // namespace bb::edge
