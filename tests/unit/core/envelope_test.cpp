#include "broker-bridge/envelope.hpp"

#include <boost/test/unit_test.hpp>

#include <cctype>
#include <chrono>
#include <cmath>
#include <random>
#include <string>
#include <vector>

using namespace std::string_literals;
using nlohmann::json;

namespace {

// Lines copied from the 10k sample (/work/shared/data/events-10k.jsonl): several scripts,
// emoji, HTML, a null, and line breaks, tabs, quotes and backslashes inside JSON strings.
const std::vector<std::string> kSampleLines = {
    R"json({"id": "50989ed5-d673-40ab-9651-4190a646af8c", "type": "UserUpdated", "aggregateId": "0272b2fe-bdb7-49ad-bc9a-d0831bcbe69f", "aggregateType": "User", "data": {"organizationId": "f02891c9-b0ec-431f-a4ff-5cd52e606442", "changes": {"name": {"from": null, "to": "Priya García"}}}, "metadata": {"userId": "b5048c5b-b228-4e85-b40d-303876e03ff9", "correlationId": "d6f79e95-8f65-4f9a-b454-bb569680b757", "timestamp": "2026-11-30T08:00:00.015Z", "source": "user-service", "version": 1}})json",
    R"json({"id": "032eee45-5362-4c88-bcc8-7e14d676b7cb", "type": "UserCreated", "aggregateId": "be1407b4-25fe-4bce-af62-7bf286dd6a4c", "aggregateType": "User", "data": {"email": "олег.2@example.com", "name": "Олег Okafor", "organizationId": "5f3d5012-f8a8-402f-97cf-927fe49ba9ed"}, "metadata": {"userId": "5ba41b6f-b9e6-4eff-a1ea-fdc069c6c22f", "correlationId": "640877d2-2103-4604-be18-814bd1483aae", "timestamp": "2026-11-30T08:00:00.318Z", "source": "user-service", "version": 1}})json",
    R"json({"id": "14f25c4f-f9bc-45ed-af7b-4b6f39768f8f", "type": "DocumentUpdated", "aggregateId": "6cc653b5-926a-4e70-8267-edc4230bb6aa", "aggregateType": "Document", "data": {"changes": {"ops": [{"insert": "<script>alert(1)</script>", "at": 1003}], "rev": 4}}, "metadata": {"userId": "65629763-7afa-4bb5-9a7d-417daa01436e", "correlationId": "983cba04-02cd-44f6-9568-387e3eb557df", "timestamp": "2026-11-30T08:00:00.573Z", "source": "document-service", "version": 1}})json",
    R"json({"id": "f4d24186-6a3d-473c-b5eb-7b4097ca845e", "type": "MessageSent", "aggregateId": "2c33e8ae-d839-4cae-85f4-6cef5765ebcd", "aggregateType": "Message", "data": {"chatId": "a1966916-cb1f-438d-aae1-ae8e009ac191", "content": "line one\nline two", "messageId": "2c33e8ae-d839-4cae-85f4-6cef5765ebcd"}, "metadata": {"userId": "f4b9a4c8-647d-4df0-89e1-73afca6295d3", "correlationId": "62e81fed-bdeb-416c-aff8-40581ce983a2", "timestamp": "2026-11-30T08:00:00.698Z", "source": "chat-service", "version": 1}})json",
    R"json({"id": "35389f28-e9bb-4985-8beb-5d530b246270", "type": "MessageSent", "aggregateId": "72413c2e-6f9f-4fb3-9d33-08040857919b", "aggregateType": "Message", "data": {"chatId": "e9c56f3e-d3a8-43ec-b96e-3e6056a24f0f", "content": "LGTM 👍", "messageId": "72413c2e-6f9f-4fb3-9d33-08040857919b"}, "metadata": {"userId": "b1132d89-3ee8-49f9-a121-b81bd42c496d", "correlationId": "308a6293-6ebd-4c2f-bc31-baaffbd1a4a9", "timestamp": "2026-11-30T08:00:01.250Z", "source": "chat-service", "version": 1}})json",
    R"json({"id": "0a3e30c3-93e2-4739-a4fd-589f9641ec44", "type": "MessageSent", "aggregateId": "a49d9a98-8ff7-4b01-8302-51ce671463bf", "aggregateType": "Message", "data": {"chatId": "af6e30cc-23bd-4be5-ab89-1f7724f8367f", "content": "tab\tseparated", "messageId": "a49d9a98-8ff7-4b01-8302-51ce671463bf"}, "metadata": {"userId": "4d84bf02-29f1-43cb-a9c3-2f14ba6e566b", "correlationId": "10630a80-0081-44fc-9828-c569a8a4e01b", "timestamp": "2026-11-30T08:00:01.390Z", "source": "chat-service", "version": 1}})json",
    R"json({"id": "4613f73e-68c2-4453-8fac-7a6eb91f7903", "type": "NotificationCreated", "aggregateId": "b3007e69-c724-40ff-ac69-25f1e7997eff", "aggregateType": "Notification", "data": {"targetUserId": "541d836a-8296-45e3-aa61-e11c32ea6741", "type": "warning", "title": "Your trial ends in 3 days", "payload": {"body": "Open the app to see more.", "actionUrl": "/inbox"}}, "metadata": {"userId": "d8d69037-b6f1-409b-95f5-ce49e74f6a7d", "correlationId": "40d307d6-2693-4a69-a7a5-4ec1c4bef61c", "timestamp": "2026-11-30T08:00:02.613Z", "source": "notification-service", "version": 1}})json",
    R"json({"id": "4919a465-646e-4306-9b49-5ef396b956b8", "type": "MessageSent", "aggregateId": "b3865f0a-cc40-4766-88ac-5e2bb76a3af3", "aggregateType": "Message", "data": {"chatId": "65e1fd03-ad7a-4f66-8858-7f2e724f7811", "content": "日本語のメッセージ", "messageId": "b3865f0a-cc40-4766-88ac-5e2bb76a3af3"}, "metadata": {"userId": "4d8e9836-0e63-473e-8bc9-fef26dc27828", "correlationId": "7b89b552-2642-4072-891e-c5922fc85d16", "timestamp": "2026-11-30T08:00:02.771Z", "source": "chat-service", "version": 1}})json",
    R"json({"id": "215a0a89-c865-428e-b80c-b77e7eff7bce", "type": "MessageSent", "aggregateId": "e24aa0e4-01a6-46d2-94f9-24cdaf2794c1", "aggregateType": "Message", "data": {"chatId": "a2706f10-0ccd-4c76-b222-2a820dd8baa9", "content": "quotes \" and \\ backslash", "messageId": "e24aa0e4-01a6-46d2-94f9-24cdaf2794c1"}, "metadata": {"userId": "3ae35e33-3df8-478a-b320-887f0d8fa442", "correlationId": "db7a76c1-2386-44e2-8fea-346612cc677f", "timestamp": "2026-11-30T08:00:03.151Z", "source": "chat-service", "version": 1}})json",
    R"json({"id": "818abacc-eec9-457c-b208-bbc965197191", "type": "MessageSent", "aggregateId": "224dd5e5-ad23-4900-93df-e257b215c5f8", "aggregateType": "Message", "data": {"chatId": "c5bd39db-9469-4709-857e-434de339dd09", "content": "🎉🎉🎉", "messageId": "224dd5e5-ad23-4900-93df-e257b215c5f8"}, "metadata": {"userId": "91e5f4c1-4ae3-4172-8ab1-4a96159f66db", "correlationId": "2814052e-d69d-4ca6-bb84-7f8a39326f7c", "timestamp": "2026-11-30T08:00:04.527Z", "source": "chat-service", "version": 1}})json",
    R"json({"id": "0ece3cc8-1a00-4505-9210-8a1ff1a4660a", "type": "UserDeactivated", "aggregateId": "8f387d16-935f-44b0-b39e-30638bcc5bb8", "aggregateType": "User", "data": {"organizationId": "29aaf9b1-c8f1-40e4-849c-96c4e47be022", "reason": "requested"}, "metadata": {"userId": "988f38a9-36ae-4846-991b-7465c362ad48", "correlationId": "d47a8f03-2590-4d2d-afef-b2418de69ddd", "timestamp": "2026-11-30T08:00:04.691Z", "source": "user-service", "version": 1}})json",
    R"json({"id": "2d496458-afee-4ab3-9758-0be04c8921c0", "type": "UserCreated", "aggregateId": "b82f7002-8936-4e92-9439-72b86b10c319", "aggregateType": "User", "data": {"email": "佐藤.91@example.com", "name": "佐藤 Kowalski", "organizationId": "6625029a-f578-48ed-8d43-c942802afab2"}, "metadata": {"userId": "65629763-7afa-4bb5-9a7d-417daa01436e", "correlationId": "190b0e73-e5a0-44e5-b063-cd7a24663d0a", "timestamp": "2026-11-30T08:00:12.512Z", "source": "user-service", "version": 1}})json",
    R"json({"id": "6c6300a9-a64d-4d70-8ee4-cd5f2c9ffcb3", "type": "UserCreated", "aggregateId": "22c2a931-7256-457c-b3b0-8ff3c4689ab2", "aggregateType": "User", "data": {"email": "nguyễn.343@example.com", "name": "Nguyễn Okafor", "organizationId": "29aaf9b1-c8f1-40e4-849c-96c4e47be022"}, "metadata": {"userId": "74e7bf72-8bc5-4adb-bbab-1fdc8055ab4d", "correlationId": "52fe94fa-8855-4c0e-9a99-93a8d4e26f5a", "timestamp": "2026-11-30T08:00:46.992Z", "source": "user-service", "version": 1}})json",
    R"json({"id": "689f1afb-a777-49d2-a079-5b86303944ea", "type": "DocumentUpdated", "aggregateId": "4f9c4fa0-5349-4de4-9a84-000509b211c2", "aggregateType": "Document", "data": {"changes": {"ops": [{"insert": "reunião às 15h", "at": 4365}], "rev": 24}}, "metadata": {"userId": "e8271def-70ae-4d02-859a-6b393bb72400", "correlationId": "44e0dcb8-a8d5-4f76-bb6f-7a74f73097f8", "timestamp": "2026-11-30T08:00:03.331Z", "source": "document-service", "version": 1}})json",
    // Not from the sample: every kind of control character escaped inside data strings.
    R"json({"id": "ctl-1", "type": "MessageSent", "aggregateId": "m-1", "aggregateType": "Message", "data": {"content": "nul\u0000 bell\u0007 esc\u001b[31m del\u007f nel\u0085 cr\r lf\n", "\u0001key": [1.5, -7, 18446744073709551615, true, null]}, "metadata": {"timestamp": "2026-11-30T08:00:00Z", "source": "chat-service", "version": 1}})json",
};

// The C02 inputs: ids that reach subject construction from outside.
const std::vector<std::string> kInjectionIds = {"room1\r\nPUB user.u2.notifications 5\r\nhello",
                                                "room 1", "room\t1", "room\0x"s, "room\n"};

template <typename T>
std::string error_of(const bb::Result<T>& r) {
    return r.ok() ? std::string("(no error)") : r.error().what;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::string show(const bb::HeaderList& headers) {
    std::string out;
    for (const auto& [name, value] : headers) out += name + ": " + value + "\n";
    return out;
}

bb::Event sample_event() {
    bb::Event e;
    e.id = "e-1";
    e.type = "UserCreated";
    e.source = "user-service";
    e.subject = "u-42";
    e.time = "2026-11-30T08:00:00.015Z";
    e.aggregate_type = "User";
    e.correlation_id = "c 1";
    e.user_id = "Zoë";
    e.data_version = "1";
    e.format = bb::DataFormat::kJson;
    e.data = R"({"name":"Zoë"})";
    e.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    e.extra_headers = {{"X-Tenant", "acme"}};
    return e;
}

bb::HeaderList without(bb::HeaderList headers, const std::string& name) {
    std::erase_if(headers, [&](const auto& h) { return h.first == name; });
    return headers;
}

bb::HeaderList replaced(bb::HeaderList headers, const std::string& name, const std::string& v) {
    for (auto& h : headers) {
        if (h.first == name) h.second = v;
    }
    return headers;
}

std::string nested_arrays(std::size_t depth) {
    return std::string(depth, '\x91') + "\xc0";  // fixarray of one element, depth times
}

bool printable_ascii(const std::string& s) {
    for (unsigned char c : s) {
        if (c < 0x20 || c > 0x7e) return false;
    }
    return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(envelope)

BOOST_AUTO_TEST_CASE(sample_events_round_trip_through_binary_mode_in_msgpack_and_json) {
    for (const auto& line : kSampleLines) {
        json obj = json::parse(line);
        for (auto format : {bb::DataFormat::kMsgpack, bb::DataFormat::kJson}) {
            BOOST_TEST_CONTEXT("event " << obj["id"] << " format " << static_cast<int>(format)) {
                auto event = bb::event_from_json(obj, format);
                BOOST_TEST_REQUIRE(event.ok(), error_of(event));
                BOOST_TEST(event->subject == obj["aggregateId"].get<std::string>());
                BOOST_TEST(event->time == obj["metadata"]["timestamp"].get<std::string>());
                BOOST_TEST(event->data_version == "1");

                auto wire = bb::encode(*event);
                BOOST_TEST_REQUIRE(wire.ok(), error_of(wire));
                std::string type = obj["type"], aggregate = obj["aggregateType"];
                aggregate[0] = static_cast<char>(std::tolower(aggregate[0]));
                BOOST_TEST(wire->subject == "events." + aggregate + "." + type);
                for (const auto& [name, value] : wire->headers) {
                    BOOST_TEST(printable_ascii(value), name << ": " << value);
                }
                if (format == bb::DataFormat::kJson) {
                    BOOST_TEST(json::parse(wire->body) == obj["data"]);
                }

                auto back = bb::decode(wire->headers, wire->body);
                BOOST_TEST_REQUIRE(back.ok(), error_of(back));
                BOOST_TEST(bb::event_to_json(*back).dump() == bb::event_to_json(*event).dump());
                BOOST_TEST((*back == *event));
                auto data = bb::data_as_json_value(*back);
                BOOST_TEST_REQUIRE(data.ok(), error_of(data));
                BOOST_TEST(*data == obj["data"]);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(a_ten_kilobyte_message_round_trips_in_both_formats) {
    json obj = json::parse(kSampleLines[4]);
    std::string content;
    while (content.size() < 10 * 1024) content += "ship it 🚀 ñandú 日本語 <b>\"x\"</b>\n";
    obj["data"]["content"] = content;
    for (auto format : {bb::DataFormat::kMsgpack, bb::DataFormat::kJson}) {
        auto event = bb::event_from_json(obj, format);
        BOOST_TEST_REQUIRE(event.ok(), error_of(event));
        auto wire = bb::encode(*event);
        BOOST_TEST_REQUIRE(wire.ok(), error_of(wire));
        auto back = bb::decode(wire->headers, wire->body);
        BOOST_TEST_REQUIRE(back.ok(), error_of(back));
        BOOST_TEST(bb::data_as_json_value(*back).value()["content"] == content);
    }
}

BOOST_AUTO_TEST_CASE(encode_builds_the_subject_and_headers_in_wire_order) {
    auto wire = bb::encode(sample_event());
    BOOST_TEST_REQUIRE(wire.ok(), error_of(wire));
    BOOST_TEST(wire->subject == "events.user.UserCreated");
    bb::HeaderList expected = {
        {"Nats-Msg-Id", "e-1"},
        {"ce-specversion", "1.0"},
        {"ce-id", "e-1"},
        {"ce-type", "UserCreated"},
        {"ce-source", "user-service"},
        {"ce-time", "2026-11-30T08:00:00.015Z"},
        {"ce-subject", "u-42"},
        {"ce-aggregatetype", "User"},
        {"ce-correlationid", "c%201"},
        {"ce-userid", "Zo%C3%AB"},
        {"ce-dataversion", "1"},
        {"ce-datacontenttype", "application/json"},
        {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
        {"X-Tenant", "acme"},
    };
    BOOST_TEST(show(wire->headers) == show(expected));
    BOOST_TEST(wire->body == R"({"name":"Zoë"})");

    auto other_prefix = bb::encode(sample_event(), "tenant1.events");
    BOOST_TEST_REQUIRE(other_prefix.ok(), error_of(other_prefix));
    BOOST_TEST(other_prefix->subject == "tenant1.events.user.UserCreated");
    BOOST_TEST(!bb::encode(sample_event(), "events.>").ok());
    BOOST_TEST(!bb::encode(sample_event(), "").ok());
}

BOOST_AUTO_TEST_CASE(attribute_values_with_spaces_quotes_and_unicode_survive_percent_encoding) {
    auto e = sample_event();
    e.source = "/svc/user service ✓ 100% \"quoted\"";
    e.causation_id = "Đorđe → 佐藤";
    e.user_id = "%41 is not decoded twice";
    auto wire = bb::encode(e);
    BOOST_TEST_REQUIRE(wire.ok(), error_of(wire));
    BOOST_TEST(*bb::find_header(wire->headers, "ce-source") ==
               "/svc/user%20service%20%E2%9C%93%20100%25%20%22quoted%22");
    auto back = bb::decode(wire->headers, wire->body);
    BOOST_TEST_REQUIRE(back.ok(), error_of(back));
    BOOST_TEST(back->source == e.source);
    BOOST_TEST(back->causation_id == e.causation_id);
    BOOST_TEST(back->user_id == e.user_id);
}

BOOST_AUTO_TEST_CASE(percent_encoding_follows_the_nats_binding_rows) {
    struct Row {
        std::string plain, encoded;
    };
    for (const auto& row : std::vector<Row>{
             {"", ""},
             {"abc-XYZ_09~!", "abc-XYZ_09~!"},
             {"/path?q=1&r=2#f", "/path?q=1&r=2#f"},
             {"a b", "a%20b"},
             {"say \"hi\"", "say%20%22hi%22"},
             {"100%", "100%25"},
             {"Euro € 😀", "Euro%20%E2%82%AC%20%F0%9F%98%80"},  // the binding's own example
             {"\r\n", "%0D%0A"},
             {"\t", "%09"},
             {"\x7f", "%7F"},
             {"ü", "%C3%BC"},
         }) {
        BOOST_TEST(bb::percent_encode(row.plain) == row.encoded);
        auto back = bb::percent_decode(row.encoded);
        BOOST_TEST_REQUIRE(back.ok(), error_of(back));
        BOOST_TEST(*back == row.plain);
    }
}

BOOST_AUTO_TEST_CASE(percent_decoding_accepts_lower_case_and_needless_escapes) {
    BOOST_TEST(bb::percent_decode("%e2%82%ac").value() == "€");
    BOOST_TEST(bb::percent_decode("%41%42c").value() == "ABc");
    BOOST_TEST(bb::percent_decode("raw ü stays").value() == "raw ü stays");
}

BOOST_AUTO_TEST_CASE(percent_decoding_refuses_malformed_escapes_and_invalid_utf8) {
    for (const char* bad : {"%", "%4", "abc%2", "%G0", "%0G", "%%41"}) {
        auto r = bb::percent_decode(bad);
        BOOST_TEST(!r.ok(), bad);
        BOOST_TEST(contains(error_of(r), "malformed percent escape"), bad);
    }
    // Overlong space (the binding's example), a surrogate, a stray byte, a cut sequence.
    for (const char* bad : {"%C0%A0", "%ED%A0%80", "%FF", "a%C3", "%F4%90%80%80"}) {
        auto r = bb::percent_decode(bad);
        BOOST_TEST(!r.ok(), bad);
        BOOST_TEST(contains(error_of(r), "invalid UTF-8"), bad);
    }
}

BOOST_AUTO_TEST_CASE(quoted_header_values_from_older_senders_are_unescaped_then_decoded) {
    BOOST_TEST(bb::decode_header_value(R"("a b")").value() == "a b");
    BOOST_TEST(bb::decode_header_value(R"("say \"hi\"")").value() == "say \"hi\"");
    BOOST_TEST(bb::decode_header_value(R"("a%20b")").value() == "a b");
    BOOST_TEST(bb::decode_header_value("plain%21").value() == "plain!");
    for (const char* bad : {R"("abc)", R"(ab"c)", R"("a"b")", R"("a\")", "\""}) {
        BOOST_TEST(!bb::decode_header_value(bad).ok(), bad);
    }
}

BOOST_AUTO_TEST_CASE(header_value_check_refuses_control_characters_including_tab) {
    for (const auto& good : {""s, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"s,
                             "a b"s, "Zoë 日本"s, "x=\"1\"; y=%20"s}) {
        BOOST_TEST(bb::is_valid_header_value(good), good);
    }
    for (const auto& bad : {"a\tb"s, "\t"s, "a\rb"s, "a\nb"s, "a\r\nX-Evil: 1"s, "a\0b"s, "a\x7f"s,
                            "a\x1b"s, " lead"s, "trail "s, "\xff"s, "\xc3"s}) {
        BOOST_TEST(!bb::is_valid_header_value(bad), bad.size() << " bytes");
    }
    BOOST_TEST(bb::is_valid_header_name("X-Tenant"));
    BOOST_TEST(bb::is_valid_header_name("Bridge-Dlq-Reason"));
    for (const auto& bad : {""s, "Bad Name"s, "a:b"s, "a\r\nb"s, "ü"s}) {
        BOOST_TEST(!bb::is_valid_header_name(bad), bad);
    }
}

BOOST_AUTO_TEST_CASE(subject_tokens_refuse_the_field_injection_inputs_and_wildcards) {
    std::vector<std::string> bad = kInjectionIds;
    for (const auto& more : {""s, "a.b"s, "a*"s, "*"s, ">"s, "a>"s, " "s, "a b"s,
                             "a\u00a0b"s,      // no-break space
                             "a\u2028b"s,      // line separator
                             "a\u3000b"s,      // ideographic space
                             "a\x7f"s,         // DEL
                             "a\xc2\x85"s,     // NEL, a C1 control
                             "\xc3\x28"s,      // invalid UTF-8
                             "\xc0\xae"s,      // overlong '.'
                             "\xed\xa0\x80"s,  // a surrogate
                             std::string(bb::kMaxSubjectTokenBytes + 1, 'a')}) {
        bad.push_back(more);
    }
    for (const auto& token : bad) {
        BOOST_TEST(!bb::is_valid_subject_token(token), token.size() << " bytes");
        BOOST_TEST(!bb::subject_token_problem(token).empty());
    }
    BOOST_TEST(bb::subject_token_problem("a.b") == "contains '.' at byte 1");
    BOOST_TEST(bb::subject_token_problem("room\n") == "contains a control character at byte 4");
}

BOOST_AUTO_TEST_CASE(subject_tokens_accept_ids_in_any_script) {
    for (const auto& good :
         {"room1"s, "Документ"s, "日本語"s, "user-42_x"s, "a#b"s, "🎉"s,
          "50989ed5-d673-40ab-9651-4190a646af8c"s, std::string(bb::kMaxSubjectTokenBytes, 'a')}) {
        BOOST_TEST(bb::is_valid_subject_token(good), good);
    }
}

BOOST_AUTO_TEST_CASE(whole_subjects_are_dot_separated_tokens_without_wildcards) {
    BOOST_TEST(bb::is_valid_subject("events.user.UserCreated"));
    BOOST_TEST(bb::is_valid_subject("a"));
    for (const auto& bad : {""s, ".a"s, "a."s, "a..b"s, "events.*"s, "events.>"s, "a b.c"s,
                            "a.b\r\n"s, std::string(bb::kMaxSubjectBytes + 1, 'a')}) {
        BOOST_TEST(!bb::is_valid_subject(bad), bad);
    }
}

BOOST_AUTO_TEST_CASE(rfc3339_times_are_checked_field_by_field) {
    for (const char* good : {"2026-11-30T08:00:00Z", "2026-11-30T08:00:00.015Z",
                             "2026-11-30t08:00:00z", "2024-02-29T23:59:60+05:30",
                             "2026-11-30T08:00:00.123456789-08:00", "2000-02-29T00:00:00Z"}) {
        BOOST_TEST(bb::is_valid_rfc3339(good), good);
    }
    for (const char* bad :
         {"", "2026-11-30", "2026-11-30 08:00:00Z", "2026-13-01T00:00:00Z", "2025-02-29T00:00:00Z",
          "1900-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-11-30T24:00:00Z",
          "2026-11-30T08:60:00Z", "2026-11-30T08:00:61Z", "2026-11-30T08:00:00",
          "2026-11-30T08:00:00.Z", "2026-11-30T08:00:00+0530", "2026-11-30T08:00:00+24:00",
          "2026-11-30T08:00:00Z ", "2026-11-30T08:00:00Z\n", "yesterday", "2026-1-30T08:00:00Z"}) {
        BOOST_TEST(!bb::is_valid_rfc3339(bad), bad);
    }
}

BOOST_AUTO_TEST_CASE(injection_ids_as_aggregate_id_are_refused_on_every_path) {
    json obj = json::parse(kSampleLines[2]);
    auto wire = bb::encode(sample_event());
    BOOST_TEST_REQUIRE(wire.ok(), error_of(wire));
    for (const auto& id : kInjectionIds) {
        BOOST_TEST_CONTEXT("aggregate id of " << id.size() << " bytes") {
            obj["aggregateId"] = id;
            auto from_input = bb::event_from_json(obj, bb::DataFormat::kMsgpack);
            BOOST_TEST(contains(error_of(from_input), "aggregateId must be one subject token"),
                       error_of(from_input));

            auto e = sample_event();
            e.subject = id;
            auto encoded = bb::encode(e);
            BOOST_TEST(contains(error_of(encoded), "ce-subject (aggregate id) must be one"),
                       error_of(encoded));

            // A sender that percent-encodes its bad id, and one that sends it raw.
            for (const auto& value : {bb::percent_encode(id), id}) {
                auto decoded = bb::decode(replaced(wire->headers, "ce-subject", value), "{}");
                BOOST_TEST(contains(error_of(decoded), "ce-subject"), error_of(decoded));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(injection_ids_and_wildcards_as_type_or_aggregate_type_are_refused) {
    std::vector<std::string> bad = kInjectionIds;
    for (const auto& more : {"User.Admin"s, "User*"s, "*"s, ">"s, "Created>"s, ""s}) {
        bad.push_back(more);
    }
    for (const auto& value : bad) {
        auto e = sample_event();
        e.aggregate_type = value;
        BOOST_TEST(contains(error_of(bb::encode(e)), "ce-aggregatetype"), error_of(bb::encode(e)));
        BOOST_TEST(!bb::event_subject(e).ok());
        e = sample_event();
        e.type = value;
        BOOST_TEST(contains(error_of(bb::encode(e)), "ce-type"), error_of(bb::encode(e)));
        BOOST_TEST(!bb::event_subject(e).ok());
    }
    auto e = sample_event();
    e.aggregate_type = "User.Admin";
    BOOST_TEST(error_of(bb::encode(e)) ==
               "ce-aggregatetype must be one subject token but contains '.' at byte 4: "
               "\"User.Admin\"");
}

BOOST_AUTO_TEST_CASE(missing_required_attributes_are_named_in_encode_errors) {
    struct Row {
        std::string bb::Event::*field;
        std::string expected;
    };
    for (const auto& row : std::vector<Row>{
             {&bb::Event::id, "ce-id is missing"},
             {&bb::Event::type, "ce-type is missing"},
             {&bb::Event::source, "ce-source is missing"},
             {&bb::Event::subject, "ce-subject (aggregate id) is missing"},
             {&bb::Event::aggregate_type, "ce-aggregatetype is missing"},
         }) {
        auto e = sample_event();
        e.*row.field = "";
        BOOST_TEST(error_of(bb::encode(e)) == row.expected);
    }
}

BOOST_AUTO_TEST_CASE(attribute_values_that_break_the_rules_are_refused_by_name) {
    auto e = sample_event();
    e.id = "e 1";
    BOOST_TEST(contains(error_of(bb::encode(e)), "ce-id has a byte outside printable ASCII"));
    e = sample_event();
    e.id = std::string(bb::kMaxEventIdBytes + 1, 'x');
    BOOST_TEST(contains(error_of(bb::encode(e)), "ce-id is longer than 256 bytes"));
    e = sample_event();
    e.time = "30/11/2026";
    BOOST_TEST(contains(error_of(bb::encode(e)), "ce-time is not an RFC 3339 date-time"));
    e = sample_event();
    e.source = "user\r\nservice";
    BOOST_TEST(contains(error_of(bb::encode(e)), "ce-source contains a control character"));
    e = sample_event();
    e.user_id = "bad \xc3\x28 utf8";
    BOOST_TEST(contains(error_of(bb::encode(e)), "ce-userid is not valid UTF-8 at byte 4"));
    e = sample_event();
    e.correlation_id = "c\u0085";  // NEL: CloudEvents forbids C1 controls too
    BOOST_TEST(contains(error_of(bb::encode(e)), "ce-correlationid contains a control"));
}

BOOST_AUTO_TEST_CASE(missing_or_wrong_headers_are_named_in_decode_errors) {
    auto wire = bb::encode(sample_event());
    BOOST_TEST_REQUIRE(wire.ok(), error_of(wire));
    struct Row {
        bb::HeaderList headers;
        std::string expected;
    };
    for (const auto& row : std::vector<Row>{
             {without(wire->headers, "ce-id"), "ce-id is missing"},
             {without(wire->headers, "ce-type"), "ce-type is missing"},
             {without(wire->headers, "ce-source"), "ce-source is missing"},
             {without(wire->headers, "ce-subject"), "ce-subject (aggregate id) is missing"},
             {without(wire->headers, "ce-aggregatetype"), "ce-aggregatetype is missing"},
             {without(wire->headers, "ce-specversion"), "header ce-specversion is missing"},
             {replaced(wire->headers, "ce-specversion", "0.3"),
              "header ce-specversion is not 1.0: \"0.3\""},
             {replaced(wire->headers, "ce-datacontenttype", "text/plain"),
              "header ce-datacontenttype: unsupported media type \"text/plain\""},
             {replaced(wire->headers, "ce-time", "soon"),
              "ce-time is not an RFC 3339 date-time: \"soon\""},
             {replaced(wire->headers, "ce-source", "bad%2"),
              "header ce-source has a malformed percent escape at byte 3: \"bad%2\""},
             {replaced(wire->headers, "ce-source", "%C3%28"),
              "header ce-source decodes to invalid UTF-8 at byte 0: \"%C3%28\""},
             {replaced(wire->headers, "traceparent", "00-ab\tcd"),
              "traceparent contains a control character at byte 5: \"00-ab\\x09cd\""},
         }) {
        BOOST_TEST(error_of(bb::decode(row.headers, wire->body)) == row.expected);
    }
    BOOST_TEST(contains(error_of(bb::decode({}, "")), "ce-specversion is missing"));
}

BOOST_AUTO_TEST_CASE(header_names_are_matched_case_insensitively_and_repeats_are_refused) {
    auto wire = bb::encode(sample_event());
    BOOST_TEST_REQUIRE(wire.ok(), error_of(wire));
    bb::HeaderList shouting;
    for (auto [name, value] : wire->headers) {
        if (name.rfind("ce-", 0) == 0) name = "CE-" + name.substr(3);
        shouting.emplace_back(name, value);
    }
    auto back = bb::decode(shouting, wire->body);
    BOOST_TEST_REQUIRE(back.ok(), error_of(back));
    BOOST_TEST((*back == sample_event()));

    auto twice = wire->headers;
    twice.emplace_back("Ce-Id", "e-2");
    BOOST_TEST(error_of(bb::decode(twice, wire->body)) == "header ce-id appears more than once");
    twice = wire->headers;
    twice.emplace_back("traceparent", "00-ff-ff-01");
    BOOST_TEST(contains(error_of(bb::decode(twice, wire->body)), "traceparent appears more"));
}

BOOST_AUTO_TEST_CASE(extra_headers_pass_through_unless_they_would_corrupt_the_envelope) {
    auto e = sample_event();
    e.extra_headers = {{"Bridge-Dlq-Reason", "reject"},
                       {"X-Dup", "1"},
                       {"X-Dup", "2"},
                       {"Content-Type", "application/msgpack"},
                       {"ce-tenantid", "acme%20co"}};
    auto wire = bb::encode(e);
    BOOST_TEST_REQUIRE(wire.ok(), error_of(wire));
    auto back = bb::decode(wire->headers, wire->body);
    BOOST_TEST_REQUIRE(back.ok(), error_of(back));
    BOOST_TEST(show(back->extra_headers) == show(e.extra_headers));

    struct Row {
        bb::HeaderList extras;
        std::string expected;
    };
    for (const auto& row : std::vector<Row>{
             {{{"ce-id", "x"}}, "extra header ce-id would repeat an envelope header"},
             {{{"NATS-MSG-ID", "x"}}, "extra header NATS-MSG-ID would repeat an envelope header"},
             {{{"Traceparent", "x"}}, "extra header Traceparent would repeat an envelope header"},
             {{{"X-Bad", "a\r\nb"}}, "extra header X-Bad contains a control character at byte 1"},
             {{{"Bad Name", "x"}}, "extra header name is not an RFC 7230 token"},
             {{{"Content-Type", "application/cloudevents+json"}},
              "extra header Content-Type would mark the message structured"},
         }) {
        e.extra_headers = row.extras;
        BOOST_TEST(contains(error_of(bb::encode(e)), row.expected), error_of(bb::encode(e)));
    }
    e = sample_event();
    e.traceparent = "00-abc\r\nX-Evil: 1";
    BOOST_TEST(contains(error_of(bb::encode(e)), "traceparent contains a control character"));
}

BOOST_AUTO_TEST_CASE(truncated_msgpack_is_refused) {
    auto full = bb::json_to_msgpack(json{{"a", "bc"}, {"n", 300}}).value();
    for (std::size_t cut = 1; cut < full.size(); ++cut) {
        BOOST_TEST(!bb::msgpack_to_json(full.substr(0, cut)).ok(), cut);
        BOOST_TEST(!bb::check_msgpack(full.substr(0, cut)).ok(), cut);
    }
    BOOST_TEST(contains(error_of(bb::msgpack_to_json("\xd9\x05"
                                                     "ab")),
                        "truncated"));
    BOOST_TEST(contains(error_of(bb::msgpack_to_json("\xcb\x00"s)), "truncated"));
    BOOST_TEST(contains(error_of(bb::msgpack_to_json("\xc6\xff\xff\xff\xff")), "truncated"));
    BOOST_TEST(error_of(bb::msgpack_to_json("")) == "msgpack data is empty");
    BOOST_TEST(contains(error_of(bb::msgpack_to_json("\xc1")), "unused type byte 0xc1"));
}

BOOST_AUTO_TEST_CASE(array32_of_four_billion_elements_fails_fast_without_allocating) {
    auto start = std::chrono::steady_clock::now();
    auto array = bb::msgpack_to_json("\xdd\xff\xff\xff\xff");
    auto map = bb::msgpack_to_json("\xdf\xff\xff\xff\xff");
    auto elapsed = std::chrono::steady_clock::now() - start;
    // Refused by the length check, before msgpack-cxx could reserve ~100 GB for the elements.
    BOOST_TEST(error_of(array) ==
               "msgpack data declares 4294967295 values at byte 0 with only 0 bytes left");
    BOOST_TEST(contains(error_of(map), "declares 8589934590 values"), error_of(map));
    BOOST_TEST((elapsed < std::chrono::milliseconds(500)));

    auto e = sample_event();
    e.format = bb::DataFormat::kMsgpack;
    e.data = "\xdd\xff\xff\xff\xff";
    BOOST_TEST(contains(error_of(bb::encode(e)), "data: msgpack data declares"));
}

BOOST_AUTO_TEST_CASE(nested_lengths_the_input_cannot_back_are_refused_before_unpacking) {
    // 60 levels each declaring 15 elements: small in bytes, large once reserved level by level.
    std::string bytes(60, '\x9f');
    BOOST_TEST(contains(error_of(bb::msgpack_to_json(bytes)), "declares 15 values"));
    // Exactly backed counts pass: [[nil, nil], nil].
    BOOST_TEST(bb::msgpack_to_json("\x92\x92\xc0\xc0\xc0").value() ==
               json::parse("[[null,null],null]"));
}

BOOST_AUTO_TEST_CASE(msgpack_with_trailing_bytes_is_refused) {
    BOOST_TEST(error_of(bb::msgpack_to_json("\x01\x02")) ==
               "msgpack data has trailing bytes from byte 1");
    auto e = sample_event();
    e.format = bb::DataFormat::kMsgpack;
    e.data = bb::json_to_msgpack(json{{"a", 1}}).value() + "x";
    BOOST_TEST(contains(error_of(bb::encode(e)), "trailing bytes"));
    BOOST_TEST(contains(error_of(bb::data_as_json(e)), "trailing bytes"));
}

BOOST_AUTO_TEST_CASE(msgpack_nested_deeper_than_the_cap_is_refused) {
    BOOST_TEST(bb::msgpack_to_json(nested_arrays(bb::kMaxDataDepth)).ok());
    BOOST_TEST(contains(error_of(bb::msgpack_to_json(nested_arrays(bb::kMaxDataDepth + 1))),
                        "nests deeper than 64"));
    BOOST_TEST(!bb::check_msgpack(nested_arrays(100000)).ok());
    json deep = nullptr;
    for (std::size_t i = 0; i <= bb::kMaxDataDepth; ++i) deep = json::array({deep});
    BOOST_TEST(contains(error_of(bb::json_to_msgpack(deep)), "nests deeper than 64"));
}

BOOST_AUTO_TEST_CASE(msgpack_without_a_json_form_is_refused_for_json_output) {
    struct Row {
        std::string bytes, expected;
    };
    for (const auto& row : std::vector<Row>{
             {"\x81\x01\x02", "map key that is not a string"},
             {"\x82\xa1"
              "a\x01\xa1"
              "a\x02",
              "repeats the map key \"a\""},
             {"\xc4\x01\x00"s, "bin value"},
             {"\xd4\x01\x00"s, "ext value"},
             {"\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00"s, "NaN or infinite"},
             {"\xa2\xc3\x28", "not valid UTF-8"},
         }) {
        BOOST_TEST(bb::check_msgpack(row.bytes).ok());  // well-formed msgpack all the same
        auto r = bb::msgpack_to_json(row.bytes);
        BOOST_TEST(contains(error_of(r), row.expected), error_of(r));
    }
    auto e = sample_event();
    e.format = bb::DataFormat::kMsgpack;
    e.data = "\x81\x01\x02";
    auto shown = bb::event_to_json(e);
    BOOST_TEST(shown["data_base64"] == "gQEC");
    BOOST_TEST(!shown.contains("data"));
}

BOOST_AUTO_TEST_CASE(json_and_msgpack_convert_both_ways_without_loss) {
    json value = json::parse(R"({"neg": -5, "big": 18446744073709551615,
        "min": -9223372036854775808, "f": 1.5, "d": 0.1, "s": "ñ\u0000\u001b 😀",
        "arr": [null, true, false, [], {}], "obj": {"": ""}})");
    auto packed = bb::json_to_msgpack(value);
    BOOST_TEST_REQUIRE(packed.ok(), error_of(packed));
    auto back = bb::msgpack_to_json(*packed);
    BOOST_TEST_REQUIRE(back.ok(), error_of(back));
    BOOST_TEST(*back == value);
    BOOST_TEST(back->dump() == value.dump());

    BOOST_TEST(contains(error_of(bb::json_to_msgpack(json(std::nan("")))), "NaN"));
    BOOST_TEST(contains(error_of(bb::json_to_msgpack(json::binary({1, 2}))), "binary"));
    BOOST_TEST(contains(error_of(bb::json_to_msgpack(json("\xff"))), "not valid UTF-8"));
    BOOST_TEST(contains(error_of(bb::json_to_msgpack(json{{"\xff", 1}})), "key"));
}

BOOST_AUTO_TEST_CASE(json_data_that_is_malformed_too_deep_or_not_utf8_is_refused) {
    struct Row {
        std::string text, expected;
    };
    std::string deep = std::string(bb::kMaxDataDepth + 1, '[') + std::string(65, ']');
    for (const auto& row : std::vector<Row>{
             {R"({"a":)", "JSON text has a syntax error at byte"},
             {R"({"a":1} x)", "JSON text has a syntax error at byte"},
             {"\"a\nb\"", "JSON text has a syntax error"},  // raw control char in a string
             {"\"\xff\"", "JSON text is not valid UTF-8 at byte"},
             {deep, "JSON text nests deeper than 64"},
             {"1e400", "JSON text holds a number too large for a double"},
         }) {
        auto e = sample_event();
        e.data = row.text;
        BOOST_TEST(contains(error_of(bb::data_as_json_value(e)), row.expected),
                   error_of(bb::data_as_json_value(e)));
        BOOST_TEST(contains(error_of(bb::encode(e)), "data: " + row.expected),
                   error_of(bb::encode(e)));
    }
    auto e = sample_event();
    e.data = std::string(bb::kMaxDataDepth, '[') + std::string(bb::kMaxDataDepth, ']');
    BOOST_TEST(bb::encode(e).ok());
}

BOOST_AUTO_TEST_CASE(an_event_without_data_reads_as_json_null) {
    auto e = sample_event();
    e.data.clear();
    auto wire = bb::encode(e);
    BOOST_TEST_REQUIRE(wire.ok(), error_of(wire));
    auto back = bb::decode(wire->headers, wire->body);
    BOOST_TEST_REQUIRE(back.ok(), error_of(back));
    BOOST_TEST(back->data.empty());
    BOOST_TEST(bb::data_as_json(*back).value() == "null");
}

BOOST_AUTO_TEST_CASE(structured_mode_with_a_json_data_member_decodes) {
    bb::HeaderList headers = {{"Content-Type", "Application/CloudEvents+JSON; charset=utf-8"},
                              {"Nats-Msg-Id", "dlq-copy-7"},
                              {"X-Other", "1"}};
    std::string body = R"({"specversion": "1.0", "id": "e-1", "type": "UserCreated",
        "source": "user-service", "subject": "u-42", "aggregatetype": "User",
        "time": "2026-11-30T08:00:00.015Z", "userid": "Zoë", "dataversion": "1",
        "datacontenttype": "application/json", "dataschema": null,
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "tenant": "acme co", "priority": 3, "data": {"name": "Zoë", "html": "<b>x</b>"}})";
    auto e = bb::decode(headers, body);
    BOOST_TEST_REQUIRE(e.ok(), error_of(e));
    BOOST_TEST(e->id == "e-1");
    BOOST_TEST(e->subject == "u-42");
    BOOST_TEST(e->user_id == "Zoë");
    BOOST_TEST((e->format == bb::DataFormat::kJson));
    BOOST_TEST(json::parse(e->data) == json::parse(R"({"name": "Zoë", "html": "<b>x</b>"})"));
    BOOST_TEST(show(e->extra_headers) == "X-Other: 1\nce-priority: 3\nce-tenant: acme%20co\n");

    auto wire = bb::encode(*e);  // re-published in binary mode
    BOOST_TEST_REQUIRE(wire.ok(), error_of(wire));
    BOOST_TEST(*bb::find_header(wire->headers, "ce-tenant") == "acme%20co");
    BOOST_TEST(bb::find_header(wire->headers, "content-type") == nullptr);
}

BOOST_AUTO_TEST_CASE(structured_mode_with_data_base64_decodes_msgpack) {
    auto packed = bb::json_to_msgpack(json{{"a", 1}, {"s", "日本"}}).value();
    json body = {{"specversion", "1.0"},
                 {"id", "e-2"},
                 {"type", "MessageSent"},
                 {"source", "chat-service"},
                 {"subject", "m-1"},
                 {"aggregatetype", "Message"},
                 {"datacontenttype", "application/msgpack"},
                 {"data_base64", bb::base64_encode(packed)}};
    auto e = bb::decode({{"content-type", "application/cloudevents+json"}}, body.dump());
    BOOST_TEST_REQUIRE(e.ok(), error_of(e));
    BOOST_TEST((e->format == bb::DataFormat::kMsgpack));
    BOOST_TEST(e->data == packed);
    BOOST_TEST(bb::data_as_json_value(*e).value() == json({{"a", 1}, {"s", "日本"}}));
}

BOOST_AUTO_TEST_CASE(structured_mode_refuses_ambiguous_or_unsupported_input) {
    json good = {{"specversion", "1.0"},     {"id", "e-1"},       {"type", "UserCreated"},
                 {"source", "user-service"}, {"subject", "u-42"}, {"aggregatetype", "User"},
                 {"data", {{"a", 1}}}};
    bb::HeaderList ct = {{"Content-Type", "application/cloudevents+json"}};
    BOOST_TEST_REQUIRE(bb::decode(ct, good.dump()).ok(), error_of(bb::decode(ct, good.dump())));
    auto with = [&](const char* key, json value) {
        json j = good;
        if (value.is_discarded()) {
            j.erase(key);
        } else {
            j[key] = value;
        }
        return error_of(bb::decode(ct, j.dump()));
    };
    auto gone = json(json::value_t::discarded);
    BOOST_TEST(with("data_base64", "AQ==") == "event has both data and data_base64");
    BOOST_TEST(contains(with("datacontenttype", "text/plain"), "unsupported media type"));
    BOOST_TEST(with("specversion", "0.3") == "attribute specversion is not 1.0: \"0.3\"");
    BOOST_TEST(with("specversion", gone) == "attribute specversion is missing");
    BOOST_TEST(with("id", 7) == "attribute id must be a string");
    BOOST_TEST(with("id", gone) == "attribute id is missing");
    BOOST_TEST(contains(with("subject", "a.b"), "attribute subject (aggregate id) must be one"));
    BOOST_TEST(contains(with("Bad-Name", 1), "attribute name is not [a-z0-9]"));
    BOOST_TEST(contains(with("nested", json::object()), "must be a string, integer or boolean"));

    auto body = good.dump();
    auto refused = [&](bb::HeaderList headers, std::string_view b) {
        return error_of(bb::decode(headers, b));
    };
    BOOST_TEST(contains(refused({{"Content-Type", "application/cloudevents-batch+json"}}, body),
                        "unsupported event format"));
    BOOST_TEST(contains(refused({{"Content-Type", "application/cloudevents+avro"}}, body),
                        "unsupported event format"));
    BOOST_TEST(refused({ct[0], {"ce-id", "e-9"}}, body) ==
               "header ce-id in a structured-mode message");
    BOOST_TEST(contains(refused(ct, "[1, 2]"), "is not a JSON object"));
    BOOST_TEST(contains(refused(ct, "{\"id\": "), "syntax error"));
    json traced = good;
    traced["traceparent"] = "00-cc-dd-01";
    BOOST_TEST(refused({ct[0], {"traceparent", "00-aa-bb-01"}}, traced.dump()) ==
               "traceparent header and attribute differ");
    BOOST_TEST(bb::decode({ct[0], {"traceparent", "00-cc-dd-01"}}, traced.dump()).ok());
    json bad64 = good;
    bad64.erase("data");
    bad64["data_base64"] = "not base64!";
    BOOST_TEST(contains(refused(ct, bad64.dump()), "data_base64 is not base64"));
}

BOOST_AUTO_TEST_CASE(event_to_json_output_decodes_back_as_structured_mode) {
    for (const auto& line : kSampleLines) {
        for (auto format : {bb::DataFormat::kMsgpack, bb::DataFormat::kJson}) {
            auto e = bb::event_from_json(json::parse(line), format);
            BOOST_TEST_REQUIRE(e.ok(), error_of(e));
            json shown = bb::event_to_json(*e);
            BOOST_TEST(shown["specversion"] == "1.0");
            BOOST_TEST(shown["datacontenttype"] == std::string(bb::content_type(format)));
            BOOST_TEST(shown["data"] == json::parse(line)["data"]);
            auto back = bb::decode({{"Content-Type", std::string(bb::kContentTypeStructured)}},
                                   shown.dump());
            BOOST_TEST_REQUIRE(back.ok(), error_of(back));
            BOOST_TEST((*back == *e));  // msgpack too: both sides pack the value the same way
        }
    }
    auto e = sample_event();
    json shown = bb::event_to_json(e);
    BOOST_TEST(shown["headers"] == json::parse(R"([["X-Tenant", "acme"]])"));
    BOOST_TEST(shown["aggregatetype"] == "User");
    BOOST_TEST(shown["datacontenttype"] == "application/json");
}

BOOST_AUTO_TEST_CASE(event_from_json_errors_name_the_field) {
    json good = json::parse(kSampleLines[0]);
    auto error_with = [&](auto change) {
        json obj = good;
        change(obj);
        return error_of(bb::event_from_json(obj, bb::DataFormat::kMsgpack));
    };
    BOOST_TEST(error_with([](json& o) { o.erase("id"); }) == "id is missing");
    BOOST_TEST(error_with([](json& o) { o["id"] = 12; }) == "id must be a string");
    BOOST_TEST(error_with([](json& o) { o.erase("type"); }) == "type is missing");
    BOOST_TEST(error_with([](json& o) { o.erase("aggregateId"); }) == "aggregateId is missing");
    BOOST_TEST(error_with([](json& o) { o.erase("data"); }) == "data is missing");
    BOOST_TEST(error_with([](json& o) { o["metadata"].erase("source"); }) ==
               "metadata.source is missing");
    BOOST_TEST(error_with([](json& o) { o["metadata"]["timestamp"] = "yesterday"; }) ==
               "metadata.timestamp is not an RFC 3339 date-time: \"yesterday\"");
    BOOST_TEST(error_with([](json& o) { o["metadata"]["userId"] = json::array(); }) ==
               "metadata.userId must be a string");
    BOOST_TEST(error_with([](json& o) { o["metadata"]["version"] = 2.5; }) ==
               "metadata.version must be an integer or a string");
    BOOST_TEST(error_with([](json& o) { o["metadata"] = "x"; }) == "metadata must be an object");
    BOOST_TEST(error_with([](json& o) { o["aggregateID"] = "x"; }) ==
               "event has an unknown field: \"aggregateID\"");
    BOOST_TEST(error_with([](json& o) { o["metadata"]["tenant"] = "x"; }) ==
               "metadata has an unknown field: \"tenant\"");
    BOOST_TEST(contains(error_with([](json& o) { o["aggregateType"] = "User.Admin"; }),
                        "aggregateType must be one subject token but contains '.'"));
    BOOST_TEST(error_of(bb::event_from_json(json::array(), bb::DataFormat::kJson)) ==
               "event is not a JSON object");

    json versioned = good;
    versioned["metadata"]["version"] = "v2";
    versioned["metadata"]["causationId"] = "cause-1";
    auto e = bb::event_from_json(versioned, bb::DataFormat::kJson);
    BOOST_TEST_REQUIRE(e.ok(), error_of(e));
    BOOST_TEST(e->data_version == "v2");
    BOOST_TEST(e->causation_id == "cause-1");
    BOOST_TEST(e->source == "user-service");
    BOOST_TEST(e->user_id == "b5048c5b-b228-4e85-b40d-303876e03ff9");
    BOOST_TEST(e->correlation_id == "d6f79e95-8f65-4f9a-b454-bb569680b757");
}

BOOST_AUTO_TEST_CASE(error_texts_stay_short_and_free_of_control_characters) {
    auto e = sample_event();
    e.subject = std::string(1 << 20, 'a') + "\r\nPUB x 1\r\n";
    auto wire = bb::encode(sample_event());
    BOOST_TEST_REQUIRE(wire.ok(), error_of(wire));
    std::vector<std::string> errors = {
        error_of(bb::encode(e)),
        error_of(bb::decode(
            replaced(wire->headers, "ce-source", "\r\n" + std::string(1 << 20, 'x')), wire->body)),
        error_of(
            bb::decode(replaced(wire->headers, "ce-type", std::string(1 << 20, '%')), wire->body)),
    };
    for (const auto& text : errors) {
        BOOST_TEST(text.size() < 200u, text.size());
        BOOST_TEST(printable_ascii(text), text);
        BOOST_TEST(bb::is_valid_header_value(text));
    }
}

BOOST_AUTO_TEST_CASE(base64_round_trips_and_refuses_bad_input) {
    for (const auto& bytes : {""s, "f"s, "fo"s, "foo"s, "foob"s, "\x00\xff\x10"s}) {
        BOOST_TEST(bb::base64_decode(bb::base64_encode(bytes)).value() == bytes);
    }
    BOOST_TEST(bb::base64_encode("foobar") == "Zm9vYmFy");
    BOOST_TEST(bb::base64_encode("fo") == "Zm8=");
    for (const char* bad : {"Zm9", "Zm=v", "Zm9v YmFy", "====", "Zm8=Zm8="}) {
        BOOST_TEST(!bb::base64_decode(bad).ok(), bad);
    }
}

// Found by fuzz_envelope: "AA9=" decoded to the bytes of "AA8=", so two texts meant the same
// bytes and the text did not survive a round trip.
BOOST_AUTO_TEST_CASE(base64_with_non_zero_bits_before_the_padding_is_refused) {
    for (const char* bad : {"AA9=", "AA5=", "AAB=", "AB==", "Zm9=", "Zh=="}) {
        auto decoded = bb::base64_decode(bad);
        BOOST_TEST(!decoded.ok(), bad);
        if (!decoded.ok()) BOOST_TEST(decoded.error().what.find("canonical") != std::string::npos);
    }
    for (const char* good : {"AA8=", "AA==", "Zm8=", "Zg=="}) {
        BOOST_TEST(bb::base64_decode(good).ok(), good);
    }
}

BOOST_AUTO_TEST_CASE(content_types_map_to_data_formats) {
    BOOST_TEST((bb::parse_content_type("application/json").value() == bb::DataFormat::kJson));
    BOOST_TEST((bb::parse_content_type("Application/JSON; charset=utf-8").value() ==
                bb::DataFormat::kJson));
    BOOST_TEST(
        (bb::parse_content_type("application/vnd.acme+json").value() == bb::DataFormat::kJson));
    BOOST_TEST((bb::parse_content_type("application/msgpack").value() == bb::DataFormat::kMsgpack));
    BOOST_TEST(
        (bb::parse_content_type("application/x-msgpack").value() == bb::DataFormat::kMsgpack));
    BOOST_TEST(!bb::parse_content_type("text/plain").ok());
    BOOST_TEST(!bb::parse_content_type("").ok());

    // A binary-mode message without ce-datacontenttype carries msgpack (the default).
    auto e = sample_event();
    e.format = bb::DataFormat::kMsgpack;
    e.data = bb::json_to_msgpack(json{{"a", 1}}).value();
    auto wire = bb::encode(e);
    BOOST_TEST_REQUIRE(wire.ok(), error_of(wire));
    auto back = bb::decode(without(wire->headers, "ce-datacontenttype"), wire->body);
    BOOST_TEST_REQUIRE(back.ok(), error_of(back));
    BOOST_TEST((back->format == bb::DataFormat::kMsgpack));
}

// The handler host writes data as JSON text straight from msgpack; plugins must see the
// same text the json value route gives, and the same errors.
namespace {

std::string msgpack_of(const json& v) {
    auto bytes = json::to_msgpack(v);
    return std::string(bytes.begin(), bytes.end());
}

// A random JSON value of bounded depth from a seeded generator (repeatable).
json random_value(std::mt19937& rng, int depth) {
    std::uniform_int_distribution<int> kind(0, depth > 3 ? 5 : 7);
    static const std::vector<std::string> kStrings = {
        "",          "a",    "zeta",         "Ab",          "quote\"",          "back\\slash",
        "tab\there", "nl\n", "\x01\x1f\x7f", "caf\xc3\xa9", "\xf0\x9f\x98\x80", "/",
        "key",       "Key",  "k\u0000ey"s};
    switch (kind(rng)) {
        case 0:
            return nullptr;
        case 1:
            return std::uniform_int_distribution<int>(0, 1)(rng) == 1;
        case 2:
            return std::uniform_int_distribution<int64_t>(INT64_MIN, INT64_MAX)(rng);
        case 3:
            return std::uniform_int_distribution<uint64_t>(0, UINT64_MAX)(rng);
        case 4: {
            double pick[] = {0.1, 1.0, -0.0, 1e300, 2.5e-300, 123456.789, -7.25, 1e21};
            return pick[std::uniform_int_distribution<int>(0, 7)(rng)];
        }
        case 5:
            return kStrings[std::uniform_int_distribution<size_t>(0, kStrings.size() - 1)(rng)];
        case 6: {
            json a = json::array();
            int n = std::uniform_int_distribution<int>(0, 4)(rng);
            for (int i = 0; i < n; ++i) a.push_back(random_value(rng, depth + 1));
            return a;
        }
        default: {
            json o = json::object();
            int n = std::uniform_int_distribution<int>(0, 6)(rng);
            for (int i = 0; i < n; ++i) {
                o[kStrings[std::uniform_int_distribution<size_t>(0, kStrings.size() - 1)(rng)]] =
                    random_value(rng, depth + 1);
            }
            return o;
        }
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(msgpack_data_as_json_text_matches_the_json_value_route) {
    std::mt19937 rng(20261204);
    for (int i = 0; i < 500; ++i) {
        std::string bytes = msgpack_of(random_value(rng, 0));
        auto text = bb::msgpack_to_json_text(bytes);
        auto value = bb::msgpack_to_json(bytes);
        BOOST_TEST_REQUIRE(value.ok(), error_of(value));
        BOOST_TEST_REQUIRE(text.ok(), error_of(text));
        BOOST_TEST(*text == value->dump());
    }
    // A map of more than 32 keys, written in reverse order.
    json big = json::object();
    for (int i = 0; i < 40; ++i) big["k" + std::to_string(39 - i)] = i;
    BOOST_TEST(*bb::msgpack_to_json_text(msgpack_of(big)) == big.dump());
}

BOOST_AUTO_TEST_CASE(msgpack_data_as_json_text_refuses_what_the_json_value_route_refuses) {
    const std::vector<std::string> bad = {
        "\x82\xa1"
        "a"
        "\x01\xa1"
        "a"
        "\x02"s,                                  // {"a":1,"a":2}
        "\x81\x01\x02"s,                          // {1:2}
        "\xa2\xc3\x28"s,                          // a string that is not UTF-8
        "\xc4\x01\x00"s,                          // bin
        "\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00"s,  // NaN
        "\x91\xc1"s,                              // the unused type byte
        "\x92\x01"s,                              // truncated
        "\x01\x02"s,                              // trailing bytes
    };
    // Forty distinct keys, then the first again: the repeat is found in a large map too.
    std::string many = "\xde\x00\x29"s;
    for (int i = 0; i < 41; ++i) {
        int k = i % 40;
        many += "\xa3k"s + char('0' + k / 10) + char('0' + k % 10) + "\x01"s;
    }
    for (const auto& bytes : bad) {
        auto text = bb::msgpack_to_json_text(bytes);
        auto value = bb::msgpack_to_json(bytes);
        BOOST_TEST_REQUIRE(!value.ok());
        BOOST_TEST_REQUIRE(!text.ok());
        BOOST_TEST(error_of(text) == error_of(value));
    }
    auto text = bb::msgpack_to_json_text(many);
    BOOST_TEST_REQUIRE(!text.ok());
    BOOST_TEST(error_of(text) == error_of(bb::msgpack_to_json(many)));
}

BOOST_AUTO_TEST_SUITE_END()
