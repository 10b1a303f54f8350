#pragma once

#include "broker-bridge/result.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

// The one template language of broker-bridge: router subjects and projections, e-mail
// recipients and edge rules fill text from an event with it rather than grow their own.
//
//   template    := (literal | "{{" | "}}" | placeholder)*
//   placeholder := "{" root ("." segment)* "}"      no spaces inside the braces
//   root        := id | type | source | subject | time | aggregatetype | correlationid
//                | causationid | userid | dataversion | data
//   segment     := [A-Za-z0-9_-]+                   a member name, or an array index
//
// `{{` and `}}` are literal braces; a lone `}` is an error. Only `data` has members:
// `{data}` is the whole event data, `{data.items.0.id}` a value inside it (a segment of
// digits indexes an array). `{subject}` is the aggregate id, as in binding filters.
//
// Templates render against the JSON document binding filters read (see kDocumentRoots):
// the attributes by their CloudEvents names as strings ("" when the event lacks one) and
// `data`. A placeholder whose path does not resolve is missing; in text and subjects a JSON
// null is missing too. Rendering never throws: failures are values naming the template and
// the placeholder, never the value (values may hold CR/LF and end up in headers and logs).
namespace bb::tmpl {

// The top-level names of the document, in the order binding filters list them.
inline constexpr std::string_view kDocumentRoots[] = {
    "id",          "type",   "source",      "subject", "time", "aggregatetype", "correlationid",
    "causationid", "userid", "dataversion", "data"};

inline constexpr std::size_t kMaxLength = 4096;     // bytes of template text
inline constexpr std::size_t kMaxDepth = 64;        // nesting of a JsonTemplate shape
inline constexpr std::size_t kMaxTokenBytes = 256;  // as the envelope holds subject tokens
inline constexpr std::size_t kMaxSubjectBytes = 1024;

// True for a name of kDocumentRoots.
bool is_document_root(std::string_view name);

// Why `token` cannot be one subject token ("contains '.' at byte 3"), empty when it can:
// non-empty, at most kMaxTokenBytes, valid UTF-8, no '.', '*', '>', white space (ASCII and
// Unicode) or control characters (C0, DEL, C1). The same rule as the event envelope's.
std::string subject_token_problem(std::string_view token);

// An immutable, parsed template; copies share nothing mutable, and render calls may run on
// many threads at once.
class Template {
public:
    // Throws bb::ConfigError for a syntax error or an unknown name, prefixed by `what` and
    // with the column: "routes[0].channel_subject: unknown name 'foo' at column 9 ...".
    static Template parse(std::string_view text, std::string_view what);
    // parse(), and the text must make a valid subject without wildcards whatever one-token
    // values the placeholders take ("rt.chat.{data.chatId}" yes, "rt.{id}.>" no).
    static Template parse_subject(std::string_view text, std::string_view what);

    // A template that is exactly one placeholder yields the JSON value itself (objects and
    // arrays included, null kept); anything else yields a string as render_string does.
    Result<nlohmann::json> render_value(const nlohmann::json& doc) const;
    // Strings go in as they are, numbers and booleans as their JSON text, objects and
    // arrays as compact JSON.
    Result<std::string> render_string(const nlohmann::json& doc) const;
    // render_string, but every substituted value must be one valid subject token, and the
    // result a valid subject: never a wildcard, an extra token or a protocol character.
    Result<std::string> render_subject(const nlohmann::json& doc) const;

    // Every distinct root the placeholders read, in order of first use.
    const std::vector<std::string>& roots() const { return roots_; }
    const std::string& text() const { return text_; }
    // The `what` given to parse, which prefixes every render error.
    const std::string& what() const { return what_; }

private:
    struct Part {
        std::string literal;            // when path is empty
        std::vector<std::string> path;  // a placeholder: root then data segments
        std::string spelling;           // "{data.chatId}", for messages
    };

    Template(std::string text, std::string what, std::vector<Part> parts,
             std::vector<std::string> roots);
    Result<std::string> render(const nlohmann::json& doc, bool subject) const;

    std::string text_;
    std::string what_;
    std::vector<Part> parts_;
    std::vector<std::string> roots_;
};

// A JSON shape whose string leaves are templates, for projections such as a router route's
// `data:` ({"text": "{data.text}", "from": "{userid}", "kind": "chat"}). Object keys are
// literal; numbers, booleans and null are kept as they are.
class JsonTemplate {
public:
    // Throws bb::ConfigError naming the leaf (`what` + ".text" or "[2]") for a bad template,
    // or `what` for a shape nested deeper than kMaxDepth.
    static JsonTemplate parse(const nlohmann::json& shape, std::string_view what);

    // The shape with each string leaf rendered by Template::render_value; the first failing
    // leaf's error.
    Result<nlohmann::json> render(const nlohmann::json& doc) const;

    const std::vector<std::string>& roots() const { return roots_; }

    struct Node;  // defined in template.cpp

private:
    JsonTemplate(std::shared_ptr<const Node> root, std::vector<std::string> roots);

    std::shared_ptr<const Node> root_;
    std::vector<std::string> roots_;
};

}  // namespace bb::tmpl
