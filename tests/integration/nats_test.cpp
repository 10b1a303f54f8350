#define BOOST_TEST_MODULE bb_itest_nats
#include <boost/test/unit_test.hpp>

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "broker-bridge/errors.hpp"
#include "broker-bridge/nats_client.hpp"
#include "broker-bridge/nats_handles.hpp"
#include "broker-bridge/nkey.hpp"
#include "broker-bridge/provisioner.hpp"
#include "integration/nats_server.hpp"
#include "integration/wait.hpp"

using namespace std::chrono_literals;
using bb::itest::NatsServer;
using bb::itest::wait_until;

namespace {

constexpr int64_t kNanosPerMilli = 1'000'000;

// The error text of a failed Result, "" for a good one: BOOST_TEST evaluates its message
// even when the check passes.
template <typename T>
std::string failure(const bb::Result<T>& r) {
    return r.ok() ? std::string() : r.error().what;
}

// Short reconnect waits keep the restart cases quick; the schedule itself is tested below.
bb::NatsConfig client_config(const std::string& url) {
    bb::NatsConfig c;
    c.url = url;
    c.connect_timeout = 1000ms;
    c.reconnect_wait = 20ms;
    c.reconnect_wait_max = 200ms;
    c.request_timeout = 3000ms;
    return c;
}

bb::NatsClient connect_now(const bb::NatsConfig& config) {
    auto client = bb::NatsClient::connect(config, "itest");
    BOOST_TEST_REQUIRE(client.wait_connected(10s));
    return client;
}

bb::StreamConfig events_stream() {
    bb::StreamConfig s;
    s.name = "EVENTS";
    s.subjects = {"events.>"};
    s.storage = bb::Storage::kFile;
    s.max_age = 1h;
    s.duplicate_window = 2min;
    return s;
}

bb::BucketConfig sessions_bucket() {
    bb::BucketConfig b;
    b.name = "sessions";
    b.storage = bb::Storage::kFile;
    b.history = 1;
    b.ttl = 1h;
    return b;
}

bb::JsStreamInfo stream_info(jsCtx* js, const std::string& name) {
    jsStreamInfo* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&raw, js, name.c_str(), nullptr, &jerr);
    BOOST_TEST_REQUIRE(s == NATS_OK, "stream info " << name << ": " << natsStatus_GetText(s));
    return bb::JsStreamInfo(raw);
}

// Creates a stream behind the provisioner's back, as another tool or an older release would.
void add_raw_stream(jsCtx* js, const char* name, const char* subject, jsRetentionPolicy retention,
                    bool allow_direct) {
    const char* subjects[] = {subject};
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = name;
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Retention = retention;
    sc.AllowDirect = allow_direct;
    jsStreamInfo* raw = nullptr;
    natsStatus s = js_AddStream(&raw, js, &sc, nullptr, nullptr);
    bb::JsStreamInfo created(raw);
    BOOST_TEST_REQUIRE(s == NATS_OK);
}

bb::NatsMsg stored_message(jsCtx* js, const char* stream, uint64_t seq) {
    natsMsg* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetMsg(&raw, js, stream, seq, nullptr, &jerr);
    BOOST_TEST_REQUIRE(s == NATS_OK, "get " << stream << " seq " << seq);
    return bb::NatsMsg(raw);
}

uint64_t message_count(jsCtx* js, const std::string& stream) {
    auto status = bb::stream_status(js, stream);
    BOOST_TEST_REQUIRE(status.ok(), failure(status));
    return status->messages;
}

// A StartupError whose text is exactly `expected`.
auto startup_error_is(const std::string& expected) {
    return [expected](const bb::StartupError& e) {
        BOOST_TEST(std::string(e.what()) == expected);
        return std::string(e.what()) == expected;
    };
}

auto startup_error_contains(const std::string& part) {
    return [part](const bb::StartupError& e) {
        BOOST_TEST_MESSAGE("startup error: " << e.what());
        return std::string(e.what()).find(part) != std::string::npos;
    };
}

// A private folder for files a server or client needs before it starts.
struct TempDir {
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "bb-itest-XXXXXX");
        BOOST_TEST_REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string file(const std::string& name, const std::string& content = {}) const {
        auto p = path / name;
        if (!content.empty()) std::ofstream(p) << content;
        return p.string();
    }
    std::filesystem::path path;
};

struct NatsFixture {
    NatsServer server;
    bb::NatsClient client = connect_now(client_config(server.url()));
    jsCtx* js() const { return client.js(); }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(stream_provisioning, NatsFixture)

BOOST_AUTO_TEST_CASE(ensure_stream_twice_creates_once_then_reports_up_to_date) {
    BOOST_TEST((bb::ensure_stream(js(), events_stream()) == bb::Provisioned::kCreated));
    int64_t created_at = stream_info(js(), "EVENTS")->Created;

    BOOST_TEST((bb::ensure_stream(js(), events_stream()) == bb::Provisioned::kUpToDate));

    auto info = stream_info(js(), "EVENTS");
    BOOST_TEST(info->Created == created_at);
    BOOST_TEST(info->Config->AllowDirect);
    BOOST_TEST(info->Config->Retention == js_LimitsPolicy);
    BOOST_TEST(info->Config->MaxAge == 3600LL * 1000 * kNanosPerMilli);
    BOOST_TEST(info->Config->Duplicates == 120LL * 1000 * kNanosPerMilli);
}

BOOST_AUTO_TEST_CASE(changing_max_age_updates_the_stream_and_keeps_its_messages) {
    bb::ensure_stream(js(), events_stream());
    BOOST_TEST_REQUIRE(client.js_publish("events.user.UserCreated", {}, "one", "").ok());

    auto config = events_stream();
    config.max_age = 2h;
    BOOST_TEST((bb::ensure_stream(js(), config) == bb::Provisioned::kUpdated));

    BOOST_TEST(stream_info(js(), "EVENTS")->Config->MaxAge == 7200LL * 1000 * kNanosPerMilli);
    BOOST_TEST(message_count(js(), "EVENTS") == 1u);
    BOOST_TEST((bb::ensure_stream(js(), config) == bb::Provisioned::kUpToDate));
}

BOOST_AUTO_TEST_CASE(adding_a_subject_updates_the_stream) {
    bb::ensure_stream(js(), events_stream());
    auto config = events_stream();
    config.subjects = {"events.>", "orders.>"};

    BOOST_TEST((bb::ensure_stream(js(), config) == bb::Provisioned::kUpdated));

    BOOST_TEST(stream_info(js(), "EVENTS")->Config->SubjectsLen == 2);
    BOOST_TEST(client.js_publish("orders.created", {}, "x", "").ok());
    config.subjects = {"orders.>", "events.>"};  // order does not matter
    BOOST_TEST((bb::ensure_stream(js(), config) == bb::Provisioned::kUpToDate));
}

BOOST_AUTO_TEST_CASE(changing_storage_is_refused_with_a_clear_message) {
    auto memory = events_stream();
    memory.storage = bb::Storage::kMemory;
    bb::ensure_stream(js(), memory);

    BOOST_CHECK_EXCEPTION(bb::ensure_stream(js(), events_stream()), bb::StartupError,
                          startup_error_is("stream EVENTS exists with storage memory, config says "
                                           "file: storage cannot change; delete the stream or "
                                           "fix the config"));
    BOOST_TEST(stream_info(js(), "EVENTS")->Config->Storage == js_MemoryStorage);
}

BOOST_AUTO_TEST_CASE(a_work_queue_stream_is_refused_because_retention_cannot_change) {
    add_raw_stream(js(), "EVENTS", "events.>", js_WorkQueuePolicy, true);

    BOOST_CHECK_EXCEPTION(bb::ensure_stream(js(), events_stream()), bb::StartupError,
                          startup_error_is("stream EVENTS exists with retention workqueue, config "
                                           "says limits: retention cannot change; delete the "
                                           "stream or fix the config"));
}

BOOST_AUTO_TEST_CASE(a_stream_made_without_direct_get_gains_it) {
    add_raw_stream(js(), "EVENTS", "events.>", js_LimitsPolicy, false);

    BOOST_TEST((bb::ensure_stream(js(), events_stream()) == bb::Provisioned::kUpdated));

    BOOST_TEST(stream_info(js(), "EVENTS")->Config->AllowDirect);
}

BOOST_AUTO_TEST_CASE(an_update_the_server_refuses_is_reported_with_the_stream) {
    add_raw_stream(js(), "ORDERS", "orders.>", js_LimitsPolicy, true);
    bb::ensure_stream(js(), events_stream());
    auto config = events_stream();
    config.subjects = {"events.>", "orders.>"};  // overlaps stream ORDERS

    BOOST_CHECK_EXCEPTION(bb::ensure_stream(js(), config), bb::StartupError,
                          startup_error_contains("stream EVENTS: the server refused the update: "));
    BOOST_TEST(stream_info(js(), "EVENTS")->Config->SubjectsLen == 1);
}

BOOST_AUTO_TEST_CASE(a_create_the_server_refuses_is_reported_with_the_stream) {
    add_raw_stream(js(), "ALL_EVENTS", "events.>", js_LimitsPolicy, true);

    BOOST_CHECK_EXCEPTION(bb::ensure_stream(js(), events_stream()), bb::StartupError,
                          startup_error_contains("stream EVENTS: cannot create it: "));
}

BOOST_AUTO_TEST_CASE(a_duplicate_window_longer_than_max_age_is_refused_up_front) {
    auto config = events_stream();
    config.max_age = 1min;
    config.duplicate_window = 2min;

    BOOST_CHECK_EXCEPTION(bb::ensure_stream(js(), config), bb::StartupError,
                          startup_error_is("stream EVENTS: duplicate_window 120000ms is longer "
                                           "than max_age 60000ms; the server refuses that"));
    BOOST_TEST(!bb::stream_status(js(), "EVENTS").ok());
}

BOOST_AUTO_TEST_CASE(stream_status_reports_counts_and_sequences) {
    bb::ensure_stream(js(), events_stream());
    for (int i = 0; i < 3; ++i) {
        BOOST_TEST_REQUIRE(client.js_publish("events.user.UserCreated", {}, "x", "").ok());
    }

    auto status = bb::stream_status(js(), "EVENTS");

    BOOST_TEST_REQUIRE(status.ok());
    BOOST_TEST(status->name == "EVENTS");
    BOOST_TEST(status->messages == 3u);
    BOOST_TEST(status->first_seq == 1u);
    BOOST_TEST(status->last_seq == 3u);
    BOOST_TEST(status->bytes > 0u);
    BOOST_TEST(status->consumer_count == 0);
}

BOOST_AUTO_TEST_CASE(stream_status_of_a_missing_stream_is_an_error) {
    auto status = bb::stream_status(js(), "NOPE");

    BOOST_TEST_REQUIRE(!status.ok());
    BOOST_TEST(status.error().what == "stream NOPE does not exist");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(bucket_provisioning, NatsFixture)

BOOST_AUTO_TEST_CASE(ensure_bucket_twice_creates_once_and_the_bucket_works) {
    BOOST_TEST((bb::ensure_bucket(js(), sessions_bucket()) == bb::Provisioned::kCreated));
    BOOST_TEST((bb::ensure_bucket(js(), sessions_bucket()) == bb::Provisioned::kUpToDate));

    kvStore* raw = nullptr;
    BOOST_TEST_REQUIRE(js_KeyValue(&raw, js(), "sessions") == NATS_OK);
    bb::KvStore kv(raw);
    uint64_t rev = 0;
    BOOST_TEST(kvStore_PutString(&rev, kv.get(), "u1", "token") == NATS_OK);
    BOOST_TEST(rev == 1u);
    BOOST_TEST(stream_info(js(), "KV_sessions")->Config->MaxAge == 3600LL * 1000 * kNanosPerMilli);
}

BOOST_AUTO_TEST_CASE(changing_ttl_and_history_updates_the_bucket) {
    bb::ensure_bucket(js(), sessions_bucket());
    auto config = sessions_bucket();
    config.ttl = 30s;
    config.history = 5;

    BOOST_TEST((bb::ensure_bucket(js(), config) == bb::Provisioned::kUpdated));

    auto info = stream_info(js(), "KV_sessions");
    BOOST_TEST(info->Config->MaxAge == 30LL * 1000 * kNanosPerMilli);
    BOOST_TEST(info->Config->MaxMsgsPerSubject == 5);
    BOOST_TEST(info->Config->Duplicates <= info->Config->MaxAge);
    BOOST_TEST((bb::ensure_bucket(js(), config) == bb::Provisioned::kUpToDate));
}

BOOST_AUTO_TEST_CASE(changing_bucket_storage_is_refused_with_a_clear_message) {
    bb::ensure_bucket(js(), sessions_bucket());
    auto config = sessions_bucket();
    config.storage = bb::Storage::kMemory;

    BOOST_CHECK_EXCEPTION(bb::ensure_bucket(js(), config), bb::StartupError,
                          startup_error_is("bucket sessions exists with storage file, config says "
                                           "memory: storage cannot change; delete the bucket or "
                                           "fix the config"));
}

BOOST_AUTO_TEST_CASE(history_outside_1_to_64_is_refused) {
    auto config = sessions_bucket();
    config.history = 65;

    BOOST_CHECK_EXCEPTION(bb::ensure_bucket(js(), config), bb::StartupError,
                          startup_error_is("bucket sessions: history 65 is outside 1..64"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(publishing, NatsFixture)

BOOST_AUTO_TEST_CASE(one_msg_id_published_twice_is_stored_once) {
    bb::ensure_stream(js(), events_stream());

    auto first = client.js_publish_ack("events.user.UserCreated", {}, "a", "evt-1");
    auto second = client.js_publish_ack("events.user.UserCreated", {}, "a", "evt-1");

    BOOST_TEST_REQUIRE(first.ok());
    BOOST_TEST_REQUIRE(second.ok());
    BOOST_TEST(first->stream == "EVENTS");
    BOOST_TEST(!first->duplicate);
    BOOST_TEST(second->duplicate);
    BOOST_TEST(second->seq == first->seq);
    BOOST_TEST(message_count(js(), "EVENTS") == 1u);
}

BOOST_AUTO_TEST_CASE(a_duplicate_fails_only_when_the_caller_asks) {
    bb::ensure_stream(js(), events_stream());
    auto seq = client.js_publish("events.user.UserCreated", {}, "a", "evt-2");
    BOOST_TEST_REQUIRE(seq.ok());

    auto accepted = client.js_publish("events.user.UserCreated", {}, "a", "evt-2");
    auto refused =
        client.js_publish("events.user.UserCreated", {}, "a", "evt-2", bb::OnDuplicate::kFail);

    BOOST_TEST_REQUIRE(accepted.ok());
    BOOST_TEST(*accepted == *seq);
    BOOST_TEST_REQUIRE(!refused.ok());
    BOOST_TEST(refused.error().what ==
               "duplicate publish: stream EVENTS already holds Nats-Msg-Id evt-2 at sequence " +
                   std::to_string(*seq));
}

BOOST_AUTO_TEST_CASE(headers_round_trip_with_several_values_per_name) {
    bb::ensure_stream(js(), events_stream());
    bb::Headers sent = {{"ce-type", "UserCreated"},
                        {"X-Tag", "first"},
                        {"ce-id", "42"},
                        {"X-Tag", "second"},
                        {"X-Tag", "third, with comma"}};

    auto seq = client.js_publish("events.user.UserCreated", sent, "body", "evt-h");
    BOOST_TEST_REQUIRE(seq.ok(), failure(seq));
    auto msg = stored_message(js(), "EVENTS", *seq);
    auto read = bb::read_headers(msg.get());

    BOOST_TEST_REQUIRE(read.ok());
    bb::Headers tags;
    for (const auto& h : *read) {
        if (h.first == "X-Tag") tags.push_back(h);
    }
    bb::Headers expected_tags = {
        {"X-Tag", "first"}, {"X-Tag", "second"}, {"X-Tag", "third, with comma"}};
    BOOST_TEST(tags == expected_tags);  // one name's values keep their order
    bb::Headers expected = sent;
    expected.emplace_back("Nats-Msg-Id", "evt-h");
    bb::Headers got = *read;
    std::stable_sort(expected.begin(), expected.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::stable_sort(got.begin(), got.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    BOOST_TEST(got == expected);
    BOOST_TEST(std::string(bb::header_value(msg.get(), "ce-id")) == "42");
    BOOST_TEST(bb::header_value(msg.get(), "missing") == nullptr);
}

BOOST_AUTO_TEST_CASE(a_header_that_could_inject_a_line_is_refused_before_sending) {
    bb::ensure_stream(js(), events_stream());
    const bb::Headers bad[] = {
        {{"X-Evil", "a\r\nPUB events.user.x 5\r\nhello"}},
        {{"X-Evil", "a\nb"}},
        {{"X-Evil", std::string("a\0b", 3)}},
        {{"X-Evil: 1\r\nX-Other", "v"}},
        {{"Bad Name", "v"}},
        {{"", "v"}},
    };

    for (const auto& headers : bad) {
        auto seq = client.js_publish("events.user.UserCreated", headers, "x", "");
        BOOST_TEST(!seq.ok(), "accepted header " << headers[0].first);
    }

    BOOST_TEST(message_count(js(), "EVENTS") == 0u);
    BOOST_TEST(client.connected());
    BOOST_TEST(client.js_publish("events.user.UserCreated", {{"X-Fine", "a\tb"}}, "x", "").ok());
}

// nats.c 3.4.1 writes "X-Empty: " correctly but reads the next header line as its value.
BOOST_AUTO_TEST_CASE(an_empty_header_value_is_refused_because_nats_c_misreads_it) {
    bb::ensure_stream(js(), events_stream());

    auto seq =
        client.js_publish("events.user.UserCreated", {{"X-Empty", ""}, {"ce-id", "1"}}, "x", "");

    BOOST_TEST_REQUIRE(!seq.ok());
    BOOST_TEST(seq.error().what == "header X-Empty has an empty value");
    BOOST_TEST(message_count(js(), "EVENTS") == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(connection)

BOOST_AUTO_TEST_CASE(the_client_reconnects_by_itself_after_the_server_restarts_on_its_port) {
    NatsServer server;
    auto client = connect_now(client_config(server.url()));
    bb::ensure_stream(client.js(), events_stream());
    auto before = client.js_publish("events.user.UserCreated", {}, "before", "");
    BOOST_TEST_REQUIRE(before.ok());
    std::string url = server.url();

    server.stop();
    BOOST_TEST_REQUIRE(wait_until([&] { return !client.connected(); }, 10s));
    server.restart();

    BOOST_TEST(server.url() == url);
    BOOST_TEST_REQUIRE(client.wait_connected(10s));
    BOOST_TEST(client.connected_url() == url);
    // JetStream may still be loading its store right after the listener opens.
    bb::Result<uint64_t> after = bb::Error{"not tried"};
    BOOST_TEST(wait_until(
        [&] {
            after = client.js_publish("events.user.UserCreated", {}, "after", "");
            return after.ok();
        },
        10s, 50ms));
    BOOST_TEST_REQUIRE(after.ok(), failure(after));
    BOOST_TEST(*after == *before + 1);  // the file store kept the stream
}

BOOST_AUTO_TEST_CASE(an_unreachable_server_at_start_is_not_fatal) {
    NatsServer server;
    auto config = client_config(server.url());
    server.stop();

    auto client = bb::NatsClient::connect(config, "itest");

    BOOST_TEST(!client.connected());
    BOOST_TEST(client.connected_url().empty());
    server.restart();
    BOOST_TEST_REQUIRE(client.wait_connected(10s));
    BOOST_TEST((bb::ensure_stream(client.js(), events_stream()) == bb::Provisioned::kCreated));
}

BOOST_AUTO_TEST_CASE(drain_returns_and_leaves_the_client_closed) {
    NatsServer server;
    auto client = connect_now(client_config(server.url()));
    bb::ensure_stream(client.js(), events_stream());
    BOOST_TEST_REQUIRE(client.js_publish("events.user.UserCreated", {}, "x", "").ok());

    auto drained = client.drain(5s);

    BOOST_TEST(drained.ok(), failure(drained));
    BOOST_TEST(!client.connected());
    BOOST_TEST(!client.wait_connected(0ms));
    client.close();  // a second close is harmless
    BOOST_TEST(!client.js_publish("events.user.UserCreated", {}, "x", "").ok());
}

BOOST_AUTO_TEST_CASE(a_moved_client_keeps_its_connection) {
    NatsServer server;
    auto first = connect_now(client_config(server.url()));
    bb::NatsClient second = std::move(first);

    BOOST_TEST(second.connected());
    bb::ensure_stream(second.js(), events_stream());
    BOOST_TEST(second.js_publish("events.user.UserCreated", {}, "x", "").ok());
}

BOOST_AUTO_TEST_CASE(an_unreadable_credentials_file_is_a_startup_error) {
    NatsServer server;
    auto config = client_config(server.url());
    config.credentials_file = "/nonexistent/bb.creds";

    BOOST_CHECK_EXCEPTION(bb::NatsClient::connect(config, "itest"), bb::StartupError,
                          startup_error_is("nats.credentials_file: cannot read "
                                           "/nonexistent/bb.creds"));
}

BOOST_AUTO_TEST_CASE(a_malformed_url_is_a_startup_error) {
    auto config = client_config("nats://127.0.0.1:notaport");

    BOOST_CHECK_EXCEPTION(bb::NatsClient::connect(config, "itest"), bb::StartupError,
                          startup_error_contains("nats.url"));
}

BOOST_AUTO_TEST_CASE(credentials_in_the_url_stay_out_of_errors) {
    auto config = client_config("nats://bridge:s3cret@127.0.0.1:notaport");

    BOOST_CHECK_EXCEPTION(
        bb::NatsClient::connect(config, "itest"), bb::StartupError, [](const bb::StartupError& e) {
            std::string what = e.what();
            BOOST_TEST_MESSAGE("startup error: " << what);
            return what.find("s3cret") == std::string::npos &&
                   what.find("nats://***@127.0.0.1:notaport") != std::string::npos;
        });
}

BOOST_AUTO_TEST_CASE(user_and_password_are_sent) {
    NatsServer server({"--user", "bridge", "--pass", "s3cret"});
    auto config = client_config(server.url());
    config.user = "bridge";
    config.password = "s3cret";

    auto client = connect_now(config);

    BOOST_TEST(client.connected());
}

BOOST_AUTO_TEST_CASE(a_wrong_password_closes_the_client_for_good) {
    NatsServer server({"--user", "bridge", "--pass", "s3cret"});
    auto config = client_config(server.url());
    config.user = "bridge";
    config.password = "wrong";

    auto client = bb::NatsClient::connect(config, "itest");

    BOOST_TEST(wait_until([&] { return client.closed(); }, 10s));
    BOOST_TEST(!client.wait_connected(0ms));
}

BOOST_AUTO_TEST_CASE(a_token_is_sent) {
    NatsServer server({"--auth", "t0ken"});
    auto config = client_config(server.url());
    config.token = "t0ken";

    auto client = connect_now(config);

    BOOST_TEST(client.connected());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(nkey_auth)

// A user seed and its public key as published with nats.c's own tests.
constexpr const char* kSeed = "SUAMK2FG4MI6UE3ACF3FK3OIQBCEIEZV7NSWFFEW63UXMRLFM2XLAXK4GY";
constexpr const char* kPublic = "UAT6BWCSCWLUKJT6K6MBJJOEOTXZ5AJDOYKNEVRFC7VNO6OA43N4TRNO";

BOOST_AUTO_TEST_CASE(the_public_key_is_derived_from_a_user_seed) {
    auto pub = bb::nkey_public_from_seed(kSeed);

    BOOST_TEST_REQUIRE(pub.ok(), failure(pub));
    BOOST_TEST(*pub == kPublic);
}

BOOST_AUTO_TEST_CASE(a_damaged_seed_is_refused) {
    std::string damaged = kSeed;
    damaged[10] = damaged[10] == 'A' ? 'B' : 'A';

    BOOST_TEST(!bb::nkey_public_from_seed(damaged).ok());
    BOOST_TEST(!bb::nkey_public_from_seed("SUAMK2FG").ok());
    BOOST_TEST(!bb::nkey_public_from_seed("not base32!").ok());
    BOOST_TEST(!bb::nkey_public_from_seed(kPublic).ok());  // a public key is not a seed
}

BOOST_AUTO_TEST_CASE(a_server_that_knows_only_the_public_key_accepts_the_seed_file) {
    TempDir tmp;
    std::string conf = tmp.file(
        "server.conf", std::string("authorization { users = [ { nkey: ") + kPublic + " } ] }\n");
    std::string seed_file = tmp.file("user.nk", std::string("\n  ") + kSeed + "  \n");
    NatsServer server({"-c", conf});
    auto config = client_config(server.url());
    config.nkey_seed_file = seed_file;

    auto client = connect_now(config);

    bb::ensure_stream(client.js(), events_stream());
    BOOST_TEST(client.js_publish("events.user.UserCreated", {}, "x", "").ok());
}

BOOST_AUTO_TEST_CASE(a_seed_file_without_a_seed_is_a_startup_error) {
    TempDir tmp;
    auto config = client_config("nats://127.0.0.1:4222");
    config.nkey_seed_file = tmp.file("empty.nk", "nothing here\n");

    BOOST_CHECK_EXCEPTION(bb::NatsClient::connect(config, "itest"), bb::StartupError,
                          startup_error_contains("nats.nkey_seed_file: no user nkey seed"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tls)

void run(const std::string& command) {
    BOOST_TEST_REQUIRE(std::system(command.c_str()) == 0, command);
}

// A CA, a server certificate for 127.0.0.1 and a client certificate, made with the openssl
// command line tool (Debian package openssl).
void make_certificates(const TempDir& tmp) {
    std::string d = tmp.path.string();
    std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    tmp.file("server.ext", "subjectAltName=IP:127.0.0.1\n");
    run("cd " + d + " && openssl req -x509" + ec +
        " -days 2 -subj /CN=bb-itest-ca -keyout ca.key -out ca.pem 2>/dev/null");
    for (std::string who : {"server", "client"}) {
        run("cd " + d + " && openssl req" + ec + " -subj /CN=" + who + " -keyout " + who +
            ".key -out " + who + ".csr 2>/dev/null");
        std::string ext = who == "server" ? " -extfile server.ext" : "";
        run("cd " + d + " && openssl x509 -req -in " + who +
            ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2" + ext + " -out " + who +
            ".pem 2>/dev/null");
    }
}

BOOST_AUTO_TEST_CASE(mutual_tls_connects_with_the_configured_ca_and_client_certificate) {
    TempDir tmp;
    make_certificates(tmp);
    NatsServer server({"--tlsverify", "--tlscert", tmp.file("server.pem"), "--tlskey",
                       tmp.file("server.key"), "--tlscacert", tmp.file("ca.pem")});
    auto config = client_config(server.url());
    config.tls.ca_file = tmp.file("ca.pem");
    config.tls.cert_file = tmp.file("client.pem");
    config.tls.key_file = tmp.file("client.key");

    auto client = connect_now(config);

    bb::ensure_stream(client.js(), events_stream());
    BOOST_TEST(client.js_publish("events.user.UserCreated", {}, "x", "").ok());
}

BOOST_AUTO_TEST_CASE(an_unreadable_ca_file_is_a_startup_error) {
    auto config = client_config("nats://127.0.0.1:4222");
    config.tls.ca_file = "/nonexistent/ca.pem";

    BOOST_CHECK_EXCEPTION(bb::NatsClient::connect(config, "itest"), bb::StartupError,
                          startup_error_is("nats.tls.ca_file: cannot read /nonexistent/ca.pem"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(reconnect_schedule)

BOOST_AUTO_TEST_CASE(the_delay_doubles_per_pass_up_to_the_cap) {
    using bb::Millis;
    BOOST_TEST(bb::reconnect_delay(Millis{250}, Millis{5000}, 1, 0.999999).count() == 249);
    BOOST_TEST(bb::reconnect_delay(Millis{250}, Millis{5000}, 2, 1.0).count() == 500);
    BOOST_TEST(bb::reconnect_delay(Millis{250}, Millis{5000}, 3, 1.0).count() == 1000);
    BOOST_TEST(bb::reconnect_delay(Millis{250}, Millis{5000}, 6, 1.0).count() == 5000);
    BOOST_TEST(bb::reconnect_delay(Millis{250}, Millis{5000}, 1000000, 1.0).count() == 5000);
}

BOOST_AUTO_TEST_CASE(jitter_keeps_the_delay_between_half_and_all_of_it) {
    using bb::Millis;
    BOOST_TEST(bb::reconnect_delay(Millis{250}, Millis{5000}, 3, 0.0).count() == 500);
    BOOST_TEST(bb::reconnect_delay(Millis{250}, Millis{5000}, 3, 0.5).count() == 750);
    BOOST_TEST(bb::reconnect_delay(Millis{250}, Millis{5000}, 9, 0.0).count() == 2500);
}

BOOST_AUTO_TEST_CASE(a_zero_wait_never_becomes_a_busy_loop) {
    using bb::Millis;
    BOOST_TEST(bb::reconnect_delay(Millis{0}, Millis{0}, 1, 0.0).count() >= 1);
    BOOST_TEST(bb::reconnect_delay(Millis{1}, Millis{1}, 1, 0.0).count() >= 1);
}

BOOST_AUTO_TEST_SUITE_END()
