#include "broker-bridge/edge/http_routes.hpp"

#include <chrono>
#include <cstring>
#include <string_view>

#include "broker-bridge/edge/dev_token_endpoint.hpp"
#include "broker-bridge/edge/event_loop.hpp"
#include "broker-bridge/log.hpp"

namespace bb::edge {
namespace {

const EdgeConfig& config_of(lws* wsi) {
    return static_cast<EventLoop*>(lws_context_user(lws_get_context(wsi)))->context().config;
}

// Writes the status line and headers now and the body when the socket is writable.
int start_reply(lws* wsi, DevTokenSession& s, const HttpReply& reply) {
    s.reply_len = std::min(reply.body.size(), sizeof s.reply);
    std::memcpy(s.reply, reply.body.data(), s.reply_len);
    unsigned char buf[LWS_PRE + 512];
    unsigned char* start = buf + LWS_PRE;
    unsigned char* p = start;
    unsigned char* end = buf + sizeof buf - 1;
    if (lws_add_http_common_headers(wsi, static_cast<unsigned>(reply.status), "application/json",
                                    s.reply_len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     reinterpret_cast<const unsigned char*>("no-store"), 8, &p,
                                     end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
                                     reinterpret_cast<const unsigned char*>("close"), 5, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end)) {
        return -1;
    }
    lws_callback_on_writable(wsi);
    return 0;
}

int on_request(lws* wsi, DevTokenSession& s) {
    s.body_len = 0;
    s.reply_len = 0;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) <= 0) {
        return start_reply(wsi, s, {405, R"({"error":"use POST with a JSON body"})"});
    }
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0) {
        // Without a length no body callbacks come: answer now instead of never.
        return start_reply(wsi, s, {400, R"({"error":"the request needs a JSON body"})"});
    }
    return 0;  // the body follows
}

int on_body(lws* wsi, DevTokenSession& s, const void* in, size_t len) {
    if (s.body_len + len > sizeof s.body) {
        lws_return_http_status(wsi, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, nullptr);
        return -1;
    }
    std::memcpy(s.body + s.body_len, in, len);
    s.body_len += len;
    return 0;
}

int on_body_complete(lws* wsi, DevTokenSession& s) {
    const EdgeConfig& config = config_of(wsi);
    auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
    HttpReply reply = mint_dev_token_reply(config.auth, *config.dev_tokens,
                                           std::string_view(s.body, s.body_len), now_s);
    if (reply.status == 200) {
        log::info("dev token minted", {{"path", kDevTokenPath}});
    } else {
        log::warn("dev token refused", {{"status", reply.status}, {"reply", reply.body}});
    }
    return start_reply(wsi, s, reply);
}

int on_writable(lws* wsi, DevTokenSession& s) {
    std::string out(LWS_PRE, '\0');
    out.append(s.reply, s.reply_len);
    auto* body = reinterpret_cast<unsigned char*>(out.data()) + LWS_PRE;
    lws_write(wsi, body, s.reply_len, LWS_WRITE_HTTP_FINAL);
    return -1;  // connection: close (see not_found_callback)
}

// lws_return_http_status sends no `connection: close`, yet every HTTP reply here closes its
// connection: a keep-alive client would send its next request into a socket being closed
// and see a reset instead of the 404. Headers and body go out in one write (HTTP/1 only,
// which is all the edge speaks), so closing next loses nothing.
int answer_not_found(lws* wsi) {
    static constexpr std::string_view kBody = "404 not found\n";
    unsigned char buf[LWS_PRE + 512];
    unsigned char* start = buf + LWS_PRE;
    unsigned char* p = start;
    unsigned char* end = buf + sizeof buf - 1;
    if (lws_add_http_common_headers(wsi, HTTP_STATUS_NOT_FOUND, "text/plain", kBody.size(), &p,
                                    end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
                                     reinterpret_cast<const unsigned char*>("close"), 5, &p, end) ||
        lws_finalize_http_header(wsi, &p, end) || static_cast<size_t>(end - p) < kBody.size()) {
        return -1;
    }
    std::memcpy(p, kBody.data(), kBody.size());
    p += kBody.size();
    lws_write(wsi, start, static_cast<size_t>(p - start), LWS_WRITE_HTTP_HEADERS);
    return -1;
}

}  // namespace

// While the file mount's requests were bound to the JSON protocol (the vhost's default), a
// kept-alive connection's second file went out with the first one's content-length (Chromium:
// ERR_CONTENT_LENGTH_MISMATCH). The mount now names this protocol, and every HTTP reply says
// `connection: close` and closes: a page loads a handful of files, keep-alive buys nothing.
int not_found_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
    switch (reason) {
        case LWS_CALLBACK_HTTP:
            return answer_not_found(wsi);
        case LWS_CALLBACK_ADD_HEADERS: {
            auto* args = static_cast<lws_process_html_args*>(in);
            auto* p = reinterpret_cast<unsigned char*>(args->p);
            if (lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
                                             reinterpret_cast<const unsigned char*>("close"), 5, &p,
                                             p + args->max_len)) {
                return 1;
            }
            args->max_len -= static_cast<int>(p - reinterpret_cast<unsigned char*>(args->p));
            args->p = reinterpret_cast<char*>(p);
            return 0;
        }
        case LWS_CALLBACK_HTTP_FILE_COMPLETION:
            return -1;
        default:
            return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

int dev_token_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
    auto* s = static_cast<DevTokenSession*>(user);
    switch (reason) {
        case LWS_CALLBACK_HTTP:
            return on_request(wsi, *s);
        case LWS_CALLBACK_HTTP_BODY:
            return on_body(wsi, *s, in, len);
        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
            return on_body_complete(wsi, *s);
        case LWS_CALLBACK_HTTP_WRITEABLE:
            return s->reply_len > 0 ? on_writable(wsi, *s) : 0;
        case LWS_CALLBACK_ESTABLISHED:
            return -1;  // a WebSocket asking for this protocol by name: no such thing
        default:
            return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

HttpMounts::HttpMounts(const EdgeConfig& config) : static_dir_(config.static_dir.string()) {
    std::memset(&mime_map_, 0, sizeof mime_map_);
    std::memset(&mime_json_, 0, sizeof mime_json_);
    std::memset(&mime_mjs_, 0, sizeof mime_mjs_);
    std::memset(&files_, 0, sizeof files_);
    std::memset(&dev_tokens_, 0, sizeof dev_tokens_);
    // Types libwebsockets 4.1 does not know; a file without a known type is refused.
    mime_map_ = {&mime_json_, nullptr, ".map", "application/json"};
    mime_json_ = {&mime_mjs_, nullptr, ".json", "application/json"};
    mime_mjs_ = {nullptr, nullptr, ".mjs", "text/javascript"};
    files_.mountpoint = "/";
    files_.mountpoint_len = 1;
    files_.origin = static_dir_.c_str();
    files_.def = "index.html";
    files_.origin_protocol = LWSMPRO_FILE;
    files_.protocol = "http";  // its callbacks to not_found_callback, not the JSON default
    files_.extra_mimetypes = &mime_map_;
    dev_tokens_.mountpoint = kDevTokenPath;
    dev_tokens_.mountpoint_len = static_cast<unsigned char>(std::strlen(kDevTokenPath));
    dev_tokens_.origin = kDevTokenProtocol;
    dev_tokens_.origin_protocol = LWSMPRO_CALLBACK;
    bool files = !static_dir_.empty();
    if (config.dev_tokens) {
        dev_tokens_.mount_next = files ? &files_ : nullptr;
        first_ = &dev_tokens_;
    } else if (files) {
        first_ = &files_;
    }
}

}  // namespace bb::edge
