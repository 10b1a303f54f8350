#define BOOST_TEST_MODULE bb_itest_cli
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <nats/nats.h>
#include <nlohmann/json.hpp>

#include "broker-bridge/cli/commands.hpp"
#include "broker-bridge/cli/console.hpp"
#include "broker-bridge/config.hpp"
#include "broker-bridge/envelope.hpp"
#include "broker-bridge/errors.hpp"
#include "broker-bridge/nats_client.hpp"
#include "broker-bridge/nats_handles.hpp"
#include "broker-bridge/provisioner.hpp"
#include "handlers/dead_letter.hpp"
#include "integration/nats_server.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
namespace dl = bb::handlers;

namespace {

// What a command printed, and its exit status.
struct Output {
    int status = -1;
    std::string out;
    std::string err;
};

template <typename Options>
Output run(int (*command)(const Options&, const bb::cli::Console&), const Options& o) {
    std::ostringstream out, err;
    Output r;
    r.status = command(o, bb::cli::Console{out, err, false});
    r.out = out.str();
    r.err = err.str();
    return r;
}

// One line of the publish input shape.
std::string event_line(const std::string& id, const std::string& type = "UserCreated",
                       const std::string& aggregate_type = "User",
                       const std::string& aggregate_id = "u-1") {
    json e{{"id", id},
           {"type", type},
           {"aggregateId", aggregate_id},
           {"aggregateType", aggregate_type},
           {"data", {{"email", "ada@example.com"}, {"name", "Ada"}}},
           {"metadata",
            {{"userId", "u-1"},
             {"correlationId", "corr-" + id},
             {"timestamp", "2026-11-30T08:00:00.015Z"},
             {"source", "user-service"},
             {"version", 1}}}};
    return e.dump();
}

std::string failure(const bb::Result<uint64_t>& r) { return r.ok() ? "" : r.error().what; }

// A nats-server, a config file pointing at it with both streams provisioned, and the test's
// own connection for publishing hand-made entries and checking what the commands did.
class CliFixture {
public:
    CliFixture() : config_file((server.dir() / "bridge.yaml").string()) {
        std::ofstream(config_file) << "nats:\n"
                                   << "  url: " << server.url() << "\n"
                                   << "  connect_timeout: 2s\n"
                                   << "  request_timeout: 5s\n"
                                   << "streams:\n"
                                   << "  events: { name: EVENTS, subjects: [\"events.>\"], "
                                      "max_age: 1h, duplicate_window: 2m }\n"
                                   << "  dlq: { name: DLQ, subjects: [\"dlq.>\"], max_age: 1h }\n";
        config = bb::load_config(config_file);
        nats.emplace(bb::NatsClient::connect(config.nats, "cli-test"));
        BOOST_TEST_REQUIRE(nats->wait_connected(10s));
        bb::ensure_stream(nats->js(), config.events);
        bb::ensure_stream(nats->js(), config.dlq);
    }

    std::string write_file(const std::string& name, const std::vector<std::string>& lines) {
        auto path = server.dir() / name;
        std::ofstream f(path, std::ios::binary);
        for (const auto& l : lines) f << l << '\n';
        return path.string();
    }

    uint64_t messages(const std::string& stream) {
        auto s = bb::stream_status(nats->js(), stream);
        BOOST_TEST_REQUIRE(s.ok(), (s.ok() ? "" : s.error().what));
        return s->messages;
    }

    bb::cli::PublishOptions publish_options(const std::string& file) {
        bb::cli::PublishOptions o;
        o.config = config_file;
        o.file = file;
        return o;
    }

    bb::cli::DlqOptions dlq_options() {
        bb::cli::DlqOptions o;
        o.config = config_file;
        return o;
    }

    // Dead-letters an event the way the host does (build_dead_letter), without a host.
    uint64_t add_dlq_entry(const std::string& binding, const std::string& event_id,
                           const std::string& error = "smtp said no") {
        auto event =
            bb::event_from_json(json::parse(event_line(event_id)), bb::DataFormat::kMsgpack);
        BOOST_TEST_REQUIRE(event.ok());
        event->extra_headers.emplace_back("x-tenant", "acme");
        auto wire = bb::encode(*event);
        BOOST_TEST_REQUIRE(wire.ok());
        dl::DeadLetter info;
        info.binding = binding;
        info.plugin = "email";
        info.reason = dl::DlqReason::kReject;
        info.error = error;
        info.attempts = 3;
        info.stream = "EVENTS";
        info.stream_seq = ++original_seq_;
        info.original_subject = wire->subject;
        auto m = dl::build_dead_letter(wire->headers, wire->body, info);
        auto seq = nats->js_publish(m.subject, m.headers, m.body, m.msg_id, bb::OnDuplicate::kFail);
        BOOST_TEST_REQUIRE(seq.ok(), failure(seq));
        return *seq;
    }

    std::optional<bb::NatsMsg> stored(const std::string& stream, uint64_t seq) {
        natsMsg* raw = nullptr;
        jsErrCode jerr = static_cast<jsErrCode>(0);
        natsStatus s = js_GetMsg(&raw, nats->js(), stream.c_str(), seq, nullptr, &jerr);
        if (s == NATS_NOT_FOUND) return std::nullopt;
        BOOST_TEST_REQUIRE(s == NATS_OK, natsStatus_GetText(s));
        return bb::NatsMsg(raw);
    }

    bb::NatsMsg last_on(const std::string& subject) {
        natsMsg* raw = nullptr;
        jsErrCode jerr = static_cast<jsErrCode>(0);
        natsStatus s = js_GetLastMsg(&raw, nats->js(), "EVENTS", subject.c_str(), nullptr, &jerr);
        BOOST_TEST_REQUIRE(s == NATS_OK, natsStatus_GetText(s));
        return bb::NatsMsg(raw);
    }

    json list_json(const std::string& binding = "") {
        auto o = dlq_options();
        o.binding = binding;
        o.json = true;
        Output r = run(bb::cli::dlq_list, o);
        BOOST_TEST_REQUIRE(r.status == 0, r.err);
        return json::parse(r.out);
    }

    bb::itest::NatsServer server;
    std::string config_file;
    bb::Config config;
    std::optional<bb::NatsClient> nats;

private:
    uint64_t original_seq_ = 100;
};

std::string header(natsMsg* m, const char* name) {
    const char* v = bb::header_value(m, name);
    return v != nullptr ? v : "";
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(cli_publish, CliFixture)

BOOST_AUTO_TEST_CASE(a_bad_line_is_reported_with_its_number_and_the_others_are_stored) {
    std::string file = write_file(
        "events.jsonl",
        {
            event_line("e-1"),
            "",
            "{not json",
            event_line("e-2"),
            R"({"id": "e-3", "aggregateId": "u-1", "aggregateType": "User", "data": {}})",
            "   ",
            event_line("e-4"),
        });

    Output r = run(bb::cli::publish, publish_options(file));

    BOOST_TEST(r.status == 1);
    BOOST_TEST(contains(r.err, "line 3: "), r.err);
    BOOST_TEST(contains(r.err, "line 5: type is missing"), r.err);
    BOOST_TEST(!contains(r.err, "line 2"), r.err);
    BOOST_TEST(!contains(r.err, "line 6"), r.err);
    BOOST_TEST(contains(r.out, "published 3 events, 0 duplicates, 2 failed in "), r.out);
    BOOST_TEST(messages("EVENTS") == 3u);
}

// CASES.md C01/C02: ids that reach a subject or a header are refused before any nats.c call,
// and the lines after them still go out on the same connection.
BOOST_AUTO_TEST_CASE(subject_and_header_injection_in_a_line_is_refused_by_line_number) {
    std::string file = write_file(
        "hostile.jsonl",
        {
            event_line("h-1", "UserCreated", "User\r\nPUB events.user.x 5"),
            event_line("h-2", "User.Created"),
            event_line("h-3", "UserCreated", "User", "room1\r\nPUB user.u2.notifications 5"),
            event_line("h-4", ">"),
            event_line("h-5", "UserCreated", "us er"),
            event_line("ok-1"),
        });

    Output r = run(bb::cli::publish, publish_options(file));

    BOOST_TEST(r.status == 1);
    for (int line = 1; line <= 5; ++line) {
        BOOST_TEST(contains(r.err, "line " + std::to_string(line) + ": "), r.err);
    }
    BOOST_TEST(!contains(r.err, "line 6"), r.err);
    BOOST_TEST(contains(r.out, "published 1 event, 0 duplicates, 5 failed"), r.out);
    BOOST_TEST(messages("EVENTS") == 1u);
}

BOOST_AUTO_TEST_CASE(duplicates_are_counted_apart_from_new_events) {
    std::string file = write_file(
        "dups.jsonl", {event_line("d-1"), event_line("d-2"), event_line("d-1"), event_line("d-1")});

    Output first = run(bb::cli::publish, publish_options(file));
    Output again = run(bb::cli::publish, publish_options(file));

    BOOST_TEST(first.status == 0, first.err);
    BOOST_TEST(contains(first.out, "published 2 events, 2 duplicates, 0 failed"), first.out);
    BOOST_TEST(again.status == 0, again.err);
    BOOST_TEST(contains(again.out, "published 0 events, 4 duplicates, 0 failed"), again.out);
    BOOST_TEST(messages("EVENTS") == 2u);
}

BOOST_AUTO_TEST_CASE(a_file_named_dash_is_read_from_standard_input) {
    std::string file = write_file("stdin.jsonl", {event_line("in-1"), event_line("in-2")});
    BOOST_TEST_REQUIRE(std::freopen(file.c_str(), "r", stdin) != nullptr);
    std::cin.clear();

    Output r = run(bb::cli::publish, publish_options("-"));

    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(contains(r.out, "published 2 events, 0 duplicates, 0 failed"), r.out);
    BOOST_TEST(messages("EVENTS") == 2u);
}

BOOST_AUTO_TEST_CASE(a_line_over_one_megabyte_is_refused_without_stopping_the_file) {
    json big = json::parse(event_line("big-1"));
    big["data"]["blob"] = std::string(1024 * 1024, 'x');
    json fits = json::parse(event_line("fits-1"));
    fits["data"]["blob"] = std::string(1000 * 1000, 'y');
    std::string file =
        write_file("big.jsonl", {event_line("b-1"), big.dump(), fits.dump(), event_line("b-2")});

    Output r = run(bb::cli::publish, publish_options(file));

    BOOST_TEST(r.status == 1);
    BOOST_TEST(contains(r.err, "line 2: longer than 1048576 bytes"), r.err);
    BOOST_TEST(!contains(r.err, "line 3"), r.err);
    BOOST_TEST(contains(r.out, "published 3 events, 0 duplicates, 1 failed"), r.out);
}

// The sample holds 90 exact repeats of earlier lines (a producer publishing twice). Run as on
// a terminal: the progress line goes to stderr, redrawn at most ten times a second.
BOOST_AUTO_TEST_CASE(the_sample_file_publishes_9910_distinct_events_with_progress) {
    auto o = publish_options(BB_SOURCE_DIR "/tests/data/events-10k.jsonl");
    std::ostringstream out, err;
    auto start = std::chrono::steady_clock::now();

    int status = bb::cli::publish(o, bb::cli::Console{out, err, true});

    std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    BOOST_TEST_MESSAGE("10k sample file published in " << took.count() << " s: " << out.str());
    BOOST_TEST(status == 0, err.str());
    BOOST_TEST(contains(out.str(), "published 9910 events, 90 duplicates, 0 failed in "),
               out.str());
    BOOST_TEST(messages("EVENTS") == 9910u);
    std::string progress = err.str();
    auto redraws = std::count(progress.begin(), progress.end(), '\r');
    BOOST_TEST(contains(progress, "\rline 1: 0 published"), progress);
    // One '\r' per redraw, two for the final erase.
    BOOST_TEST(redraws >= 3);
    BOOST_TEST(redraws <= static_cast<long>(took.count() * 10) + 3);
    BOOST_TEST(progress.find('\n') == std::string::npos, progress);
}

BOOST_AUTO_TEST_CASE(a_single_event_from_options_carries_its_data_as_msgpack_or_json) {
    bb::cli::PublishOptions o = publish_options("");
    o.type = "UserCreated";
    o.aggregate_type = "User";
    o.aggregate_id = "u-42";
    o.data = R"({"email":"ada@example.com","n":3})";
    o.id = "single-1";

    Output packed = run(bb::cli::publish, o);
    o.id = "single-2";
    o.json_data = true;
    Output plain = run(bb::cli::publish, o);

    BOOST_TEST(packed.status == 0, packed.err);
    BOOST_TEST(plain.status == 0, plain.err);
    BOOST_TEST(contains(packed.out, "published event single-1 to events.user.UserCreated"));
    auto m = stored("EVENTS", 2);
    BOOST_TEST_REQUIRE(m.has_value());
    BOOST_TEST(header(m->get(), "ce-datacontenttype") == "application/json");
    BOOST_TEST(header(m->get(), "ce-source") == "broker-bridge-cli");
    BOOST_TEST(std::string(natsMsg_GetData(m->get()), natsMsg_GetDataLength(m->get())) ==
               R"({"email":"ada@example.com","n":3})");
    auto first = stored("EVENTS", 1);
    BOOST_TEST_REQUIRE(first.has_value());
    auto headers = bb::read_headers(first->get());
    BOOST_TEST_REQUIRE(headers.ok());
    auto event = bb::decode(*headers, std::string_view(natsMsg_GetData(first->get()),
                                                       natsMsg_GetDataLength(first->get())));
    BOOST_TEST_REQUIRE(event.ok(), (event.ok() ? "" : event.error().what));
    BOOST_TEST((event->format == bb::DataFormat::kMsgpack));
    BOOST_TEST(*bb::data_as_json(*event) == R"({"email":"ada@example.com","n":3})");
    BOOST_TEST(bb::is_valid_rfc3339(event->time));
}

BOOST_AUTO_TEST_CASE(a_single_event_with_invalid_data_is_a_usage_error) {
    bb::cli::PublishOptions o = publish_options("");
    o.type = "UserCreated";
    o.aggregate_type = "User";
    o.aggregate_id = "u-42";
    o.data = "{oops";

    Output r = run(bb::cli::publish, o);

    BOOST_TEST(r.status == 2);
    BOOST_TEST(contains(r.err, "--data"), r.err);
    BOOST_TEST(messages("EVENTS") == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(cli_dlq, CliFixture)

BOOST_AUTO_TEST_CASE(an_empty_dlq_lists_as_an_empty_json_array) {
    auto o = dlq_options();
    o.json = true;

    Output r = run(bb::cli::dlq_list, o);

    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(r.out == "[]\n");
}

BOOST_AUTO_TEST_CASE(list_shows_one_line_per_entry_and_filters_by_binding) {
    add_dlq_entry("welcome_email", "l-1", std::string(200, 'e'));
    add_dlq_entry("push", "l-2");
    add_dlq_entry("welcome_email", "l-3");

    Output text = run(bb::cli::dlq_list, dlq_options());
    json all = list_json();
    json email = list_json("welcome_email");

    BOOST_TEST(text.status == 0, text.err);
    BOOST_TEST(contains(text.out, "SEQ"), text.out);
    BOOST_TEST(contains(text.out, std::string(57, 'e') + "..."), text.out);
    BOOST_TEST(!contains(text.out, std::string(61, 'e')), text.out);
    BOOST_TEST(contains(text.out, "events.user.UserCreated"), text.out);
    BOOST_TEST(all.size() == 3u);
    BOOST_TEST_REQUIRE(email.size() == 2u);
    BOOST_TEST(email[0]["binding"] == "welcome_email");
    BOOST_TEST(email[0]["reason"] == "reject");
    BOOST_TEST(email[0]["attempts"] == 3);
    BOOST_TEST(email[0]["originalSubject"] == "events.user.UserCreated");
    BOOST_TEST(email[0]["id"] == "l-1");
    BOOST_TEST(email[1]["seq"] == 3);
}

BOOST_AUTO_TEST_CASE(show_prints_the_headers_and_the_event_as_json) {
    uint64_t seq = add_dlq_entry("welcome_email", "s-1");
    auto o = dlq_options();
    o.seq = seq;

    Output r = run(bb::cli::dlq_show, o);
    o.seq = 999;
    Output missing = run(bb::cli::dlq_show, o);

    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(contains(r.out, "Bridge-Dlq-Reason: reject"), r.out);
    BOOST_TEST(contains(r.out, "Bridge-Dlq-Error: smtp said no"), r.out);
    BOOST_TEST(contains(r.out, R"("type": "UserCreated")"), r.out);
    BOOST_TEST(contains(r.out, R"("email": "ada@example.com")"), r.out);
    BOOST_TEST(missing.status == 1);
    BOOST_TEST(contains(missing.err, "no DLQ entry with sequence 999"), missing.err);
}

BOOST_AUTO_TEST_CASE(show_of_an_entry_that_holds_no_valid_event_shows_the_raw_body) {
    bb::Headers headers{{dl::kDlqReason, "invalid"}, {dl::kDlqBinding, "push"}};
    auto seq = nats->js_publish("dlq.push.events.user.Broken", headers, "not \x1b[2J an event",
                                "hand-made-1");
    BOOST_TEST_REQUIRE(seq.ok(), failure(seq));
    auto o = dlq_options();
    o.seq = *seq;

    Output r = run(bb::cli::dlq_show, o);

    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(contains(r.out, "cannot be decoded"), r.out);
    BOOST_TEST(contains(r.out, R"("not \u001b[2J an event")"), r.out);
}

// CASES.md C07: the replay carries the original headers and body, counts the replay, and
// names the one binding that handles it.
BOOST_AUTO_TEST_CASE(a_replayed_entry_returns_to_its_original_subject_for_its_binding_only) {
    uint64_t first = add_dlq_entry("welcome_email", "r-1");
    uint64_t second = add_dlq_entry("welcome_email", "r-2");
    auto entry = stored("DLQ", first);
    BOOST_TEST_REQUIRE(entry.has_value());
    std::string body(natsMsg_GetData(entry->get()), natsMsg_GetDataLength(entry->get()));
    auto o = dlq_options();
    o.seq = first;

    Output r = run(bb::cli::dlq_replay, o);

    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(contains(r.out, "replayed entry " + std::to_string(first)), r.out);
    bb::NatsMsg replayed = last_on("events.user.UserCreated");
    natsMsg* m = replayed.get();
    BOOST_TEST(header(m, dl::kReplayBinding) == "welcome_email");
    BOOST_TEST(header(m, "Nats-Msg-Id") == "replay:" + std::to_string(first) + ":welcome_email");
    BOOST_TEST(header(m, dl::kDlqReplays) == "1");
    BOOST_TEST(header(m, dl::kDlqOriginalSubject) == "events.user.UserCreated");
    BOOST_TEST(!header(m, dl::kDlqFirstFailedAt).empty());
    BOOST_TEST(header(m, dl::kDlqReason).empty());
    BOOST_TEST(header(m, dl::kDlqError).empty());
    BOOST_TEST(header(m, "ce-id") == "r-1");
    BOOST_TEST(header(m, "ce-correlationid") == "corr-r-1");
    BOOST_TEST(header(m, "x-tenant") == "acme");
    BOOST_TEST(std::string(natsMsg_GetData(m), natsMsg_GetDataLength(m)) == body);
    BOOST_TEST(!stored("DLQ", first).has_value());
    json left = list_json();
    BOOST_TEST_REQUIRE(left.size() == 1u);
    BOOST_TEST(left[0]["seq"] == second);
}

BOOST_AUTO_TEST_CASE(a_replay_acknowledged_as_duplicate_fails_and_keeps_the_entry) {
    uint64_t seq = add_dlq_entry("welcome_email", "dup-1");
    std::string replay_id = "replay:" + std::to_string(seq) + ":welcome_email";
    auto earlier = nats->js_publish("events.user.UserCreated", {}, "{}", replay_id);
    BOOST_TEST_REQUIRE(earlier.ok(), failure(earlier));
    auto o = dlq_options();
    o.seq = seq;

    Output r = run(bb::cli::dlq_replay, o);

    BOOST_TEST(r.status == 1);
    BOOST_TEST(contains(r.err, "duplicate"), r.err);
    BOOST_TEST(stored("DLQ", seq).has_value());
    BOOST_TEST(messages("EVENTS") == 1u);
}

BOOST_AUTO_TEST_CASE(replay_all_of_one_binding_leaves_the_other_bindings_entries) {
    add_dlq_entry("welcome_email", "a-1");
    uint64_t push = add_dlq_entry("push", "a-2");
    add_dlq_entry("welcome_email", "a-3");
    auto o = dlq_options();
    o.all = true;
    o.binding = "welcome_email";

    Output r = run(bb::cli::dlq_replay, o);

    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(contains(r.out, "replayed 2 entries, 0 failed in "), r.out);
    BOOST_TEST(messages("EVENTS") == 2u);
    json left = list_json();
    BOOST_TEST_REQUIRE(left.size() == 1u);
    BOOST_TEST(left[0]["seq"] == push);
}

BOOST_AUTO_TEST_CASE(purge_by_binding_leaves_the_other_bindings_entries) {
    add_dlq_entry("welcome_email", "p-1");
    add_dlq_entry("push", "p-2");
    add_dlq_entry("welcome_email", "p-3");
    auto o = dlq_options();
    o.binding = "welcome_email";

    Output by_binding = run(bb::cli::dlq_purge, o);
    json left = list_json();
    o.binding.clear();
    Output rest = run(bb::cli::dlq_purge, o);

    BOOST_TEST(by_binding.status == 0, by_binding.err);
    BOOST_TEST(contains(by_binding.out, "removed 2 entries of binding welcome_email"),
               by_binding.out);
    BOOST_TEST_REQUIRE(left.size() == 1u);
    BOOST_TEST(left[0]["binding"] == "push");
    BOOST_TEST(rest.status == 0, rest.err);
    BOOST_TEST(contains(rest.out, "removed 1 entry from DLQ"), rest.out);
    BOOST_TEST(messages("DLQ") == 0u);
}

// CASES.md C01: a binding name is one subject token; a wildcard would reach other bindings.
BOOST_AUTO_TEST_CASE(a_binding_with_a_wildcard_or_a_dot_is_refused) {
    add_dlq_entry("welcome_email", "w-1");
    add_dlq_entry("push", "w-2");
    for (std::string binding : {">", "*", "welcome_email.>", "a b", "x\r\ny"}) {
        auto o = dlq_options();
        o.binding = binding;
        BOOST_TEST(run(bb::cli::dlq_purge, o).status == 2, binding);
        BOOST_TEST(run(bb::cli::dlq_list, o).status == 2, binding);
        o.all = true;
        BOOST_TEST(run(bb::cli::dlq_replay, o).status == 2, binding);
    }
    BOOST_TEST(messages("DLQ") == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

// check-config loads each binding's plugin and runs the plugin's own check of its `config:`,
// so a mistake there is reported before `run`, at the line of that `config:`, and without
// the plugin's side effects (the analytics file is not created).
BOOST_AUTO_TEST_SUITE(check_config)

std::filesystem::path write_check_config(const std::filesystem::path& dir,
                                         const std::string& analytics_config) {
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "bridge.yaml")
        << "nats:\n  url: nats://127.0.0.1:4222\n"
        << "plugins:\n  path: [" << BB_PLUGIN_DIR << "]\n"
        << "bindings:\n"
        << "  - name: stats\n    plugin: analytics\n    subjects: [\"events.>\"]\n"
        << "    config:\n"
        << analytics_config
        << "  - name: chat\n    plugin: router\n    subjects: [\"events.chat.>\"]\n"
        << "    publish_prefixes: [\"rt.>\"]\n    config:\n      routes:\n"
        << "        - when: { type: MessageSent }\n"
        << "          channel_subject: \"rt.chat.{data.chatId}\"\n";
    return dir / "bridge.yaml";
}

BOOST_AUTO_TEST_CASE(a_plugin_config_error_is_reported_at_its_binding_config_line) {
    auto dir = std::filesystem::temp_directory_path() / ("bb-check-" + std::to_string(getpid()));
    auto file = write_check_config(dir, "      path: stats.db\n      batch_max: 0\n");
    std::string error;
    try {
        bb::cli::check_config(file.string());
    } catch (const bb::ConfigError& e) {
        error = e.what();
    }
    BOOST_TEST_MESSAGE("check-config said: " << error);
    BOOST_TEST(error.find(file.string() + ":10:") == 0u, error);  // `path:` under config:
    BOOST_TEST(error.find("bindings stats.config: analytics config: batch_max: expected an "
                          "integer from 1 to 10000, found 0") != std::string::npos,
               error);
    BOOST_TEST(!std::filesystem::exists(dir / "stats.db"));

    // The same file with a good value passes, and still creates nothing.
    file = write_check_config(dir, "      path: stats.db\n      batch_max: 8\n");
    BOOST_TEST(bb::cli::check_config(file.string()) == 0);
    BOOST_TEST(!std::filesystem::exists(dir / "stats.db"));
    std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(a_router_template_error_is_reported_before_run) {
    auto dir = std::filesystem::temp_directory_path() / ("bb-check-r-" + std::to_string(getpid()));
    auto file = write_check_config(dir, "      path: stats.db\n");
    {
        std::ifstream in(file);
        std::stringstream text;
        text << in.rdbuf();
        std::string yaml = text.str();
        yaml.replace(yaml.find("{data.chatId}"), 13, "{data.chatId");
        std::ofstream(file) << yaml;
    }
    std::string error;
    try {
        bb::cli::check_config(file.string());
    } catch (const bb::ConfigError& e) {
        error = e.what();
    }
    BOOST_TEST(error.find("bindings chat.config: ") != std::string::npos, error);
    BOOST_TEST(error.find("routes[0].channel_subject") != std::string::npos, error);
    std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
