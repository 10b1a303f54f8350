#pragma once

#include <string>
#include <string_view>

#include "address.hpp"
#include "broker-bridge/result.hpp"

// Builds an Internet message (RFC 5322 with MIME, RFC 2045-2047) from rendered parts. Hand
// written rather than taken from a library: Debian bookworm packages no C++ MIME writer
// that fits a plugin (vmime is large and brings its own SMTP and TLS stacks), and what is
// needed here is small and fully covered by unit tests.
namespace bb::email {

inline constexpr size_t kMaxLineBytes = 76;  // body lines (RFC 2045 6.7, 6.8)
inline constexpr size_t kFoldBytes = 78;     // header lines (RFC 5322 2.1.1)

struct MessageParts {
    Mailbox from;
    Mailbox to;
    std::string subject;     // UTF-8, one line
    std::string text;        // text/plain body; may be empty
    std::string html;        // text/html body; may be empty
    std::string message_id;  // without angle brackets: "id@domain"
    std::string date;        // RFC 5322 date-time, see rfc5322_date
    std::string boundary;    // for multipart/alternative; must not occur in the bodies
};

// The whole message with CRLF line ends: Date, Message-ID, From, To, Subject, MIME-Version
// and Content-Type (charset UTF-8); multipart/alternative when both bodies are set. A
// header value with CR or LF is refused, naming the header.
Result<std::string> build_message(const MessageParts& parts);

// "=?UTF-8?B?...?=" words of at most 75 bytes each, split between UTF-8 sequences and
// joined by CRLF SP (folded), for a header whose name takes `used` bytes of the first line.
std::string encode_words(std::string_view utf8, size_t used);
// The header value as is when it is printable ASCII without "=?" and fits a folded line,
// else encode_words.
std::string header_text(std::string_view value, size_t used);
// Quoted-printable (RFC 2045 6.7) with CRLF line ends and lines of at most 76 bytes.
std::string quoted_printable(std::string_view text);
// Base64 in lines of 76 characters, CRLF after each.
std::string base64_lines(std::string_view bytes);
// Quoted-printable for mostly-ASCII text, base64 when that is shorter (CJK text): returns
// the Content-Transfer-Encoding name and fills `out`.
std::string_view encode_body(std::string_view text, std::string& out);

// "Tue, 01 Dec 2026 08:00:00 +0000" for a Unix time in seconds.
std::string rfc5322_date(int64_t unix_seconds);

}  // namespace bb::email
