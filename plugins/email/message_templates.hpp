#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "broker-bridge/result.hpp"

namespace bb::email {

struct RenderedMessage {
    std::string subject;
    std::string text;  // empty when the template has no .txt
    std::string html;  // empty when the template has no .html
};

// The Mustache templates of one message kind: <dir>/<name>.subject, .txt and .html (at
// least one of the bodies), read once at start-up and rendered with kainjow/mustache. Values
// are HTML-escaped in .html only; .subject and .txt get them as they are. Rendering runs on
// many threads at once.
class MessageTemplates {
public:
    // Throws bb::ConfigError naming the missing or unreadable file.
    MessageTemplates(const std::filesystem::path& dir, const std::string& name);

    // `doc` is the event document (attributes and `data`); the subject loses its trailing
    // line ends, and a subject that still holds CR or LF is refused.
    Result<RenderedMessage> render(const nlohmann::json& doc) const;

    const std::string& name() const { return name_; }

private:
    std::string name_;
    std::string subject_;
    std::string text_;
    std::string html_;
};

}  // namespace bb::email
