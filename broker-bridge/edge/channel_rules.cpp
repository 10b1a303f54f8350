#include "broker-bridge/edge/channel_rules.hpp"

#include <algorithm>

#include "broker-bridge/envelope.hpp"
#include "broker-bridge/errors.hpp"
#include "broker-bridge/subject.hpp"

namespace bb::edge {
namespace {

// Rewrites `{name}` to `vars.name` outside quoted strings.
std::string rewrite_vars(std::string_view text, const std::vector<std::string>& names,
                         std::string_view what) {
    std::string out;
    char quote = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (quote) {
            out += c;
            if (c == '\\' && i + 1 < text.size())
                out += text[++i];
            else if (c == quote)
                quote = 0;
            continue;
        }
        if (c == '\'' || c == '"') quote = c;
        if (c != '{') {
            out += c;
            continue;
        }
        size_t close = text.find('}', i);
        std::string name(text.substr(i + 1, close == std::string_view::npos ? 0 : close - i - 1));
        if (close == std::string_view::npos ||
            std::find(names.begin(), names.end(), name) == names.end()) {
            throw ConfigError(std::string(what) + ": '{" + name +
                              "}' is not a variable of the channel pattern");
        }
        out += "vars." + name;
        i = close;
    }
    return out;
}

// "rt.>" -> "rt."; throws unless the pattern is "<prefix>.>".
std::string prefix_of(const std::string& pattern, std::string_view what) {
    if (pattern.size() < 3 || pattern.compare(pattern.size() - 2, 2, ".>") != 0 ||
        pattern.find_first_of("*>") != pattern.size() - 1) {
        throw ConfigError(std::string(what) + ": '" + pattern +
                          "' must have the form <prefix>.> for the edge");
    }
    return pattern.substr(0, pattern.size() - 1);
}

nlohmann::json stringify_numbers(const nlohmann::json& v) {
    if (v.is_number_integer()) return v.dump();
    if (v.is_array()) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& item : v) out.push_back(stringify_numbers(item));
        return out;
    }
    if (v.is_object()) {
        nlohmann::json out = nlohmann::json::object();
        for (const auto& [k, item] : v.items()) out[k] = stringify_numbers(item);
        return out;
    }
    return v;
}

void check_subject_template(const CompiledChannel& c, const std::string& source_prefix) {
    ChannelVars probe;
    for (const auto& name : c.subject.names()) probe.emplace_back(name, "x");
    std::string subject = c.subject.expand(probe);
    std::string what = c.config.where + ": channel '" + c.config.pattern + "'";
    if (!is_valid_subject(subject) || subject.rfind(source_prefix, 0) != 0) {
        throw ConfigError(what + ": subject '" + c.config.subject + "' must be a subject under '" +
                          source_prefix + ">'");
    }
    // Each variable must be a whole token: "a.{x}b" would let two values meet in one.
    std::string marked = c.subject.text();
    for (const auto& name : c.subject.names()) {
        std::string var = "{" + name + "}";
        size_t at = marked.find(var);
        bool starts = at == 0 || marked[at - 1] == '.';
        size_t end = at + var.size();
        if (!starts || (end < marked.size() && marked[end] != '.')) {
            throw ConfigError(what + ": '" + var + "' must be a whole subject token");
        }
    }
    for (const auto& name : c.subject.names()) {
        auto names = c.pattern.names();
        if (std::find(names.begin(), names.end(), name) == names.end()) {
            throw ConfigError(what + ": the subject uses '{" + name + "}', not in the pattern");
        }
    }
}

CompiledChannel compile_channel(const ChannelConfig& cfg, const std::string& source_prefix) {
    std::string what = cfg.where + ": channel '" + cfg.pattern + "'";
    ChannelTemplate pattern = ChannelTemplate::parse(cfg.pattern, what + ": pattern");
    std::vector<std::string> names = pattern.names();
    CompiledChannel c{cfg,
                      pattern,
                      ChannelTemplate::parse(cfg.subject, what + ": subject"),
                      std::nullopt,
                      ChannelRule::compile(cfg.subscribe, names, what + ": subscribe"),
                      std::nullopt,
                      std::nullopt};
    if (cfg.publish) {
        c.publish = ChannelRule::compile(cfg.publish->rule, names, what + ": publish.rule");
        c.aggregate_id = ChannelTemplate::parse(cfg.publish->aggregate_id,
                                                what + ": publish.event.aggregate_id");
        for (const auto& n : c.aggregate_id->names()) {
            if (std::find(names.begin(), names.end(), n) == names.end()) {
                throw ConfigError(what + ": aggregate_id uses '{" + n + "}', not in the pattern");
            }
        }
    }
    if (!cfg.snapshot.empty()) {
        c.snapshot_key = ChannelTemplate::parse(cfg.snapshot, what + ": snapshot");
        for (const auto& n : c.snapshot_key->names()) {
            if (std::find(names.begin(), names.end(), n) == names.end()) {
                throw ConfigError(what + ": snapshot uses '{" + n + "}', not in the pattern");
            }
        }
    }
    check_subject_template(c, source_prefix);
    return c;
}

}  // namespace

ChannelRule ChannelRule::compile(const ChannelRuleText& text, const std::vector<std::string>& vars,
                                 std::string_view what) {
    ChannelRule r;
    if (text.kind == ChannelRuleText::Kind::kToken) r.kind_ = Kind::kToken;
    if (text.kind != ChannelRuleText::Kind::kExpression) return r;
    r.kind_ = Kind::kExpression;
    r.expression_ = expr::Expression::parse(rewrite_vars(text.expression, vars, what), what);
    return r;
}

bool ChannelRule::allows(const nlohmann::json& claims, const ChannelVars& vars) const {
    if (kind_ == Kind::kAuthenticated) return true;
    if (kind_ == Kind::kToken || !expression_) return false;
    nlohmann::json doc = claims.is_object() ? claims : nlohmann::json::object();
    nlohmann::json v = nlohmann::json::object();
    for (const auto& [name, value] : vars) v[name] = value;
    doc["vars"] = std::move(v);
    return expression_->matches(doc);
}

ChannelRules::ChannelRules(const std::vector<ChannelConfig>& channels,
                           const StreamConfig& realtime) {
    if (!realtime.republish) {
        throw ConfigError("stream " + realtime.name +
                          ": the edge needs its republish (source rt.>, destination rtp.>)");
    }
    source_prefix_ = prefix_of(realtime.republish->source, "republish source");
    live_prefix_ = prefix_of(realtime.republish->destination, "republish destination");
    for (const auto& c : channels) channels_.push_back(compile_channel(c, source_prefix_));
}

Result<ResolvedChannel> ChannelRules::resolve(std::string_view channel) const {
    if (channel.empty() || channel.size() > kMaxChannelBytes) {
        return Error{"a channel name is 1 to " + std::to_string(kMaxChannelBytes) + " bytes"};
    }
    for (const auto& c : channels_) {
        auto vars = c.pattern.match(channel);
        if (!vars) continue;
        for (const auto& [name, value] : *vars) {
            if (!is_valid_subject_token(value)) {
                return Error{
                    "channel variable '" + name + "' is not allowed: " +
                    (value.empty() ? std::string("it is empty") : subject_token_problem(value))};
            }
        }
        ResolvedChannel r{&c, std::move(*vars), {}, {}};
        r.subject = c.subject.expand(r.vars);
        r.live_subject = live_subject(r.subject);
        return r;
    }
    return Error{"no channel of that name"};
}

std::string ChannelRules::live_subject(std::string_view subject) const {
    return live_prefix_ + std::string(subject.substr(source_prefix_.size()));
}

nlohmann::json rule_claims(const nlohmann::json& claims) { return stringify_numbers(claims); }

}  // namespace bb::edge
