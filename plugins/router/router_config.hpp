#pragma once

#include <optional>
#include <string>
#include <vector>

#include "broker-bridge/expression.hpp"
#include "broker-bridge/template.hpp"

namespace bb::router {

// A follow-up domain event a route asks the host to publish.
struct EmitSpec {
    std::string type;            // one subject token, literal
    std::string aggregate_type;  // one subject token, literal
    tmpl::Template aggregate_id;
    std::optional<tmpl::JsonTemplate> data;  // absent: the source event's data
};

// One entry of `routes:`. Exactly one of channel_subject and emit is set.
struct Route {
    std::string name;   // as configured, or the route's index; names the Nats-Msg-Id and key
    std::string where;  // "routes[2]", for messages
    expr::Expression when;
    std::optional<tmpl::Template> channel_subject;
    std::optional<tmpl::JsonTemplate> data;  // channel routes; absent: the whole event data
    std::optional<EmitSpec> emit;
};

struct RouterConfig {
    std::vector<Route> routes;
    // Some condition or template reads `data`: the event data is parsed for each event.
    // Otherwise routes that forward the whole data use its JSON text as it arrives.
    bool reads_data = false;
};

// Reads the binding's `config:` YAML text. Throws bb::ConfigError naming the place
// ("routes[1].channel_subject: ...") for an unknown or repeated key, a wrong type, a bad
// template or condition, or a route with neither or both of channel_subject and emit.
RouterConfig parse_router_config(const std::string& yaml_text);

}  // namespace bb::router
