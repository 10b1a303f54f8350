// The scripted test plugin through the real loader: integration tests rely on each of its
// behaviours, and it is the C++ layer's check that exceptions become answers.
#include "handlers/plugin_loader.hpp"

#include "unit/handlers/plugin_harness.hpp"

#include <boost/test/unit_test.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using bb::test::FakeHost;
using bb::test::make_event;
using bb::test::PluginInstance;
using bb::test::TempDir;

namespace {

struct ScriptedFixture {
    bb::handlers::LoadedPlugin plugin = bb::handlers::load_plugin("scripted", {BB_TEST_PLUGIN_DIR});
    FakeHost host;
    TempDir dir;

    std::string log_file() const { return (dir / "handled.log").string(); }
    std::string config(const std::string& rest) const {
        return "log_file: " + log_file() + "\n" + rest;
    }
};

std::vector<std::string> fields(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> out;
    for (std::string f; in >> f;) out.push_back(f);
    return out;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(scripted_plugin, ScriptedFixture)

BOOST_AUTO_TEST_CASE(an_exception_in_handle_becomes_a_retry_with_its_text) {
    PluginInstance instance(plugin.descriptor(), host, config("throw_types: [Boom]"));

    auto answer = instance.handle(make_event("ev-1", "Boom"));

    BOOST_TEST(answer.result == BB_RESULT_RETRY);
    BOOST_TEST(answer.error == "scripted: Boom throws");
    auto lines = bb::test::read_lines(log_file());
    BOOST_TEST_REQUIRE(lines.size() == 1u);
    BOOST_TEST(fields(lines[0]).back() == "throw");
}

BOOST_AUTO_TEST_CASE(an_exception_in_the_constructor_fails_create_with_its_text) {
    auto unknown = bb::test::create_error(plugin.descriptor(), host, "fail_tims: 2");
    BOOST_TEST(unknown.value_or("") == "scripted config: fail_tims: unknown key");

    auto range = bb::test::create_error(plugin.descriptor(), host, "fail_times: -1");
    BOOST_TEST(range.value_or("").find("fail_times") != std::string::npos);

    // Malformed YAML fails at once with the parser's position (yaml-cpp once looped on such).
    for (const std::string text : {"{foo:", "[[:", "a: [1, 2"}) {
        BOOST_TEST_CONTEXT("config '" << text << "'") {
            auto error = bb::test::create_error(plugin.descriptor(), host, text);
            BOOST_TEST(error.value_or("").find("line") != std::string::npos);
        }
    }
    auto no_folder = bb::test::create_error(plugin.descriptor(), host,
                                            "log_file: " + (dir / "missing/x.log").string());
    BOOST_TEST(no_folder.value_or("").find("No such file") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(fail_times_retries_the_first_attempts_by_attempt_number) {
    PluginInstance instance(plugin.descriptor(), host, config("fail_times: 2"));
    auto ev = make_event("ev-1");

    std::vector<bb_result> results;
    for (uint32_t attempt = 1; attempt <= 3; ++attempt) {
        ev.attempt = attempt;
        results.push_back(instance.handle(ev).result);
    }

    BOOST_TEST(
        results == (std::vector<bb_result>{BB_RESULT_RETRY, BB_RESULT_RETRY, BB_RESULT_DONE}),
        boost::test_tools::per_element());
    ev.attempt = 7;  // a later process sees a high attempt number and must not fail again
    BOOST_TEST(instance.handle(ev).result == BB_RESULT_DONE);
}

BOOST_AUTO_TEST_CASE(types_pick_reject_or_retry_and_retries_ask_for_their_delay) {
    PluginInstance instance(plugin.descriptor(), host,
                            config("reject_types: [Bad]\nfail_types: [Flaky]\n"
                                   "retry_after_ms: 5000"));

    auto bad = instance.handle(make_event("ev-1", "Bad"));
    auto flaky = instance.handle(make_event("ev-2", "Flaky"), 1000);
    auto slow_backoff = instance.handle(make_event("ev-3", "Flaky"), 9000);
    auto fine = instance.handle(make_event("ev-4", "Fine"));

    BOOST_TEST(bad.result == BB_RESULT_REJECT);
    BOOST_TEST(bad.error == "scripted: rejects Bad");
    BOOST_TEST(flaky.result == BB_RESULT_RETRY);
    BOOST_TEST(flaky.retry_delay_ms == 5000u);
    BOOST_TEST(slow_backoff.retry_delay_ms == 9000u);
    BOOST_TEST(fine.result == BB_RESULT_DONE);
}

BOOST_AUTO_TEST_CASE(emit_types_publish_a_follow_up_through_the_host) {
    PluginInstance instance(plugin.descriptor(), host,
                            config("emit_types: {UserCreated: WelcomeQueued}"));

    BOOST_TEST(instance.handle(make_event("ev-1", "UserCreated")).result == BB_RESULT_DONE);
    BOOST_TEST(instance.handle(make_event("ev-2", "UserUpdated")).result == BB_RESULT_DONE);
    host.answer_publish_with(BB_UNAVAILABLE, "nats timed out");
    auto failed = instance.handle(make_event("ev-3", "UserCreated"));

    auto published = host.published_events();
    BOOST_TEST_REQUIRE(published.size() == 1u);
    BOOST_TEST(published[0].source_id == "ev-1");
    BOOST_TEST(published[0].type == "WelcomeQueued");
    BOOST_TEST(published[0].aggregate_type == "user");
    BOOST_TEST(published[0].aggregate_id == "user-1");
    BOOST_TEST(published[0].data_json == R"({"name":"Priya"})");
    BOOST_TEST(failed.result == BB_RESULT_RETRY);
    BOOST_TEST(failed.error == "scripted: follow-up not published: nats timed out");
}

BOOST_AUTO_TEST_CASE(every_call_from_every_thread_appends_one_whole_line) {
    constexpr int kThreads = 4;
    constexpr int kEach = 50;
    PluginInstance instance(plugin.descriptor(), host, config("reject_types: [Bad]"));

    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kEach; ++i) {
                auto ev = make_event("ev-" + std::to_string(t) + "-" + std::to_string(i),
                                     i % 5 == 0 ? "Bad" : "UserCreated");
                ev.attempt = static_cast<uint32_t>(t + 1);
                instance.handle(ev);
            }
        });
    }
    for (auto& t : threads) t.join();

    auto lines = bb::test::read_lines(log_file());
    BOOST_TEST_REQUIRE(lines.size() == static_cast<size_t>(kThreads * kEach));
    int rejects = 0;
    for (const auto& line : lines) {
        auto f = fields(line);
        BOOST_TEST_REQUIRE(f.size() == 5u, "torn line: " << line);
        BOOST_TEST(std::stoll(f[0]) > 1'700'000'000'000LL);  // unix milliseconds
        BOOST_TEST(f[1].rfind("ev-" + std::to_string(std::stoi(f[2]) - 1) + "-", 0) == 0u);
        if (f[4] == "reject") {
            ++rejects;
            BOOST_TEST(f[3] == "Bad");
        }
    }
    BOOST_TEST(rejects == kThreads * kEach / 5);
}

BOOST_AUTO_TEST_CASE(sleep_ms_types_hold_the_answer_back) {
    PluginInstance instance(plugin.descriptor(), host, config("sleep_ms_types: {Slow: 60}"));

    auto start = std::chrono::steady_clock::now();
    auto answer = instance.handle(make_event("ev-1", "Slow"));
    auto elapsed = std::chrono::steady_clock::now() - start;

    BOOST_TEST(answer.result == BB_RESULT_DONE);
    BOOST_TEST(elapsed >= std::chrono::milliseconds(60));
}

BOOST_AUTO_TEST_CASE(abort_types_take_the_process_down_after_logging_the_attempt) {
    PluginInstance instance(plugin.descriptor(), host, config("abort_types: [Crash]"));

    pid_t child = fork();
    BOOST_TEST_REQUIRE(child >= 0);
    if (child == 0) {
        // Boost.Test turns SIGABRT into a test failure and carries on; the child must die.
        std::signal(SIGABRT, SIG_DFL);
        rlimit no_core{0, 0};  // an expected crash leaves no core file behind
        setrlimit(RLIMIT_CORE, &no_core);
        instance.handle(make_event("ev-1", "Crash"));
        _exit(0);  // reached only if the plugin did not abort
    }
    int status = 0;
    BOOST_TEST_REQUIRE(waitpid(child, &status, 0) == child);

    BOOST_TEST(WIFSIGNALED(status));
    BOOST_TEST((WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT));
    auto lines = bb::test::read_lines(log_file());
    BOOST_TEST_REQUIRE(lines.size() == 1u);
    BOOST_TEST(fields(lines[0])[1] == "ev-1");
    BOOST_TEST(fields(lines[0]).back() == "abort");
}

BOOST_AUTO_TEST_SUITE_END()
