// `broker-bridge token`: a development token for the edge, signed with the configured key.
#include <chrono>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "broker-bridge/cli/commands.hpp"
#include "broker-bridge/config.hpp"
#include "broker-bridge/duration.hpp"
#include "broker-bridge/errors.hpp"
#include "broker-bridge/edge/token_verifier.hpp"

namespace bb::cli {
namespace {

bool is_whole_number(const std::string& s) {
    if (s.empty() || s.size() > 18) return false;
    size_t start = s[0] == '-' ? 1 : 0;
    if (start == s.size()) return false;
    for (size_t i = start; i < s.size(); ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
    }
    return true;
}

// `7` is a number, `a,b` a list, `["acme"]` (JSON: an array or object) a list of one;
// anything else is text.
nlohmann::json claim_value(const std::string& text) {
    if (!text.empty() && (text.front() == '[' || text.front() == '{')) {
        auto parsed = nlohmann::json::parse(text, nullptr, false);
        if (parsed.is_discarded()) {
            throw ConfigError("--claim: the value '" + text + "' starts like JSON but is not");
        }
        return parsed;
    }
    auto scalar = [](const std::string& s) -> nlohmann::json {
        return is_whole_number(s) ? nlohmann::json(std::stoll(s)) : nlohmann::json(s);
    };
    if (text.find(',') == std::string::npos) return scalar(text);
    nlohmann::json list = nlohmann::json::array();
    size_t start = 0;
    while (start <= text.size()) {
        size_t comma = text.find(',', start);
        if (comma == std::string::npos) comma = text.size();
        list.push_back(scalar(text.substr(start, comma - start)));
        start = comma + 1;
    }
    return list;
}

bool has_hs256_key(const AuthConfig& auth) {
    for (const auto& k : auth.keys) {
        if (k.alg == "HS256") return true;
    }
    return false;
}

}  // namespace

int token(const TokenOptions& o) {
    Config c = load_config(o.config);
    if (!c.edge || !has_hs256_key(c.edge->auth)) {
        std::fprintf(stderr, "token: %s has no HS256 key under edge.auth.keys\n", o.config.c_str());
        return 2;
    }
    std::string why;
    auto ttl = parse_duration(o.ttl, &why);
    if (!ttl) {
        std::fprintf(stderr, "token: --ttl: %s\n", why.c_str());
        return 2;
    }
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    if (o.sub.empty() || ttl->count() <= 0) {
        std::fprintf(stderr, "token: %s\n",
                     o.sub.empty() ? "--sub is empty" : "--ttl must be longer than 0");
        return 2;
    }
    nlohmann::json claims = {
        {"sub", o.sub},
        {"iat", now},
        {"exp", now + std::chrono::duration_cast<std::chrono::seconds>(*ttl).count()}};
    for (const auto& pair : o.claims) {
        size_t eq = pair.find('=');
        if (eq == std::string::npos || eq == 0) {
            std::fprintf(stderr, "token: --claim wants name=value, got '%s'\n", pair.c_str());
            return 2;
        }
        const std::string name = pair.substr(0, eq);
        // These come from --sub, --ttl and the config: a --claim must not quietly replace them.
        for (const char* reserved : {"sub", "iat", "exp", "nbf", "iss", "aud"}) {
            if (name == reserved) {
                std::fprintf(stderr, "token: --claim %s: set by --sub, --ttl or the config\n",
                             reserved);
                return 2;
            }
        }
        try {
            claims[name] = claim_value(pair.substr(eq + 1));
        } catch (const ConfigError& e) {
            std::fprintf(stderr, "token: %s\n", e.what());
            return 2;
        }
    }
    auto token = edge::mint_dev_token(c.edge->auth, claims);
    if (!token) {
        std::fprintf(stderr, "token: %s\n", token.error().what.c_str());
        return 1;
    }
    std::printf("%s\n", token->c_str());
    return 0;
}

}  // namespace bb::cli
