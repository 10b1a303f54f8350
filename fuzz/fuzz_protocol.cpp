// The client protocol parser (docs/PROTOCOL.md): one WebSocket frame payload per input. The
// first byte chooses the frame kind ('b' binary, MessagePack; anything else text, JSON) so
// the corpus holds both. A parsed command must hold what the protocol promises, and every
// reply built from it must encode in both wire formats.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "broker-bridge/edge/protocol.hpp"
#include "fuzz/fuzz_check.hpp"

using bb::edge::Command;
using bb::edge::CommandError;
using bb::edge::Op;

namespace {

void check_command(const Command& c) {
    BB_FUZZ_CHECK(c.id.is_null() || c.id.is_number_integer() || c.id.is_string());
    bool needs_channel = c.op == Op::kSubscribe || c.op == Op::kUnsubscribe || c.op == Op::kPublish;
    BB_FUZZ_CHECK(!needs_channel || !c.channel.empty());
    bool needs_token = c.op == Op::kConnect || c.op == Op::kRefresh;
    BB_FUZZ_CHECK(!needs_token || !c.token.empty());
    BB_FUZZ_CHECK(c.op != Op::kPresence || c.status == "online" || c.status == "away");
    // The edge echoes the id and may forward the data: both must encode without throwing.
    auto reply = bb::edge::reply("subscribed", c.id);
    reply["data"] = c.data;
    BB_FUZZ_CHECK(bb::edge::encode(reply, bb::edge::WireFormat::kJson) != nullptr);
    BB_FUZZ_CHECK(bb::edge::encode(reply, bb::edge::WireFormat::kMsgpack) != nullptr);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    bool binary = data[0] == 'b';
    std::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
    auto parsed = bb::edge::parse_command(payload, binary);
    if (const auto* c = std::get_if<Command>(&parsed)) {
        check_command(*c);
    } else {
        const auto& e = std::get<CommandError>(parsed);
        BB_FUZZ_CHECK(!e.message.empty());
        auto reply = bb::edge::error_reply(e.id, "bad_request", e.message);
        BB_FUZZ_CHECK(bb::edge::encode(reply, bb::edge::WireFormat::kJson) != nullptr);
        BB_FUZZ_CHECK(bb::edge::encode(reply, bb::edge::WireFormat::kMsgpack) != nullptr);
    }
    return 0;
}
