#include "broker-bridge/edge/channel_template.hpp"

#include "broker-bridge/errors.hpp"

namespace bb::edge {
namespace {

bool is_name_char(char c, bool first) {
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    return letter || (!first && c >= '0' && c <= '9');
}

bool is_name(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    for (size_t i = 0; i < s.size(); ++i) {
        if (!is_name_char(s[i], i == 0)) return false;
    }
    return true;
}

}  // namespace

const std::string* find_var(const ChannelVars& vars, std::string_view name) {
    for (const auto& [k, v] : vars) {
        if (k == name) return &v;
    }
    return nullptr;
}

ChannelTemplate ChannelTemplate::parse(std::string_view text, std::string_view what) {
    auto fail = [&](const std::string& why) {
        throw ConfigError(std::string(what) + ": '" + std::string(text) + "': " + why);
    };
    ChannelTemplate t;
    t.text_ = text;
    size_t i = 0;
    while (i < text.size()) {
        size_t open = text.find('{', i);
        if (text.find('}', i) < open) fail("'}' without '{'");
        if (open != i) t.parts_.push_back({false, std::string(text.substr(i, open - i))});
        if (open == std::string_view::npos) break;
        size_t close = text.find('}', open);
        if (close == std::string_view::npos) fail("unclosed '{'");
        std::string name(text.substr(open + 1, close - open - 1));
        if (!is_name(name)) fail("bad variable name '" + name + "' (letters, digits, _)");
        if (!t.parts_.empty() && t.parts_.back().variable) fail("two variables side by side");
        for (const auto& p : t.parts_) {
            if (p.variable && p.text == name) fail("variable '" + name + "' appears twice");
        }
        t.parts_.push_back({true, std::move(name)});
        i = close + 1;
    }
    if (t.parts_.empty()) fail("empty template");
    return t;
}

std::optional<ChannelVars> ChannelTemplate::match(std::string_view channel) const {
    ChannelVars vars;
    size_t pos = 0;
    for (size_t i = 0; i < parts_.size(); ++i) {
        const Part& p = parts_[i];
        if (!p.variable) {
            if (channel.compare(pos, p.text.size(), p.text) != 0) return std::nullopt;
            pos += p.text.size();
            continue;
        }
        size_t end = channel.size();
        if (i + 1 < parts_.size()) {
            end = channel.find(parts_[i + 1].text, pos);
            if (end == std::string_view::npos) return std::nullopt;
        }
        vars.emplace_back(p.text, std::string(channel.substr(pos, end - pos)));
        pos = end;
    }
    if (pos != channel.size()) return std::nullopt;
    return vars;
}

std::string ChannelTemplate::expand(const ChannelVars& vars) const {
    std::string out;
    for (const auto& p : parts_) {
        if (!p.variable) {
            out += p.text;
        } else if (const std::string* v = find_var(vars, p.text)) {
            out += *v;
        }
    }
    return out;
}

std::vector<std::string> ChannelTemplate::names() const {
    std::vector<std::string> out;
    for (const auto& p : parts_) {
        if (p.variable) out.push_back(p.text);
    }
    return out;
}

}  // namespace bb::edge
