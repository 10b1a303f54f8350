#include "broker-bridge/template.hpp"

#include "broker-bridge/errors.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using bb::tmpl::JsonTemplate;
using bb::tmpl::Template;
using nlohmann::json;

namespace {

// The document templates read: the attributes by their CloudEvents names, data below.
json message_sent() {
    return json::parse(R"({
        "id": "ev-1",
        "type": "MessageSent",
        "source": "chat-service",
        "subject": "msg-9",
        "time": "2026-11-30T08:00:00.438Z",
        "aggregatetype": "Message",
        "correlationid": "corr-1",
        "causationid": "",
        "userid": "u-42",
        "dataversion": "1",
        "data": {
            "chatId": "room1",
            "content": "line one\nline two",
            "count": 3,
            "ratio": 1.5,
            "flag": true,
            "nothing": null,
            "name": "Zoë 😀",
            "tags": ["x", "y"],
            "items": [{"id": "i0"}, {"id": "i1"}],
            "payload": {"body": "hi", "actionUrl": "/inbox"},
            "x-request-id": "r1"
        }
    })");
}

json with_data(const std::string& key, json value) {
    json doc = message_sent();
    doc["data"][key] = std::move(value);
    return doc;
}

std::string parse_error(const std::string& text, bool subject = false) {
    try {
        if (subject) {
            Template::parse_subject(text, "routes[0].channel_subject");
        } else {
            Template::parse(text, "routes[0].data.text");
        }
    } catch (const bb::ConfigError& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::string render(const std::string& text, const json& doc = message_sent()) {
    auto out = Template::parse(text, "t").render_string(doc);
    BOOST_TEST_REQUIRE(out.ok(), text << ": " << (out.ok() ? "" : out.error().what));
    return *out;
}

}  // namespace

// `template` is a keyword, so the suite takes the plural.
BOOST_AUTO_TEST_SUITE(templates)

BOOST_AUTO_TEST_CASE(placeholders_render_every_attribute_and_data_paths) {
    struct Row {
        std::string text;
        std::string expected;
    };
    const std::vector<Row> rows = {
        {"{id}", "ev-1"},
        {"{type}", "MessageSent"},
        {"{source}", "chat-service"},
        {"{subject}", "msg-9"},
        {"{userid}", "u-42"},
        {"{correlationid}", "corr-1"},
        {"{causationid}", ""},
        {"{aggregatetype}", "Message"},
        {"{time}", "2026-11-30T08:00:00.438Z"},
        {"{dataversion}", "1"},
        {"{data.chatId}", "room1"},
        {"{data.payload.actionUrl}", "/inbox"},
        {"{data.items.1.id}", "i1"},
        {"{data.x-request-id}", "r1"},
        {"chat {data.chatId} by {userid}", "chat room1 by u-42"},
        {"n={data.count} r={data.ratio} f={data.flag}", "n=3 r=1.5 f=true"},
        {"tags={data.tags}", R"(tags=["x","y"])"},
        {"p={data.payload}", R"(p={"actionUrl":"/inbox","body":"hi"})"},
        {"Hello {data.name}", "Hello Zoë 😀"},
        {"no placeholders", "no placeholders"},
        {"", ""},
    };
    for (const auto& row : rows) BOOST_TEST(render(row.text) == row.expected, row.text);
}

BOOST_AUTO_TEST_CASE(doubled_braces_are_literal_braces) {
    BOOST_TEST(render("{{id}}") == "{id}");
    BOOST_TEST(render("{{{id}}}") == "{ev-1}");
    BOOST_TEST(render("a}}b{{c") == "a}b{c");
    BOOST_TEST(Template::parse("{{data}}", "t").roots().empty());
}

BOOST_AUTO_TEST_CASE(a_lone_placeholder_yields_the_json_value_itself) {
    const json doc = message_sent();
    auto value = [&](const std::string& text) {
        auto out = Template::parse(text, "t").render_value(doc);
        BOOST_REQUIRE_MESSAGE(out.ok(), (out.ok() ? "" : out.error().what));
        return *out;
    };
    BOOST_TEST(value("{data.count}") == json(3));
    BOOST_TEST(value("{data.flag}") == json(true));
    BOOST_TEST(value("{data.payload}") == doc["data"]["payload"]);
    BOOST_TEST(value("{data.tags}") == json({"x", "y"}));
    BOOST_TEST(value("{data}") == doc["data"]);
    BOOST_TEST(value("{data.nothing}").is_null());  // present as null: kept
    BOOST_TEST(value("{id}") == json("ev-1"));
    // Anything more than one placeholder is text.
    BOOST_TEST(value("{data.count} ") == json("3 "));
    BOOST_TEST(value("x") == json("x"));
}

BOOST_AUTO_TEST_CASE(a_missing_value_is_an_error_naming_the_template_and_placeholder) {
    const json doc = message_sent();
    for (std::string text : {"{data.absent}", "x {data.absent}", "{data.chatId.deeper}",
                             "{data.items.7.id}", "{data.items.x}", "{data.nothing} text"}) {
        auto out = Template::parse(text, "routes[2].data.title").render_string(doc);
        BOOST_TEST_REQUIRE(!out.ok(), text);
        BOOST_TEST(contains(out.error().what, "routes[2].data.title: {data."), out.error().what);
        BOOST_TEST(contains(out.error().what, "is missing"), out.error().what);
    }
    auto value = Template::parse("{data.absent}", "t").render_value(doc);
    BOOST_TEST_REQUIRE(!value.ok());
    BOOST_TEST(value.error().what == "t: {data.absent} is missing");
    BOOST_TEST(!Template::parse("{data.x}", "t").render_subject(json::object()).ok());
}

BOOST_AUTO_TEST_CASE(subjects_take_only_single_valid_tokens) {
    const Template t =
        Template::parse_subject("rt.chat.{data.chatId}", "routes[0].channel_subject");
    auto ok = t.render_subject(message_sent());
    BOOST_TEST_REQUIRE(ok.ok());
    BOOST_TEST(*ok == "rt.chat.room1");
    BOOST_TEST(*t.render_subject(with_data("chatId", 42)) == "rt.chat.42");
    BOOST_TEST(*t.render_subject(with_data("chatId", "Zoë")) == "rt.chat.Zoë");

    struct Row {
        json value;
        std::string why;
    };
    const std::vector<Row> rows = {
        {"a.b", "contains '.' at byte 1"},
        {"*", "contains '*' at byte 0"},
        {">", "contains '>' at byte 0"},
        {"general.>", "contains '.' at byte 7"},
        {"x y", "contains white space at byte 1"},
        {"room\t1", "contains a control character at byte 4"},
        {"room1\r\nPUB x 1", "contains a control character at byte 5"},
        {"room1\r\nPUB user.u2.notifications 5\r\nhello", "contains a control character"},
        {std::string("room\0x", 6), "contains a control character at byte 4"},
        {"room\n", "contains a control character at byte 4"},
        {"room\u00a01", "contains white space at byte 4"},
        {"room\u20281", "contains white space at byte 4"},
        {"", "is empty"},
        {std::string(300, 'a'), "is longer than 256 bytes"},
        {-1.5, "contains '.'"},
        {json::object({{"a", 1}}), "is an object, not one subject token"},
        {json::array({1}), "is an array, not one subject token"},
        {nullptr, "is missing"},
    };
    for (const auto& row : rows) {
        auto out = t.render_subject(with_data("chatId", row.value));
        BOOST_TEST_REQUIRE(!out.ok(), row.value.dump());
        const std::string& what = out.error().what;
        BOOST_TEST(contains(what, "routes[0].channel_subject: {data.chatId}"), what);
        BOOST_TEST(contains(what, row.why), what);
        // The reason never carries the value: it ends up in headers and log lines.
        BOOST_TEST(!contains(what, "\r"), what);
        BOOST_TEST(!contains(what, "PUB"), what);
    }
}

BOOST_AUTO_TEST_CASE(invalid_utf8_in_a_value_is_not_a_subject_token) {
    std::string bad = "a\xff";
    BOOST_TEST(bb::tmpl::subject_token_problem(bad) == "is not valid UTF-8 at byte 1");
    BOOST_TEST(bb::tmpl::subject_token_problem("\xc0\xae") == "is not valid UTF-8 at byte 0");
    BOOST_TEST(bb::tmpl::subject_token_problem("\xc2\x85") ==
               "contains a control character at byte 0");  // C1 NEL
    BOOST_TEST(bb::tmpl::subject_token_problem("ok-token_1").empty());
}

BOOST_AUTO_TEST_CASE(a_subject_made_too_long_by_its_values_is_refused) {
    const Template t =
        Template::parse_subject("rt.{data.a}.{data.b}.{data.c}.{data.d}.{data.e}", "s");
    json doc = message_sent();
    for (auto key : {"a", "b", "c", "d", "e"}) doc["data"][key] = std::string(250, 'x');
    auto out = t.render_subject(doc);
    BOOST_TEST_REQUIRE(!out.ok());
    BOOST_TEST(contains(out.error().what, "is longer than 1024 bytes"), out.error().what);
}

BOOST_AUTO_TEST_CASE(subject_templates_must_make_a_valid_subject_without_wildcards) {
    for (std::string text : {"rt.chat.>", "rt.*.{id}", "rt..{id}", "rt.chat.", ".rt.{id}",
                             "rt chat.{id}", "", "rt.{id}\n"}) {
        std::string e = parse_error(text, true);
        BOOST_TEST(contains(e, "routes[0].channel_subject: "), text << " -> " << e);
        BOOST_TEST(contains(e, "not a subject without wildcards"), text << " -> " << e);
    }
    BOOST_TEST(parse_error("rt.chat.{data.chatId}", true).empty());
    BOOST_TEST(parse_error("rt.user.{data.targetUserId}.notifications", true).empty());
    BOOST_TEST(parse_error("rt.doc-{subject}-{data.rev}", true).empty());
}

BOOST_AUTO_TEST_CASE(syntax_errors_name_the_place_and_the_problem) {
    struct Row {
        std::string text;
        std::string message;
    };
    const std::vector<Row> rows = {
        {"x {id", "unterminated placeholder (no '}') at column 3"},
        {"x }", "a lone '}' (write '}}' for a literal brace) at column 3"},
        {"{}", "empty placeholder"},
        {"{foo}",
         "unknown name 'foo' in {foo} (known: id, type, source, subject, time, "
         "aggregatetype, correlationid, causationid, userid, dataversion, data, "
         "data.<path>) at column 2"},
        {"{Data.x}", "unknown name 'Data'"},
        {"{ id }",
         "a placeholder holds names of A-Z, a-z, 0-9, '_' and '-' joined by '.' at "
         "column 2"},
        {"{data..x}", "empty name in a placeholder at column 7"},
        {"{data.}", "empty name in a placeholder"},
        {"{id.x}", "'id' is text and has no members"},
        {"é {data.a b}", "joined by '.' at column 10"},
        {"{data.{id}}", "a placeholder holds names"},
        {std::string("a\xff"), "invalid UTF-8 at column 2"},
    };
    for (const auto& row : rows) {
        std::string e = parse_error(row.text);
        BOOST_TEST(contains(e, "routes[0].data.text: "), row.text << " -> " << e);
        BOOST_TEST(contains(e, row.message), row.text << " -> " << e);
    }
    BOOST_TEST(contains(parse_error(std::string(bb::tmpl::kMaxLength + 1, 'a')),
                        "a template is at most 4096 bytes"));
    BOOST_TEST(parse_error(std::string(bb::tmpl::kMaxLength, 'a')).empty());
}

BOOST_AUTO_TEST_CASE(roots_list_each_name_read_once_in_order) {
    auto t = Template::parse("{data.a}/{userid}/{data.b}/{id}/{{type}}", "t");
    BOOST_TEST(t.roots() == (std::vector<std::string>{"data", "userid", "id"}),
               boost::test_tools::per_element());
    BOOST_TEST(t.text() == "{data.a}/{userid}/{data.b}/{id}/{{type}}");
    BOOST_TEST(t.what() == "t");
}

BOOST_AUTO_TEST_CASE(json_templates_render_string_leaves_and_keep_the_rest) {
    const json shape = json::parse(R"({
        "id": "{id}",
        "text": "{data.content}",
        "from": "{userid}",
        "count": "{data.count}",
        "label": "#{data.count}",
        "payload": "{data.payload}",
        "kind": "chat",
        "priority": 5,
        "urgent": false,
        "none": null,
        "list": ["{data.chatId}", 1, {"deep": "{subject}"}],
        "brace": "{{literal}}"
    })");
    auto t = JsonTemplate::parse(shape, "routes[0].data");
    // Members are visited in key order (nlohmann::json keeps objects sorted).
    BOOST_TEST(t.roots() == (std::vector<std::string>{"data", "userid", "id", "subject"}),
               boost::test_tools::per_element());
    auto out = t.render(message_sent());
    BOOST_REQUIRE_MESSAGE(out.ok(), (out.ok() ? "" : out.error().what));
    const json expected = json::parse(R"({
        "id": "ev-1",
        "text": "line one\nline two",
        "from": "u-42",
        "count": 3,
        "label": "#3",
        "payload": {"body": "hi", "actionUrl": "/inbox"},
        "kind": "chat",
        "priority": 5,
        "urgent": false,
        "none": null,
        "list": ["room1", 1, {"deep": "msg-9"}],
        "brace": "{literal}"
    })");
    BOOST_TEST(*out == expected, out->dump() << " vs " << expected.dump());
}

BOOST_AUTO_TEST_CASE(json_template_errors_name_the_leaf) {
    const json shape = json::parse(R"({"a": {"b": ["ok", "{nope}"]}})");
    try {
        JsonTemplate::parse(shape, "routes[1].data");
        BOOST_FAIL("parse accepted an unknown name");
    } catch (const bb::ConfigError& e) {
        BOOST_TEST(contains(e.what(), "routes[1].data.a.b[1]: unknown name 'nope'"), e.what());
    }
    auto t = JsonTemplate::parse(json::parse(R"({"a": {"title": "Hi {data.name2}"}})"), "d");
    auto out = t.render(message_sent());
    BOOST_TEST_REQUIRE(!out.ok());
    BOOST_TEST(out.error().what == "d.a.title: {data.name2} is missing");
}

BOOST_AUTO_TEST_CASE(json_template_nesting_is_bounded) {
    json deep = "leaf";
    for (std::size_t i = 0; i < bb::tmpl::kMaxDepth; ++i) deep = json::array({deep});
    BOOST_CHECK_NO_THROW(JsonTemplate::parse(deep, "d"));
    deep = json::array({deep});
    BOOST_CHECK_THROW(JsonTemplate::parse(deep, "d"), bb::ConfigError);
}

BOOST_AUTO_TEST_CASE(templates_render_concurrently_from_one_parsed_copy) {
    const Template t = Template::parse_subject("rt.chat.{data.chatId}", "s");
    std::vector<std::thread> threads;
    std::atomic<int> wrong{0};
    for (int k = 0; k < 4; ++k) {
        threads.emplace_back([&, k] {
            json doc = with_data("chatId", "room" + std::to_string(k));
            for (int i = 0; i < 2000; ++i) {
                auto out = t.render_subject(doc);
                if (!out.ok() || *out != "rt.chat.room" + std::to_string(k)) ++wrong;
            }
        });
    }
    for (auto& th : threads) th.join();
    BOOST_TEST(wrong.load() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
