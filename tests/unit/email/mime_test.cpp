#include <boost/test/unit_test.hpp>

#include <openssl/evp.h>

#include "address.hpp"
#include "mime.hpp"

using namespace bb::email;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find("\r\n", start);
        BOOST_TEST_REQUIRE(end != std::string::npos, "a line without CRLF");
        out.push_back(text.substr(start, end - start));
        start = end + 2;
    }
    return out;
}

// Decodes with OpenSSL, an implementation independent of the one under test.
std::string base64_decode(const std::string& text) {
    std::string out(text.size(), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(text.data()),
                            static_cast<int>(text.size()));
    BOOST_TEST_REQUIRE(n >= 0);
    size_t pad = text.size() - text.find_last_not_of('=') - 1;
    out.resize(static_cast<size_t>(n) - pad);
    return out;
}

// Each encoded word's payload, decoded and joined: what a reader shows.
std::string decode_words(const std::string& header) {
    std::string out;
    size_t at = 0;
    while ((at = header.find("=?UTF-8?B?", at)) != std::string::npos) {
        size_t end = header.find("?=", at + 10);
        BOOST_TEST_REQUIRE(end != std::string::npos);
        out += base64_decode(header.substr(at + 10, end - at - 10));
        at = end + 2;
    }
    return out;
}

std::string qp_decode(const std::string& text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '=' && text.compare(i + 1, 2, "\r\n") == 0) {
            i += 2;
        } else if (text[i] == '=') {
            out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

MessageParts parts() {
    MessageParts p;
    p.from = *parse_mailbox("Broker Bridge <noreply@example.com>", "from");
    p.to = *parse_mailbox("ada@example.com", "to");
    p.subject = "Hello";
    p.text = "Hi\n";
    p.message_id = "abc@example.com";
    p.date = rfc5322_date(0);
    p.boundary = "=_bb_1";
    return p;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(mime)

BOOST_AUTO_TEST_CASE(a_non_ascii_subject_becomes_encoded_words_of_at_most_75_bytes) {
    std::string subject = "Bem-vindo, João! ようこそ 🎉 — " + std::string(60, 'x') + " 山田太郎";
    std::string header = "Subject: " + header_text(subject, 9);
    for (const auto& line : lines_of(header + "\r\n")) {
        BOOST_TEST(line.size() <= kFoldBytes, line);
        size_t word = line.find("=?UTF-8?B?");
        if (word != std::string::npos) BOOST_TEST(line.size() - word <= 75u, line);
    }
    BOOST_TEST(decode_words(header) == subject);
}

BOOST_AUTO_TEST_CASE(encoded_words_never_split_a_utf8_sequence) {
    std::string emoji;
    for (int i = 0; i < 40; ++i) emoji += "🎉";  // 4 bytes each; 45 is not a multiple of 4
    std::string header = encode_words(emoji, 9);
    size_t at = 0;
    while ((at = header.find("=?UTF-8?B?", at)) != std::string::npos) {
        size_t end = header.find("?=", at);
        std::string piece = base64_decode(header.substr(at + 10, end - at - 10));
        BOOST_TEST(piece.size() % 4 == 0u, "a word cut an emoji: " << piece.size() << " bytes");
        at = end;
    }
    BOOST_TEST(decode_words(header) == emoji);
}

BOOST_AUTO_TEST_CASE(a_short_ascii_subject_is_kept_and_one_that_looks_encoded_is_encoded) {
    BOOST_TEST(header_text("Your report is ready", 9) == "Your report is ready");
    // Left as is, a reader would decode it into a line break.
    std::string tricky = "=?UTF-8?B?DQpCY2M6IHhAeQ==?=";
    BOOST_TEST(header_text(tricky, 9).starts_with("=?UTF-8?B?"));
    BOOST_TEST(decode_words(header_text(tricky, 9)) == tricky);
}

BOOST_AUTO_TEST_CASE(quoted_printable_lines_stay_within_76_bytes_and_decode_back) {
    std::string text = std::string(200, 'a') + " trailing space \nJoão = ação\t\n.dot\n" +
                       "ようこそ" + std::string(100, '=') + "\n";
    std::string qp = quoted_printable(text);
    for (const auto& line : lines_of(qp)) {
        BOOST_TEST(line.size() <= kMaxLineBytes, line);
        BOOST_TEST(!line.ends_with(" "), "white space at a line end: " << line);
        BOOST_TEST(!line.starts_with("."), line);
    }
    std::string expected = text;
    for (size_t at = 0; (at = expected.find('\n', at)) != std::string::npos; at += 2) {
        expected.replace(at, 1, "\r\n");
    }
    BOOST_TEST(qp_decode(qp) == expected);
}

BOOST_AUTO_TEST_CASE(base64_lines_are_76_characters_and_decode_back) {
    std::string bytes;
    for (int i = 0; i < 1000; ++i) bytes += static_cast<char>(i * 7);
    std::string b64 = base64_lines(bytes);
    std::string joined;
    auto lines = lines_of(b64);
    for (size_t i = 0; i < lines.size(); ++i) {
        if (i + 1 < lines.size()) BOOST_TEST(lines[i].size() == 76u);
        BOOST_TEST(lines[i].size() <= 76u);
        joined += lines[i];
    }
    BOOST_TEST(base64_decode(joined) == bytes);
}

BOOST_AUTO_TEST_CASE(mostly_japanese_text_is_sent_as_base64_and_ascii_as_quoted_printable) {
    std::string out;
    BOOST_TEST(encode_body("ようこそ、アカウントの準備ができました。\n", out) == "base64");
    BOOST_TEST(encode_body("Your account is ready.\n", out) == "quoted-printable");
}

BOOST_AUTO_TEST_CASE(a_message_has_each_header_once_in_order) {
    auto built = build_message(parts());
    BOOST_TEST_REQUIRE(built.ok());
    auto lines = lines_of(*built);
    std::vector<std::string> expected = {"Date: Thu, 01 Jan 1970 00:00:00 +0000",
                                         "Message-ID: <abc@example.com>",
                                         "From: \"Broker Bridge\" <noreply@example.com>",
                                         "To: ada@example.com",
                                         "Subject: Hello",
                                         "MIME-Version: 1.0",
                                         "Content-Type: text/plain; charset=UTF-8",
                                         "Content-Transfer-Encoding: quoted-printable",
                                         "",
                                         "Hi"};
    BOOST_TEST(lines == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(both_bodies_make_multipart_alternative) {
    auto p = parts();
    p.html = "<p>Hi</p>\n";
    auto built = build_message(p);
    BOOST_TEST_REQUIRE(built.ok());
    BOOST_TEST(built->find("Content-Type: multipart/alternative;\r\n boundary=\"=_bb_1\"") !=
               std::string::npos);
    BOOST_TEST(built->find("--=_bb_1\r\nContent-Type: text/plain; charset=UTF-8") !=
               std::string::npos);
    BOOST_TEST(built->find("--=_bb_1\r\nContent-Type: text/html; charset=UTF-8") !=
               std::string::npos);
    BOOST_TEST(built->ends_with("\r\n--=_bb_1--\r\n"));
}

BOOST_AUTO_TEST_CASE(a_line_break_in_a_header_value_is_refused) {
    for (std::string bad : {"Hi\r\nBcc: x@example.com", "Hi\nBcc: x", "Hi\rBcc: x"}) {
        auto p = parts();
        p.subject = bad;
        auto built = build_message(p);
        BOOST_TEST_REQUIRE(!built.ok());
        BOOST_TEST(built.error().what.find("header Subject") != std::string::npos);
        p = parts();
        p.to.display_name = bad;
        BOOST_TEST(!build_message(p).ok());
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(address)

BOOST_AUTO_TEST_CASE(a_mailbox_with_a_display_name_is_read) {
    auto m = parse_mailbox("Ada Lovelace <ada@example.com>", "to");
    BOOST_TEST_REQUIRE(m.ok());
    BOOST_TEST(m->display_name == "Ada Lovelace");
    BOOST_TEST(m->address() == "ada@example.com");
    BOOST_TEST(!m->needs_smtputf8());
}

BOOST_AUTO_TEST_CASE(a_non_ascii_local_part_needs_smtputf8) {
    for (std::string a : {"олег.2@example.com", "ユーザー@example.com", "đorđe.27@example.com"}) {
        auto m = parse_mailbox(a, "to");
        BOOST_TEST_REQUIRE(m.ok(), a);
        BOOST_TEST(m->needs_smtputf8());
    }
}

BOOST_AUTO_TEST_CASE(malformed_addresses_are_refused_with_the_reason) {
    struct Case {
        std::string text;
        std::string reason;
    };
    for (const Case& c : std::vector<Case>{
             {"ada@example.com\r\nBcc: x@example.com", "line break"},
             {"Eve\n <eve@example.com>", "line break"},
             {"no-at-sign", "has no '@'"},
             {"@example.com", "local part"},
             {"a..b@example.com", "misplaced '.'"},
             {"\"quoted\"@example.com", "quoted local parts"},
             {"a b@example.com", "not allowed"},
             {"ada@exa mple.com", "not a host name"},
             {"ada@", "domain"},
             {std::string(65, 'a') + "@example.com", "longer than 64"},
         }) {
        auto m = parse_mailbox(c.text, "to");
        BOOST_TEST_REQUIRE(!m.ok(), c.text);
        BOOST_TEST(m.error().what.starts_with("to: "), m.error().what);
        BOOST_TEST(m.error().what.find(c.reason) != std::string::npos, m.error().what);
    }
}

BOOST_AUTO_TEST_SUITE_END()
