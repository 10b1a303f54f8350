// The router plugin through the real loader, with the fake host table recording what it
// publishes: realtime messages (raw publishes) and follow-up events.
#include "handlers/plugin_loader.hpp"

#include "broker-bridge/config.hpp"

#include "unit/handlers/plugin_harness.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <latch>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

using bb::test::FakeHost;
using bb::test::make_event;
using bb::test::PluginInstance;
using bb::test::RawPublish;
using bb::test::TestEvent;
using nlohmann::json;

namespace {

constexpr const char* kChatRoute = R"(routes:
  - name: chat
    when: { type: MessageSent }
    channel_subject: rt.chat.{data.chatId}
    data: { id: "{id}", text: "{data.content}", from: "{userid}", at: "{time}", n: 5 }
)";

constexpr const char* kWelcomeRoute = R"(routes:
  - name: welcome
    when: { type: UserCreated }
    emit:
      type: NotificationCreated
      aggregate_type: Notification
      aggregate_id: "welcome-{subject}"
      data: { targetUserId: "{subject}", type: welcome, title: "Welcome {data.name}" }
)";

TestEvent message_sent(const std::string& id, const json& chat_id) {
    TestEvent ev = make_event(id, "MessageSent");
    ev.aggregate_type = "Message";
    ev.subject = "msg-" + id;
    ev.user_id = "u-42";
    ev.nats_subject = "events.message.MessageSent";
    ev.data_json = json{{"chatId", chat_id}, {"content", "hi\nthere"}, {"messageId", "m1"}}.dump();
    ev.data = ev.data_json;
    return ev;
}

struct RouterFixture {
    bb::handlers::LoadedPlugin plugin = bb::handlers::load_plugin("router", {BB_PLUGIN_DIR});
    FakeHost host;

    RouterFixture() { host.allow_publish_under({"rt.>"}); }

    std::optional<std::string> config_error(const std::string& yaml) const {
        return bb::test::create_error(plugin.descriptor(), host, yaml);
    }
};

// One line of tests/data/events-10k.jsonl (the app's sample events) as the host hands it over.
TestEvent sample_event(const json& line) {
    TestEvent ev = make_event(line.at("id"), line.at("type"));
    const json& meta = line.at("metadata");
    ev.subject = line.at("aggregateId");
    ev.aggregate_type = line.at("aggregateType");
    ev.source = meta.at("source");
    ev.user_id = meta.at("userId");
    ev.correlation_id = meta.at("correlationId");
    ev.time = meta.at("timestamp");
    ev.data_json = line.at("data").dump();
    ev.data = ev.data_json;
    return ev;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(router_plugin, RouterFixture)

BOOST_AUTO_TEST_CASE(a_chat_message_is_published_to_its_channel_with_author_and_ids) {
    PluginInstance instance(plugin.descriptor(), host, kChatRoute);
    TestEvent ev = message_sent("ev-1", "room1");
    ev.headers.emplace_back("Bridge-Connection-Id", "conn-7");

    auto answer = instance.handle(ev);

    BOOST_TEST(answer.result == BB_RESULT_DONE, answer.error);
    auto sent = host.raw_publishes();
    BOOST_TEST_REQUIRE(sent.size() == 1u);
    const RawPublish& m = sent[0];
    BOOST_TEST(m.answer == BB_OK);
    BOOST_TEST(m.subject == "rt.chat.room1");
    BOOST_TEST(m.header("Nats-Msg-Id").value_or("") == "rt:ev-1:chat");
    BOOST_TEST(m.header("ce-userid").value_or("") == "u-42");
    BOOST_TEST(m.header("ce-id").value_or("") == "ev-1");
    BOOST_TEST(m.header("ce-type").value_or("") == "MessageSent");
    BOOST_TEST(m.header("Bridge-Connection-Id").value_or("") == "conn-7");
    BOOST_TEST(m.header("Content-Type").value_or("") == "application/json");
    const json expected = {{"id", "ev-1"},
                           {"text", "hi\nthere"},
                           {"from", "u-42"},
                           {"at", "2026-11-30T08:00:00.015Z"},
                           {"n", 5}};
    BOOST_TEST(json::parse(m.data) == expected, m.data);
    BOOST_TEST(host.counter("routed_total") == 1.0);
    BOOST_TEST(host.published_events().empty());
}

BOOST_AUTO_TEST_CASE(without_data_the_body_is_the_event_data_and_the_index_names_the_route) {
    PluginInstance instance(plugin.descriptor(), host, R"(routes:
  - when: { type: DocumentUpdated }
    channel_subject: rt.doc.{subject}
)");
    TestEvent ev = make_event("ev-2", "DocumentUpdated");
    ev.subject = "doc-9";
    ev.user_id = "";
    ev.data_json = R"({"changes":{"rev":4}})";

    BOOST_TEST(instance.handle(ev).result == BB_RESULT_DONE);

    auto sent = host.raw_publishes();
    BOOST_TEST_REQUIRE(sent.size() == 1u);
    BOOST_TEST(sent[0].subject == "rt.doc.doc-9");
    BOOST_TEST(sent[0].data == ev.data_json);
    BOOST_TEST(sent[0].header("Nats-Msg-Id").value_or("") == "rt:ev-2:0");
    // No author and no connection: the headers are left out, not sent empty.
    BOOST_TEST(!sent[0].header("ce-userid").has_value());
    BOOST_TEST(!sent[0].header("Bridge-Connection-Id").has_value());
}

BOOST_AUTO_TEST_CASE(ids_that_are_not_one_subject_token_fail_the_event_and_publish_nothing) {
    PluginInstance instance(plugin.descriptor(), host, kChatRoute);
    struct Row {
        json chat_id;
        std::string why;
    };
    const std::vector<Row> rows = {
        {"a.b", "is not one subject token: it contains '.' at byte 1"},
        {"*", "contains '*' at byte 0"},
        {">", "contains '>' at byte 0"},
        {"general.>", "contains '.' at byte 7"},
        {"x y", "contains white space at byte 1"},
        {"room1\r\nPUB x 1", "contains a control character at byte 5"},
        {"room1\r\nPUB rt.user.u2.notifications 5\r\nhello", "contains a control character"},
        {"room\t1", "contains a control character at byte 4"},
        {"room\n", "contains a control character at byte 4"},
        {"", "is empty"},
        {json::object({{"id", 1}}), "is an object, not one subject token"},
    };
    for (const auto& row : rows) {
        auto answer = instance.handle(message_sent("bad", row.chat_id));
        BOOST_TEST(answer.result == BB_RESULT_REJECT, row.chat_id.dump());
        BOOST_TEST(contains(answer.error, "route chat: routes[0].channel_subject: {data.chatId} "),
                   answer.error);
        BOOST_TEST(contains(answer.error, row.why), answer.error);
        // The reason goes into a DLQ header: it must not carry the value's CR/LF.
        BOOST_TEST(!contains(answer.error, "\r"), answer.error);
        BOOST_TEST(!contains(answer.error, "\n"), answer.error);
    }
    BOOST_TEST(host.raw_publishes().empty());
    BOOST_TEST(host.counter("routed_total") == 0.0);
}

BOOST_AUTO_TEST_CASE(a_missing_field_fails_the_event_naming_the_placeholder) {
    PluginInstance instance(plugin.descriptor(), host, kChatRoute);
    TestEvent ev = message_sent("ev-3", "room1");
    ev.data_json = R"({"content":"no chat id"})";

    auto answer = instance.handle(ev);

    BOOST_TEST(answer.result == BB_RESULT_REJECT);
    BOOST_TEST(answer.error == "route chat: routes[0].channel_subject: {data.chatId} is missing");
    BOOST_TEST(host.raw_publishes().empty());
    // One warn line per event, naming the route, the template and the reason.
    auto lines = host.lines();
    size_t warned = 0;
    for (const auto& l : lines) {
        if (l.text.rfind("route cannot render event", 0) != 0) continue;
        ++warned;
        BOOST_TEST(l.level == BB_LOG_WARN);
        BOOST_TEST(l.text ==
                   "route cannot render event route=chat template=routes[0].channel_subject "
                   "reason=\"{data.chatId} is missing\" event_id=ev-3 seq=" +
                       std::to_string(ev.stream_seq));
    }
    BOOST_TEST(warned == 1u);
    BOOST_TEST(host.counter("render_failures_total") == 1.0);

    ev.data_json = R"({"chatId":"room1"})";  // the projection's {data.content} is missing now
    answer = instance.handle(ev);
    BOOST_TEST(answer.result == BB_RESULT_REJECT);
    BOOST_TEST(answer.error == "route chat: routes[0].data.text: {data.content} is missing");
    BOOST_TEST(host.raw_publishes().empty());
}

BOOST_AUTO_TEST_CASE(every_matching_route_applies_and_one_bad_route_publishes_nothing) {
    PluginInstance instance(plugin.descriptor(), host, R"(routes:
  - name: chat
    when: { type: MessageSent }
    channel_subject: rt.chat.{data.chatId}
  - name: inbox
    when: 'type == "MessageSent" and data.mention != null'
    channel_subject: rt.user.{data.mention}.mentions
    data: { chat: "{data.chatId}" }
  - name: other
    when: { type: UserCreated }
    channel_subject: rt.users
)");
    TestEvent ev = message_sent("ev-4", "room1");
    ev.data_json = R"({"chatId":"room1","mention":"u-7"})";

    BOOST_TEST(instance.handle(ev).result == BB_RESULT_DONE);

    auto sent = host.raw_publishes();
    BOOST_TEST_REQUIRE(sent.size() == 2u);
    BOOST_TEST(sent[0].subject == "rt.chat.room1");
    BOOST_TEST(sent[0].header("Nats-Msg-Id").value_or("") == "rt:ev-4:chat");
    BOOST_TEST(sent[1].subject == "rt.user.u-7.mentions");
    BOOST_TEST(sent[1].header("Nats-Msg-Id").value_or("") == "rt:ev-4:inbox");
    BOOST_TEST(sent[1].data == R"({"chat":"room1"})");

    // The first route would succeed, the second cannot: nothing goes out.
    ev.id = "ev-5";
    ev.data_json = R"({"chatId":"room1","mention":"u.7"})";
    auto answer = instance.handle(ev);
    BOOST_TEST(answer.result == BB_RESULT_REJECT);
    BOOST_TEST(contains(answer.error, "route inbox: routes[1].channel_subject: {data.mention}"),
               answer.error);
    BOOST_TEST(host.raw_publishes().size() == 2u);
}

BOOST_AUTO_TEST_CASE(an_event_no_route_matches_is_done_without_publishing) {
    PluginInstance instance(plugin.descriptor(), host, kChatRoute);
    auto answer = instance.handle(make_event("ev-6", "UserUpdated"));
    BOOST_TEST(answer.result == BB_RESULT_DONE);
    BOOST_TEST(host.raw_publishes().empty());
    BOOST_TEST(host.published_events().empty());
}

BOOST_AUTO_TEST_CASE(conditions_match_fields_lists_and_expressions) {
    PluginInstance instance(plugin.descriptor(), host, R"(routes:
  - name: map
    when: { type: [MessageSent, MessageEdited], data.kind: [a, b], aggregatetype: Message }
    channel_subject: rt.map.{data.kind}
  - name: expr
    when: 'type == "MessageSent" and data.kind in ["b", "c"] and data.count == 2'
    channel_subject: rt.expr.{data.kind}
)");
    auto send = [&](const std::string& id, const std::string& type, const json& data) {
        TestEvent ev = message_sent(id, "room1");
        ev.type = type;
        ev.data_json = data.dump();
        BOOST_TEST(instance.handle(ev).result == BB_RESULT_DONE);
    };
    send("e1", "MessageSent", {{"kind", "a"}, {"count", 2}});
    send("e2", "MessageEdited", {{"kind", "b"}, {"count", 2}});
    send("e3", "MessageSent", {{"kind", "c"}, {"count", 2.0}});
    send("e4", "MessageSent", {{"kind", "d"}, {"count", 2}});
    send("e5", "UserCreated", {{"kind", "a"}});

    std::vector<std::string> subjects;
    for (const auto& m : host.raw_publishes()) subjects.push_back(m.subject);
    const std::vector<std::string> expected = {"rt.map.a", "rt.map.b", "rt.expr.c"};
    BOOST_TEST(subjects == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(author_ids_are_percent_encoded_like_envelope_headers) {
    PluginInstance instance(plugin.descriptor(), host, kChatRoute);
    TestEvent ev = message_sent("ev-7", "room1");
    ev.user_id = "Zoë 100%";
    BOOST_TEST(instance.handle(ev).result == BB_RESULT_DONE);
    auto sent = host.raw_publishes();
    BOOST_TEST_REQUIRE(sent.size() == 1u);
    BOOST_TEST(sent[0].header("ce-userid").value_or("") == "Zo%C3%AB%20100%25");
    // The body carries the id as text, unencoded.
    BOOST_TEST(json::parse(sent[0].data)["from"] == "Zoë 100%");
}

BOOST_AUTO_TEST_CASE(a_refused_publish_fails_the_event_with_the_hosts_reason) {
    PluginInstance instance(plugin.descriptor(), host, R"(routes:
  - name: outside
    when: { type: MessageSent }
    channel_subject: app.chat.{data.chatId}
)");
    auto answer = instance.handle(message_sent("ev-8", "room1"));
    BOOST_TEST(answer.result == BB_RESULT_RETRY);
    BOOST_TEST(contains(answer.error, "route outside: publish to app.chat.room1 failed: "),
               answer.error);

    host.allow_publish_under({"app.>"});
    host.answer_raw_publish_with(BB_UNAVAILABLE, "nats: timeout");
    answer = instance.handle(message_sent("ev-8", "room1"));
    BOOST_TEST(answer.result == BB_RESULT_RETRY);
    BOOST_TEST(contains(answer.error, "failed: nats: timeout"), answer.error);
    BOOST_TEST(host.counter("routed_total") == 0.0);
}

BOOST_AUTO_TEST_CASE(an_emit_route_publishes_the_follow_up_event) {
    PluginInstance instance(plugin.descriptor(), host, kWelcomeRoute);
    TestEvent ev = make_event("ev-9", "UserCreated");
    ev.subject = "user-1";
    ev.data_json = R"({"name":"Priya","email":"p@example.com"})";

    auto answer = instance.handle(ev);

    BOOST_TEST(answer.result == BB_RESULT_DONE, answer.error);
    auto events = host.published_events();
    BOOST_TEST_REQUIRE(events.size() == 1u);
    BOOST_TEST(events[0].source_id == "ev-9");
    BOOST_TEST(events[0].type == "NotificationCreated");
    BOOST_TEST(events[0].aggregate_type == "Notification");
    BOOST_TEST(events[0].aggregate_id == "welcome-user-1");
    BOOST_TEST(events[0].key == "welcome");
    const json expected = {
        {"targetUserId", "user-1"}, {"type", "welcome"}, {"title", "Welcome Priya"}};
    BOOST_TEST(json::parse(events[0].data_json) == expected, events[0].data_json);
    BOOST_TEST(host.counter("emitted_total") == 1.0);
    BOOST_TEST(host.raw_publishes().empty());
}

BOOST_AUTO_TEST_CASE(an_emit_without_data_forwards_the_source_data) {
    PluginInstance instance(plugin.descriptor(), host, R"(routes:
  - when: { type: UserCreated }
    emit: { type: UserOnboarding, aggregate_type: User, aggregate_id: "{subject}" }
)");
    TestEvent ev = make_event("ev-10", "UserCreated");
    BOOST_TEST(instance.handle(ev).result == BB_RESULT_DONE);
    auto events = host.published_events();
    BOOST_TEST_REQUIRE(events.size() == 1u);
    BOOST_TEST(events[0].data_json == ev.data_json);
    BOOST_TEST(events[0].key == "0");
}

BOOST_AUTO_TEST_CASE(a_failed_emit_or_empty_aggregate_id_fails_the_event) {
    PluginInstance instance(plugin.descriptor(), host, kWelcomeRoute);
    host.answer_publish_with(BB_UNAVAILABLE, "nats: no responders");
    auto answer = instance.handle(make_event("ev-11", "UserCreated"));
    BOOST_TEST(answer.result == BB_RESULT_RETRY);
    BOOST_TEST(answer.error ==
               "route welcome: emitting NotificationCreated failed: nats: no responders");
    BOOST_TEST(host.counter("emitted_total") == 0.0);

    PluginInstance bare(plugin.descriptor(), host, R"(routes:
  - name: bare
    when: { type: UserCreated }
    emit: { type: X, aggregate_type: Y, aggregate_id: "{userid}" }
)");
    TestEvent ev = make_event("ev-12", "UserCreated");
    ev.user_id = "";
    answer = bare.handle(ev);
    BOOST_TEST(answer.result == BB_RESULT_REJECT);
    BOOST_TEST(contains(answer.error, "routes[0].emit.aggregate_id: rendered empty"), answer.error);
}

BOOST_AUTO_TEST_CASE(routes_handle_events_from_several_threads_at_once) {
    PluginInstance instance(plugin.descriptor(), host, kChatRoute);
    constexpr int kThreads = 4;
    constexpr int kEach = 100;
    std::latch start(kThreads);
    std::vector<std::thread> workers;
    for (int t = 0; t < kThreads; ++t) {
        workers.emplace_back([&, t] {
            start.arrive_and_wait();
            for (int i = 0; i < kEach; ++i) {
                std::string id = "ev-" + std::to_string(t) + "-" + std::to_string(i);
                instance.handle(message_sent(id, "room" + std::to_string(t)));
            }
        });
    }
    for (auto& w : workers) w.join();
    auto sent = host.raw_publishes();
    BOOST_TEST_REQUIRE(sent.size() == static_cast<size_t>(kThreads * kEach));
    std::set<std::string> ids;
    for (const auto& m : sent) {
        std::string id = m.header("Nats-Msg-Id").value_or("");
        std::string room = id.substr(6, id.find('-', 6) - 6);  // "rt:ev-<t>-<i>:chat"
        BOOST_TEST(m.subject == "rt.chat.room" + room, m.subject << " for " << id);
        ids.insert(id);
    }
    BOOST_TEST(ids.size() == sent.size());
    BOOST_TEST(host.counter("routed_total") == kThreads * kEach);
}

BOOST_AUTO_TEST_CASE(config_errors_name_the_route_and_key) {
    struct Row {
        std::string yaml;
        std::string message;
    };
    const std::string body = "when: { type: A }\n    channel_subject: rt.a\n";
    const std::string chat = "  - " + body;
    const std::vector<Row> rows = {
        {"routes:\n  - when: { type: A }\n    chanel_subject: rt.a\n",
         "routes[0].chanel_subject: unknown key (known: name, when, channel_subject, data, "
         "emit)"},
        {"routes:\n  - when: { type: A }\n",
         "routes[0]: a route has either channel_subject or "
         "emit, not neither"},
        {"routes:\n  - when: { type: A }\n    channel_subject: rt.a\n"
         "    emit: { type: B, aggregate_type: C, aggregate_id: x }\n",
         "routes[0]: a route has either channel_subject or emit, not both"},
        {"routes:\n" + chat + "  - when: { type: A }\n    channel_subject: rt.{foo}\n",
         "routes[1].channel_subject: unknown name 'foo' in {foo}"},
        {"routes:\n  - when: { type: A }\n    channel_subject: rt.chat.>\n",
         "routes[0].channel_subject: 'rt.chat.>' is not a subject without wildcards"},
        {"routes:\n  - when: { type: A }\n    channel_subject: 'rt.{data.x'\n",
         "routes[0].channel_subject: unterminated placeholder"},
        {"routes:\n  - when: 'type =='\n    channel_subject: rt.a\n", "routes[0].when: "},
        {"routes:\n  - when: 'foo == 1'\n    channel_subject: rt.a\n",
         "routes[0].when: reads 'foo', which events do not have"},
        {"routes:\n  - when: { data.kind: a }\n    channel_subject: rt.a\n",
         "routes[0].when.type: a condition map needs the event type"},
        {"routes:\n  - when: { type: A, bogus: 1 }\n    channel_subject: rt.a\n",
         "routes[0].when.bogus: events have no field 'bogus'"},
        {"routes:\n  - when: { type: A, data..x: 1 }\n    channel_subject: rt.a\n",
         "routes[0].when.data..x: a field is a path of names"},
        {"routes:\n  - when: { type: A, id.x: 1 }\n    channel_subject: rt.a\n",
         "routes[0].when.id.x: 'id' is text and has no members"},
        {"routes:\n  - channel_subject: rt.a\n", "routes[0].when: missing"},
        {"routes:\n  - when: { type: A }\n    channel_subject: rt.a\n    data: { id: {id} }\n",
         "routes[0].data.id: a placeholder must be quoted: write \"{id}\""},
        {"routes:\n  - when: { type: A }\n    channel_subject: rt.a\n"
         "    data: { t: \"{nope}\" }\n",
         "routes[0].data.t: unknown name 'nope'"},
        {"routes:\n  - when: { type: A }\n    emit: { type: B, aggregate_type: C }\n",
         "routes[0].emit.aggregate_id: missing"},
        {"routes:\n  - when: { type: A }\n    emit: { type: B, aggregate_type: C, "
         "aggregate_id: {subject} }\n",
         "routes[0].emit.aggregate_id: a placeholder must be quoted"},
        {"routes:\n  - when: { type: A }\n    emit: { type: '{type}', aggregate_type: C, "
         "aggregate_id: x }\n",
         "routes[0].emit.type: must be literal"},
        {"routes:\n  - when: { type: A }\n    emit: { type: a.b, aggregate_type: C, "
         "aggregate_id: x }\n",
         "routes[0].emit.type: must be one subject token, but it contains '.' at byte 1"},
        {"routes:\n  - when: { type: A }\n    emit: { type: B, aggregate_type: C, "
         "aggregate_id: x, extra: 1 }\n",
         "routes[0].emit.extra: unknown key"},
        {"routes:\n  - when: { type: A }\n    data: { x: 1 }\n    emit: { type: B, "
         "aggregate_type: C, aggregate_id: x }\n",
         "routes[0].data: an emit route takes its data under emit.data"},
        {"routes:\n  - when: { type: [A, B] }\n    emit: { type: B, aggregate_type: C, "
         "aggregate_id: x }\n",
         "routes[0].emit.type: the route would match the B it emits"},
        {"routes:\n  - name: chat\n    " + body + "  - name: chat\n    " + body,
         "routes[1].name: another route is named chat"},
        {"routes:\n  - name: 1st\n    " + body, "routes[0].name: a route name is"},
        {"routes:\n  - name: 'a b'\n    " + body, "routes[0].name: a route name is"},
        {"routes:\n  - when: { type: A }\n    when: { type: B }\n    channel_subject: rt.a\n",
         "routes[0].when: repeated key"},
        {"routes:\n  - when: { type: A, type: B }\n    channel_subject: rt.a\n",
         "routes[0].when.type: repeated key"},
        {"routes: []\n", "routes: expected a list of at least one route"},
        {"route:\n" + chat, "config.route: unknown key (known: routes)"},
        {"", "router config: expected a map with routes:"},
        {"routes: [\n", "router config: yaml-cpp"},
    };
    for (const auto& row : rows) {
        auto error = config_error(row.yaml);
        BOOST_TEST_REQUIRE(error.has_value(), "accepted:\n" << row.yaml);
        BOOST_TEST(contains(*error, row.message), "for:\n" << row.yaml << "got: " << *error);
    }
}

BOOST_AUTO_TEST_CASE(the_shipped_routes_load) {
    // Both route forms and the examples of the README, as one config.
    BOOST_TEST(!config_error(std::string(kChatRoute) + R"(  - when: 'type == "DocumentUpdated"'
    channel_subject: rt.doc.{subject}
  - name: welcome
    when: { type: UserCreated }
    emit:
      type: NotificationCreated
      aggregate_type: Notification
      aggregate_id: "welcome-{subject}"
      data: { targetUserId: "{subject}", type: welcome, title: "Welcome {data.name}" }
)")
                    .has_value());
}

BOOST_AUTO_TEST_CASE(the_routes_of_local_yaml_route_every_sample_event) {
    const bb::Config config = bb::load_config(std::string(BB_SOURCE_DIR) + "/configs/local.yaml");
    const bb::BindingConfig* router = nullptr;
    for (const auto& b : config.bindings) {
        if (b.name == "router") router = &b;
    }
    BOOST_TEST_REQUIRE(router != nullptr);
    BOOST_TEST(router->publish_prefixes == std::vector<std::string>{"rt.>"},
               boost::test_tools::per_element());
    PluginInstance instance(plugin.descriptor(), host, router->plugin_config_yaml);

    std::ifstream in(std::string(BB_SOURCE_DIR) + "/tests/data/events-10k.jsonl");
    std::map<std::string, int> types;
    std::map<std::string, std::string> expected_subject;  // event id -> subject
    int failed = 0;
    for (std::string line; std::getline(in, line);) {
        TestEvent ev = sample_event(json::parse(line));
        auto answer = instance.handle(ev);
        if (answer.result != BB_RESULT_DONE && failed++ < 5) {
            BOOST_TEST_MESSAGE(ev.id << " " << ev.type << ": " << answer.error);
        }
        ++types[ev.type];
        const json data = json::parse(ev.data_json);
        if (ev.type == "MessageSent") {
            expected_subject[ev.id] = "rt.chat." + data["chatId"].get<std::string>();
        } else if (ev.type == "NotificationCreated") {
            expected_subject[ev.id] =
                "rt.user." + data["targetUserId"].get<std::string>() + ".notifications";
        } else if (ev.type == "DocumentUpdated") {
            expected_subject[ev.id] = "rt.doc." + ev.subject;
        }
    }
    BOOST_TEST(failed == 0);
    BOOST_TEST_REQUIRE(types["MessageSent"] > 0);
    // Repeated lines are published again here: nothing below NATS drops duplicates.
    auto sent = host.raw_publishes();
    BOOST_TEST(sent.size() ==
               static_cast<size_t>(types["MessageSent"] + types["NotificationCreated"] +
                                   types["DocumentUpdated"]));
    int wrong = 0;
    for (const auto& m : sent) {
        const std::string id = m.header("ce-id").value_or("");
        if (m.subject != expected_subject[id] || !m.header("ce-userid")) ++wrong;
    }
    BOOST_TEST(wrong == 0);
    auto follow_ups = host.published_events();
    BOOST_TEST_REQUIRE(follow_ups.size() == static_cast<size_t>(types["UserCreated"]));
    const json welcome = json::parse(follow_ups[0].data_json);
    BOOST_TEST(follow_ups[0].type == "NotificationCreated");
    BOOST_TEST(follow_ups[0].aggregate_type == "Notification");
    BOOST_TEST(welcome["type"] == "welcome");
    BOOST_TEST(follow_ups[0].aggregate_id ==
               "welcome-" + welcome["targetUserId"].get<std::string>());
}

BOOST_AUTO_TEST_SUITE_END()
