// What differs between the servers the load generator measures: the upgrade request,
// the commands that authenticate and subscribe a client, the reply that makes it ready,
// and the subject (or floor channel) a message for a client is published to. Messages
// themselves are found the same way for every protocol (seq_scan.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace bench {

enum class Protocol { kBridge, kNats, kTrpc, kFloor };

struct AdapterConfig {
    Protocol protocol = Protocol::kBridge;
    bool per_user = false;   // each client on its own channel "u<i>", else all on "all"
    std::string jwt_secret;  // bb: HS256 secret of the edge config
    std::string jwt_issuer, jwt_audience;
};

// What the generator does after a control message of a client that is not ready yet.
struct ControlStep {
    bool ready = false;
    bool failed = false;
    bool retry_later = false;  // bb: `limit` answered a subscribe; send it again later
    std::string send;          // text to send (one WebSocket text message), may be empty
};

class ProtocolAdapter {
public:
    explicit ProtocolAdapter(AdapterConfig c) : c_(std::move(c)) {}
    // The channel key of client i: "u<i>" per user, "all" otherwise.
    std::string key(uint32_t client) const;
    // Extra request headers of the upgrade (subprotocol), each ending in \r\n.
    std::string upgrade_headers() const;
    // Text the client sends once upgraded (may be empty: wait for the server first).
    std::string on_open(uint32_t client) const;
    ControlStep on_control(uint32_t client, std::string_view text) const;
    // The subscribe command again (after `limit`).
    std::string resubscribe(uint32_t client) const;
    // The answer to a server keep-alive in `text` (NATS and tRPC PING), or empty.
    std::string_view keepalive_reply(std::string_view text) const;
    // The NATS subject that reaches client i's channel.
    std::string subject(uint32_t client) const;
    Protocol protocol() const { return c_.protocol; }

private:
    std::string subscribe_command(uint32_t client) const;
    AdapterConfig c_;
};

Protocol parse_protocol(std::string_view name);

}  // namespace bench
