#include "broker-bridge/edge/stream_reader.hpp"

#include "broker-bridge/nats_handles.hpp"

namespace bb::edge {

StreamReader::StreamReader(jsCtx* js, std::string stream) : js_(js), stream_(std::move(stream)) {}

Result<StreamState> StreamReader::state() {
    jsStreamInfo* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&raw, js_, stream_.c_str(), nullptr, &jerr);
    JsStreamInfo info(raw);
    if (s != NATS_OK) return nats_error(s, &jerr);
    StreamState st{info->State.FirstSeq, info->State.LastSeq, std::to_string(info->Created)};
    std::lock_guard lock(mu_);
    epoch_ = st.epoch;
    return st;
}

std::string StreamReader::epoch() const {
    std::lock_guard lock(mu_);
    return epoch_;
}

// The message, or nullptr for "no such message". The caller owns a returned message.
Result<natsMsg*> StreamReader::direct_get(const jsDirectGetMsgOptions& options) {
    natsMsg* raw = nullptr;
    natsStatus s = js_DirectGetMsg(&raw, js_, stream_.c_str(), nullptr,
                                   const_cast<jsDirectGetMsgOptions*>(&options));
    if (s == NATS_NOT_FOUND) return static_cast<natsMsg*>(nullptr);
    if (s != NATS_OK) return nats_error(s);
    return raw;
}

Result<uint64_t> StreamReader::last_seq(const std::string& subject) {
    jsDirectGetMsgOptions o;
    jsDirectGetMsgOptions_Init(&o);
    o.LastBySubject = subject.c_str();
    auto got = direct_get(o);
    if (!got) return got.error();
    NatsMsg msg(*got);
    if (!msg) return uint64_t{0};
    auto live = LiveMessage::from_nats(msg.get(), "");
    if (!live) {
        const char* seq = header_value(msg.get(), "Nats-Sequence");
        return seq ? std::strtoull(seq, nullptr, 10) : uint64_t{0};
    }
    return (*live)->seq();
}

Result<std::optional<std::string>> StreamReader::subject_at(uint64_t seq) {
    jsDirectGetMsgOptions o;
    jsDirectGetMsgOptions_Init(&o);
    o.Sequence = seq;
    auto got = direct_get(o);
    if (!got) return got.error();
    NatsMsg msg(*got);
    if (!msg) return std::optional<std::string>();
    const char* subject = header_value(msg.get(), "Nats-Subject");
    return std::optional<std::string>(subject ? subject : "");
}

Result<LivePtr> StreamReader::next(const std::string& subject, uint64_t seq) {
    // A stored message the edge cannot read (a body that is not JSON) is skipped, as the
    // live path skips it; the bound keeps a stream full of them from holding a worker.
    for (int skipped = 0; skipped < 1000; ++skipped) {
        jsDirectGetMsgOptions o;
        jsDirectGetMsgOptions_Init(&o);
        o.Sequence = seq;
        o.NextBySubject = subject.c_str();
        auto got = direct_get(o);
        if (!got) return got.error();
        NatsMsg msg(*got);
        if (!msg) return LivePtr();
        auto live = LiveMessage::from_nats(msg.get(), epoch());
        if (live) return std::move(*live);
        const char* at = header_value(msg.get(), "Nats-Sequence");
        uint64_t found = at ? std::strtoull(at, nullptr, 10) : 0;
        if (found < seq) return Error{"direct get went backwards"};
        seq = found + 1;
    }
    return Error{"too many unreadable messages on the subject"};
}

}  // namespace bb::edge
