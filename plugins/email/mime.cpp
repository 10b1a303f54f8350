#include "mime.hpp"

#include <ctime>

namespace bb::email {
namespace {

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kHex[] = "0123456789ABCDEF";

std::string base64(std::string_view in) {
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
        out += kBase64[v >> 18];
        out += kBase64[(v >> 12) & 63];
        out += kBase64[(v >> 6) & 63];
        out += kBase64[v & 63];
    }
    if (i < in.size()) {
        uint32_t v = uint8_t(in[i]) << 16;
        if (i + 1 < in.size()) v |= uint8_t(in[i + 1]) << 8;
        out += kBase64[v >> 18];
        out += kBase64[(v >> 12) & 63];
        out += i + 1 < in.size() ? kBase64[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

// The length of the UTF-8 sequence starting with `lead` (1 for a stray byte).
size_t sequence_length(unsigned char lead) {
    if (lead >= 0xF0) return 4;
    if (lead >= 0xE0) return 3;
    if (lead >= 0xC0) return 2;
    return 1;
}

bool printable_ascii(std::string_view s) {
    for (char c : s) {
        if (c < 0x20 || c > 0x7e) return false;
    }
    return true;
}

// Display name as an RFC 5322 quoted-string when ASCII, else encoded words.
std::string display_name(std::string_view name, size_t used) {
    if (printable_ascii(name) && name.find("=?") == std::string_view::npos) {
        std::string out = "\"";
        for (char c : name) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        return out + "\"";
    }
    return encode_words(name, used);
}

std::string mailbox_header(const Mailbox& m, size_t used) {
    if (m.display_name.empty()) return m.address();
    return display_name(m.display_name, used) + " <" + m.address() + ">";
}

Result<void> check_value(std::string_view header, std::string_view value) {
    if (size_t at = find_line_break(value); at != std::string_view::npos) {
        return make_error("header " + std::string(header) +
                          " would contain a line break (CR or LF) at byte " + std::to_string(at) +
                          "; refused so that no header can be added");
    }
    return {};
}

std::string body_part(std::string_view type, std::string_view text) {
    std::string encoded;
    std::string_view encoding = encode_body(text, encoded);
    return "Content-Type: " + std::string(type) + "; charset=UTF-8\r\n" +
           "Content-Transfer-Encoding: " + std::string(encoding) + "\r\n\r\n" + encoded;
}

}  // namespace

std::string encode_words(std::string_view utf8, size_t used) {
    // 75 bytes per word less "=?UTF-8?B?" and "?=" leaves 63 base64 characters: 45 bytes.
    constexpr size_t kBytesPerWord = 45;
    std::string out;
    size_t i = 0;
    bool first = true;
    while (i < utf8.size() || first) {
        size_t end = i;
        while (end < utf8.size()) {
            size_t n = sequence_length(static_cast<unsigned char>(utf8[end]));
            if (end + n - i > kBytesPerWord) break;
            end += n;
        }
        if (end == i && i < utf8.size()) end = std::min(utf8.size(), i + kBytesPerWord);
        std::string word = "=?UTF-8?B?" + base64(utf8.substr(i, end - i)) + "?=";
        if (!first) out += "\r\n ";
        // A first word that would overflow the header's line starts on the next one.
        if (first && used + word.size() > kFoldBytes && used > 0) out += "\r\n ";
        out += word;
        first = false;
        i = end;
    }
    return out;
}

std::string header_text(std::string_view value, size_t used) {
    if (printable_ascii(value) && value.find("=?") == std::string_view::npos &&
        used + value.size() <= kFoldBytes) {
        return std::string(value);
    }
    return encode_words(value, used);
}

std::string quoted_printable(std::string_view text) {
    std::string out;
    size_t column = 0;
    auto emit = [&](std::string_view piece) {
        // A soft line break keeps each line at most 76 bytes including its '='.
        if (column + piece.size() > kMaxLineBytes - 1) {
            out += "=\r\n";
            column = 0;
        }
        out += piece;
        column += piece.size();
    };
    for (size_t i = 0; i < text.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (c == '\n' || (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) {
            if (c == '\r') ++i;
            out += "\r\n";
            column = 0;
            continue;
        }
        bool at_line_end = i + 1 == text.size() || text[i + 1] == '\n' || text[i + 1] == '\r';
        bool literal =
            (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_line_end);
        // A leading '.' is encoded too: some relays mangle a line that starts with a dot.
        if (column == 0 && c == '.') literal = false;
        if (literal) {
            emit(text.substr(i, 1));
        } else {
            char enc[3] = {'=', kHex[c >> 4], kHex[c & 15]};
            emit(std::string_view(enc, 3));
        }
    }
    if (!out.empty() && out.back() != '\n') out += "\r\n";
    return out;
}

std::string base64_lines(std::string_view bytes) {
    std::string all = base64(bytes);
    std::string out;
    for (size_t i = 0; i < all.size(); i += kMaxLineBytes) {
        out += all.substr(i, kMaxLineBytes);
        out += "\r\n";
    }
    return out;
}

// Text in canonical form (RFC 2045 6.8): every line ends with CRLF before it is encoded.
std::string crlf_lines(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 32);
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
        if (text[i] == '\n') out += '\r';
        out += text[i];
    }
    return out;
}

std::string_view encode_body(std::string_view text, std::string& out) {
    std::string qp = quoted_printable(text);
    std::string b64 = base64_lines(crlf_lines(text));
    if (b64.size() < qp.size()) {
        out = std::move(b64);
        return "base64";
    }
    out = std::move(qp);
    return "quoted-printable";
}

std::string rfc5322_date(int64_t unix_seconds) {
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char buf[40];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday],
                  tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
    return buf;
}

Result<std::string> build_message(const MessageParts& p) {
    for (auto [name, value] : {std::pair<std::string_view, std::string_view>{"Subject", p.subject},
                               {"From", p.from.display_name},
                               {"To", p.to.display_name},
                               {"Message-ID", p.message_id},
                               {"Date", p.date}}) {
        if (auto ok = check_value(name, value); !ok) return ok.error();
    }
    if (p.text.empty() && p.html.empty()) return make_error("the message has no body");
    std::string m;
    m += "Date: " + p.date + "\r\n";
    m += "Message-ID: <" + p.message_id + ">\r\n";
    m += "From: " + mailbox_header(p.from, 6) + "\r\n";
    m += "To: " + mailbox_header(p.to, 4) + "\r\n";
    m += "Subject: " + header_text(p.subject, 9) + "\r\n";
    m += "MIME-Version: 1.0\r\n";
    if (p.text.empty() || p.html.empty()) {
        return m +
               (p.html.empty() ? body_part("text/plain", p.text) : body_part("text/html", p.html));
    }
    if (p.boundary.empty() || p.text.find(p.boundary) != std::string::npos ||
        p.html.find(p.boundary) != std::string::npos) {
        return make_error("the multipart boundary is empty or occurs in a body");
    }
    m += "Content-Type: multipart/alternative;\r\n boundary=\"" + p.boundary + "\"\r\n\r\n";
    // The CRLF before a delimiter belongs to the delimiter (RFC 2046 5.1.1): the extra one
    // keeps each body's own last line end.
    m += "--" + p.boundary + "\r\n" + body_part("text/plain", p.text) + "\r\n";
    m += "--" + p.boundary + "\r\n" + body_part("text/html", p.html) + "\r\n";
    m += "--" + p.boundary + "--\r\n";
    return m;
}

}  // namespace bb::email
