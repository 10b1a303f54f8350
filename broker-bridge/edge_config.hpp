#pragma once

#include <string>

#include "broker-bridge/config_node.hpp"

// The `edge:` section: the WebSocket edge that `broker-bridge run` starts when the section is
// present (and `broker-bridge edge` runs alone).
namespace bb {

struct EdgeConfig {
    std::string listen;         // host:port
    std::string path = "/ws";   // the WebSocket endpoint
};

// Reads `edge:`; throws ConfigError naming the place.
EdgeConfig read_edge_config(const config::Node& n);

}  // namespace bb
