// The router plugin inside the real daemon, against a real nats-server with the EVENTS, RT
// and DLQ streams: what lands in RT, what is dropped as a duplicate, what is dead-lettered.
#define BOOST_TEST_MODULE bb_itest_router
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <string>

#include "broker-bridge/provisioner.hpp"
#include "broker-bridge/subject.hpp"
#include "integration/bridge_fixture.hpp"
#include "integration/wait.hpp"

using namespace bb::itest;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// Short backoff so a failing event reaches the DLQ within a second or two.
const std::string kRouterBinding = R"(  - name: router
    plugin: router
    subjects: ["events.>"]
    publish_prefixes: ["rt.>"]
    start: all
    concurrency: 4
    attempts: 3
    timeout: 2s
    backoff: { initial: 100ms, factor: 2, max: 1s, jitter: 0 }
    config:
      routes:
        - name: chat
          when: { type: MessageSent }
          channel_subject: rt.chat.{data.chatId}
          data: { id: "{id}", content: "{data.content}", from: "{userid}" }
        - name: notification
          when: { type: NotificationCreated }
          channel_subject: rt.user.{data.targetUserId}.notifications
        - name: stray
          when: { type: Stray }
          channel_subject: elsewhere.{subject}
        - name: welcome
          when: { type: UserCreated }
          emit:
            type: NotificationCreated
            aggregate_type: Notification
            aggregate_id: "welcome-{subject}"
            data: { targetUserId: "{subject}", type: welcome, title: "Welcome {data.name}" }
)";

class RouterFixture : public BridgeFixture {
public:
    RouterFixture() { start_bridge(kRouterBinding); }

    bb::Event message_sent(const std::string& id, const std::string& chat_id) {
        bb::Event e = make_event("MessageSent", id, "msg-" + id);
        e.aggregate_type = "Message";
        e.user_id = "u-1";
        e.data = json{{"chatId", chat_id}, {"content", "hello"}, {"messageId", "m-" + id}}.dump();
        return e;
    }

    // Publishes `e` as a producer that retries with a fresh Nats-Msg-Id would: JetStream
    // cannot tell the copies apart, so EVENTS stores both.
    void publish_with_msg_id(const bb::Event& e, const std::string& msg_id) {
        auto wire = bb::encode(e, "events");
        BOOST_TEST_REQUIRE(wire.ok());
        auto seq = client().js_publish(wire->subject, wire->headers, wire->body, msg_id);
        BOOST_TEST_REQUIRE(seq.ok(), (seq.ok() ? "" : seq.error().what));
    }

    // Every message stored in `stream`, in order.
    std::vector<StoredMessage> messages(const std::string& stream) {
        std::vector<StoredMessage> out;
        auto st = bb::stream_status(client().js(), stream);
        if (!st || st->messages == 0) return out;
        for (uint64_t seq = st->first_seq; seq <= st->last_seq; ++seq) {
            if (auto m = stream_message(stream, seq)) out.push_back(std::move(*m));
        }
        return out;
    }

    // True once the router's consumer has acknowledged everything stored in EVENTS.
    bool router_caught_up() {
        auto events = bb::stream_status(client().js(), "EVENTS");
        if (!events) return false;
        const std::string durable = bb::durable_name("router", "events.>");
        jsConsumerInfo* ci = nullptr;
        jsErrCode jerr = static_cast<jsErrCode>(0);
        if (js_GetConsumerInfo(&ci, client().js(), "EVENTS", durable.c_str(), nullptr, &jerr) !=
            NATS_OK) {
            return false;
        }
        bool done = ci->AckFloor.Stream >= events->last_seq && ci->NumAckPending == 0;
        jsConsumerInfo_Destroy(ci);
        return done;
    }
};

std::string header_or_empty(const StoredMessage& m, std::string_view name) {
    const std::string* value = m.header(name);
    return value != nullptr ? *value : "";
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(router, RouterFixture)

BOOST_AUTO_TEST_CASE(a_chat_message_lands_in_rt_on_its_channel_with_the_author) {
    publish(message_sent("chat-1", "room-1"));

    BOOST_TEST_REQUIRE(wait_until([&] { return stream_messages("RT") == 1; }, 10s));
    auto rt = messages("RT");
    BOOST_TEST_REQUIRE(rt.size() == 1u);
    BOOST_TEST(rt[0].subject == "rt.chat.room-1");
    BOOST_TEST(header_or_empty(rt[0], "ce-userid") == "u-1");
    BOOST_TEST(header_or_empty(rt[0], "ce-id") == "chat-1");
    BOOST_TEST(header_or_empty(rt[0], "ce-type") == "MessageSent");
    BOOST_TEST(header_or_empty(rt[0], "Nats-Msg-Id") == "rt:chat-1:chat");
    BOOST_TEST(header_or_empty(rt[0], "Content-Type") == "application/json");
    const json expected = {{"id", "chat-1"}, {"content", "hello"}, {"from", "u-1"}};
    BOOST_TEST(json::parse(rt[0].body) == expected, rt[0].body);
}

BOOST_AUTO_TEST_CASE(an_event_stored_twice_leaves_one_realtime_message) {
    const bb::Event e = message_sent("twice-1", "room-2");
    publish_with_msg_id(e, "producer-attempt-1");
    publish_with_msg_id(e, "producer-attempt-2");
    BOOST_TEST_REQUIRE(stream_messages("EVENTS") == 2u);

    BOOST_TEST_REQUIRE(wait_until([&] { return router_caught_up(); }, 10s));
    auto rt = messages("RT");
    BOOST_TEST_REQUIRE(rt.size() == 1u);
    BOOST_TEST(rt[0].subject == "rt.chat.room-2");
    BOOST_TEST(dlq_messages().empty());
}

BOOST_AUTO_TEST_CASE(ids_that_would_bend_the_subject_end_in_the_dlq_and_nothing_reaches_rt) {
    publish(message_sent("dot-1", "a.b"));
    publish(message_sent("crlf-1", "room1\r\nPUB rt.user.u2.notifications 5\r\nhello"));
    publish(message_sent("star-1", "*"));

    BOOST_TEST_REQUIRE(wait_until([&] { return stream_messages("DLQ") == 3; }, 20s));
    BOOST_TEST_REQUIRE(wait_until([&] { return router_caught_up(); }, 10s));
    for (const auto& d : dlq_messages()) {
        // Rendering cannot succeed on a later attempt: dead-lettered on the first.
        BOOST_TEST(header_or_empty(d, "Bridge-Dlq-Reason") == "reject");
        BOOST_TEST(header_or_empty(d, "Bridge-Dlq-Attempts") == "1");
        const std::string error = header_or_empty(d, "Bridge-Dlq-Error");
        BOOST_TEST(error.find("route chat: routes[0].channel_subject: {data.chatId} is not one "
                              "subject token") != std::string::npos,
                   error);
    }
    BOOST_TEST(stream_messages("RT") == 0u);
    // The values were refused before any NATS call: the daemon's connection never dropped.
    const std::string log = bridge().log_text();
    for (const char* id : {"dot-1", "crlf-1", "star-1"}) {
        const std::string line_start =
            "warn route cannot render event route=chat "
            "template=routes[0].channel_subject reason=";
        size_t at = log.find(std::string("event_id=") + id);
        BOOST_TEST_REQUIRE(at != std::string::npos, "no render failure logged for " << id);
        size_t line = log.rfind('\n', at) + 1;
        BOOST_TEST(log.compare(line + 25, line_start.size(), line_start) == 0,
                   log.substr(line, at - line));
        BOOST_TEST(log.find(std::string("event_id=") + id, at + 1) == std::string::npos,
                   "logged more than once: " << id);
    }
    BOOST_TEST(log.find("nats disconnected") == std::string::npos);
    BOOST_TEST(log.find("nats async error") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_subject_outside_publish_prefixes_is_refused_by_the_host) {
    publish(make_event("Stray", "stray-1", "x1"));

    BOOST_TEST_REQUIRE(wait_until([&] { return stream_messages("DLQ") == 1; }, 20s));
    auto dead = dlq_messages();
    BOOST_TEST_REQUIRE(dead.size() == 1u);
    const std::string error = header_or_empty(dead[0], "Bridge-Dlq-Error");
    BOOST_TEST(error.find("route stray: publish to elsewhere.x1 failed") != std::string::npos,
               error);
    BOOST_TEST(error.find("publish_prefixes") != std::string::npos, error);
    BOOST_TEST(stream_messages("RT") == 0u);
}

BOOST_AUTO_TEST_CASE(a_new_user_gets_a_welcome_notification_on_their_channel) {
    bb::Event created = make_event("UserCreated", "user-created-1", "user-7");
    created.aggregate_type = "User";
    created.user_id = "admin-1";
    created.data = R"({"name":"Priya","email":"p@example.com"})";
    publish(created);

    // The follow-up goes to EVENTS, and the router routes it like any event.
    BOOST_TEST_REQUIRE(wait_until([&] { return stream_messages("RT") == 1; }, 10s));
    auto events = messages("EVENTS");
    BOOST_TEST_REQUIRE(events.size() == 2u);
    const StoredMessage& follow_up = events[1];
    BOOST_TEST(follow_up.subject == "events.notification.NotificationCreated");
    BOOST_TEST(header_or_empty(follow_up, "ce-type") == "NotificationCreated");
    BOOST_TEST(header_or_empty(follow_up, "ce-subject") == "welcome-user-7");
    BOOST_TEST(header_or_empty(follow_up, "ce-causationid") == "user-created-1");
    BOOST_TEST(header_or_empty(follow_up, "ce-correlationid") == "corr-user-created-1");

    auto rt = messages("RT");
    BOOST_TEST_REQUIRE(rt.size() == 1u);
    BOOST_TEST(rt[0].subject == "rt.user.user-7.notifications");
    BOOST_TEST(header_or_empty(rt[0], "ce-id") == header_or_empty(follow_up, "ce-id"));
    BOOST_TEST(header_or_empty(rt[0], "ce-type") == "NotificationCreated");
    BOOST_TEST(header_or_empty(rt[0], "ce-userid") == "admin-1");
    const json expected = {
        {"targetUserId", "user-7"}, {"type", "welcome"}, {"title", "Welcome Priya"}};
    BOOST_TEST(json::parse(rt[0].body) == expected, rt[0].body);

    // Handled again (a redelivery), the source event emits nothing new.
    BOOST_TEST_REQUIRE(wait_until([&] { return router_caught_up(); }, 10s));
    publish_with_msg_id(created, "producer-retry");
    BOOST_TEST_REQUIRE(wait_until([&] { return router_caught_up(); }, 10s));
    BOOST_TEST(stream_messages("EVENTS") == 3u);  // the two copies and one follow-up
    BOOST_TEST(stream_messages("RT") == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
