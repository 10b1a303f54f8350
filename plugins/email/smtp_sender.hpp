#pragma once

#include <curl/curl.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "address.hpp"
#include "email_config.hpp"

namespace bb::email {

struct SendResult {
    enum Kind { kSent, kRejected, kRetry };
    Kind kind = kRetry;
    long reply_code = 0;  // the server's last reply code, 0 when none came
    std::string reason;   // for kRejected and kRetry: what happened, with the server's reply
};

// Sends messages over SMTP with libcurl. Easy handles, each with the connection it keeps
// open, wait in a small pool between messages, so a message usually reuses a connection
// (and its TLS session) instead of opening one; the pool holds at most
// max_idle_connections. Thread-safe: each send takes a handle of its own.
class SmtpSender {
public:
    explicit SmtpSender(SmtpSettings settings);
    ~SmtpSender();
    SmtpSender(const SmtpSender&) = delete;
    SmtpSender& operator=(const SmtpSender&) = delete;

    // One message to one recipient: the envelope's RCPT is exactly `to`. Blocks until the
    // server answered the end of the data, or send_timeout.
    SendResult send(const Mailbox& from, const Mailbox& to, const std::string& message);

    struct Connection;  // one libcurl handle and its connection (smtp_sender.cpp)

private:
    std::unique_ptr<Connection> take();
    void give_back(std::unique_ptr<Connection> c);
    void configure(Connection& c);

    SmtpSettings settings_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace bb::email
