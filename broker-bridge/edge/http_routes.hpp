#pragma once

#include <libwebsockets.h>

#include <string>

#include "broker-bridge/edge_config.hpp"

// Plain HTTP on the edge's port, besides the WebSocket path: the files of edge.static_dir
// at `/` (libwebsockets serves them: content types, no path above the folder) and, only
// when edge.dev_tokens is enabled, the development token endpoint (dev_token_endpoint.hpp).
namespace bb::edge {

// The protocol entry the token endpoint's mount names; its callback is dev_token_callback.
inline constexpr const char* kDevTokenProtocol = "bridge-dev-token";

struct DevTokenSession {
    size_t body_len;
    char body[4096];
    size_t reply_len;
    char reply[8192];
};

// Protocol 0: every HTTP request no mount serves (and files missing under `/`) gets 404.
int not_found_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len);

int dev_token_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len);

// The mount chain for one lws context, built from the config; it must outlive the context.
class HttpMounts {
public:
    explicit HttpMounts(const EdgeConfig& config);
    HttpMounts(const HttpMounts&) = delete;
    HttpMounts& operator=(const HttpMounts&) = delete;

    // The first mount, or null when there is nothing to serve but the WebSocket path.
    const lws_http_mount* first() const { return first_; }

private:
    std::string static_dir_;
    lws_protocol_vhost_options mime_map_;
    lws_protocol_vhost_options mime_json_;
    lws_protocol_vhost_options mime_mjs_;
    lws_http_mount files_;
    lws_http_mount dev_tokens_;
    const lws_http_mount* first_ = nullptr;
};

}  // namespace bb::edge
