#include "broker-bridge/expression.hpp"

#include "broker-bridge/errors.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <system_error>
#include <utility>
#include <variant>

namespace bb::expr {

using nlohmann::json;

// The syntax tree. Nodes are built once by the parser and only read afterwards, which is what
// makes concurrent matches() safe. Its depth is bounded by Expression::kMaxDepth, so both the
// evaluator's recursion and the recursive destruction of the tree stay shallow.
namespace ast {

struct Literal {
    json value;  // string, number, true, false or null
};

struct Path {
    std::vector<std::string> segments;
};

struct List {
    std::vector<std::unique_ptr<Node>> items;
};

struct Not {
    std::unique_ptr<Node> operand;
};

struct AnyOf {  // a or b or ...
    std::vector<std::unique_ptr<Node>> terms;
};

struct AllOf {  // a and b and ...
    std::vector<std::unique_ptr<Node>> terms;
};

enum class CompareOp { kEqual, kNotEqual, kIn };

struct Compare {
    CompareOp op;
    std::unique_ptr<Node> lhs;
    std::unique_ptr<Node> rhs;
};

}  // namespace ast

struct Node {
    std::variant<ast::Literal, ast::Path, ast::List, ast::Not, ast::AnyOf, ast::AllOf, ast::Compare>
        kind;
};

namespace {

using NodePtr = std::unique_ptr<Node>;

template <typename T>
NodePtr make_node(T&& alternative) {
    return std::make_unique<Node>(Node{std::forward<T>(alternative)});
}

template <typename... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
template <typename... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

// ---------------------------------------------------------------------------------------------
// Source text and error messages

bool is_continuation_byte(unsigned char c) { return (c & 0xC0) == 0x80; }

// Length of the UTF-8 sequence starting at `offset`, or 0 when it is not valid UTF-8
// (overlong forms, surrogates and code points above U+10FFFF included).
std::size_t utf8_sequence_length(std::string_view text, std::size_t offset) {
    const auto lead = static_cast<unsigned char>(text[offset]);
    std::size_t length = 0;
    char32_t min = 0;
    char32_t code = 0;
    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) length = 2, min = 0x80, code = lead & 0x1F;
    if (lead >= 0xE0 && lead <= 0xEF) length = 3, min = 0x800, code = lead & 0x0F;
    if (lead >= 0xF0 && lead <= 0xF4) length = 4, min = 0x10000, code = lead & 0x07;
    if (length == 0 || offset + length > text.size()) return 0;
    for (std::size_t i = 1; i < length; ++i) {
        const auto c = static_cast<unsigned char>(text[offset + i]);
        if (!is_continuation_byte(c)) return 0;
        code = (code << 6) | (c & 0x3F);
    }
    const bool surrogate = code >= 0xD800 && code <= 0xDFFF;
    return code < min || code > 0x10FFFF || surrogate ? 0 : length;
}

void append_utf8(std::string& out, char32_t code) {
    if (code < 0x80) {
        out += static_cast<char>(code);
    } else if (code < 0x800) {
        out += static_cast<char>(0xC0 | (code >> 6));
        out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
        out += static_cast<char>(0xE0 | (code >> 12));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (code >> 18));
        out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code & 0x3F));
    }
}

// The text being parsed, and the one place that turns a position into a ConfigError.
class Source {
public:
    Source(std::string_view text, std::string_view what) : text_(text), what_(what) {}

    std::string_view text() const { return text_; }

    [[noreturn]] void fail(std::size_t offset, std::string_view message,
                           std::string_view found = {}) const {
        throw ConfigError(fmt::format("{}: {} at column {}{}{}", what_, message, column(offset),
                                      found.empty() ? "" : ", found ", found));
    }

    // Columns count characters, not bytes, so they match what an editor shows.
    std::size_t column(std::size_t offset) const {
        const auto before = text_.substr(0, std::min(offset, text_.size()));
        return 1 + static_cast<std::size_t>(std::count_if(before.begin(), before.end(), [](char c) {
                   return !is_continuation_byte(static_cast<unsigned char>(c));
               }));
    }

    // The character at `offset`, quoted, for "found ..." in messages.
    std::string describe_char(std::size_t offset) const {
        if (offset >= text_.size()) return "end of input";
        const auto c = static_cast<unsigned char>(text_[offset]);
        if (c < 0x20 || c == 0x7F) return fmt::format("byte 0x{:02x}", c);
        return fmt::format("'{}'", text_.substr(offset, utf8_sequence_length(text_, offset)));
    }

    void check_utf8() const {
        for (std::size_t offset = 0; offset < text_.size();) {
            const std::size_t length = utf8_sequence_length(text_, offset);
            if (length == 0) fail(offset, "invalid UTF-8");
            offset += length;
        }
    }

private:
    std::string_view text_;
    std::string_view what_;
};

// ---------------------------------------------------------------------------------------------
// Lexer

enum class TokenKind {
    kName,  // an identifier or a dotted path; keywords are names with one segment
    kString,
    kNumber,
    kLeftParen,
    kRightParen,
    kLeftBracket,
    kRightBracket,
    kComma,
    kEqual,
    kNotEqual,
    kEnd,
};

struct Token {
    TokenKind kind;
    std::size_t offset;                 // bytes from the start of the text
    std::string_view spelling;          // as written
    std::vector<std::string> segments;  // kName
    json value;                         // kString, kNumber
};

bool is_ident_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }

bool is_ident_char(char c) { return is_ident_start(c) || (c >= '0' && c <= '9') || c == '-'; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
public:
    explicit Lexer(const Source& source) : source_(source), text_(source.text()) {}

    std::vector<Token> tokens() {
        std::vector<Token> out;
        do {
            skip_space();
            out.push_back(next());
        } while (out.back().kind != TokenKind::kEnd);
        return out;
    }

private:
    void skip_space() {
        while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                       text_[pos_] == '\n' || text_[pos_] == '\r')) {
            ++pos_;
        }
    }

    char at(std::size_t offset) const { return offset < text_.size() ? text_[offset] : '\0'; }

    Token symbol(TokenKind kind, std::size_t length) {
        Token token{kind, pos_, text_.substr(pos_, length), {}, {}};
        pos_ += length;
        return token;
    }

    Token next() {
        if (pos_ >= text_.size()) return Token{TokenKind::kEnd, pos_, {}, {}, {}};
        const char c = text_[pos_];
        switch (c) {
            case '(':
                return symbol(TokenKind::kLeftParen, 1);
            case ')':
                return symbol(TokenKind::kRightParen, 1);
            case '[':
                return symbol(TokenKind::kLeftBracket, 1);
            case ']':
                return symbol(TokenKind::kRightBracket, 1);
            case ',':
                return symbol(TokenKind::kComma, 1);
            case '"':
            case '\'':
                return string_token();
            default:
                break;
        }
        if (c == '=' || c == '!') {
            if (at(pos_ + 1) != '=') {
                source_.fail(pos_, c == '=' ? "expected '=='" : "expected '!=' (negation is 'not')",
                             source_.describe_char(pos_));
            }
            return symbol(c == '=' ? TokenKind::kEqual : TokenKind::kNotEqual, 2);
        }
        if (is_digit(c) || c == '-') return number_token();
        if (is_ident_start(c)) return name_token();
        source_.fail(pos_, "unexpected character", source_.describe_char(pos_));
    }

    std::string ident() {
        const std::size_t start = pos_;
        while (pos_ < text_.size() && is_ident_char(text_[pos_])) ++pos_;
        return std::string(text_.substr(start, pos_ - start));
    }

    Token name_token() {
        Token token{TokenKind::kName, pos_, {}, {}, {}};
        token.segments.push_back(ident());
        while (at(pos_) == '.') {
            ++pos_;
            if (!is_ident_start(at(pos_))) {
                source_.fail(pos_, "expected a name after '.'", source_.describe_char(pos_));
            }
            token.segments.push_back(ident());
        }
        token.spelling = text_.substr(token.offset, pos_ - token.offset);
        return token;
    }

    void digits(std::string_view after) {
        if (!is_digit(at(pos_))) {
            source_.fail(pos_, fmt::format("expected a digit after '{}'", after),
                         source_.describe_char(pos_));
        }
        while (is_digit(at(pos_))) ++pos_;
    }

    Token number_token() {
        Token token{TokenKind::kNumber, pos_, {}, {}, {}};
        if (at(pos_) == '-') ++pos_;
        digits("-");
        bool integral = true;
        if (at(pos_) == '.') {
            ++pos_;
            digits(".");
            integral = false;
        }
        if (at(pos_) == 'e' || at(pos_) == 'E') {
            ++pos_;
            if (at(pos_) == '+' || at(pos_) == '-') ++pos_;
            digits("e");
            integral = false;
        }
        if (is_ident_char(at(pos_)) || at(pos_) == '.') {
            source_.fail(pos_, "expected a number to end", source_.describe_char(pos_));
        }
        token.spelling = text_.substr(token.offset, pos_ - token.offset);
        token.value = number_value(token.spelling, integral, token.offset);
        return token;
    }

    // Integers stay integers while they fit, so large ids compare exactly with JSON integers.
    json number_value(std::string_view spelling, bool integral, std::size_t offset) const {
        const char* first = spelling.data();
        const char* last = first + spelling.size();
        if (integral) {
            int64_t signed_value = 0;
            if (std::from_chars(first, last, signed_value).ec == std::errc{}) return signed_value;
            uint64_t unsigned_value = 0;
            if (std::from_chars(first, last, unsigned_value).ec == std::errc{}) {
                return unsigned_value;
            }
        }
        double value = 0;
        if (std::from_chars(first, last, value).ec != std::errc{}) {
            source_.fail(offset, "number out of range", fmt::format("'{}'", spelling));
        }
        return value;
    }

    Token string_token() {
        Token token{TokenKind::kString, pos_, {}, {}, {}};
        const char quote = text_[pos_++];
        std::string value;
        while (true) {
            if (pos_ >= text_.size()) source_.fail(token.offset, "unterminated string");
            const char c = text_[pos_];
            if (c == quote) break;
            if (static_cast<unsigned char>(c) < 0x20) {
                source_.fail(pos_, "control character in a string (write \\n, \\t, ...)",
                             source_.describe_char(pos_));
            }
            if (c == '\\') {
                if (pos_ + 1 >= text_.size()) source_.fail(token.offset, "unterminated string");
                escape(value);
            } else {
                value += c;
                ++pos_;
            }
        }
        ++pos_;
        token.spelling = text_.substr(token.offset, pos_ - token.offset);
        token.value = std::move(value);
        return token;
    }

    void escape(std::string& out) {
        const std::size_t start = pos_;
        const char c = at(pos_ + 1);
        pos_ += 2;
        switch (c) {
            case '"':
            case '\'':
            case '\\':
            case '/':
                out += c;
                return;
            case 'b':
                out += '\b';
                return;
            case 'f':
                out += '\f';
                return;
            case 'n':
                out += '\n';
                return;
            case 'r':
                out += '\r';
                return;
            case 't':
                out += '\t';
                return;
            case 'u':
                return unicode_escape(out, start);
            default:
                break;
        }
        source_.fail(start, "unknown escape in a string", source_.describe_char(start + 1));
    }

    char32_t hex4(std::size_t escape_start) {
        char32_t code = 0;
        for (int i = 0; i < 4; ++i, ++pos_) {
            const char c = at(pos_);
            const int digit = is_digit(c)              ? c - '0'
                              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                              : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                                       : -1;
            if (digit < 0) source_.fail(escape_start, "expected four hex digits after \\u");
            code = code * 16 + static_cast<char32_t>(digit);
        }
        return code;
    }

    // \uXXXX as in JSON: characters beyond U+FFFF are written as a surrogate pair.
    void unicode_escape(std::string& out, std::size_t start) {
        char32_t code = hex4(start);
        if (code >= 0xDC00 && code <= 0xDFFF) source_.fail(start, "unpaired surrogate in \\u");
        if (code >= 0xD800 && code <= 0xDBFF) {
            if (at(pos_) != '\\' || at(pos_ + 1) != 'u') {
                source_.fail(start, "unpaired surrogate in \\u");
            }
            const std::size_t low_start = pos_;
            pos_ += 2;
            const char32_t low = hex4(low_start);
            if (low < 0xDC00 || low > 0xDFFF) source_.fail(start, "unpaired surrogate in \\u");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        }
        append_utf8(out, code);
    }

    const Source& source_;
    std::string_view text_;
    std::size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Parser: recursive descent over the grammar in expression.hpp.

bool is_keyword(std::string_view name) {
    return name == "and" || name == "or" || name == "not" || name == "in" || name == "true" ||
           name == "false" || name == "null";
}

class Parser {
public:
    Parser(const Source& source, std::vector<Token> tokens)
        : source_(source), tokens_(std::move(tokens)) {}

    NodePtr parse() {
        NodePtr root = parse_or();
        if (peek().kind != TokenKind::kEnd) expected("'and', 'or' or the end of the expression");
        return root;
    }

    std::vector<std::string> take_roots() { return std::move(roots_); }

private:
    const Token& peek() const { return tokens_[next_]; }

    Token& take() {
        Token& token = tokens_[next_];
        if (token.kind != TokenKind::kEnd) ++next_;
        return token;
    }

    bool at_keyword(std::string_view keyword) const {
        return peek().kind == TokenKind::kName && peek().segments.size() == 1 &&
               peek().segments[0] == keyword;
    }

    [[noreturn]] void expected(std::string_view what) const {
        const Token& token = peek();
        if (token.kind == TokenKind::kEnd) {
            source_.fail(token.offset, fmt::format("expected {}", what), "end of input");
        }
        std::string_view spelling = token.spelling;
        std::string suffix;
        if (spelling.size() > 24) {
            std::size_t cut = 24;
            while (cut > 0 && is_continuation_byte(static_cast<unsigned char>(spelling[cut]))) {
                --cut;
            }
            spelling = spelling.substr(0, cut);
            suffix = "...";
        }
        source_.fail(token.offset, fmt::format("expected {}", what),
                     fmt::format("'{}{}'", spelling, suffix));
    }

    // Every "(", "[" and "not" nests one level; refusing deep input keeps recursion bounded.
    void enter(const Token& token) {
        if (++depth_ > Expression::kMaxDepth) {
            source_.fail(token.offset,
                         fmt::format("nesting deeper than {} levels", Expression::kMaxDepth));
        }
    }

    void leave() { --depth_; }

    template <typename Group>
    NodePtr parse_chain(std::string_view keyword, NodePtr (Parser::*operand)()) {
        NodePtr first = (this->*operand)();
        if (!at_keyword(keyword)) return first;
        Group group;
        group.terms.push_back(std::move(first));
        while (at_keyword(keyword)) {
            take();
            group.terms.push_back((this->*operand)());
        }
        return make_node(std::move(group));
    }

    NodePtr parse_or() { return parse_chain<ast::AnyOf>("or", &Parser::parse_and); }

    NodePtr parse_and() { return parse_chain<ast::AllOf>("and", &Parser::parse_unary); }

    NodePtr parse_unary() {
        if (!at_keyword("not")) return parse_compare();
        enter(take());
        NodePtr operand = parse_unary();
        leave();
        return make_node(ast::Not{std::move(operand)});
    }

    NodePtr parse_compare() {
        NodePtr lhs = parse_operand();
        if (peek().kind == TokenKind::kEqual || peek().kind == TokenKind::kNotEqual) {
            const auto op = take().kind == TokenKind::kEqual ? ast::CompareOp::kEqual
                                                             : ast::CompareOp::kNotEqual;
            return make_node(ast::Compare{op, std::move(lhs), parse_operand()});
        }
        if (at_keyword("in")) {
            take();
            const Token& next = peek();
            const bool path = next.kind == TokenKind::kName &&
                              (next.segments.size() > 1 || !is_keyword(next.segments[0]));
            if (next.kind != TokenKind::kLeftBracket && !path) {
                expected("a list or a path after 'in'");
            }
            return make_node(ast::Compare{ast::CompareOp::kIn, std::move(lhs), parse_operand()});
        }
        return lhs;
    }

    NodePtr parse_operand() {
        switch (peek().kind) {
            case TokenKind::kName:
                return parse_name();
            case TokenKind::kString:
            case TokenKind::kNumber:
                return make_node(ast::Literal{std::move(take().value)});
            case TokenKind::kLeftBracket:
                return parse_list();
            case TokenKind::kLeftParen:
                return parse_group();
            default:
                expected("an operand");
        }
    }

    NodePtr parse_name() {
        const std::vector<std::string>& segments = peek().segments;
        if (segments.size() == 1 && is_keyword(segments[0])) {
            const std::string& keyword = segments[0];
            if (keyword == "true" || keyword == "false" || keyword == "null") {
                take();
                return make_node(
                    ast::Literal{keyword == "null" ? json(nullptr) : json(keyword == "true")});
            }
            expected("an operand");
        }
        if (std::find(roots_.begin(), roots_.end(), segments[0]) == roots_.end()) {
            roots_.push_back(segments[0]);
        }
        return make_node(ast::Path{std::move(take().segments)});
    }

    NodePtr parse_list() {
        enter(take());
        ast::List list;
        list.items.push_back(parse_operand());
        while (peek().kind == TokenKind::kComma) {
            take();
            list.items.push_back(parse_operand());
        }
        if (peek().kind != TokenKind::kRightBracket) expected("',' or ']'");
        take();
        leave();
        return make_node(std::move(list));
    }

    NodePtr parse_group() {
        enter(take());
        NodePtr inner = parse_or();
        if (peek().kind != TokenKind::kRightParen) expected("'and', 'or' or ')'");
        take();
        leave();
        return inner;
    }

    const Source& source_;
    std::vector<Token> tokens_;
    std::size_t next_ = 0;
    int depth_ = 0;
    std::vector<std::string> roots_;
};

// ---------------------------------------------------------------------------------------------
// Evaluation. Nothing here allocates or throws: values are pointers into the document or into
// the tree, and a literal list is compared item by item instead of being built as JSON.

struct Value {
    const json* document = nullptr;  // set unless this is a literal list
    const ast::List* list = nullptr;
};

const json& null_json() noexcept {
    static const json value(nullptr);
    return value;
}

const json& bool_json(bool b) noexcept {
    static const json true_value(true);
    static const json false_value(false);
    return b ? true_value : false_value;
}

bool test(const Node& node, const json& root) noexcept;

const json& resolve(const ast::Path& path, const json& root) noexcept {
    const json* current = &root;
    for (const std::string& segment : path.segments) {
        if (!current->is_object()) return null_json();
        const auto it = current->find(segment);
        if (it == current->end()) return null_json();
        current = &*it;
    }
    return *current;
}

Value value_of(const Node& node, const json& root) noexcept {
    return std::visit(Overloaded{
                          [](const ast::Literal& literal) { return Value{&literal.value}; },
                          [&](const ast::Path& path) { return Value{&resolve(path, root)}; },
                          [](const ast::List& list) {
                              return Value{nullptr, &list};
                          },
                          [&](const auto&) { return Value{&bool_json(test(node, root))}; },
                      },
                      node.kind);
}

bool equal(Value a, Value b, const json& root) noexcept;

bool list_equals_json(const ast::List& list, const json& document, const json& root) noexcept {
    if (!document.is_array() || document.size() != list.items.size()) return false;
    auto element = document.begin();
    for (const auto& item : list.items) {
        if (!equal(value_of(*item, root), Value{&*element++}, root)) return false;
    }
    return true;
}

bool lists_equal(const ast::List& a, const ast::List& b, const json& root) noexcept {
    if (a.items.size() != b.items.size()) return false;
    for (std::size_t i = 0; i < a.items.size(); ++i) {
        if (!equal(value_of(*a.items[i], root), value_of(*b.items[i], root), root)) return false;
    }
    return true;
}

// nlohmann's operator== already compares integers and floats by value, and containers
// element by element.
bool equal(Value a, Value b, const json& root) noexcept {
    if (a.list != nullptr && b.list != nullptr) return lists_equal(*a.list, *b.list, root);
    if (a.list != nullptr) return list_equals_json(*a.list, *b.document, root);
    if (b.list != nullptr) return list_equals_json(*b.list, *a.document, root);
    return *a.document == *b.document;
}

bool contains(Value haystack, Value needle, const json& root) noexcept {
    if (haystack.list != nullptr) {
        return std::any_of(
            haystack.list->items.begin(), haystack.list->items.end(),
            [&](const auto& item) { return equal(needle, value_of(*item, root), root); });
    }
    if (!haystack.document->is_array()) return false;
    return std::any_of(haystack.document->begin(), haystack.document->end(),
                       [&](const json& element) { return equal(needle, Value{&element}, root); });
}

bool truthy(Value value) noexcept {
    if (value.list != nullptr) return !value.list->items.empty();
    const json& v = *value.document;
    switch (v.type()) {
        case json::value_t::boolean:
            return *v.get_ptr<const json::boolean_t*>();
        case json::value_t::number_integer:
            return *v.get_ptr<const json::number_integer_t*>() != 0;
        case json::value_t::number_unsigned:
            return *v.get_ptr<const json::number_unsigned_t*>() != 0;
        case json::value_t::number_float:
            return *v.get_ptr<const json::number_float_t*>() != 0.0;
        case json::value_t::string:  // json::empty() is false for every string
            return !v.get_ptr<const json::string_t*>()->empty();
        case json::value_t::binary:
            return !v.get_ptr<const json::binary_t*>()->empty();
        case json::value_t::array:
        case json::value_t::object:
            return !v.empty();
        case json::value_t::null:
        case json::value_t::discarded:
            return false;
    }
    return false;
}

bool compare(const ast::Compare& node, const json& root) noexcept {
    const Value lhs = value_of(*node.lhs, root);
    const Value rhs = value_of(*node.rhs, root);
    switch (node.op) {
        case ast::CompareOp::kEqual:
            return equal(lhs, rhs, root);
        case ast::CompareOp::kNotEqual:
            return !equal(lhs, rhs, root);
        case ast::CompareOp::kIn:
            return contains(rhs, lhs, root);
    }
    return false;
}

bool test(const Node& node, const json& root) noexcept {
    const auto run = [&](const NodePtr& term) { return test(*term, root); };
    return std::visit(Overloaded{
                          [&](const ast::AnyOf& any) {
                              return std::any_of(any.terms.begin(), any.terms.end(), run);
                          },
                          [&](const ast::AllOf& all) {
                              return std::all_of(all.terms.begin(), all.terms.end(), run);
                          },
                          [&](const ast::Not& negation) { return !test(*negation.operand, root); },
                          [&](const ast::Compare& comparison) { return compare(comparison, root); },
                          [&](const auto&) { return truthy(value_of(node, root)); },
                      },
                      node.kind);
}

}  // namespace

Expression::Expression(std::string text, std::shared_ptr<const Node> root,
                       std::vector<std::string> roots)
    : text_(std::move(text)), root_(std::move(root)), roots_(std::move(roots)) {}

Expression Expression::parse(std::string_view text, std::string_view what) {
    if (text.size() > kMaxLength) {
        throw ConfigError(
            fmt::format("{}: longer than {} bytes ({} bytes)", what, kMaxLength, text.size()));
    }
    const Source source(text, what);
    source.check_utf8();
    Parser parser(source, Lexer(source).tokens());
    NodePtr root = parser.parse();
    return Expression(std::string(text), std::move(root), parser.take_roots());
}

bool Expression::matches(const json& root) const noexcept { return test(*root_, root); }

}  // namespace bb::expr
