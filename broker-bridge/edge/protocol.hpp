#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

// The client protocol of docs/PROTOCOL.md: commands in, replies and messages out, as JSON on
// text frames or MessagePack on binary frames. Pure functions, safe on any thread.
namespace bb::edge {

enum class WireFormat { kJson, kMsgpack };

inline constexpr std::string_view kJsonProtocol = "bridge.json.v1";
inline constexpr std::string_view kMsgpackProtocol = "bridge.msgpack.v1";

// Close codes (RFC 6455 and ours, 4000-4999).
inline constexpr int kCloseGoingAway = 1001;
inline constexpr int kClosePolicy = 1008;
inline constexpr int kCloseTooBig = 1009;
inline constexpr int kCloseTryLater = 1013;
inline constexpr int kCloseUnauthorized = 4001;
inline constexpr int kCloseForbidden = 4003;
inline constexpr int kCloseTooSlow = 4008;
inline constexpr int kCloseTokenExpired = 4009;
inline constexpr int kCloseAccountDisabled = 4010;
inline constexpr int kCloseRateLimited = 4029;

// A stream position: the sequence together with the stream's identity.
struct Position {
    uint64_t seq = 0;
    std::string epoch;
};

enum class Op { kConnect, kSubscribe, kUnsubscribe, kPublish, kRefresh, kPresence };

struct Command {
    Op op = Op::kConnect;
    nlohmann::json id;  // null when the client sent none; else an integer or a short string
    std::string token;
    std::string channel;
    std::string status;  // presence: online or away
    std::optional<Position> since;
    nlohmann::json data;
};

// A command that could not be read; `id` is echoed when it could be read.
struct CommandError {
    nlohmann::json id;
    std::string message;
};

std::variant<Command, CommandError> parse_command(std::string_view payload, bool binary);

// Replies. `id` null is left out.
nlohmann::json reply(std::string_view op, const nlohmann::json& id);
nlohmann::json error_reply(const nlohmann::json& id, std::string_view code,
                           std::string_view message);

// One encoded outgoing message, shared by every connection it goes to.
using Encoded = std::shared_ptr<const std::string>;
Encoded encode(const nlohmann::json& message, WireFormat format);

}  // namespace bb::edge
