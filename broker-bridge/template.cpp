#include "broker-bridge/template.hpp"

#include "broker-bridge/utf8.hpp"

#include "broker-bridge/errors.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <utility>
#include <variant>

namespace bb::tmpl {

using nlohmann::json;

namespace {

// ---------------------------------------------------------------------------------------------
// UTF-8 and subject tokens

using utf8::CodePoint;
using utf8::is_control;
using utf8::is_space;
using utf8::next_code_point;

// Why `subject` is not a valid subject without wildcards, empty when it is one.
std::string subject_problem(std::string_view subject) {
    if (subject.size() > kMaxSubjectBytes) {
        return fmt::format("is longer than {} bytes", kMaxSubjectBytes);
    }
    std::size_t start = 0;
    for (int index = 1;; ++index) {
        const std::size_t dot = subject.find('.', start);
        const auto problem = subject_token_problem(subject.substr(start, dot - start));
        if (!problem.empty()) return fmt::format("has a token {} that {}", index, problem);
        if (dot == std::string_view::npos) return {};
        start = dot + 1;
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

bool is_segment_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

std::string known_roots_text() {
    std::string out;
    for (auto root : kDocumentRoots) {
        if (!out.empty()) out += ", ";
        out += root;
    }
    return out;
}

class Parser {
public:
    Parser(std::string_view text, std::string_view what) : text_(text), what_(what) {}

    template <typename Part>
    std::vector<Part> parts() {
        if (text_.size() > kMaxLength) {
            throw ConfigError(fmt::format("{}: a template is at most {} bytes, found {}", what_,
                                          kMaxLength, text_.size()));
        }
        if (auto at = utf8::error_at(text_); at != std::string_view::npos) {
            fail(at, "invalid UTF-8");
        }
        std::vector<Part> out;
        std::string literal;
        for (std::size_t i = 0; i < text_.size();) {
            const char c = text_[i];
            if ((c == '{' || c == '}') && i + 1 < text_.size() && text_[i + 1] == c) {
                literal += c;
                i += 2;
            } else if (c == '}') {
                fail(i, "a lone '}' (write '}}' for a literal brace)");
            } else if (c == '{') {
                if (!literal.empty()) out.push_back(Part{std::move(literal), {}, {}});
                literal.clear();
                out.push_back(placeholder<Part>(i));
                i += out.back().spelling.size();
            } else {
                literal += c;
                ++i;
            }
        }
        if (!literal.empty()) out.push_back(Part{std::move(literal), {}, {}});
        return out;
    }

private:
    [[noreturn]] void fail(std::size_t offset, std::string_view message) const {
        throw ConfigError(fmt::format("{}: {} at column {}", what_, message, column(offset)));
    }

    // Columns count characters, not bytes, so they match what an editor shows.
    std::size_t column(std::size_t offset) const {
        const auto before = text_.substr(0, std::min(offset, text_.size()));
        return 1 + static_cast<std::size_t>(std::count_if(before.begin(), before.end(), [](char c) {
                   return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
               }));
    }

    template <typename Part>
    Part placeholder(std::size_t open) const {
        const std::size_t close = text_.find('}', open + 1);
        if (close == std::string_view::npos) fail(open, "unterminated placeholder (no '}')");
        const std::string_view inside = text_.substr(open + 1, close - open - 1);
        if (inside.empty()) fail(open, "empty placeholder '{}' (write '{{' for a literal brace)");
        Part part{{}, {}, std::string(text_.substr(open, close - open + 1))};
        std::size_t start = 0;
        while (true) {
            const std::size_t dot = inside.find('.', start);
            const std::string_view segment = inside.substr(start, dot - start);
            const std::size_t at = open + 1 + start;
            if (segment.empty()) fail(at, "empty name in a placeholder");
            for (std::size_t k = 0; k < segment.size(); ++k) {
                if (!is_segment_char(segment[k])) {
                    fail(at + k,
                         "a placeholder holds names of A-Z, a-z, 0-9, '_' and '-' "
                         "joined by '.'");
                }
            }
            part.path.emplace_back(segment);
            if (dot == std::string_view::npos) break;
            start = dot + 1;
        }
        check_root(part, open + 1);
        return part;
    }

    template <typename Part>
    void check_root(const Part& part, std::size_t at) const {
        const std::string& root = part.path.front();
        if (!is_document_root(root)) {
            fail(at, fmt::format("unknown name '{}' in {} (known: {}, data.<path>)", root,
                                 part.spelling, known_roots_text()));
        }
        if (root != "data" && part.path.size() > 1) {
            fail(at + root.size(), fmt::format("'{}' is text and has no members; only data "
                                               "does ({{data.<path>}})",
                                               root));
        }
    }

    std::string_view text_;
    std::string_view what_;
};

// ---------------------------------------------------------------------------------------------
// Rendering

// The value at `path` in `doc`, or null when some step does not resolve.
const json* resolve(const json& doc, const std::vector<std::string>& path) {
    const json* at = &doc;
    for (const auto& segment : path) {
        if (at->is_object()) {
            auto it = at->find(segment);
            if (it == at->end()) return nullptr;
            at = &*it;
        } else if (at->is_array()) {
            std::size_t index = 0;
            const char* end = segment.data() + segment.size();
            auto [ptr, ec] = std::from_chars(segment.data(), end, index);
            if (ec != std::errc{} || ptr != end || index >= at->size()) return nullptr;
            at = &(*at)[index];
        } else {
            return nullptr;
        }
    }
    return at;
}

// Compact JSON that never throws on text that is not UTF-8 (it cannot come from a parsed
// event, but a plugin may build documents by hand).
std::string compact(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string value_text(const json& value) {
    return value.is_string() ? value.get<std::string>() : compact(value);
}

}  // namespace

bool is_document_root(std::string_view name) {
    return std::find(std::begin(kDocumentRoots), std::end(kDocumentRoots), name) !=
           std::end(kDocumentRoots);
}

std::string subject_token_problem(std::string_view token) {
    if (token.empty()) return "is empty";
    if (token.size() > kMaxTokenBytes)
        return fmt::format("is longer than {} bytes", kMaxTokenBytes);
    for (std::size_t i = 0; i < token.size();) {
        const auto cp = next_code_point(token, i);
        if (cp.length == 0) return fmt::format("is not valid UTF-8 at byte {}", i);
        if (cp.value == '.' || cp.value == '*' || cp.value == '>') {
            return fmt::format("contains '{}' at byte {}", static_cast<char>(cp.value), i);
        }
        if (is_control(cp.value)) return fmt::format("contains a control character at byte {}", i);
        if (is_space(cp.value)) return fmt::format("contains white space at byte {}", i);
        i += cp.length;
    }
    return {};
}

// ---------------------------------------------------------------------------------------------
// Template

Template::Template(std::string text, std::string what, std::vector<Part> parts,
                   std::vector<std::string> roots)
    : text_(std::move(text)),
      what_(std::move(what)),
      parts_(std::move(parts)),
      roots_(std::move(roots)) {}

Template Template::parse(std::string_view text, std::string_view what) {
    std::vector<Part> parts = Parser(text, what).parts<Part>();
    std::vector<std::string> roots;
    for (const auto& part : parts) {
        if (part.path.empty()) continue;
        if (std::find(roots.begin(), roots.end(), part.path.front()) == roots.end()) {
            roots.push_back(part.path.front());
        }
    }
    return Template(std::string(text), std::string(what), std::move(parts), std::move(roots));
}

Template Template::parse_subject(std::string_view text, std::string_view what) {
    Template t = parse(text, what);
    // Each placeholder yields one token's worth of text, so "x" stands for any value: what
    // fails here fails for every event.
    std::string probe;
    for (const auto& part : t.parts_) probe += part.path.empty() ? part.literal : "x";
    if (auto problem = subject_problem(probe); !problem.empty()) {
        throw ConfigError(
            fmt::format("{}: '{}' is not a subject without wildcards: it {}", what, text, problem));
    }
    return t;
}

Result<json> Template::render_value(const json& doc) const {
    if (parts_.size() == 1 && !parts_.front().path.empty()) {
        const json* value = resolve(doc, parts_.front().path);
        if (value == nullptr) {
            return make_error(fmt::format("{}: {} is missing", what_, parts_.front().spelling));
        }
        return *value;
    }
    auto text = render(doc, false);
    if (!text) return text.error();
    return json(std::move(*text));
}

Result<std::string> Template::render_string(const json& doc) const { return render(doc, false); }

Result<std::string> Template::render_subject(const json& doc) const {
    auto subject = render(doc, true);
    if (!subject) return subject;
    if (auto problem = subject_problem(*subject); !problem.empty()) {
        return make_error(fmt::format("{}: the rendered subject {}", what_, problem));
    }
    return subject;
}

Result<std::string> Template::render(const json& doc, bool subject) const {
    std::string out;
    for (const auto& part : parts_) {
        if (part.path.empty()) {
            out += part.literal;
            continue;
        }
        const json* value = resolve(doc, part.path);
        if (value == nullptr || value->is_null()) {
            return make_error(fmt::format("{}: {} is missing", what_, part.spelling));
        }
        if (subject && (value->is_object() || value->is_array())) {
            return make_error(fmt::format("{}: {} is {}, not one subject token", what_,
                                          part.spelling,
                                          value->is_object() ? "an object" : "an array"));
        }
        std::string text = value_text(*value);
        if (subject) {
            if (auto problem = subject_token_problem(text); !problem.empty()) {
                return make_error(fmt::format("{}: {} is not one subject token: it {}", what_,
                                              part.spelling, problem));
            }
        }
        out += text;
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// JsonTemplate

struct JsonTemplate::Node {
    using Members = std::vector<std::pair<std::string, Node>>;
    std::variant<json, Template, Members, std::vector<Node>> kind;
};

namespace {

using Node = JsonTemplate::Node;

void add_roots(std::vector<std::string>& roots, const std::vector<std::string>& more) {
    for (const auto& r : more) {
        if (std::find(roots.begin(), roots.end(), r) == roots.end()) roots.push_back(r);
    }
}

Node parse_node(const json& shape, const std::string& what, std::size_t depth,
                std::vector<std::string>& roots) {
    if (depth > kMaxDepth) {
        throw ConfigError(fmt::format("{}: nested deeper than {} levels", what, kMaxDepth));
    }
    if (shape.is_string()) {
        Template t = Template::parse(shape.get_ref<const std::string&>(), what);
        add_roots(roots, t.roots());
        return Node{std::move(t)};
    }
    if (shape.is_object()) {
        Node::Members members;
        for (const auto& [key, value] : shape.items()) {
            members.emplace_back(key, parse_node(value, what + "." + key, depth + 1, roots));
        }
        return Node{std::move(members)};
    }
    if (shape.is_array()) {
        std::vector<Node> items;
        for (std::size_t i = 0; i < shape.size(); ++i) {
            items.push_back(parse_node(shape[i], fmt::format("{}[{}]", what, i), depth + 1, roots));
        }
        return Node{std::move(items)};
    }
    return Node{shape};
}

template <typename... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
template <typename... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

Result<json> render_node(const Node& node, const json& doc) {
    return std::visit(Overloaded{
                          [](const json& literal) -> Result<json> { return literal; },
                          [&](const Template& t) -> Result<json> { return t.render_value(doc); },
                          [&](const Node::Members& members) -> Result<json> {
                              json out = json::object();
                              for (const auto& [key, child] : members) {
                                  auto value = render_node(child, doc);
                                  if (!value) return value;
                                  out[key] = std::move(*value);
                              }
                              return out;
                          },
                          [&](const std::vector<Node>& items) -> Result<json> {
                              json out = json::array();
                              for (const auto& child : items) {
                                  auto value = render_node(child, doc);
                                  if (!value) return value;
                                  out.push_back(std::move(*value));
                              }
                              return out;
                          },
                      },
                      node.kind);
}

}  // namespace

JsonTemplate::JsonTemplate(std::shared_ptr<const Node> root, std::vector<std::string> roots)
    : root_(std::move(root)), roots_(std::move(roots)) {}

JsonTemplate JsonTemplate::parse(const json& shape, std::string_view what) {
    std::vector<std::string> roots;
    auto root = std::make_shared<const Node>(parse_node(shape, std::string(what), 0, roots));
    return JsonTemplate(std::move(root), std::move(roots));
}

Result<json> JsonTemplate::render(const json& doc) const { return render_node(*root_, doc); }

}  // namespace bb::tmpl
