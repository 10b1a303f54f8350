#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

// The one condition language of broker-bridge: binding filters use it, and router conditions
// and edge channel rules are meant to use the same grammar rather than grow their own.
//
//   expr    := or
//   or      := and ("or" and)*
//   and     := unary ("and" unary)*
//   unary   := "not" unary | cmp
//   cmp     := operand (("==" | "!=") operand | "in" (list | path))?
//   operand := path | string | number | "true" | "false" | "null" | list | "(" expr ")"
//   list    := "[" operand ("," operand)* "]"
//   path    := ident ("." ident)*          no spaces around the dots
//   ident   := [A-Za-z_][A-Za-z0-9_-]*     e.g. type, data.type, data.x-request-id
//   string  := '...' or "..." with \" \' \\ \/ \b \f \n \r \t \uXXXX escapes (UTF-8 inside)
//   number  := -?digits(.digits)?([eE][+-]?digits)?
//
// `and` binds tighter than `or`; `not x == y` means `not (x == y)`. The keywords (and, or,
// not, in, true, false, null) are lower case and cannot start a path, but may follow a dot
// (`data.in`).
//
// Meaning, evaluated against a JSON document whose members are the names paths start from:
// - A path that does not resolve (missing member, or a step through a non-object) is null.
// - `==` and `!=` compare JSON values: types must match, except that numbers compare
//   numerically (1 == 1.0); arrays and objects compare element by element.
// - `a in b` is true when b is an array (a literal list or a path to a JSON array) with an
//   element equal to a; when b is anything else it is false. It never tests substrings.
// - A bare operand is a truth test: null, false, 0, "", [] and {} are false, the rest true.
namespace bb::expr {

struct Node;

// An immutable, parsed expression. Copies share the syntax tree; matches() may run on many
// threads at once.
class Expression {
public:
    static constexpr std::size_t kMaxLength = 4096;  // bytes of source text
    static constexpr int kMaxDepth = 64;             // nested "(", "[" and "not"

    // Throws bb::ConfigError on a syntax error, with the column (1-based, in characters) and
    // what was expected, e.g. "filter: expected an operand at column 12, found ')'". `what`
    // prefixes every message. Empty text is an error: callers treat "no filter" themselves.
    static Expression parse(std::string_view text, std::string_view what = "expression");

    // Evaluates against `root`, whose top-level members are the names usable in paths (the
    // caller builds it, e.g. {"type": ..., "data": {...}}). Never throws.
    bool matches(const nlohmann::json& root) const noexcept;

    const std::string& text() const { return text_; }

    // Every distinct top-level name the expression reads (e.g. "type", "data"), in order of
    // first use, so callers build only what is needed and reject unknown names at load time.
    std::vector<std::string> roots() const { return roots_; }

private:
    Expression(std::string text, std::shared_ptr<const Node> root, std::vector<std::string> roots);

    std::string text_;
    std::shared_ptr<const Node> root_;
    std::vector<std::string> roots_;
};

}  // namespace bb::expr
