#include "handlers/dead_letter.hpp"

#include "broker-bridge/time_text.hpp"

#include <strings.h>

#include <chrono>

namespace bb::handlers {
namespace {

bool same_name(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool is_bridge_dlq_header(std::string_view name) {
    constexpr std::string_view kPrefix = "Bridge-Dlq-";
    return name.size() >= kPrefix.size() && same_name(name.substr(0, kPrefix.size()), kPrefix);
}

const std::string* find(const Headers& headers, std::string_view name) {
    for (const auto& [k, v] : headers) {
        if (same_name(k, name)) return &v;
    }
    return nullptr;
}

}  // namespace

std::string_view reason_name(DlqReason reason) {
    switch (reason) {
        case DlqReason::kReject: return "reject";
        case DlqReason::kExhausted: return "exhausted";
        case DlqReason::kInvalid: return "invalid";
        case DlqReason::kMaxDeliveries: return "max_deliveries";
    }
    return "exhausted";
}

std::string header_safe_error(std::string_view text) {
    std::string out;
    out.reserve(std::min(text.size(), kMaxDlqErrorBytes));
    for (unsigned char c : text) {
        out += (c < 0x20 || c == 0x7f) ? ' ' : static_cast<char>(c);
    }
    if (out.size() > kMaxDlqErrorBytes) {
        size_t cut = kMaxDlqErrorBytes;
        // Step back over UTF-8 continuation bytes so the cut never splits a character.
        while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
        out.resize(cut);
    }
    if (out.empty()) out = "no reason given";
    return out;
}

DeadLetterMessage build_dead_letter(const Headers& original, std::string_view body,
                                    const DeadLetter& info, std::string_view dlq_prefix) {
    DeadLetterMessage m;
    m.body = std::string(body);

    std::string replays = "0";
    if (const auto* r = find(original, kDlqReplays)) replays = *r;
    std::string first = info.first_failed_at.empty() ? rfc3339_now() : info.first_failed_at;
    if (const auto* f = find(original, kDlqFirstFailedAt)) first = *f;
    // A replayed message records its own subject as the replay target; the original subject
    // is the one its first entry recorded.
    std::string original_subject = info.original_subject;
    if (const auto* s = find(original, kDlqOriginalSubject)) original_subject = *s;
    m.subject = std::string(dlq_prefix) + "." + info.binding + "." + original_subject;

    std::string dropped;
    for (const auto& [k, v] : original) {
        if (is_bridge_dlq_header(k) || same_name(k, "Nats-Msg-Id") ||
            same_name(k, kReplayBinding)) {
            continue;
        }
        // nats-server accepts names nats.c cannot write back (`ce-userid : x` reads as the
        // name "ce-userid "); an entry that cannot be published would be retried forever.
        if (!writable_header(k, v)) {
            dropped += (dropped.empty() ? "" : ", ") + header_safe_error(k);
            continue;
        }
        m.headers.emplace_back(k, v);
    }
    if (!dropped.empty()) m.headers.emplace_back(kDlqDroppedHeaders, header_safe_error(dropped));
    m.msg_id = "dlq:" + info.binding + ":" + info.stream + ":" +
               std::to_string(info.stream_seq) + ":" + replays;
    m.headers.emplace_back(kDlqReason, std::string(reason_name(info.reason)));
    m.headers.emplace_back(kDlqError, header_safe_error(info.error));
    m.headers.emplace_back(kDlqAttempts, std::to_string(info.attempts));
    m.headers.emplace_back(kDlqBinding, info.binding);
    m.headers.emplace_back(kDlqPlugin, info.plugin);
    m.headers.emplace_back(kDlqStream, info.stream);
    m.headers.emplace_back(kDlqStreamSeq, std::to_string(info.stream_seq));
    m.headers.emplace_back(kDlqOriginalSubject, original_subject);
    m.headers.emplace_back(kDlqFirstFailedAt, first);
    m.headers.emplace_back(kDlqFailedAt, rfc3339_now());
    m.headers.emplace_back(kDlqReplays, replays);
    return m;
}

Result<void> publish_dead_letter(const NatsClient& nats, const DeadLetterMessage& message) {
    auto seq = nats.js_publish(message.subject, message.headers, message.body, message.msg_id,
                               OnDuplicate::kAccept);
    if (!seq) return seq.error();
    return {};
}

}  // namespace bb::handlers
