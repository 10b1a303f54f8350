#include "broker-bridge/expression.hpp"

#include "broker-bridge/errors.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

using bb::expr::Expression;
using nlohmann::json;

namespace {

// What a binding filter sees for one event: attributes at the top, the payload under "data".
json user_created() {
    return json::parse(R"({
        "type": "UserCreated",
        "source": "/accounts",
        "subject": "events.user.UserCreated",
        "data": {
            "priority": "high",
            "type": "a",
            "count": 3,
            "ratio": 1.0,
            "big": 9007199254740993,
            "tags": ["x", "y"],
            "name": "Zoë 😀",
            "empty": "",
            "zero": 0,
            "nothing": null,
            "x-request-id": "r1",
            "nested": {"deep": {"flag": true}}
        }
    })");
}

json low_priority() {
    json doc = user_created();
    doc["data"]["priority"] = "low";
    return doc;
}

struct Row {
    std::string text;
    json document;
    bool expected;
};

// Parses `text` and returns the error message, or "" when it parsed.
std::string parse_error(const std::string& text, std::string_view what = "filter") {
    try {
        Expression::parse(text, what);
    } catch (const bb::ConfigError& e) {
        return e.what();
    }
    return "";
}

std::string repeat(std::string_view piece, int times) {
    std::string out;
    for (int i = 0; i < times; ++i) out += piece;
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(expression)

BOOST_AUTO_TEST_CASE(expressions_evaluate_as_the_table_says) {
    const json doc = user_created();
    const std::vector<Row> rows = {
        // equality on attributes and data fields
        {R"(type == "UserCreated")", doc, true},
        {R"(type == 'UserCreated')", doc, true},
        {R"(type != "UserCreated")", doc, false},
        {R"(type == "usercreated")", doc, false},
        {R"(type == "UserCreated" and data.priority != "low")", doc, true},
        {R"(type == "UserCreated" and data.priority != "low")", low_priority(), false},
        {R"(data.priority == "low" or type == "UserCreated")", low_priority(), true},
        {R"(data.x-request-id == "r1")", doc, true},
        {R"(data.nested.deep.flag == true)", doc, true},
        // in: literal lists and paths to arrays, never substrings
        {R"(data.type in ["a", "b"])", doc, true},
        {R"(data.type in ["b", "c"])", doc, false},
        {R"(data.type in ['a'])", doc, true},
        {R"("x" in data.tags)", doc, true},
        {R"("z" in data.tags)", doc, false},
        {R"("Zo" in data.name)", doc, false},
        {R"("x" in data.missing)", doc, false},
        {R"(data.count in [1, 2, 3])", doc, true},
        {R"(data.count in [1.5, 3.0])", doc, true},
        {R"(data.tags in [["x", "y"], "q"])", doc, true},
        {R"(data.tags in [["y", "x"]])", doc, false},
        {R"(type in [data.type, source, "UserCreated"])", doc, true},
        {R"(not data.type in ["a"])", doc, false},
        // numbers compare numerically, never with strings or booleans
        {R"(data.count == 3)", doc, true},
        {R"(data.count == 3.0)", doc, true},
        {R"(data.count == 3e0)", doc, true},
        {R"(data.ratio == 1)", doc, true},
        {R"(data.count == "3")", doc, false},
        {R"(data.count != 4)", doc, true},
        {R"(data.zero == -0)", doc, true},
        {R"(-1.5e2 == -150)", doc, true},
        {R"(1 == true)", doc, false},
        {R"(data.big == 9007199254740993)", doc, true},
        {R"(data.big == 9007199254740992)", doc, false},
        {R"(18446744073709551615 == 18446744073709551615)", doc, true},
        // missing fields are null
        {R"(data.missing == null)", doc, true},
        {R"(data.missing != "x")", doc, true},
        {R"(data.missing == "")", doc, false},
        {R"(missing.deep.path == null)", doc, true},
        {R"(data.priority.level == null)", doc, true},
        {R"(data.tags.first == null)", doc, true},
        {R"(data.nothing == null)", doc, true},
        {R"(data.null == null)", doc, true},
        // a bare operand is a truth test
        {R"(data.nested.deep.flag)", doc, true},
        {R"(data.missing)", doc, false},
        {R"(not data.missing)", doc, true},
        {R"(data.nothing)", doc, false},
        {R"(data.zero)", doc, false},
        {R"(data.count)", doc, true},
        {R"(data.empty)", doc, false},
        {R"(data.type)", doc, true},
        {R"(data.tags)", doc, true},
        {R"(data.nested)", doc, true},
        {R"(["x"])", doc, true},
        {R"(true)", doc, true},
        {R"(false)", doc, false},
        {R"(null)", doc, false},
        // precedence: not > and > or
        {R"(true or false and false)", doc, true},
        {R"((true or false) and false)", doc, false},
        {R"(not true or true)", doc, true},
        {R"(not (true or true))", doc, false},
        {R"(not not true)", doc, true},
        {R"(not data.type == "a")", doc, false},
        {R"((data.count == 3) == true)", doc, true},
        {R"(false or false or false or true)", doc, true},
        {R"(true and true and true and false)", doc, false},
        // unicode, escapes and lists
        {R"(data.name == "Zoë 😀")", doc, true},
        {R"(data.name == "Zo\u00eb \ud83d\ude00")", doc, true},
        {R"(data.name == "Zoe 😀")", doc, false},
        {R"('it\'s' == "it's")", doc, true},
        {R"("a\\b\"c" == 'a\\b"c')", doc, true},
        {R"("\/\b\f\n\r\t" == "/\u0008\u000c\u000a\u000d\u0009")", doc, true},
        {R"(data.tags == ["x", "y"])", doc, true},
        {R"(["x", "y"] == data.tags)", doc, true},
        {R"(data.tags == ["y", "x"])", doc, false},
        {R"(data.tags == ["x"])", doc, false},
        {R"(data.type == ["a"])", doc, false},
        {R"([1, [2, 3]] == [1, [2, 3.0]])", doc, true},
        {R"([1, [2, 3]] != [1, [2, 4]])", doc, true},
        // whitespace is free between tokens
        {"  type\t==\n\"UserCreated\"\r\n", doc, true},
        {R"(data.type in["a"]and(true))", doc, true},
    };
    for (const Row& row : rows) {
        BOOST_TEST_CONTEXT("expression: " << row.text) {
            BOOST_TEST(Expression::parse(row.text).matches(row.document) == row.expected);
        }
    }
}

BOOST_AUTO_TEST_CASE(syntax_errors_name_the_column_and_what_was_expected) {
    const std::vector<std::pair<std::string, std::string>> rows = {
        {"", "filter: expected an operand at column 1, found end of input"},
        {"   ", "filter: expected an operand at column 4, found end of input"},
        {"type ==", "filter: expected an operand at column 8, found end of input"},
        {R"(type == "a" and)", "filter: expected an operand at column 16, found end of input"},
        {R"(type == "a" and or x)", "filter: expected an operand at column 17, found 'or'"},
        {R"(type == ))", "filter: expected an operand at column 9, found ')'"},
        {"and", "filter: expected an operand at column 1, found 'and'"},
        {R"(type = "a")", "filter: expected '==' at column 6, found '='"},
        {R"(! type)", "filter: expected '!=' (negation is 'not') at column 1, found '!'"},
        {R"(type == "abc)", "filter: unterminated string at column 9"},
        {R"(type == 'abc\)", "filter: unterminated string at column 9"},
        {R"((type == "a")", "filter: expected 'and', 'or' or ')' at column 13, found end of input"},
        {R"((a b))", "filter: expected 'and', 'or' or ')' at column 4, found 'b'"},
        {R"(type == "a" extra)",
         "filter: expected 'and', 'or' or the end of the expression at column 13, found 'extra'"},
        {R"(a == b == c)",
         "filter: expected 'and', 'or' or the end of the expression at column 8, found '=='"},
        {R"(data.type in "a")",
         "filter: expected a list or a path after 'in' at column 14, found '\"a\"'"},
        {R"(data.type in null)",
         "filter: expected a list or a path after 'in' at column 14, found 'null'"},
        {R"(data.type in (data.tags))",
         "filter: expected a list or a path after 'in' at column 14, found '('"},
        {"data.", "filter: expected a name after '.' at column 6, found end of input"},
        {"data..type", "filter: expected a name after '.' at column 6, found '.'"},
        {"data.1", "filter: expected a name after '.' at column 6, found '1'"},
        {"[1, 2", "filter: expected ',' or ']' at column 6, found end of input"},
        {"[]", "filter: expected an operand at column 2, found ']'"},
        {"x in [1,]", "filter: expected an operand at column 9, found ']'"},
        {"type == #", "filter: unexpected character at column 9, found '#'"},
        {"type == é", "filter: unexpected character at column 9, found 'é'"},
        {R"("ééé" == )", "filter: expected an operand at column 10, found end of input"},
        {R"(x == "\q")", "filter: unknown escape in a string at column 7, found 'q'"},
        {R"(x == "\u12")", "filter: expected four hex digits after \\u at column 7"},
        {R"(x == "\ud800")", "filter: unpaired surrogate in \\u at column 7"},
        {R"(x == "\ud800\u0041")", "filter: unpaired surrogate in \\u at column 7"},
        {R"(x == "\udc00")", "filter: unpaired surrogate in \\u at column 7"},
        {"x == \"a\tb\"",
         "filter: control character in a string (write \\n, \\t, ...) at column 8, found byte "
         "0x09"},
        {"x == -", "filter: expected a digit after '-' at column 7, found end of input"},
        {"x == 1.", "filter: expected a digit after '.' at column 8, found end of input"},
        {"x == 1e", "filter: expected a digit after 'e' at column 8, found end of input"},
        {"x == 12abc", "filter: expected a number to end at column 8, found 'a'"},
        {"x == 1.5.2", "filter: expected a number to end at column 9, found '.'"},
        {"x == 1e999", "filter: number out of range at column 6, found '1e999'"},
        {"x == \"\xff\"", "filter: invalid UTF-8 at column 7"},
        {"x == \"\xc3\"", "filter: invalid UTF-8 at column 7"},
        {"x == \"\xed\xa0\x80\"", "filter: invalid UTF-8 at column 7"},
        {R"(x == "abcdefghijklmnopqrstuvwxyz" "z")",
         "filter: expected 'and', 'or' or the end of the expression at column 35, found "
         "'\"z\"'"},
        {R"(a b "abcdefghijklmnopqrstuvwxyz")",
         "filter: expected 'and', 'or' or the end of the expression at column 3, found 'b'"},
        {R"(true "abcdefghijklmnopqrstuvwxyz")",
         "filter: expected 'and', 'or' or the end of the expression at column 6, found "
         "'\"abcdefghijklmnopqrstuvw...'"},
    };
    for (const auto& [text, expected] : rows) {
        BOOST_TEST_CONTEXT("expression: " << text) { BOOST_TEST(parse_error(text) == expected); }
    }
}

BOOST_AUTO_TEST_CASE(messages_start_with_the_given_place) {
    BOOST_TEST(parse_error("x ==", "bindings[2].filter") ==
               "bindings[2].filter: expected an operand at column 5, found end of input");
    BOOST_TEST(parse_error("x ==", "") == ": expected an operand at column 5, found end of input");
    try {
        Expression::parse("x ==");
        BOOST_FAIL("parse accepted an incomplete expression");
    } catch (const bb::ConfigError& e) {
        BOOST_TEST(std::string(e.what()).rfind("expression: ", 0) == 0);
    }
}

BOOST_AUTO_TEST_CASE(nesting_up_to_the_limit_is_accepted) {
    const int depth = Expression::kMaxDepth;
    const std::string parens = repeat("(", depth) + "true" + repeat(")", depth);
    BOOST_TEST(Expression::parse(parens).matches(json::object()));
    const std::string nots = repeat("not ", depth) + "true";
    BOOST_TEST(Expression::parse(nots).matches(json::object()));  // an even number of negations
    const std::string inner = repeat("[", depth - 1) + "1" + repeat("]", depth - 1);
    const std::string lists = inner + " in [" + inner + "]";
    BOOST_TEST(Expression::parse(lists).matches(json::object()));
}

BOOST_AUTO_TEST_CASE(nesting_deeper_than_the_limit_is_refused) {
    const int depth = Expression::kMaxDepth + 1;
    BOOST_TEST(parse_error(repeat("(", depth) + "true" + repeat(")", depth)) ==
               "filter: nesting deeper than 64 levels at column 65");
    BOOST_TEST(parse_error(repeat("not ", depth) + "true") ==
               "filter: nesting deeper than 64 levels at column 257");
    BOOST_TEST(parse_error("x in " + repeat("[", depth) + "1" + repeat("]", depth)) ==
               "filter: nesting deeper than 64 levels at column 70");
    BOOST_TEST(parse_error("(not [" + repeat("(", 62) + "1") ==
               "filter: nesting deeper than 64 levels at column 68");
    // Far deeper input fails the same way instead of exhausting the stack.
    BOOST_TEST(parse_error(repeat("(", 4000)) ==
               "filter: nesting deeper than 64 levels at column 65");
}

BOOST_AUTO_TEST_CASE(text_longer_than_the_cap_is_refused) {
    const std::string prefix = "x == \"";
    const std::string at_cap =
        prefix + std::string(Expression::kMaxLength - prefix.size() - 1, 'a') + "\"";
    BOOST_TEST(at_cap.size() == Expression::kMaxLength);
    BOOST_TEST(Expression::parse(at_cap).matches(json{{"x", std::string(4089, 'a')}}));
    const std::string over = at_cap + " ";
    BOOST_TEST(parse_error(over) == "filter: longer than 4096 bytes (4097 bytes)");
}

BOOST_AUTO_TEST_CASE(roots_lists_each_top_level_name_once_in_order_of_use) {
    const auto expr = Expression::parse(
        R"(type == "a" and data.x in data.list or sub == 1 and not type != source.id)");
    BOOST_TEST(expr.roots() == (std::vector<std::string>{"type", "data", "sub", "source"}),
               boost::test_tools::per_element());
    BOOST_TEST(Expression::parse("true and 1 == 1.0 or null").roots().empty());
    BOOST_TEST(Expression::parse("data.in == 1").roots() == std::vector<std::string>{"data"},
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(text_returns_the_source_as_given) {
    const std::string source = "  type ==\t'a'  ";
    BOOST_TEST(Expression::parse(source).text() == source);
}

BOOST_AUTO_TEST_CASE(copies_share_the_tree_and_outlive_the_original) {
    std::vector<Expression> kept;
    {
        const auto original = Expression::parse(R"(data.type in ["a", "b"])");
        kept.push_back(original);
        kept.push_back(original);
    }
    BOOST_TEST(kept[0].matches(user_created()));
    BOOST_TEST(!kept[1].matches(json{{"data", {{"type", "c"}}}}));
}

BOOST_AUTO_TEST_CASE(documents_of_any_shape_evaluate_without_throwing) {
    const auto expr = Expression::parse(R"(data.type == null and not ("a" in data.tags))");
    for (const json& doc : {json(), json::array({1, 2}), json("text"), json(42), json::object(),
                            json{{"data", nullptr}}, json{{"data", json::array()}},
                            json{{"data", {{"type", nullptr}, {"tags", "a"}}}}}) {
        BOOST_TEST_CONTEXT("document: " << doc.dump()) { BOOST_TEST(expr.matches(doc)); }
    }
    BOOST_TEST(!expr.matches(json{{"data", {{"tags", json::array({"a"})}}}}));
}

BOOST_AUTO_TEST_SUITE_END()
