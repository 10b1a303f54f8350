#include "broker-bridge/metrics.hpp"

#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(metrics)

BOOST_AUTO_TEST_CASE(attempts_are_counted_under_their_binding_plugin_and_outcome) {
    bb::Metrics m;
    std::string before = m.serialize();
    BOOST_TEST(!contains(before, "broker_bridge_handler_attempts_total{"));

    m.attempts("welcome_email", "email", "done").Increment();
    m.attempts("welcome_email", "email", "done").Increment(2);
    m.attempts("welcome_email", "email", "retry").Increment();

    std::string text = m.serialize();
    BOOST_TEST(
        contains(text,
                 "broker_bridge_handler_attempts_total{binding=\"welcome_email\",outcome=\"done\","
                 "plugin=\"email\"} 3\n"));
    BOOST_TEST(
        contains(text,
                 "broker_bridge_handler_attempts_total{binding=\"welcome_email\",outcome=\"retry\","
                 "plugin=\"email\"} 1\n"));
}

BOOST_AUTO_TEST_CASE(the_same_labels_give_the_same_metric) {
    bb::Metrics m;
    BOOST_TEST(&m.attempts("b", "p", "timeout") == &m.attempts("b", "p", "timeout"));
    BOOST_TEST(&m.attempts("b", "p", "timeout") != &m.attempts("b", "p", "reject"));
    BOOST_TEST(&m.consumer_lag("b", "b_0") == &m.consumer_lag("b", "b_0"));
    BOOST_TEST(&m.handler_duration("b") == &m.handler_duration("b"));
}

BOOST_AUTO_TEST_CASE(every_family_is_exposed_with_help_and_type) {
    bb::Metrics m;
    m.handler_duration("b").Observe(0.1);
    m.dead_letters("b", "exhausted").Increment();
    m.consumer_lag("b", "b_0").Set(7);
    m.consumer_ack_pending("b", "b_0").Set(2);
    m.handlers_stuck("b").Set(1);
    m.events_published("follow_up").Increment();
    m.attempts("b", "p", "skipped").Increment();

    std::string text = m.serialize();
    const std::vector<std::pair<std::string, std::string>> families{
        {"broker_bridge_handler_attempts_total", "counter"},
        {"broker_bridge_handler_duration_seconds", "histogram"},
        {"broker_bridge_dead_letters_total", "counter"},
        {"broker_bridge_consumer_lag_messages", "gauge"},
        {"broker_bridge_consumer_ack_pending", "gauge"},
        {"broker_bridge_dlq_messages", "gauge"},
        {"broker_bridge_events_published_total", "counter"},
        {"broker_bridge_handlers_stuck", "gauge"},
        {"broker_bridge_nats_connected", "gauge"},
        {"broker_bridge_nats_reconnects_total", "counter"},
    };
    for (const auto& [name, type] : families) {
        BOOST_TEST(contains(text, "# HELP " + name + " "), name);
        BOOST_TEST(contains(text, "# TYPE " + name + " " + type + "\n"), name);
    }
    BOOST_TEST(
        contains(text, "broker_bridge_consumer_lag_messages{binding=\"b\",consumer=\"b_0\"} 7\n"));
    BOOST_TEST(
        contains(text, "broker_bridge_dead_letters_total{binding=\"b\",reason=\"exhausted\"} 1\n"));
    BOOST_TEST(contains(text, "broker_bridge_events_published_total{kind=\"follow_up\"} 1\n"));
}

BOOST_AUTO_TEST_CASE(metrics_without_labels_start_at_zero_and_move) {
    bb::Metrics m;
    BOOST_TEST(contains(m.serialize(), "broker_bridge_nats_connected 0\n"));
    m.nats_connected().Set(1);
    m.nats_reconnects().Increment();
    m.dlq_messages().Set(12);
    std::string text = m.serialize();
    BOOST_TEST(contains(text, "broker_bridge_nats_connected 1\n"));
    BOOST_TEST(contains(text, "broker_bridge_nats_reconnects_total 1\n"));
    BOOST_TEST(contains(text, "broker_bridge_dlq_messages 12\n"));
}

BOOST_AUTO_TEST_CASE(handler_durations_fall_into_buckets_from_one_millisecond_to_thirty_seconds) {
    bb::Metrics m;
    m.handler_duration("b").Observe(0.002);
    m.handler_duration("b").Observe(20);
    std::string text = m.serialize();
    const std::string series = "broker_bridge_handler_duration_seconds_bucket{binding=\"b\",le=";
    BOOST_TEST(contains(text, series + "\"0.001\"} 0\n"));
    BOOST_TEST(contains(text, series + "\"0.0025\"} 1\n"));
    BOOST_TEST(contains(text, series + "\"10\"} 1\n"));
    BOOST_TEST(contains(text, series + "\"30\"} 2\n"));
    BOOST_TEST(contains(text, series + "\"+Inf\"} 2\n"));
    BOOST_TEST(contains(text, "broker_bridge_handler_duration_seconds_count{binding=\"b\"} 2\n"));
}

BOOST_AUTO_TEST_CASE(label_values_outside_their_closed_set_are_refused) {
    bb::Metrics m;
    BOOST_CHECK_THROW(m.attempts("b", "p", "maybe"), std::invalid_argument);
    BOOST_CHECK_THROW(m.attempts("b", "p", "DONE"), std::invalid_argument);
    BOOST_CHECK_THROW(m.dead_letters("b", "timeout"), std::invalid_argument);
    BOOST_CHECK_THROW(m.events_published("follow-up"), std::invalid_argument);
    for (auto outcome : bb::kOutcomes) BOOST_CHECK_NO_THROW(m.attempts("b", "p", outcome));
    for (auto reason : bb::kDeadLetterReasons) BOOST_CHECK_NO_THROW(m.dead_letters("b", reason));
    for (auto kind : bb::kPublishKinds) BOOST_CHECK_NO_THROW(m.events_published(kind));
    BOOST_TEST(!contains(m.serialize(), "maybe"));
}

BOOST_AUTO_TEST_CASE(label_values_are_escaped_in_the_text_format) {
    bb::Metrics m;
    m.handlers_stuck("quote\"back\\slash\nnewline").Set(1);
    std::string text = m.serialize();
    BOOST_TEST(contains(
        text, "broker_bridge_handlers_stuck{binding=\"quote\\\"back\\\\slash\\nnewline\"} 1\n"));
    BOOST_TEST(!contains(text, "quote\"back"));
}

BOOST_AUTO_TEST_CASE(a_plugin_counter_gets_the_prefix_and_one_total_suffix) {
    bb::Metrics m;
    auto sent = m.plugin_counter("emails_sent", "welcome_email", "email");
    BOOST_TEST_REQUIRE(sent.ok());
    sent.value()->Increment(2);
    auto same = m.plugin_counter("emails_sent_total", "welcome_email", "email");
    BOOST_TEST_REQUIRE(same.ok());
    BOOST_TEST(same.value() == sent.value());

    std::string text = m.serialize();
    BOOST_TEST(contains(text, "# TYPE broker_bridge_plugin_emails_sent_total counter\n"));
    BOOST_TEST(contains(text,
                        "broker_bridge_plugin_emails_sent_total{binding=\"welcome_email\","
                        "plugin=\"email\"} 2\n"));
    BOOST_TEST(!contains(text, "emails_sent_total_total"));
}

BOOST_AUTO_TEST_CASE(a_plugin_gauge_is_exposed_under_the_plugin_prefix) {
    bb::Metrics m;
    auto queue = m.plugin_gauge("queue_depth", "analytics", "analytics");
    BOOST_TEST_REQUIRE(queue.ok());
    queue.value()->Set(42);
    std::string text = m.serialize();
    BOOST_TEST(contains(text, "# TYPE broker_bridge_plugin_queue_depth gauge\n"));
    BOOST_TEST(contains(text,
                        "broker_bridge_plugin_queue_depth{binding=\"analytics\","
                        "plugin=\"analytics\"} 42\n"));
}

BOOST_AUTO_TEST_CASE(a_plugin_metric_with_a_bad_name_is_refused) {
    bb::Metrics m;
    const std::string too_long(bb::kMaxPluginMetricNameLength + 1, 'a');
    for (const std::string& bad :
         {std::string(""), std::string("Sent"), std::string("1st"), std::string("_sent"),
          std::string("sent-count"), std::string("sent count"), std::string("sent.count"),
          std::string("sent{x=\"y\"}"), std::string("s\xc3\xa9nt"), too_long}) {
        auto counter = m.plugin_counter(bad, "b", "p");
        auto gauge = m.plugin_gauge(bad, "b", "p");
        BOOST_TEST(!counter.ok(), bad);
        BOOST_TEST(!gauge.ok(), bad);
        if (!counter.ok()) BOOST_TEST(contains(counter.error().what, "plugin metric name"), bad);
    }
    auto total_gauge = m.plugin_gauge("sent_total", "b", "p");
    BOOST_TEST_REQUIRE(!total_gauge.ok());
    BOOST_TEST(contains(total_gauge.error().what, "sent_total"));
    BOOST_TEST(!contains(m.serialize(), "broker_bridge_plugin_"));
}

BOOST_AUTO_TEST_CASE(a_plugin_metric_name_keeps_the_type_it_was_first_given) {
    bb::Metrics m;
    BOOST_TEST_REQUIRE(m.plugin_counter("retries", "b", "p").ok());
    auto as_gauge = m.plugin_gauge("retries", "b", "p");
    BOOST_TEST_REQUIRE(!as_gauge.ok());
    BOOST_TEST(contains(as_gauge.error().what, "counter"));

    BOOST_TEST_REQUIRE(m.plugin_gauge("depth", "b", "p").ok());
    BOOST_TEST(!m.plugin_counter("depth", "b", "p").ok());
    BOOST_TEST(!m.plugin_counter("depth_total", "b", "p").ok());
}

BOOST_AUTO_TEST_CASE(plugins_cannot_define_metric_names_without_bound) {
    bb::Metrics m;
    for (std::size_t i = 0; i < bb::kMaxPluginMetricNames; ++i) {
        BOOST_TEST_REQUIRE(m.plugin_gauge("g" + std::to_string(i), "b", "p").ok());
    }
    auto one_more = m.plugin_gauge("one_more", "b", "p");
    BOOST_TEST_REQUIRE(!one_more.ok());
    BOOST_TEST(contains(one_more.error().what, "one_more"));
    BOOST_TEST(m.plugin_gauge("g0", "b", "p").ok());  // known names keep working
}

BOOST_AUTO_TEST_CASE(plugin_metrics_created_from_many_threads_count_every_increment) {
    bb::Metrics m;
    constexpr int kThreads = 8;
    constexpr int kIncrements = 500;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&m, t] {
            for (int i = 0; i < kIncrements; ++i) {
                auto shared = m.plugin_counter("shared", "b", "p");
                if (shared.ok()) shared.value()->Increment();
                auto own = m.plugin_gauge("own_" + std::to_string(t), "b", "p");
                if (own.ok()) own.value()->Set(i);
            }
        });
    }
    for (auto& thread : threads) thread.join();

    std::string text = m.serialize();
    BOOST_TEST(contains(text, "broker_bridge_plugin_shared_total{binding=\"b\",plugin=\"p\"} " +
                                  std::to_string(kThreads * kIncrements) + "\n"));
    for (int t = 0; t < kThreads; ++t) {
        BOOST_TEST(contains(text, "broker_bridge_plugin_own_" + std::to_string(t) +
                                      "{binding=\"b\",plugin=\"p\"} " +
                                      std::to_string(kIncrements - 1) + "\n"));
    }
}

BOOST_AUTO_TEST_SUITE_END()
