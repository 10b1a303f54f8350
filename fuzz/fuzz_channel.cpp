// Channel pattern matching of the edge. The first byte chooses the input's shape:
//   'c'  a channel name as a client sends it, resolved against the channels of
//        configs/local.yaml; a resolved channel must read exactly one valid subject under
//        rt. (no wildcard, no extra token), and its rule is evaluated
//   't'  a pattern, a newline, a channel name: the pattern is parsed as a config would be,
//        and a match must expand back to the very channel name
//   'r'  a subscribe rule expression over {user}, compiled and evaluated
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "broker-bridge/edge/channel_rules.hpp"
#include "broker-bridge/edge/channel_template.hpp"
#include "broker-bridge/envelope.hpp"
#include "broker-bridge/errors.hpp"
#include "fuzz/fuzz_check.hpp"

namespace {

using bb::ChannelConfig;
using bb::ChannelRuleText;
using nlohmann::json;

ChannelRuleText expression(std::string text) {
    return {ChannelRuleText::Kind::kExpression, std::move(text)};
}

// The channels of configs/local.yaml, and one whose subscribers need a channel token.
const bb::edge::ChannelRules& rules() {
    static const bb::edge::ChannelRules r = [] {
        std::vector<ChannelConfig> channels(5);
        channels[0].pattern = "user:{user}:notifications";
        channels[0].subject = "rt.user.{user}.notifications";
        channels[0].subscribe = expression("{user} == sub");
        channels[1].pattern = "chat:{room}";
        channels[1].subject = "rt.chat.{room}";
        channels[2].pattern = "doc:{doc}";
        channels[2].subject = "rt.doc.{doc}";
        channels[2].publish = bb::ChannelPublishConfig{{}, "DocumentUpdated", "Document", "{doc}"};
        channels[3].pattern = "org:{org}:presence";
        channels[3].subject = "rt.org.{org}.presence";
        channels[3].subscribe = expression("{org} in orgs");
        channels[4].pattern = "file:{owner}/{name}";
        channels[4].subject = "rt.file.{owner}.{name}";
        channels[4].subscribe.kind = ChannelRuleText::Kind::kToken;
        bb::StreamConfig rt;
        rt.name = "RT";
        rt.subjects = {"rt.>"};
        rt.republish = bb::StreamConfig::RePublish{"rt.>", "rtp.>"};
        return bb::edge::ChannelRules(channels, rt);
    }();
    return r;
}

const json& claims() {
    static const json c =
        bb::edge::rule_claims(json{{"sub", "u-42"}, {"orgs", {7, 8}}, {"role", "admin"}});
    return c;
}

void fuzz_resolve(std::string_view channel) {
    auto resolved = rules().resolve(channel);
    if (!resolved) return;
    BB_FUZZ_CHECK(bb::is_valid_subject(resolved->subject));
    BB_FUZZ_CHECK(resolved->subject.rfind("rt.", 0) == 0);
    BB_FUZZ_CHECK(bb::is_valid_subject(resolved->live_subject));
    BB_FUZZ_CHECK(resolved->rule->pattern.expand(resolved->vars) == channel);
    for (const auto& [name, value] : resolved->vars) {
        BB_FUZZ_CHECK(bb::is_valid_subject_token(value));
    }
    (void)resolved->rule->subscribe.allows(claims(), resolved->vars);
}

void fuzz_pattern(std::string_view input) {
    size_t newline = input.find('\n');
    if (newline == std::string_view::npos) return;
    std::string_view channel = input.substr(newline + 1);
    try {
        auto pattern = bb::edge::ChannelTemplate::parse(input.substr(0, newline), "pattern");
        auto vars = pattern.match(channel);
        if (!vars) return;
        BB_FUZZ_CHECK(vars->size() == pattern.names().size());
        BB_FUZZ_CHECK(pattern.expand(*vars) == channel);
    } catch (const bb::ConfigError&) {
        // A pattern a config would be refused for.
    }
}

void fuzz_rule(std::string_view input) {
    try {
        auto rule =
            bb::edge::ChannelRule::compile(expression(std::string(input)), {"user"}, "subscribe");
        (void)rule.allows(claims(), {{"user", "u-42"}});
    } catch (const bb::ConfigError&) {
        // A rule a config would be refused for.
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0]) {
        case 'c':
            fuzz_resolve(input);
            break;
        case 't':
            fuzz_pattern(input);
            break;
        case 'r':
            fuzz_rule(input);
            break;
        default:
            break;
    }
    return 0;
}
