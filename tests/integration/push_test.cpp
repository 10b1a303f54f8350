// The push plugin inside the real daemon, against a real nats-server and a Web Push service
// on loopback (tests/push-receiver, Node.js) that decrypts every message with http_ece and
// verifies its VAPID token with jose, answering as each test scripts it.
#define BOOST_TEST_MODULE bb_itest_push
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "broker-bridge/subject.hpp"
#include "broker-bridge/webpush/vapid.hpp"
#include "integration/bridge_fixture.hpp"
#include "integration/push_receiver.hpp"
#include "integration/wait.hpp"

using namespace bb::itest;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr char kSubject[] = "mailto:ops@example.com";
constexpr char kUser[] = "u-42";

// The two bindings of configs/local.yaml, with short test intervals. A retry comes 200 ms
// after a failure unless the plugin asks for longer (a Retry-After).
std::string push_bindings(const std::string& private_key, const std::string& payload) {
    const std::string config =
        "    config:\n"
        "      vapid: { subject: \"" +
        std::string(kSubject) + "\", private_key: \"" + private_key +
        "\" }\n"
        "      allow_http_endpoints: true\n"
        "      urgency: high\n"
        "      ttl_seconds: 3600\n"
        "      topic: \"n-{subject}\"\n"
        "      request_timeout_ms: 3000\n"
        "      payload: " +
        payload + "\n";
    return "  - name: push_subscriptions\n"
           "    plugin: push\n"
           "    subjects: [\"events.pushsubscription.*\"]\n"
           "    ordering: per-aggregate\n"
           "    start: all\n"
           "    attempts: 3\n"
           "    timeout: 5s\n"
           "    backoff: { initial: 200ms, factor: 1, max: 200ms, jitter: 0 }\n" +
           config +
           "  - name: push\n"
           "    plugin: push\n"
           "    subjects: [\"events.notification.NotificationCreated\"]\n"
           "    start: all\n"
           "    concurrency: 4\n"
           "    attempts: 6\n"
           "    timeout: 5s\n"
           "    backoff: { initial: 200ms, factor: 1, max: 200ms, jitter: 0 }\n" +
           config;
}

const std::string kBuckets =
    "buckets:\n  - { name: push_subscriptions }\n  - { name: push_sent, ttl: 1h }\n";

class PushFixture : public BridgeFixture {
public:
    PushFixture() {
        auto pair = bb::webpush::generate_vapid_key_pair();
        BOOST_TEST_REQUIRE(pair.ok());
        keys_ = *pair;
    }

    // Starts the receiver with `devices`, then the daemon, and subscribes every device.
    void start(const std::map<std::string, std::vector<Reply>>& devices,
               const std::string& payload = R"({ title: "{data.title}", url: "{data.url}" })") {
        receiver_ = std::make_unique<PushReceiver>(dir(), keys_.public_key, kSubject, devices);
        start_bridge(push_bindings(keys_.private_key, payload), kBuckets);
        for (const auto& [name, replies] : devices) subscribe(name);
        BOOST_TEST_REQUIRE(wait_until([&] { return stored_devices() == devices.size(); }, 10s),
                           bridge().log_text());
    }

    void subscribe(const std::string& name) {
        const ReceiverDevice& d = receiver_->device(name);
        bb::Event e = make_event("PushSubscriptionAdded", "sub-" + name, "sub-" + name);
        e.aggregate_type = "PushSubscription";
        e.data = json{{"userId", kUser},
                      {"endpoint", d.endpoint},
                      {"expirationTime", nullptr},
                      {"keys", {{"p256dh", d.p256dh}, {"auth", d.auth}}}}
                     .dump();
        publish(e);
    }

    bb::Event notification(const std::string& id, const std::string& title) {
        bb::Event e = make_event("NotificationCreated", id, "n-" + id);
        e.aggregate_type = "Notification";
        e.data =
            json{{"targetUserId", kUser}, {"type", "info"}, {"title", title}, {"url", "/inbox"}}
                .dump();
        return e;
    }

    // The user's device document in the subscriptions bucket (null when absent).
    json user_document() {
        kvStore* kv = nullptr;
        if (js_KeyValue(&kv, client().js(), "push_subscriptions") != NATS_OK) return nullptr;
        kvEntry* entry = nullptr;
        json doc = nullptr;
        if (kvStore_Get(&entry, kv, (std::string("user.") + kUser).c_str()) == NATS_OK) {
            doc = json::parse(kvEntry_ValueString(entry), nullptr, false);
            kvEntry_Destroy(entry);
        }
        kvStore_Destroy(kv);
        return doc;
    }

    std::size_t stored_devices() {
        json doc = user_document();
        return doc.is_object() ? doc["devices"].size() : 0;
    }

    // True once the push binding has acknowledged everything stored in EVENTS for it.
    bool push_caught_up() {
        const std::string durable =
            bb::durable_name("push", "events.notification.NotificationCreated");
        jsConsumerInfo* ci = nullptr;
        jsErrCode jerr = static_cast<jsErrCode>(0);
        if (js_GetConsumerInfo(&ci, client().js(), "EVENTS", durable.c_str(), nullptr, &jerr) !=
            NATS_OK) {
            return false;
        }
        bool done = ci->NumPending == 0 && ci->NumAckPending == 0 && ci->Delivered.Consumer > 0;
        jsConsumerInfo_Destroy(ci);
        return done;
    }

    PushReceiver& receiver() { return *receiver_; }

    // Every request so far was a well-formed, decryptable, correctly signed push.
    void check_all_well_formed() {
        for (const ReceivedPush& r : receiver_->received()) {
            BOOST_TEST(r.problems.empty(), r.device << ": " << json(r.problems).dump());
        }
    }

private:
    bb::webpush::VapidKeyPair keys_;
    std::unique_ptr<PushReceiver> receiver_;
};

std::string context(PushFixture& f) {
    return f.bridge().log_text() + "\n--- receiver ---\n" + f.receiver().log_text();
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(push, PushFixture)

BOOST_AUTO_TEST_CASE(a_notification_reaches_the_device_decrypted_byte_exact) {
    start({{"phone", {Reply{201, {}}}}}, R"("{data.title}")");
    const std::string title = "Relatório pronto: 日本語のテスト 🎉 <b>&amp;</b>";
    publish(notification("n-1", title));

    BOOST_TEST_REQUIRE(wait_until([&] { return receiver().received().size() == 1u; }, 10s),
                       context(*this));
    const ReceivedPush got = receiver().received()[0];
    BOOST_TEST(got.problems.empty(), json(got.problems).dump());
    BOOST_TEST(got.payload == title);
    BOOST_TEST(got.ttl == "3600");
    BOOST_TEST(got.urgency == "high");
    BOOST_TEST(got.topic == "n-n-n-1");
    BOOST_TEST_REQUIRE(wait_until([&] { return push_caught_up(); }, 10s));
    BOOST_TEST(dlq_messages().empty());
}

BOOST_AUTO_TEST_CASE(a_410_removes_the_subscription_and_the_next_notification_skips_it) {
    start({{"old", {Reply{410, {}}}}, {"new", {Reply{201, {}}}}});
    publish(notification("n-1", "first"));

    BOOST_TEST_REQUIRE(wait_until([&] { return stored_devices() == 1u; }, 10s), context(*this));
    BOOST_TEST_REQUIRE(wait_until([&] { return push_caught_up(); }, 10s));
    publish(notification("n-2", "second"));
    BOOST_TEST_REQUIRE(wait_until([&] { return receiver().received("new").size() == 2u; }, 10s),
                       context(*this));
    BOOST_TEST_REQUIRE(wait_until([&] { return push_caught_up(); }, 10s));

    BOOST_TEST(receiver().received("old").size() == 1u);
    BOOST_TEST(receiver().received("new")[1].payload == R"({"title":"second","url":"/inbox"})");
    BOOST_TEST(dlq_messages().empty());
    check_all_well_formed();
}

BOOST_AUTO_TEST_CASE(a_429_with_retry_after_is_retried_no_earlier_than_asked) {
    start({{"busy", {Reply{429, {{"Retry-After", "2"}}}, Reply{201, {}}}}});
    publish(notification("n-1", "later"));

    BOOST_TEST_REQUIRE(wait_until([&] { return receiver().received().size() == 2u; }, 15s),
                       context(*this));
    const auto got = receiver().received("busy");
    BOOST_TEST(got[0].status == 429);
    BOOST_TEST(got[1].status == 201);
    BOOST_TEST(got[1].at_ms - got[0].at_ms >= 2000,
               "retried after " << got[1].at_ms - got[0].at_ms << " ms");
    BOOST_TEST_REQUIRE(wait_until([&] { return push_caught_up(); }, 10s));
    BOOST_TEST(dlq_messages().empty());
    check_all_well_formed();
}

BOOST_AUTO_TEST_CASE(two_devices_one_gone_the_live_one_gets_the_message_once) {
    // "flaky" fails once, so the event is retried: "live" must not get it again.
    start({{"live", {Reply{201, {}}}},
           {"gone", {Reply{404, {}}}},
           {"flaky", {Reply{500, {}}, Reply{201, {}}}}});
    publish(notification("n-1", "once"));

    BOOST_TEST_REQUIRE(wait_until([&] { return receiver().received("flaky").size() == 2u; }, 10s),
                       context(*this));
    BOOST_TEST_REQUIRE(wait_until([&] { return push_caught_up(); }, 10s));
    BOOST_TEST(receiver().received("live").size() == 1u);
    BOOST_TEST(receiver().received("gone").size() == 1u);
    BOOST_TEST(stored_devices() == 2u);
    BOOST_TEST(dlq_messages().empty());
    check_all_well_formed();
}

BOOST_AUTO_TEST_CASE(an_event_stored_twice_sends_nothing_new) {
    start({{"phone", {Reply{201, {}}}}});
    const bb::Event e = notification("n-1", "twice");
    for (const char* msg_id : {"producer-attempt-1", "producer-attempt-2"}) {
        auto wire = bb::encode(e, "events");
        BOOST_TEST_REQUIRE(wire.ok());
        BOOST_TEST_REQUIRE(
            client().js_publish(wire->subject, wire->headers, wire->body, msg_id).ok());
    }

    BOOST_TEST_REQUIRE(wait_until([&] { return push_caught_up(); }, 10s), context(*this));
    BOOST_TEST(receiver().received().size() == 1u);
    check_all_well_formed();
}

BOOST_AUTO_TEST_CASE(six_devices_each_get_the_outcome_their_answer_calls_for) {
    // CASES.md C15: expired ones removed, not dead-lettered; 5xx and 429 retried, the 429
    // not before its Retry-After; 413 not retried; the working one served once.
    start({{"a410", {Reply{410, {}}}},
           {"b404", {Reply{404, {}}}},
           {"c500", {Reply{500, {}}, Reply{201, {}}}},
           {"d429", {Reply{429, {{"Retry-After", "2"}}}, Reply{201, {}}}},
           {"e201", {Reply{201, {}}}},
           {"f413", {Reply{413, {}}}}});
    publish(notification("n-1", "all kinds"));

    BOOST_TEST_REQUIRE(wait_until([&] { return receiver().received("d429").size() == 2u; }, 15s),
                       context(*this));
    BOOST_TEST_REQUIRE(wait_until([&] { return push_caught_up(); }, 10s));
    const auto d = receiver().received("d429");
    BOOST_TEST(d[1].at_ms - d[0].at_ms >= 2000);
    BOOST_TEST(receiver().received("a410").size() == 1u);
    BOOST_TEST(receiver().received("b404").size() == 1u);
    BOOST_TEST(receiver().received("c500").size() == 2u);
    BOOST_TEST(receiver().received("e201").size() == 1u);
    BOOST_TEST(receiver().received("f413").size() == 1u);
    const json devices = user_document()["devices"];
    BOOST_TEST(devices.size() == 4u, devices.dump());
    BOOST_TEST(dlq_messages().empty());
    check_all_well_formed();
}

BOOST_AUTO_TEST_CASE(a_payload_over_the_limit_and_an_all_refused_push_are_dead_lettered) {
    start({{"small", {Reply{413, {}}}}}, R"("{data.title}")");
    publish(notification("big", std::string(3994, 'x')));
    publish(notification("refused", "fits"));

    BOOST_TEST_REQUIRE(wait_until([&] { return dlq_messages().size() == 2u; }, 10s),
                       context(*this));
    std::map<std::string, std::string> errors;
    for (const StoredMessage& m : dlq_messages()) {
        BOOST_TEST(*m.header("Bridge-Dlq-Reason") == "reject");
        errors[*m.header("ce-id")] = *m.header("Bridge-Dlq-Error");
    }
    BOOST_TEST(errors["big"].find("3994 bytes") != std::string::npos, errors["big"]);
    BOOST_TEST(errors["big"].find("4096-byte Web Push limit") != std::string::npos);
    BOOST_TEST(errors["refused"].find("refused by every device") != std::string::npos,
               errors["refused"]);
    BOOST_TEST(receiver().received().size() == 1u);  // only "refused" was sent
}

BOOST_AUTO_TEST_SUITE_END()
