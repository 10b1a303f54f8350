#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "broker-bridge/nats_client.hpp"
#include "broker-bridge/result.hpp"

// Dead-lettering: the original message, with every original header and body byte, published
// to dlq.<binding>.<original subject> in stream DLQ with the Bridge-Dlq-* headers of
// DESIGN.md. Its Nats-Msg-Id is built from the binding, the original stream sequence and the
// replay count, the same on every path (host, max-deliveries advisory), so one failure makes
// one entry whichever path gets there first.
namespace bb::handlers {

enum class DlqReason { kReject, kExhausted, kInvalid, kMaxDeliveries };
std::string_view reason_name(DlqReason reason);

// Header names, shared with the dlq commands.
inline constexpr const char* kDlqReason = "Bridge-Dlq-Reason";
inline constexpr const char* kDlqError = "Bridge-Dlq-Error";
inline constexpr const char* kDlqAttempts = "Bridge-Dlq-Attempts";
inline constexpr const char* kDlqBinding = "Bridge-Dlq-Binding";
inline constexpr const char* kDlqPlugin = "Bridge-Dlq-Plugin";
inline constexpr const char* kDlqStream = "Bridge-Dlq-Stream";
inline constexpr const char* kDlqStreamSeq = "Bridge-Dlq-Stream-Seq";
inline constexpr const char* kDlqOriginalSubject = "Bridge-Dlq-Original-Subject";
inline constexpr const char* kDlqFirstFailedAt = "Bridge-Dlq-First-Failed-At";
inline constexpr const char* kDlqFailedAt = "Bridge-Dlq-Failed-At";
inline constexpr const char* kDlqReplays = "Bridge-Dlq-Replays";
// The names of original headers a NATS message cannot carry again (a space in the name, an
// empty value): left out of the entry, which must be publishable, and named here.
inline constexpr const char* kDlqDroppedHeaders = "Bridge-Dlq-Dropped-Headers";
// Set on a replayed message: only this binding handles it, every other one skips it.
inline constexpr const char* kReplayBinding = "Bridge-Replay-Binding";

inline constexpr size_t kMaxDlqErrorBytes = 1024;

struct DeadLetter {
    std::string binding;
    std::string plugin;
    DlqReason reason = DlqReason::kExhausted;
    std::string error;
    uint32_t attempts = 0;
    std::string stream;
    uint64_t stream_seq = 0;
    std::string original_subject;
    std::string first_failed_at;  // RFC 3339; empty: now
};

struct DeadLetterMessage {
    std::string subject;
    Headers headers;
    std::string body;
    std::string msg_id;
};

// Builds the DLQ message from the original's headers and body. Bridge-Dlq-* headers the
// original carried (a replayed entry) are replaced, except that Bridge-Dlq-Replays and
// Bridge-Dlq-First-Failed-At carry over, so counts accumulate across replays.
DeadLetterMessage build_dead_letter(const Headers& original, std::string_view body,
                                    const DeadLetter& info, std::string_view dlq_prefix = "dlq");

// Publishes and waits for the DLQ stream's acknowledgement; a duplicate acknowledgement
// means this failure was already dead-lettered, which is success.
Result<void> publish_dead_letter(const NatsClient& nats, const DeadLetterMessage& message);

// An error text fit for a header: control characters become spaces, cut at a UTF-8
// boundary to at most kMaxDlqErrorBytes.
std::string header_safe_error(std::string_view text);

}  // namespace bb::handlers
