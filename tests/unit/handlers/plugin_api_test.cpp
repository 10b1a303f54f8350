// The header-only C++ layer (bb/plugin.hpp) on its own: views, answers, the host wrapper over
// a fake table, and the entry points BB_PLUGIN exports, called as the host calls them.
#include <bb/plugin.hpp>

#include "unit/handlers/fake_host.hpp"
#include "unit/handlers/plugin_harness.hpp"

#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <string>

using bb::plugin::EventView;
using bb::plugin::Host;
using bb::plugin::Outcome;
using namespace std::chrono_literals;

namespace {

class TickingPlugin {
public:
    TickingPlugin(Host& host, const std::string& config) : host_(host) {
        if (config == "throw") throw std::runtime_error("bad config: throw");
        host_.set_tick(250ms);
    }
    Outcome handle(const EventView&) { return Outcome::done(); }
    void tick() { throw std::runtime_error("tick broke"); }

private:
    Host& host_;
};

class QuietPlugin {
public:
    QuietPlugin(Host&, const std::string&) {}
    Outcome handle(const EventView& ev) {
        if (ev.type() == "Odd") throw 42;
        return Outcome::reject("never: " + std::string(ev.type()));
    }
};

constexpr bb_plugin_descriptor kTicking =
    bb::plugin::detail::make_descriptor<TickingPlugin>("ticking", "2.0.0");
constexpr bb_plugin_descriptor kQuiet =
    bb::plugin::detail::make_descriptor<QuietPlugin>("quiet", "0.1.0");

}  // namespace

BOOST_AUTO_TEST_SUITE(plugin_api)

BOOST_AUTO_TEST_CASE(event_view_reads_every_field_and_finds_headers_ignoring_case) {
    bb::test::TestEvent ev = bb::test::make_event("ev-9", "MessageSent");
    ev.headers = {{"Nats-Msg-Id", "ev-9"}, {"traceparent", "00-abc-01"}, {"X-Empty", ""}};
    ev.stream_seq = 77;
    ev.attempt = 3;
    ev.max_attempts = 3;
    bb::test::EventFrame frame(ev);

    EventView view(*frame.get());

    BOOST_TEST(view.id() == "ev-9");
    BOOST_TEST(view.type() == "MessageSent");
    BOOST_TEST(view.aggregate_id() == "user-1");
    BOOST_TEST(view.causation_id().empty());
    BOOST_TEST(view.data_json() == R"({"name":"Priya"})");
    BOOST_TEST(view.stream_seq() == 77u);
    BOOST_TEST(view.attempt() == 3u);
    BOOST_TEST(view.last_attempt());
    BOOST_TEST(view.headers().size() == 3u);
    BOOST_TEST(view.header("nats-msg-id").value_or("?") == "ev-9");
    BOOST_TEST(view.header("TRACEPARENT").value_or("?") == "00-abc-01");
    BOOST_TEST(view.header("x-empty").has_value());
    BOOST_TEST(!view.header("Nats-Msg").has_value());
}

BOOST_AUTO_TEST_CASE(an_answer_carries_its_reason_and_only_raises_the_retry_delay) {
    using bb::plugin::detail::to_c;
    bb_error err{};
    uint32_t delay = 1000;

    BOOST_TEST(to_c(Outcome::retry("smtp busy", 30s), &delay, &err) == BB_RESULT_RETRY);
    BOOST_TEST(delay == 30000u);
    BOOST_TEST(std::string(err.message) == "smtp busy");

    delay = 1000;
    BOOST_TEST(to_c(Outcome::retry("soon", 10ms), &delay, &err) == BB_RESULT_RETRY);
    BOOST_TEST(delay == 1000u);

    BOOST_TEST(to_c(Outcome::reject("bad address"), &delay, &err) == BB_RESULT_REJECT);
    BOOST_TEST(std::string(err.message) == "bad address");

    err.message[0] = '\0';
    BOOST_TEST(to_c(Outcome::done(), &delay, &err) == BB_RESULT_DONE);
    BOOST_TEST(std::string(err.message).empty());
}

BOOST_AUTO_TEST_CASE(bb_error_set_cuts_long_text_without_splitting_a_utf8_sequence) {
    bb_error err{};
    // 510 ASCII bytes then a 3-byte character: a cut at 511 bytes would land inside it.
    std::string text = std::string(510, 'a') + "\xe2\x82\xac" + "tail";

    bb_error_set(&err, text);

    BOOST_TEST(std::string(err.message) == std::string(510, 'a'));
    bb_error_set(&err, "short");
    BOOST_TEST(std::string(err.message) == "short");
    bb_error_set(nullptr, "ignored");  // must not crash
}

BOOST_AUTO_TEST_CASE(host_log_writes_a_phrase_then_fields_quoting_what_needs_it) {
    bb::test::FakeHost fake;
    Host host(*fake.table());

    host.info("batch stored", {{"rows", 3}, {"path", "/tmp/a b"}, {"ok", true}});
    host.warn("odd value", {{"text", "a\"b\nc"}, {"empty", ""}, {"ratio", 0.5}});

    auto lines = fake.lines();
    BOOST_TEST_REQUIRE(lines.size() == 2u);
    BOOST_TEST(lines[0].level == BB_LOG_INFO);
    BOOST_TEST(lines[0].text == R"(batch stored rows=3 path="/tmp/a b" ok=true)");
    BOOST_TEST(lines[1].level == BB_LOG_WARN);
    BOOST_TEST(lines[1].text == R"(odd value text="a\"b\nc" empty="" ratio=0.5)");
}

BOOST_AUTO_TEST_CASE(host_key_value_calls_return_small_results_and_free_buffers) {
    bb::test::FakeHost fake;
    Host host(*fake.table());

    BOOST_TEST(host.kv_get("state", "k").code == BB_NOT_FOUND);
    auto created = host.kv_create("state", "k", "v1");
    BOOST_TEST(created.ok());
    BOOST_TEST(host.kv_create("state", "k", "again").code == BB_EXISTS);
    auto stale = host.kv_update("state", "k", "v2", created.revision + 100);
    BOOST_TEST(stale.code == BB_EXISTS);
    BOOST_TEST(!stale.error.empty());
    auto updated = host.kv_update("state", "k", "v2", created.revision);
    BOOST_TEST(updated.ok());

    auto entry = host.kv_get("state", "k");
    BOOST_TEST(entry.ok());
    BOOST_TEST(entry.value == "v2");
    BOOST_TEST(entry.revision == updated.revision);
    BOOST_TEST(fake.buffers_outstanding() == 0);

    BOOST_TEST(host.kv_delete("state", "k").ok());
    BOOST_TEST(host.kv_get("state", "k").code == BB_NOT_FOUND);
    BOOST_TEST(host.publish("rt.x", "{}").code == BB_FORBIDDEN);
}

BOOST_AUTO_TEST_CASE(host_metrics_reach_the_table_under_their_names) {
    bb::test::FakeHost fake;
    Host host(*fake.table());

    host.counter_add("sent_total", 2);
    host.counter_add("sent_total", 3);
    host.gauge_set("queue_depth", 7);

    BOOST_TEST(fake.counter("sent_total") == 5.0);
    BOOST_TEST(fake.gauge("queue_depth").value_or(-1) == 7.0);
}

BOOST_AUTO_TEST_CASE(a_class_with_tick_exports_it_and_a_throwing_tick_is_logged) {
    bb::test::FakeHost fake;
    BOOST_TEST(kQuiet.tick == nullptr);
    BOOST_TEST_REQUIRE(kTicking.tick != nullptr);
    BOOST_TEST(kTicking.abi_version == BB_PLUGIN_ABI_VERSION);
    BOOST_TEST(kTicking.struct_size == sizeof(bb_plugin_descriptor));

    bb::test::PluginInstance instance(kTicking, fake, "");
    BOOST_TEST(fake.tick_interval_ms() == 250u);

    bb_error err{};
    void* self = kTicking.create(fake.table(), "", 0, &err);
    BOOST_TEST_REQUIRE(self != nullptr);
    kTicking.tick(self);
    kTicking.destroy(self);

    auto lines = fake.lines();
    BOOST_TEST_REQUIRE(lines.size() == 1u);
    BOOST_TEST(lines[0].level == BB_LOG_ERROR);
    BOOST_TEST(lines[0].text == R"(plugin tick failed error="tick broke")");
}

BOOST_AUTO_TEST_CASE(exceptions_never_cross_the_entry_points) {
    bb::test::FakeHost fake;

    BOOST_TEST(bb::test::create_error(kTicking, fake, "throw").value_or("") == "bad config: throw");

    bb::test::PluginInstance quiet(kQuiet, fake, "");
    auto odd = quiet.handle(bb::test::make_event("ev-1", "Odd"));
    BOOST_TEST(odd.result == BB_RESULT_RETRY);
    BOOST_TEST(odd.error == "non-standard exception");
    auto rejected = quiet.handle(bb::test::make_event("ev-2", "Even"));
    BOOST_TEST(rejected.result == BB_RESULT_REJECT);
    BOOST_TEST(rejected.error == "never: Even");
}

BOOST_AUTO_TEST_CASE(create_refuses_a_host_table_older_than_the_plugin) {
    bb::test::FakeHost fake;
    bb_host short_table = *fake.table();
    short_table.struct_size = offsetof(bb_host, set_tick);
    bb_error err{};

    BOOST_TEST(kQuiet.create(&short_table, "", 0, &err) == nullptr);
    BOOST_TEST(std::string(err.message).find("host function table") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
