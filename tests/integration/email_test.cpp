#define BOOST_TEST_MODULE bb_itest_email
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <fstream>
#include <set>

#include "integration/bridge_fixture.hpp"
#include "integration/smtp_sink.hpp"
#include "integration/wait.hpp"

using namespace bb::itest;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

struct Binding {
    std::string smtp = "tls: none";  // more keys of the smtp: map
    int attempts = 3;
    int concurrency = 2;
    std::string timeout = "5s";
    std::string extra_config;  // more keys of the plugin's config
};

std::string email_binding(const std::string& url, const Binding& b = {}) {
    return "  - name: welcome\n    plugin: email\n    subjects: [\"events.>\"]\n"
           "    start: all\n    concurrency: " +
           std::to_string(b.concurrency) + "\n    attempts: " + std::to_string(b.attempts) +
           "\n    timeout: " + b.timeout +
           "\n    backoff: { initial: 200ms, factor: 1, max: 200ms, jitter: 0 }\n"
           "    config:\n"
           "      smtp: { url: \"" +
           url + "\", connect_timeout: 2s, send_timeout: 10s, " + b.smtp +
           " }\n"
           "      from: \"Broker Bridge <noreply@example.com>\"\n"
           "      to: \"{data.email}\"\n"
           "      to_name: \"{data.display}\"\n"
           "      template: welcome\n"
           "      templates_dir: templates\n"
           "      bucket: email\n" +
           b.extra_config;
}

const std::string kBuckets = "buckets:\n  - { name: email, ttl: 1h }\n";

// Writes the test's templates and owns the SMTP sink beside the bridge.
struct EmailFixture : BridgeFixture {
    EmailFixture() {
        auto t = dir() / "templates";
        std::filesystem::create_directories(t);
        std::ofstream(t / "welcome.subject") << "Welcome, {{data.name}}!\n";
        std::ofstream(t / "welcome.txt") << "Hello {{data.name}},\n\n{{data.greeting}}\n"
                                            "Your account {{subject}} is ready.\n";
        std::ofstream(t / "welcome.html") << "<p>Hello {{data.name}},</p>\n"
                                             "<p>{{data.greeting}}</p>\n";
    }

    // `scheme` smtps: implicit TLS (the sink then needs --implicit-tls).
    void start(std::vector<std::string> sink_args = {}, const Binding& b = {},
               const std::string& scheme = "smtp") {
        sink = std::make_unique<SmtpSink>(dir() / "sink", std::move(sink_args));
        std::string url = scheme + "://127.0.0.1:" + std::to_string(sink->port());
        start_bridge(email_binding(url, b), kBuckets);
    }

    // A throwaway self-signed certificate for 127.0.0.1 (trusted through smtp.ca_file);
    // returns {certificate, key} paths.
    std::pair<std::string, std::string> make_certificate() {
        auto cert = (dir() / "cert.pem").string();
        auto key = (dir() / "key.pem").string();
        std::string cmd =
            "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
            "-addext subjectAltName=IP:127.0.0.1 -keyout " +
            key + " -out " + cert + " >/dev/null 2>&1";
        BOOST_TEST_REQUIRE(std::system(cmd.c_str()) == 0, cmd);
        return {cert, key};
    }

    // The plugin's SMTP credentials as ${ENV} references, set in this process's environment
    // so the daemon inherits them.
    Binding with_credentials(const std::string& user, const std::string& password) {
        ::setenv("BB_TEST_SMTP_USERNAME", user.c_str(), 1);
        ::setenv("BB_TEST_SMTP_PASSWORD", password.c_str(), 1);
        Binding b;
        b.smtp =
            "tls: none, username: \"${BB_TEST_SMTP_USERNAME}\", "
            "password: \"${BB_TEST_SMTP_PASSWORD}\"";
        return b;
    }

    bb::Event user_created(const std::string& id, const json& data) {
        auto e = make_event("UserCreated", id, "u-" + id);
        e.aggregate_type = "User";
        e.data = data.dump();
        return e;
    }

    std::vector<std::string> raw_lines(int n) {
        std::ifstream in(sink->folder() / (std::to_string(n) + ".eml"), std::ios::binary);
        std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::vector<std::string> lines;
        size_t start = 0;
        while (start < all.size()) {
            size_t end = all.find("\r\n", start);
            if (end == std::string::npos) end = all.size();
            lines.push_back(all.substr(start, end - start));
            start = end + 2;
        }
        return lines;
    }

    std::unique_ptr<SmtpSink> sink;
};

std::vector<std::string> header_names(const json& message) {
    std::vector<std::string> names;
    for (const auto& h : message["headers"]) names.push_back(h[0]);
    return names;
}

std::string header(const json& message, const std::string& name) {
    for (const auto& h : message["headers"]) {
        if (h[0] == name) return h[1];
    }
    return "<absent>";
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(email, EmailFixture)

BOOST_AUTO_TEST_CASE(an_ascii_welcome_arrives_exactly_as_rendered) {
    start();
    publish(user_created("ascii-1", {{"email", "ada@example.com"},
                                     {"name", "Ada Lovelace"},
                                     {"display", "Ada L."},
                                     {"greeting", "Glad you're here & welcome."}}));
    BOOST_TEST_REQUIRE(wait_until([&] { return sink->messages().size() == 1; }, 20s),
                       bridge().log_text());
    json m = sink->messages().at(0);
    BOOST_TEST(m["mail_from"] == "noreply@example.com");
    BOOST_TEST(m["rcpt_tos"] == json::array({"ada@example.com"}));
    BOOST_TEST(m["mail_options"].dump().find("SMTPUTF8") == std::string::npos);
    json msg = m["message"];
    std::vector<std::string> expected = {"Date",    "Message-ID",   "From",        "To",
                                         "Subject", "MIME-Version", "Content-Type"};
    BOOST_TEST(header_names(msg) == expected, boost::test_tools::per_element());
    BOOST_TEST(header(msg, "From") == "Broker Bridge <noreply@example.com>");
    BOOST_TEST(header(msg, "To") == "\"Ada L.\" <ada@example.com>");
    BOOST_TEST(header(msg, "Subject") == "Welcome, Ada Lovelace!");
    BOOST_TEST(header(msg, "MIME-Version") == "1.0");
    BOOST_TEST(header(msg, "Message-ID").ends_with("@example.com>"));
    BOOST_TEST(msg["content_type"] == "multipart/alternative");
    BOOST_TEST(msg["defects"].empty());
    BOOST_TEST_REQUIRE(msg["parts"].size() == 2u);
    BOOST_TEST(msg["parts"][0]["content_type"] == "text/plain");
    BOOST_TEST(msg["parts"][0]["charset"] == "utf-8");
    BOOST_TEST(msg["parts"][0]["content"] ==
               "Hello Ada Lovelace,\r\n\r\nGlad you're here & welcome.\r\n"
               "Your account u-ascii-1 is ready.\r\n");
    BOOST_TEST(msg["parts"][1]["content_type"] == "text/html");
    BOOST_TEST(msg["parts"][1]["content"] ==
               "<p>Hello Ada Lovelace,</p>\r\n<p>Glad you&apos;re here &amp; welcome.</p>\r\n");
    for (const auto& line : raw_lines(1)) BOOST_TEST(line.size() <= 78u, line);
}

BOOST_AUTO_TEST_CASE(a_non_ascii_welcome_uses_smtputf8_and_encoded_headers) {
    start();
    const std::string name = "João Ñandú 山田 🎉";
    const std::string greeting =
        "ようこそ！アカウントの準備ができました。"
        "ご不明な点があれば、いつでもお問い合わせください。"
        "Obrigado por se juntar a nós — até já! 🚀";
    const std::string address = "ユーザー.7@example.com";
    publish(user_created(
        "utf8-1",
        {{"email", address}, {"name", name}, {"display", "山田 João"}, {"greeting", greeting}}));
    BOOST_TEST_REQUIRE(wait_until([&] { return sink->messages().size() == 1; }, 20s),
                       bridge().log_text());
    json m = sink->messages().at(0);
    BOOST_TEST(m["mail_options"].dump().find("SMTPUTF8") != std::string::npos);
    BOOST_TEST(m["rcpt_tos"] == json::array({address}));
    json msg = m["message"];
    BOOST_TEST(msg["defects"].empty());
    BOOST_TEST(header(msg, "Subject") == "Welcome, " + name + "!");
    BOOST_TEST(header(msg, "To") == "山田 João <" + address + ">");
    BOOST_TEST_REQUIRE(msg["parts"].size() == 2u);
    BOOST_TEST(msg["parts"][0]["content"] == "Hello " + name + ",\r\n\r\n" + greeting +
                                                 "\r\nYour account u-utf8-1 is ready.\r\n");
    // Mostly Japanese: base64 is the shorter encoding.
    BOOST_TEST(msg["parts"][0]["transfer_encoding"] == "base64");
    BOOST_TEST(msg["parts"][1]["content"] ==
               "<p>Hello " + name + ",</p>\r\n<p>" + greeting + "</p>\r\n");
    bool encoded_subject = false;
    for (const auto& line : raw_lines(1)) {
        BOOST_TEST(line.size() <= 78u, line);
        encoded_subject = encoded_subject || line.starts_with("Subject: =?UTF-8?B?");
    }
    BOOST_TEST(encoded_subject);
}

BOOST_AUTO_TEST_CASE(without_smtputf8_a_non_ascii_address_is_rejected_with_the_reason) {
    start({"--smtputf8", "off"});
    publish(user_created("noutf8-1", {{"email", "олег.2@example.com"}, {"name", "Олег"}}));
    BOOST_TEST_REQUIRE(wait_until([&] { return stream_messages("DLQ") == 1; }, 20s),
                       bridge().log_text());
    auto d = dlq_messages().at(0);
    BOOST_TEST(*d.header("Bridge-Dlq-Reason") == "reject");
    BOOST_TEST(d.header("Bridge-Dlq-Error")->find("SMTPUTF8") != std::string::npos,
               *d.header("Bridge-Dlq-Error"));
    BOOST_TEST(sink->messages().empty());
}

BOOST_AUTO_TEST_CASE(a_line_break_in_any_header_value_is_refused_and_nothing_is_sent) {
    start();
    publish(user_created("inject-subject", {{"email", "eve@example.com"},
                                            {"name", "Eve\r\nBcc: attacker@example.com"}}));
    publish(user_created(
        "inject-name",
        {{"email", "eve@example.com"}, {"name", "Eve"}, {"display", "Eve\nX-Injected: 1"}}));
    publish(user_created("inject-to",
                         {{"email", "eve@example.com\rBcc: attacker@example.com"}, {"name", "E"}}));
    BOOST_TEST_REQUIRE(wait_until([&] { return stream_messages("DLQ") == 3; }, 20s),
                       bridge().log_text());
    for (const auto& d : dlq_messages()) {
        BOOST_TEST(*d.header("Bridge-Dlq-Reason") == "reject");
        BOOST_TEST(d.header("Bridge-Dlq-Error")->find("line break") != std::string::npos,
                   *d.header("Bridge-Dlq-Error"));
    }
    BOOST_TEST(sink->messages().empty());
}

BOOST_AUTO_TEST_CASE(a_550_reply_dead_letters_the_event_with_the_server_text) {
    start({"--reject", "^gone@"});
    publish(user_created("gone-1", {{"email", "gone@example.com"}, {"name", "Gone"}}));
    BOOST_TEST_REQUIRE(wait_until([&] { return stream_messages("DLQ") == 1; }, 20s),
                       bridge().log_text());
    auto d = dlq_messages().at(0);
    BOOST_TEST(*d.header("Bridge-Dlq-Reason") == "reject");
    BOOST_TEST(*d.header("Bridge-Dlq-Attempts") == "1");
    const std::string& error = *d.header("Bridge-Dlq-Error");
    BOOST_TEST(error.find("550") != std::string::npos, error);
    BOOST_TEST(error.find("mailbox unavailable (sink rejects it)") != std::string::npos, error);
    BOOST_TEST(sink->messages().empty());
}

BOOST_AUTO_TEST_CASE(a_451_reply_is_retried_and_the_next_attempt_delivers_once) {
    start({"--tempfail", "^later@", "--tempfail-times", "1"});
    publish(user_created("later-1", {{"email", "later@example.com"}, {"name", "Later"}}));
    BOOST_TEST_REQUIRE(wait_until([&] { return sink->messages().size() == 1; }, 20s),
                       bridge().log_text());
    BOOST_TEST(bridge().log_text().find("try again later (sink)") != std::string::npos);
    BOOST_TEST(sink->messages().at(0)["rcpt_tos"] == json::array({"later@example.com"}));
    BOOST_TEST(stream_messages("DLQ") == 0u);
}

BOOST_AUTO_TEST_CASE(a_redelivered_event_that_was_sent_sends_nothing_new) {
    start();
    auto wire =
        bb::encode(user_created("dup-1", {{"email", "dup@example.com"}, {"name", "D"}}), "events");
    BOOST_TEST_REQUIRE(wire.ok());
    bb::Headers headers;
    for (const auto& h : wire->headers) {
        if (h.first != "Nats-Msg-Id") headers.push_back(h);
    }
    auto first = headers;
    first.emplace_back("Nats-Msg-Id", "copy-a");
    publish_raw(wire->subject, first, wire->body);
    BOOST_TEST_REQUIRE(wait_until([&] { return sink->messages().size() == 1; }, 20s));
    // The same event again (a producer's retry past the duplicate window, or a replay).
    auto second = headers;
    second.emplace_back("Nats-Msg-Id", "copy-b");
    publish_raw(wire->subject, second, wire->body);
    BOOST_TEST_REQUIRE(wait_until(
        [&] { return bridge().log_text().find("email already sent") != std::string::npos; }, 20s));
    BOOST_TEST(sink->messages().size() == 1u);
    BOOST_TEST(stream_messages("DLQ") == 0u);
}

BOOST_AUTO_TEST_CASE(required_starttls_against_a_server_without_it_fails_clearly) {
    Binding b;
    b.smtp = "tls: starttls";
    b.attempts = 1;
    start({}, b);
    publish(user_created("tls-1", {{"email", "ada@example.com"}, {"name", "Ada"}}));
    BOOST_TEST_REQUIRE(wait_until([&] { return stream_messages("DLQ") == 1; }, 20s),
                       bridge().log_text());
    // A copy: the messages returned are a temporary, gone at the end of the statement.
    const StoredMessage dead = dlq_messages().at(0);
    BOOST_TEST_REQUIRE(dead.header("Bridge-Dlq-Error") != nullptr);
    const std::string& error = *dead.header("Bridge-Dlq-Error");
    BOOST_TEST(error.find("does not offer STARTTLS") != std::string::npos, error);
    BOOST_TEST(sink->messages().empty());
}

BOOST_AUTO_TEST_CASE(messages_one_after_another_reuse_one_connection) {
    Binding b;
    b.concurrency = 1;
    start({}, b);
    for (const char* id : {"reuse-1", "reuse-2", "reuse-3"}) {
        publish(user_created(id, {{"email", std::string(id) + "@example.com"}, {"name", id}}));
    }
    BOOST_TEST_REQUIRE(wait_until([&] { return sink->messages().size() == 3; }, 20s),
                       bridge().log_text());
    auto messages = sink->messages();
    // The client's port names its connection.
    BOOST_TEST(messages[1]["peer"] == messages[0]["peer"]);
    BOOST_TEST(messages[2]["peer"] == messages[0]["peer"]);
}

BOOST_AUTO_TEST_CASE(starttls_with_a_trusted_certificate_delivers_over_tls) {
    auto [cert, key] = make_certificate();
    Binding b;
    b.smtp = "tls: starttls, ca_file: " + cert;
    start({"--starttls-cert", cert, "--starttls-key", key}, b);
    publish(user_created("tls-ok", {{"email", "ada@example.com"}, {"name", "Ada"}}));
    BOOST_TEST_REQUIRE(wait_until([&] { return sink->messages().size() == 1; }, 20s),
                       bridge().log_text());
    BOOST_TEST(sink->messages().at(0)["tls"] == true);
}

// smtps://: TLS from the first byte (port 465 style), no STARTTLS in the dialogue.
BOOST_AUTO_TEST_CASE(implicit_tls_delivers_over_tls_from_the_first_byte) {
    auto [cert, key] = make_certificate();
    Binding b;
    b.smtp = "ca_file: " + cert;
    start({"--starttls-cert", cert, "--starttls-key", key, "--implicit-tls"}, b, "smtps");
    publish(user_created("smtps-ok", {{"email", "ada@example.com"}, {"name", "Ada"}}));
    BOOST_TEST_REQUIRE(wait_until([&] { return sink->messages().size() == 1; }, 20s),
                       bridge().log_text());
    BOOST_TEST(sink->messages().at(0)["tls"] == true);
    BOOST_TEST(sink->messages().at(0)["rcpt_tos"] == json::array({"ada@example.com"}));
}

BOOST_AUTO_TEST_CASE(implicit_tls_with_an_untrusted_certificate_sends_nothing) {
    auto [cert, key] = make_certificate();
    Binding b;
    b.smtp = "tls: none";  // no ca_file: the throwaway certificate is not trusted
    b.attempts = 1;
    start({"--starttls-cert", cert, "--starttls-key", key, "--implicit-tls"}, b, "smtps");
    publish(user_created("smtps-untrusted", {{"email", "ada@example.com"}, {"name", "Ada"}}));
    BOOST_TEST_REQUIRE(wait_until([&] { return stream_messages("DLQ") == 1; }, 20s),
                       bridge().log_text());
    BOOST_TEST(*dlq_messages().at(0).header("Bridge-Dlq-Reason") == "exhausted");
    BOOST_TEST(sink->messages().empty());
}

BOOST_AUTO_TEST_CASE(auth_plain_uses_the_credentials_from_the_environment) {
    start({"--auth", "mailer:correct horse:battery", "--auth-mechanisms", "PLAIN"},
          with_credentials("mailer", "correct horse:battery"));
    publish(user_created("auth-plain", {{"email", "ada@example.com"}, {"name", "Ada"}}));
    BOOST_TEST_REQUIRE(wait_until([&] { return sink->messages().size() == 1; }, 20s),
                       bridge().log_text());
    json auth = sink->messages().at(0)["auth"];
    BOOST_TEST(auth["mechanism"] == "PLAIN", auth.dump());
    BOOST_TEST(auth["user"] == "mailer", auth.dump());
}

BOOST_AUTO_TEST_CASE(auth_login_uses_the_credentials_from_the_environment) {
    start({"--auth", "mailer:s3cret", "--auth-mechanisms", "LOGIN"},
          with_credentials("mailer", "s3cret"));
    publish(user_created("auth-login", {{"email", "ada@example.com"}, {"name", "Ada"}}));
    BOOST_TEST_REQUIRE(wait_until([&] { return sink->messages().size() == 1; }, 20s),
                       bridge().log_text());
    json auth = sink->messages().at(0)["auth"];
    BOOST_TEST(auth["mechanism"] == "LOGIN", auth.dump());
    BOOST_TEST(auth["user"] == "mailer", auth.dump());
}

BOOST_AUTO_TEST_CASE(refused_credentials_are_retried_with_the_reason_and_send_nothing) {
    Binding b = with_credentials("mailer", "wrong");
    b.attempts = 2;
    start({"--auth", "mailer:s3cret"}, b);
    publish(user_created("auth-wrong", {{"email", "ada@example.com"}, {"name", "Ada"}}));
    BOOST_TEST_REQUIRE(wait_until([&] { return stream_messages("DLQ") == 1; }, 20s),
                       bridge().log_text());
    auto d = dlq_messages().at(0);
    BOOST_TEST(*d.header("Bridge-Dlq-Reason") == "exhausted");
    BOOST_TEST(*d.header("Bridge-Dlq-Attempts") == "2");
    BOOST_TEST(d.header("Bridge-Dlq-Error")->find("authentication failed") != std::string::npos,
               *d.header("Bridge-Dlq-Error"));
    BOOST_TEST(sink->messages().empty());
}

// A server that does not offer SMTPUTF8 yet takes a UTF-8 recipient: libcurl sends MAIL
// and RCPT on its own, so the envelope reaches the server, but the plugin goes by the EHLO
// reply and aborts at the start of DATA: no message is stored, and the event is rejected.
BOOST_AUTO_TEST_CASE(a_lenient_server_without_smtputf8_stores_no_non_ascii_message) {
    start({"--smtputf8", "lenient"});
    publish(user_created("lenient-1", {{"email", "олег.3@example.com"}, {"name", "Олег"}}));
    BOOST_TEST_REQUIRE(wait_until([&] { return stream_messages("DLQ") == 1; }, 20s),
                       bridge().log_text());
    auto d = dlq_messages().at(0);
    BOOST_TEST(*d.header("Bridge-Dlq-Reason") == "reject");
    BOOST_TEST(*d.header("Bridge-Dlq-Attempts") == "1");
    BOOST_TEST(d.header("Bridge-Dlq-Error")->find("SMTPUTF8") != std::string::npos,
               *d.header("Bridge-Dlq-Error"));
    std::ifstream count(sink->folder() / "rcpt-count");
    int rcpts = 0;
    count >> rcpts;
    BOOST_TEST(rcpts == 1);  // the server did take the recipient: it is lenient
    // An ASCII message after it is delivered, and it is the only message the server stored.
    publish(user_created("lenient-ascii", {{"email", "oleg@example.com"}, {"name", "Oleg"}}));
    BOOST_TEST_REQUIRE(wait_until([&] { return sink->messages().size() == 1; }, 20s));
    BOOST_TEST(sink->messages().at(0)["rcpt_tos"] == json::array({"oleg@example.com"}));
    BOOST_TEST(stream_messages("DLQ") == 1u);
}

BOOST_AUTO_TEST_CASE(a_send_slower_than_the_timeout_is_kept_alive_and_sent_once) {
    // The server takes 1.5 s to accept the data; the binding's timeout is 500 ms and its ack
    // wait 1 s. in_progress every 100 ms keeps the delivery from being taken over.
    Binding b;
    b.timeout = "500ms";
    b.extra_config = "      in_progress_interval: 100ms\n";
    start({"--data-delay-ms", "1500"}, b);
    publish(user_created("slow-1", {{"email", "slow@example.com"}, {"name", "Slow"}}));
    BOOST_TEST_REQUIRE(wait_until(
        [&] { return bridge().log_text().find("email sent") != std::string::npos; }, 20s));
    BOOST_TEST(sink->messages().size() == 1u);
    std::string log = bridge().log_text();
    BOOST_TEST(log.find("overran its timeout") == std::string::npos, log);
    BOOST_TEST(log.find("email already sent") == std::string::npos, log);
    BOOST_TEST(stream_messages("DLQ") == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
