// The push plugin through the real loader with the fake host: its config checks and its
// device store. Sending to push services is covered by bb_itest_push against a receiver.
#include "handlers/plugin_loader.hpp"

#include "unit/handlers/plugin_harness.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

#include "broker-bridge/webpush/vapid.hpp"

using bb::test::FakeHost;
using bb::test::make_event;
using bb::test::PluginInstance;
using bb::test::TestEvent;
using nlohmann::json;

namespace {

// A real subscription's keys (RFC 8291 Appendix A's user agent).
constexpr char kP256dh[] =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
constexpr char kAuth[] = "BTBZMqHH6r4Tts7J_aSIgg";

struct PushFixture {
    bb::handlers::LoadedPlugin plugin = bb::handlers::load_plugin("push", {BB_PLUGIN_DIR});
    FakeHost host;
    std::string private_key = bb::webpush::generate_vapid_key_pair()->private_key;

    std::string config(const std::string& extra = "") const {
        return "vapid: { subject: \"mailto:ops@example.com\", private_key: \"" + private_key +
               "\" }\n" + extra;
    }
    std::optional<std::string> config_error(const std::string& yaml) const {
        return bb::test::create_error(plugin.descriptor(), host, yaml);
    }

    TestEvent subscription(const std::string& type, const std::string& endpoint,
                           const std::string& p256dh = kP256dh) const {
        TestEvent ev = make_event("sub-" + endpoint, type);
        ev.data_json = json{{"userId", "u-42"},
                            {"endpoint", endpoint},
                            {"keys", {{"p256dh", p256dh}, {"auth", kAuth}}}}
                           .dump();
        ev.data = ev.data_json;
        return ev;
    }

    json user_document() const {
        bb_buffer buffer{nullptr, 0};
        bb_error err{};
        const bb_host* t = host.table();
        if (t->kv_get(t->ctx, "push_subscriptions", "user.u-42", &buffer, nullptr, &err) != BB_OK) {
            return nullptr;
        }
        json doc = json::parse(std::string(buffer.data, buffer.len));
        t->buffer_free(t->ctx, &buffer);
        return doc;
    }
};

bool contains(const std::optional<std::string>& text, const std::string& part) {
    return text && text->find(part) != std::string::npos;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(push_plugin, PushFixture)

BOOST_AUTO_TEST_CASE(a_config_without_a_usable_vapid_key_is_refused_naming_the_key) {
    BOOST_TEST(!config_error(config()).has_value());
    BOOST_TEST(contains(config_error("ttl_seconds: 60\n"), "vapid: required"));
    BOOST_TEST(contains(config_error("vapid: { subject: \"mailto:a@b\", private_key: \"AAAA\" }"),
                        "vapid.private_key: a P-256 private key is 32 bytes, not 3"));
    BOOST_TEST(contains(config_error("vapid: { subject: \"mailto:a@b\", private_key_file: "
                                     "/nonexistent/vapid.pem }"),
                        "vapid.private_key_file: cannot read /nonexistent/vapid.pem"));
    BOOST_TEST(contains(config_error("vapid: { subject: \"ops@example.com\", private_key: x }"),
                        "vapid.subject: must start with mailto: or https:"));
    BOOST_TEST(contains(config_error(config("urgency: urgent\n")),
                        "urgency: expected very-low, low, normal or high"));
    BOOST_TEST(contains(config_error(config("ttl_second: 60\n")), "ttl_second: unknown key"));
}

BOOST_AUTO_TEST_CASE(a_key_file_in_pem_resolves_against_the_config_folder) {
    bb::test::TempDir dir;
    std::ofstream(dir / "vapid.pem") << bb::webpush::generate_vapid_key_pair()->private_pem;
    std::ofstream(dir / "vapid.txt") << private_key << "\n";
    for (const char* file : {"vapid.pem", "vapid.txt"}) {
        const std::string yaml =
            "vapid: { subject: \"mailto:a@b\", private_key_file: " + (dir.path() / file).string() +
            " }";
        BOOST_TEST(!config_error(yaml).has_value(), file);
    }
}

BOOST_AUTO_TEST_CASE(subscriptions_are_stored_per_user_and_removed_by_endpoint) {
    PluginInstance push(plugin.descriptor(), host, config());
    BOOST_TEST(
        push.handle(subscription("PushSubscriptionAdded", "https://push.example/a")).result ==
        BB_RESULT_DONE);
    BOOST_TEST(
        push.handle(subscription("PushSubscriptionAdded", "https://push.example/b")).result ==
        BB_RESULT_DONE);
    json devices = user_document()["devices"];
    BOOST_TEST_REQUIRE(devices.size() == 2u);
    for (const auto& [id, d] : devices.items()) {
        BOOST_TEST(id.size() == 32u);  // a hash: endpoints are capabilities
        BOOST_TEST(d["p256dh"] == kP256dh);
    }

    BOOST_TEST(
        push.handle(subscription("PushSubscriptionRemoved", "https://push.example/a")).result ==
        BB_RESULT_DONE);
    devices = user_document()["devices"];
    BOOST_TEST_REQUIRE(devices.size() == 1u);
    BOOST_TEST(devices.begin().value()["endpoint"] == "https://push.example/b");
    BOOST_TEST(host.counter("push_subscriptions_added_total") == 2);
}

BOOST_AUTO_TEST_CASE(a_subscription_that_cannot_work_is_rejected_with_the_reason) {
    PluginInstance push(plugin.descriptor(), host, config());
    auto http = push.handle(subscription("PushSubscriptionAdded", "http://push.example/a"));
    BOOST_TEST(http.result == BB_RESULT_REJECT);
    BOOST_TEST(http.error.find("scheme is 'http'; push endpoints are https") != std::string::npos,
               http.error);
    auto bad_key = push.handle(subscription("PushSubscriptionAdded", "https://push.example/a",
                                            std::string(kP256dh).substr(0, 40)));
    BOOST_TEST(bad_key.result == BB_RESULT_REJECT);
    BOOST_TEST(bad_key.error.find("subscription: p256dh") == 0u, bad_key.error);
    BOOST_TEST(user_document().is_null());
}

BOOST_AUTO_TEST_CASE(a_notification_for_a_user_without_devices_is_done_and_counted) {
    PluginInstance push(plugin.descriptor(), host, config());
    TestEvent ev = make_event("n-1", "NotificationCreated");
    ev.data_json = R"({"targetUserId":"u-7","title":"hi"})";
    ev.data = ev.data_json;
    BOOST_TEST(push.handle(ev).result == BB_RESULT_DONE);
    BOOST_TEST(host.counter("push_no_devices_total") == 1);

    ev.data_json = R"({"title":"nobody"})";
    auto no_user = push.handle(ev);
    BOOST_TEST(no_user.result == BB_RESULT_REJECT);
    BOOST_TEST(no_user.error.find("data.targetUserId") != std::string::npos, no_user.error);
}

BOOST_AUTO_TEST_SUITE_END()
