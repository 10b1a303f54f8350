#include "protocol_adapter.hpp"

#include <stdexcept>

#include "hs256_token.hpp"

namespace bench {

Protocol parse_protocol(std::string_view name) {
    if (name == "bb") return Protocol::kBridge;
    if (name == "nats") return Protocol::kNats;
    if (name == "trpc") return Protocol::kTrpc;
    if (name == "floor") return Protocol::kFloor;
    throw std::invalid_argument("unknown --protocol '" + std::string(name) +
                                "' (bb, nats, trpc or floor)");
}

std::string ProtocolAdapter::key(uint32_t client) const {
    return c_.per_user ? "u" + std::to_string(client) : "all";
}

std::string ProtocolAdapter::upgrade_headers() const {
    if (c_.protocol == Protocol::kBridge) return "Sec-WebSocket-Protocol: bridge.json.v1\r\n";
    return {};
}

std::string ProtocolAdapter::subject(uint32_t client) const {
    // bb: the RT stream subjects of the bench config's channels "bench:all" and "user:u<i>".
    if (c_.protocol == Protocol::kBridge) {
        return c_.per_user ? "rt.user." + key(client) : "rt.bench.all";
    }
    return "bench." + key(client);
}

std::string ProtocolAdapter::subscribe_command(uint32_t client) const {
    switch (c_.protocol) {
        case Protocol::kBridge: {
            std::string channel = c_.per_user ? "user:" + key(client) : "bench:all";
            return R"({"op":"subscribe","id":2,"channel":")" + channel + "\"}";
        }
        case Protocol::kNats:
            return "SUB " + subject(client) + " 1\r\nPING\r\n";
        case Protocol::kTrpc:
            return R"({"id":1,"jsonrpc":"2.0","method":"subscription","params":{"path":)"
                   R"("channel","input":{"channel":")" +
                   key(client) + "\"}}}";
        case Protocol::kFloor:
            return "sub " + key(client);
    }
    return {};
}

std::string ProtocolAdapter::resubscribe(uint32_t client) const {
    return subscribe_command(client);
}

std::string ProtocolAdapter::on_open(uint32_t client) const {
    switch (c_.protocol) {
        case Protocol::kBridge: {
            std::string token = hs256_token(c_.jwt_secret, "u" + std::to_string(client),
                                            c_.jwt_issuer, c_.jwt_audience);
            return R"({"op":"connect","id":1,"token":")" + token + "\"}";
        }
        case Protocol::kNats:
            return "CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1,"
                   "\"headers\":false,\"name\":\"bench\"}\r\n" +
                   subscribe_command(client);
        default:
            return subscribe_command(client);
    }
}

ControlStep ProtocolAdapter::on_control(uint32_t client, std::string_view text) const {
    ControlStep step;
    auto has = [&](std::string_view s) { return text.find(s) != std::string_view::npos; };
    switch (c_.protocol) {
        case Protocol::kBridge:
            if (has("\"op\":\"connected\"")) {
                step.send = subscribe_command(client);
            } else if (has("\"op\":\"subscribed\"")) {
                step.ready = true;
            } else if (has("\"code\":\"limit\"")) {
                step.retry_later = true;
            } else if (has("\"op\":\"error\"")) {
                step.failed = true;
            }
            break;
        case Protocol::kNats:
            if (has("PONG\r\n")) step.ready = true;
            if (has("-ERR")) step.failed = true;
            break;
        case Protocol::kTrpc:
            if (has("\"type\":\"started\"")) step.ready = true;
            if (has("\"error\"")) step.failed = true;
            break;
        case Protocol::kFloor:
            if (has("subscribed")) step.ready = true;
            break;
    }
    return step;
}

std::string_view ProtocolAdapter::keepalive_reply(std::string_view text) const {
    // tRPC's keep-alive (when the server enables it) is a text "PING" answered "PONG".
    if (c_.protocol == Protocol::kTrpc) return text == "PING" ? "PONG" : std::string_view();
    if (c_.protocol != Protocol::kNats) return {};
    if (text.starts_with("PING\r\n") || text.find("\r\nPING\r\n") != std::string_view::npos) {
        return "PONG\r\n";
    }
    return {};
}

}  // namespace bench
