#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker-bridge/config.hpp"
#include "broker-bridge/edge/channel_template.hpp"
#include "broker-bridge/expression.hpp"
#include "broker-bridge/result.hpp"

// edge.channels compiled: which channel names exist, the subject each one reads, and who may
// subscribe or publish. A channel variable becomes exactly one subject token: values holding
// '.', '*', '>', white space or control characters, or empty ones, are refused before any
// subject is built, so no client input ever becomes a wildcard or a second token.
//
// Rules use the expression grammar (bb::expr) after one rewrite: `{name}` becomes the path
// `vars.name`. They are evaluated against the token's claims with `vars` added, numbers in
// the claims turned into their decimal text (channel variables are text, so `{org} in orgs`
// matches orgs [7, 8] as well as ["7", "8"]). `{user} == sub` reads `vars.user == sub`.
namespace bb::edge {

// Who may do something on a channel, compiled.
class ChannelRule {
public:
    enum class Kind { kAuthenticated, kToken, kExpression };

    // Throws ConfigError for a syntax error or a `{name}` the pattern does not define.
    static ChannelRule compile(const ChannelRuleText& text, const std::vector<std::string>& vars,
                               std::string_view what);

    Kind kind() const { return kind_; }
    // For kExpression; kAuthenticated is always true; kToken is decided by the caller.
    bool allows(const nlohmann::json& claims, const ChannelVars& vars) const;

private:
    Kind kind_ = Kind::kAuthenticated;
    std::optional<expr::Expression> expression_;
};

struct CompiledChannel {
    ChannelConfig config;
    ChannelTemplate pattern;
    ChannelTemplate subject;
    std::optional<ChannelTemplate> aggregate_id;  // publish.event.aggregate_id
    ChannelRule subscribe;
    std::optional<ChannelRule> publish;
    std::optional<ChannelTemplate> snapshot_key;  // key in the presence bucket
};

// A channel name resolved to its rule and subjects.
struct ResolvedChannel {
    const CompiledChannel* rule = nullptr;
    ChannelVars vars;
    std::string subject;       // in stream RT, e.g. rt.user.42.notifications
    std::string live_subject;  // its republished copy, e.g. rtp.user.42.notifications
};

inline constexpr size_t kMaxChannelBytes = 256;

class ChannelRules {
public:
    // `realtime` is the RT stream; its republish source and destination must both be
    // "<prefix>.>" and every channel subject must fall under the source. Throws ConfigError.
    ChannelRules(const std::vector<ChannelConfig>& channels, const StreamConfig& realtime);

    // The first rule whose pattern matches with valid variable values. The error text is
    // safe to send to the client and to log (the channel is not echoed).
    Result<ResolvedChannel> resolve(std::string_view channel) const;

    std::string live_subject(std::string_view subject) const;

private:
    std::vector<CompiledChannel> channels_;
    std::string source_prefix_;  // "rt."
    std::string live_prefix_;    // "rtp."
};

// The claims with numbers turned into text, ready for ChannelRule::allows.
nlohmann::json rule_claims(const nlohmann::json& claims);

}  // namespace bb::edge
