#include "broker-bridge/edge/dev_token_endpoint.hpp"

#include <nlohmann/json.hpp>

#include "broker-bridge/edge/token_verifier.hpp"

namespace bb::edge {
namespace {

constexpr size_t kMaxUserLength = 128;
constexpr size_t kMaxOrgs = 32;

HttpReply refuse(std::string what) {
    return {400, nlohmann::json{{"error", std::move(what)}}.dump()};
}

// A user id becomes a channel variable and a subject token ({user} in user:{user}:...):
// the same characters the channel rules refuse are refused here, so the token is usable.
bool is_subject_token(const std::string& s) {
    if (s.empty() || s.size() > kMaxUserLength) return false;
    for (unsigned char c : s) {
        if (c <= ' ' || c == '.' || c == '*' || c == '>' || c == 0x7f) return false;
    }
    return true;
}

bool is_org(const nlohmann::json& org) {
    return org.is_number_integer() || (org.is_string() && is_subject_token(org.get<std::string>()));
}

}  // namespace

HttpReply mint_dev_token_reply(const AuthConfig& auth, const DevTokenConfig& config,
                               std::string_view body, int64_t now_s) {
    nlohmann::json request = nlohmann::json::parse(body, nullptr, false);
    if (request.is_discarded() || !request.is_object()) {
        return refuse("the body must be a JSON object: {\"user\": \"...\", \"orgs\": [...]}");
    }
    if (!request.contains("user") || !request["user"].is_string() ||
        !is_subject_token(request["user"].get<std::string>())) {
        return refuse(
            "user must be a non-empty string of at most 128 characters without "
            "white space, '.', '*' or '>'");
    }
    nlohmann::json orgs = request.value("orgs", nlohmann::json::array());
    if (!orgs.is_array() || orgs.size() > kMaxOrgs) {
        return refuse("orgs must be a list of at most 32 org ids");
    }
    for (const auto& org : orgs) {
        if (!is_org(org)) return refuse("each org must be a whole number or an id string");
    }
    int64_t ttl_s = config.ttl.count() / 1000;
    nlohmann::json claims = {
        {"sub", request["user"]}, {"orgs", orgs}, {"iat", now_s}, {"exp", now_s + ttl_s}};
    auto token = mint_dev_token(auth, claims);
    if (!token) return {500, nlohmann::json{{"error", token.error().what}}.dump()};
    return {200, nlohmann::json{{"token", *token}, {"expires_in_ms", ttl_s * 1000}}.dump()};
}

}  // namespace bb::edge
