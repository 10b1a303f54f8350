#include "message_templates.hpp"

#include <kainjow/mustache.hpp>

#include <fstream>
#include <sstream>

#include "address.hpp"
#include "broker-bridge/errors.hpp"

namespace bb::email {
namespace {

namespace mustache = kainjow::mustache;

mustache::data to_data(const nlohmann::json& v) {
    switch (v.type()) {
        case nlohmann::json::value_t::object: {
            mustache::data m{mustache::data::type::object};
            for (const auto& [k, x] : v.items()) m.set(k, to_data(x));
            return m;
        }
        case nlohmann::json::value_t::array: {
            mustache::data a{mustache::data::type::list};
            for (const auto& x : v) a.push_back(to_data(x));
            return a;
        }
        case nlohmann::json::value_t::string:
            return mustache::data{v.get<std::string>()};
        case nlohmann::json::value_t::boolean:
            return mustache::data{v.get<bool>()};
        case nlohmann::json::value_t::null:
        case nlohmann::json::value_t::discarded:
            return mustache::data{false};  // renders as nothing, and a section skips it
        default:
            return mustache::data{v.dump()};  // numbers as their JSON text
    }
}

bool read_file(const std::filesystem::path& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::ostringstream s;
    s << in.rdbuf();
    out = s.str();
    return true;
}

// A template object per render: kainjow's render() keeps state in the object, so one
// object may not serve several threads at once, and parsing these small files is cheap.
Result<std::string> render_with(const std::string& name, const std::string& text,
                                const mustache::data& ctx, bool html) {
    mustache::mustache tmpl{text};
    if (!tmpl.is_valid()) return make_error("template " + name + ": " + tmpl.error_message());
    if (!html) tmpl.set_custom_escape([](const std::string& v) { return v; });
    std::string out = tmpl.render(ctx);
    if (!tmpl.is_valid()) return make_error("template " + name + ": " + tmpl.error_message());
    return out;
}

void check_syntax(const std::string& file, const std::string& text) {
    mustache::mustache tmpl{text};
    if (!tmpl.is_valid()) throw ConfigError(file + ": " + tmpl.error_message());
}

}  // namespace

MessageTemplates::MessageTemplates(const std::filesystem::path& dir, const std::string& name)
    : name_(name) {
    auto base = dir / name;
    if (!read_file(base.string() + ".subject", subject_)) {
        throw ConfigError("template " + name + ": cannot read " + base.string() + ".subject");
    }
    bool has_text = read_file(base.string() + ".txt", text_);
    bool has_html = read_file(base.string() + ".html", html_);
    if (!has_text && !has_html) {
        throw ConfigError("template " + name + ": neither " + base.string() + ".txt nor " +
                          base.string() + ".html exists");
    }
    check_syntax(base.string() + ".subject", subject_);
    if (has_text) check_syntax(base.string() + ".txt", text_);
    if (has_html) check_syntax(base.string() + ".html", html_);
}

Result<RenderedMessage> MessageTemplates::render(const nlohmann::json& doc) const {
    mustache::data ctx = to_data(doc);
    RenderedMessage out;
    auto subject = render_with(name_ + ".subject", subject_, ctx, false);
    if (!subject) return subject.error();
    out.subject = std::move(*subject);
    while (!out.subject.empty() && (out.subject.back() == '\n' || out.subject.back() == '\r')) {
        out.subject.pop_back();
    }
    if (!text_.empty()) {
        auto text = render_with(name_ + ".txt", text_, ctx, false);
        if (!text) return text.error();
        out.text = std::move(*text);
    }
    if (!html_.empty()) {
        auto html = render_with(name_ + ".html", html_, ctx, true);
        if (!html) return html.error();
        out.html = std::move(*html);
    }
    if (size_t at = find_line_break(out.subject); at != std::string::npos) {
        return make_error("template " + name_ + ": the rendered subject contains a line break " +
                          "(CR or LF) at byte " + std::to_string(at) +
                          "; refused so that no header can be added");
    }
    return out;
}

}  // namespace bb::email
