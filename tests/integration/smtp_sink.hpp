#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace bb::itest {

// tests/tools/smtp_sink.py (aiosmtpd) on a free loopback port, as a child process stopped
// by its PID. Each message it accepts shows up as <folder>/<n>.json (see the script).
class SmtpSink {
public:
    // `args` are extra command-line options of the script ("--reject", "bad@").
    SmtpSink(std::filesystem::path dir, std::vector<std::string> args = {});
    ~SmtpSink();
    SmtpSink(const SmtpSink&) = delete;
    SmtpSink& operator=(const SmtpSink&) = delete;

    int port() const { return port_; }
    std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }
    std::filesystem::path folder() const { return dir_ / "mail"; }
    // Every received message's record, in the order received.
    std::vector<nlohmann::json> messages() const;
    std::string log_text() const;

private:
    std::filesystem::path dir_;
    pid_t pid_ = -1;
    int port_ = 0;
};

}  // namespace bb::itest
