#include "smtp_sender.hpp"

#include <algorithm>
#include <cstring>

namespace bb::email {
namespace {

struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

// One easy handle and what this side learned about its open connection. libcurl sends
// EHLO once per connection, so the capabilities outlive a transfer on a reused one.
struct SmtpSender::Connection {
    CURL* curl = nullptr;

    bool smtputf8_offered = false;
    std::string reply;    // the server's last complete reply, all its lines
    std::string partial;  // lines of a multi-line reply still arriving
    std::string failure;  // the last 4xx or 5xx reply of this transfer

    // Per transfer.
    std::string_view body;
    size_t offset = 0;
    bool needs_smtputf8 = false;
    bool refused_for_smtputf8 = false;
    char error[CURL_ERROR_SIZE] = {};

    ~Connection() {
        if (curl) curl_easy_cleanup(curl);
    }

    // Server replies arrive as CURLINFO_HEADER_IN lines, our commands as HEADER_OUT.
    void saw(curl_infotype type, std::string_view text) {
        if (type == CURLINFO_HEADER_OUT && starts_with(text, "EHLO")) {
            smtputf8_offered = false;  // a new connection, or the one after STARTTLS
            return;
        }
        if (type != CURLINFO_HEADER_IN) return;
        while (!text.empty()) {
            size_t end = text.find('\n');
            std::string_view line = text.substr(0, end);
            text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
            while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) {
                line.remove_suffix(1);
            }
            if (line.size() < 3) continue;
            if (line.size() > 4 && line.substr(4) == "SMTPUTF8") smtputf8_offered = true;
            if (!partial.empty()) partial += " | ";
            partial += line;
            if (line.size() == 3 || line[3] == ' ') {
                // A failure is followed by QUIT and its "221 Bye": keep the failing reply.
                if (line[0] == '4' || line[0] == '5') failure = partial;
                reply = std::move(partial);
                partial.clear();
            }
        }
    }
};

namespace {

int on_debug(CURL*, curl_infotype type, char* data, size_t size, void* user) {
    static_cast<SmtpSender::Connection*>(user)->saw(type, std::string_view(data, size));
    return 0;
}

size_t on_read(char* buffer, size_t size, size_t count, void* user) {
    auto& c = *static_cast<SmtpSender::Connection*>(user);
    if (c.offset == 0 && c.needs_smtputf8 && !c.smtputf8_offered) {
        // The server took the envelope without SMTPUTF8: stop before any of the message is
        // sent. Aborting mid-DATA makes the server drop the transaction.
        c.refused_for_smtputf8 = true;
        return CURL_READFUNC_ABORT;
    }
    size_t n = std::min(size * count, c.body.size() - c.offset);
    std::memcpy(buffer, c.body.data() + c.offset, n);
    c.offset += n;
    return n;
}

SendResult failed(SendResult::Kind kind, long code, std::string reason) {
    return SendResult{kind, code, std::move(reason)};
}

}  // namespace

SmtpSender::SmtpSender(SmtpSettings settings) : settings_(std::move(settings)) {}

SmtpSender::~SmtpSender() = default;

std::unique_ptr<SmtpSender::Connection> SmtpSender::take() {
    {
        std::lock_guard lock(mutex_);
        if (!idle_.empty()) {
            auto c = std::move(idle_.back());
            idle_.pop_back();
            return c;
        }
    }
    auto c = std::make_unique<Connection>();
    c->curl = curl_easy_init();
    if (!c->curl) return nullptr;
    configure(*c);
    return c;
}

void SmtpSender::give_back(std::unique_ptr<Connection> c) {
    std::lock_guard lock(mutex_);
    if (static_cast<int>(idle_.size()) < settings_.max_idle_connections) {
        idle_.push_back(std::move(c));
    }
}

// Settings that stay the same for every message of a handle.
void SmtpSender::configure(Connection& c) {
    CURL* h = c.curl;
    curl_easy_setopt(h, CURLOPT_URL, settings_.url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // worker threads: no SIGALRM timeouts
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, &on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &c);
    // The debug hook is the only way libcurl shows the EHLO capabilities and reply texts.
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, &on_debug);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, &c);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c.error);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(settings_.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(settings_.send_timeout.count()));
    long ssl = settings_.tls == TlsMode::kStartTls            ? CURLUSESSL_ALL
               : settings_.tls == TlsMode::kStartTlsIfOffered ? CURLUSESSL_TRY
                                                              : CURLUSESSL_NONE;
    curl_easy_setopt(h, CURLOPT_USE_SSL, ssl);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, settings_.verify_peer ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, settings_.verify_peer ? 2L : 0L);
    if (!settings_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, settings_.ca_file.c_str());
    if (!settings_.username.empty()) {
        curl_easy_setopt(h, CURLOPT_USERNAME, settings_.username.c_str());
        curl_easy_setopt(h, CURLOPT_PASSWORD, settings_.password.c_str());
    }
}

SendResult SmtpSender::send(const Mailbox& from, const Mailbox& to, const std::string& message) {
    auto c = take();
    if (!c) return failed(SendResult::kRetry, 0, "cannot make a libcurl handle");
    std::string mail_from = "<" + from.address() + ">";
    std::unique_ptr<curl_slist, SlistDeleter> rcpt(
        curl_slist_append(nullptr, ("<" + to.address() + ">").c_str()));
    c->body = message;
    c->offset = 0;
    c->needs_smtputf8 = to.needs_smtputf8() || from.needs_smtputf8();
    c->refused_for_smtputf8 = false;
    c->error[0] = '\0';
    c->reply.clear();
    c->partial.clear();
    c->failure.clear();
    curl_easy_setopt(c->curl, CURLOPT_MAIL_FROM, mail_from.c_str());
    curl_easy_setopt(c->curl, CURLOPT_MAIL_RCPT, rcpt.get());
    curl_easy_setopt(c->curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
    CURLcode rc = curl_easy_perform(c->curl);
    long code = 0;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
    // Nothing of this transfer may dangle into the next one on this handle.
    curl_easy_setopt(c->curl, CURLOPT_MAIL_RCPT, nullptr);
    c->body = {};
    std::string detail = c->error[0] ? c->error : curl_easy_strerror(rc);
    const std::string& said = c->failure.empty() ? c->reply : c->failure;
    std::string reply = said.empty() ? "" : ": server said \"" + said + "\"";
    bool utf8_refused = c->refused_for_smtputf8 ||
                        (c->needs_smtputf8 && !c->smtputf8_offered && code >= 500 && code < 600);
    give_back(std::move(c));
    if (rc == CURLE_OK) return SendResult{SendResult::kSent, code, ""};
    if (utf8_refused) {
        return failed(SendResult::kRejected, code,
                      "the address <" + to.address() +
                          "> needs SMTPUTF8 (RFC 6531), which the "
                          "server does not offer" +
                          reply);
    }
    if (rc == CURLE_USE_SSL_FAILED) {
        return failed(
            SendResult::kRetry, code,
            "smtp.tls is starttls but the server does not offer STARTTLS (" + detail + ")" + reply);
    }
    if (rc == CURLE_LOGIN_DENIED) {
        // The credentials, not this message: retried, and dead-lettered after the last try.
        return failed(SendResult::kRetry, code, "SMTP authentication failed" + reply);
    }
    if (code >= 500 && code < 600) {
        return failed(SendResult::kRejected, code, "SMTP " + std::to_string(code) + reply);
    }
    if (code >= 400 && code < 500) {
        return failed(SendResult::kRetry, code, "SMTP " + std::to_string(code) + reply);
    }
    return failed(SendResult::kRetry, code, "SMTP transfer failed: " + detail + reply);
}

}  // namespace bb::email
