#include "push_message.hpp"

#include <curl/curl.h>

#include <ctime>
#include <memory>

#include "broker-bridge/errors.hpp"
#include "broker-bridge/webpush/ece.hpp"

namespace bb::push {
namespace {

struct UrlDeleter {
    void operator()(CURLU* url) const noexcept { curl_url_cleanup(url); }
};

// A part of a parsed URL, empty when absent.
std::string url_part(CURLU* url, CURLUPart part) {
    char* text = nullptr;
    if (curl_url_get(url, part, &text, 0) != CURLUE_OK || text == nullptr) return {};
    std::string out(text);
    curl_free(text);
    return out;
}

webpush::VapidKey read_key(const PushConfig& config) {
    auto key = webpush::read_vapid_key(config.vapid_private_key);
    // parse_push_config checked it already; this only keeps the invariant local.
    if (!key) throw ConfigError("vapid: " + key.error().what);
    return std::move(*key);
}

}  // namespace

Result<std::string> endpoint_origin(std::string_view endpoint, bool allow_http) {
    std::unique_ptr<CURLU, UrlDeleter> url(curl_url());
    const std::string text(endpoint);
    if (!url || curl_url_set(url.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) {
        return make_error("the endpoint is not an absolute URL");
    }
    const std::string scheme = url_part(url.get(), CURLUPART_SCHEME);
    if (scheme != "https" && !(allow_http && scheme == "http")) {
        return make_error("the endpoint's scheme is '" + scheme + "'; push endpoints are https" +
                          (allow_http ? " or http" : ""));
    }
    if (!url_part(url.get(), CURLUPART_USER).empty()) {
        return make_error("the endpoint carries user info");
    }
    std::string origin = scheme + "://" + url_part(url.get(), CURLUPART_HOST);
    const std::string port = url_part(url.get(), CURLUPART_PORT);  // only when written
    if (!port.empty()) origin += ":" + port;
    return origin;
}

std::string topic_problem(std::string_view topic) {
    if (topic.size() > 32) {
        return "Topic is " + std::to_string(topic.size()) + " characters; at most 32 allowed";
    }
    for (char c : topic) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok) return "Topic may hold only the base64url alphabet (A-Z, a-z, 0-9, '-', '_')";
    }
    return {};
}

MessageBuilder::MessageBuilder(const PushConfig& config)
    : config_(config), key_(read_key(config)) {}

Result<std::string> MessageBuilder::authorization_for(const std::string& origin) {
    const int64_t now = std::time(nullptr);
    const int64_t lifetime = config_.token_lifetime_ms / 1000;
    std::lock_guard lock(mutex_);
    auto cached = tokens_.find(origin);
    if (cached != tokens_.end() && cached->second.expires_unix - now > lifetime / 2) {
        return cached->second.authorization;
    }
    auto token = webpush::vapid_token(key_, origin, config_.vapid_subject, now + lifetime);
    if (!token) return token.error();
    std::string authorization = webpush::vapid_authorization(key_, *token);
    tokens_[origin] = CachedToken{authorization, now + lifetime};
    return authorization;
}

Result<PushRequest> MessageBuilder::build(const Subscription& device, std::string_view payload,
                                          const std::string& topic) {
    auto origin = endpoint_origin(device.endpoint, config_.allow_http_endpoints);
    if (!origin) return origin.error();
    auto keys = webpush::read_user_agent_keys(device.p256dh, device.auth);
    if (!keys) return keys.error();
    auto body = webpush::encrypt(payload, *keys);
    if (!body) return body.error();
    auto authorization = authorization_for(*origin);
    if (!authorization) return authorization.error();

    PushRequest request;
    request.endpoint = device.endpoint;
    request.body = std::move(*body);
    request.headers = {"Content-Type: application/octet-stream", "Content-Encoding: aes128gcm",
                       "TTL: " + std::to_string(config_.ttl_seconds),
                       "Authorization: " + *authorization};
    if (!config_.urgency.empty()) request.headers.push_back("Urgency: " + config_.urgency);
    if (!topic.empty()) request.headers.push_back("Topic: " + topic);
    return request;
}

}  // namespace bb::push
