#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Channel patterns ("user:{user}:notifications") and subject templates
// ("rt.user.{user}.notifications"): literal text with named variables in braces.
namespace bb::edge {

// Variable name and value pairs, in the order the template names them.
using ChannelVars = std::vector<std::pair<std::string, std::string>>;

const std::string* find_var(const ChannelVars& vars, std::string_view name);

class ChannelTemplate {
public:
    // Throws ConfigError (prefixed with `what`) for an unclosed brace, a bad variable name,
    // two variables side by side (their boundary would be ambiguous) or a repeated name.
    static ChannelTemplate parse(std::string_view text, std::string_view what);

    // Splits `channel` into variable values: each variable takes the text up to the first
    // occurrence of the literal that follows it (the last one takes the rest). nullopt when
    // the literals do not line up. Values are not checked here.
    std::optional<ChannelVars> match(std::string_view channel) const;

    // The template with each variable replaced; a name missing from `vars` expands to "".
    std::string expand(const ChannelVars& vars) const;

    std::vector<std::string> names() const;
    const std::string& text() const { return text_; }

private:
    struct Part {
        bool variable = false;
        std::string text;  // the literal, or the variable's name
    };

    std::string text_;
    std::vector<Part> parts_;
};

}  // namespace bb::edge
