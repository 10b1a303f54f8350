#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "broker-bridge/edge/channel_rules.hpp"
#include "broker-bridge/envelope.hpp"
#include "broker-bridge/result.hpp"

// The domain event a client publish becomes, built by the server from the channel's
// `publish.event`: the author (ce-userid) is the token's subject whatever the client sent,
// and Bridge-Connection-Id names the connection, so the router can stamp both on the
// realtime messages that follow and the edge can skip echoes.
namespace bb::edge {

struct ClientEvent {
    std::string event_id;
    WireMessage message;  // for EVENTS
};

Result<ClientEvent> client_event(const ResolvedChannel& channel, std::string_view channel_name,
                                 const nlohmann::json& data, const std::string& user,
                                 const std::string& connection_id,
                                 const std::string& events_prefix);

}  // namespace bb::edge
