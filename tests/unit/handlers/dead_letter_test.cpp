#include "handlers/dead_letter.hpp"

#include <boost/test/unit_test.hpp>

using namespace bb::handlers;

namespace {

const std::string* header(const bb::Headers& h, std::string_view name) {
    for (const auto& [k, v] : h) {
        if (k == name) return &v;
    }
    return nullptr;
}

DeadLetter sample_info() {
    DeadLetter info;
    info.binding = "web_push";
    info.plugin = "push";
    info.reason = DlqReason::kExhausted;
    info.error = "push service answered 500";
    info.attempts = 5;
    info.stream = "EVENTS";
    info.stream_seq = 42;
    info.original_subject = "events.user.UserCreated";
    return info;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dead_letter)

BOOST_AUTO_TEST_CASE(the_entry_keeps_every_original_header_and_the_body) {
    bb::Headers original = {{"Nats-Msg-Id", "ev-1"},
                            {"ce-id", "ev-1"},
                            {"ce-correlationid", "corr-1"},
                            {"x-tenant", "acme"}};
    auto m = build_dead_letter(original, "\x81\xa1n\x01", sample_info());
    BOOST_TEST(m.subject == "dlq.web_push.events.user.UserCreated");
    BOOST_TEST(m.body == "\x81\xa1n\x01");
    BOOST_TEST(*header(m.headers, "ce-id") == "ev-1");
    BOOST_TEST(*header(m.headers, "ce-correlationid") == "corr-1");
    BOOST_TEST(*header(m.headers, "x-tenant") == "acme");
    BOOST_TEST(header(m.headers, "Nats-Msg-Id") == nullptr);  // the entry's id is msg_id
    BOOST_TEST(*header(m.headers, kDlqReason) == "exhausted");
    BOOST_TEST(*header(m.headers, kDlqAttempts) == "5");
    BOOST_TEST(*header(m.headers, kDlqStreamSeq) == "42");
    BOOST_TEST(*header(m.headers, kDlqReplays) == "0");
}

// nats-server stores a header line `ce-userid : u-9` and nats.c reads its name as
// "ce-userid " (with the space), which no NATS message can carry again: an entry holding it
// failed to publish on every try, and the event was retried without end.
BOOST_AUTO_TEST_CASE(headers_a_message_cannot_carry_again_are_named_not_copied) {
    bb::Headers original = {
        {"ce-id", "ev-1"}, {"ce-userid ", "u-9"}, {"X-Empty", ""}, {"x-tenant", "acme"}};
    auto m = build_dead_letter(original, "{}", sample_info());
    for (const auto& [k, v] : m.headers) BOOST_TEST(bb::writable_header(k, v), k);
    BOOST_TEST(*header(m.headers, "x-tenant") == "acme");
    BOOST_TEST(header(m.headers, "ce-userid ") == nullptr);
    BOOST_TEST(*header(m.headers, kDlqDroppedHeaders) == "ce-userid , X-Empty");
}

BOOST_AUTO_TEST_CASE(one_failure_has_one_id_on_every_path) {
    auto a = build_dead_letter({}, "", sample_info());
    auto info = sample_info();
    info.reason = DlqReason::kMaxDeliveries;
    auto b = build_dead_letter({}, "", info);
    BOOST_TEST(a.msg_id == b.msg_id);
    info.binding = "analytics";  // the same event failing in another binding
    BOOST_TEST(build_dead_letter({}, "", info).msg_id != a.msg_id);
}

BOOST_AUTO_TEST_CASE(a_replayed_event_that_fails_again_keeps_its_history) {
    bb::Headers replayed = {{"ce-id", "ev-1"},
                            {"ce-correlationid", "corr-1"},
                            {kDlqReplays, "1"},
                            {kDlqFirstFailedAt, "2026-12-01T08:00:00.000Z"},
                            {kDlqOriginalSubject, "events.user.UserCreated"},
                            {kDlqReason, "exhausted"},
                            {kReplayBinding, "web_push"}};
    auto info = sample_info();
    info.stream_seq = 99;  // the replay is a new message in the stream
    auto m = build_dead_letter(replayed, "", info);
    BOOST_TEST(*header(m.headers, kDlqReplays) == "1");
    BOOST_TEST(*header(m.headers, kDlqFirstFailedAt) == "2026-12-01T08:00:00.000Z");
    BOOST_TEST(*header(m.headers, kDlqOriginalSubject) == "events.user.UserCreated");
    BOOST_TEST(*header(m.headers, "ce-correlationid") == "corr-1");
    BOOST_TEST(header(m.headers, kReplayBinding) == nullptr);
    int reasons = 0;
    for (const auto& [k, v] : m.headers) reasons += (k == kDlqReason);
    BOOST_TEST(reasons == 1);
    BOOST_TEST(m.msg_id.find(":1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_error_text_is_made_header_safe_and_bounded) {
    BOOST_TEST(header_safe_error("line1\r\nBcc: x") == "line1  Bcc: x");
    std::string long_text(3000, 'x');
    long_text += "\xc3\xa9";
    BOOST_TEST(header_safe_error(long_text).size() <= kMaxDlqErrorBytes);
    std::string accents;
    for (int i = 0; i < 800; ++i) accents += "\xc3\xa9";  // 2-byte characters
    std::string cut = header_safe_error(accents);
    BOOST_TEST(cut.size() % 2 == 0u);  // never half a character
    BOOST_TEST(header_safe_error("") == "no reason given");
}

BOOST_AUTO_TEST_SUITE_END()
