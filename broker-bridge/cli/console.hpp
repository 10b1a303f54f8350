#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>
#include <utility>

#include "broker-bridge/cli/commands.hpp"
#include "broker-bridge/config.hpp"
#include "broker-bridge/errors.hpp"
#include "broker-bridge/log.hpp"
#include "broker-bridge/nats_client.hpp"

// What the publish and dlq commands share: where they write, the progress line, and the
// connection they open. The commands.hpp entry points write to std::cout and std::cerr; the
// overloads below take a Console, so tests can read what a command printed.
namespace bb::cli {

// Results go to `out`; errors, progress and diagnostics to `err`.
struct Console {
    std::ostream& out;
    std::ostream& err;
    bool progress = false;  // rewrite a progress line on `err`: only on a terminal

    static Console standard() { return Console{std::cout, std::cerr, isatty(STDERR_FILENO) == 1}; }
};

int publish(const PublishOptions& o, const Console& console);
int dlq_list(const DlqOptions& o, const Console& console);
int dlq_show(const DlqOptions& o, const Console& console);
int dlq_replay(const DlqOptions& o, const Console& console);
int dlq_purge(const DlqOptions& o, const Console& console);

// A status line rewritten in place with '\r', at most ten times a second, so a long run shows
// it is alive without flooding a slow terminal. Does nothing when the console is not a
// terminal: logs and pipes get only the summary. Call clear() before any other line on `err`.
class Progress {
public:
    explicit Progress(const Console& console) : err_(console.err), enabled_(console.progress) {}
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;
    ~Progress() { clear(); }

    // `text` is called only when the line is due for a redraw.
    template <typename TextFn>
    void update(TextFn&& text) {
        if (!enabled_) return;
        auto now = std::chrono::steady_clock::now();
        if (now - drawn_at_ < kRedrawInterval) return;
        std::string line = text();
        err_ << '\r' << line;
        if (line.size() < width_) err_ << std::string(width_ - line.size(), ' ');
        err_.flush();
        width_ = line.size();
        drawn_at_ = now;
    }

    void clear() {
        if (width_ == 0) return;
        err_ << '\r' << std::string(width_, ' ') << '\r';
        err_.flush();
        width_ = 0;
    }

private:
    static constexpr std::chrono::milliseconds kRedrawInterval{100};

    std::ostream& err_;
    bool enabled_;
    std::size_t width_ = 0;  // of the line on screen, 0: none
    std::chrono::steady_clock::time_point drawn_at_{};
};

// "1 event", "2 events": counts in summary lines.
inline std::string count_of(uint64_t n, std::string_view one, std::string_view many) {
    return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

// "1.2s": the elapsed time of a summary line.
inline std::string seconds_since(std::chrono::steady_clock::time_point start) {
    std::chrono::duration<double> d = std::chrono::steady_clock::now() - start;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", d.count());
    return buf;
}

// A command's config and connection. Unlike the daemon, which waits for a server as long as
// it takes, a command that finds no server within connect_timeout gives up: a StartupError,
// which main prints.
struct Session {
    Config config;
    NatsClient nats;
};

inline Session open_session(const std::string& config_file, std::string_view client_name) {
    Config config = load_config(config_file);
    // A command prints its own results; the daemon's lifecycle lines (connected, stream up
    // to date, closed) would only bury them. Warnings and errors still reach stderr.
    log::configure(std::max(config.log.level, log::Level::kWarn), config.log.format);
    NatsClient nats = NatsClient::connect(config.nats, client_name);
    if (!nats.wait_connected(config.nats.connect_timeout)) {
        throw StartupError("nats.url: no server answered at " + redacted_url(config.nats.url) +
                           " within " + std::to_string(config.nats.connect_timeout.count()) +
                           " ms");
    }
    return Session{std::move(config), std::move(nats)};
}

}  // namespace bb::cli
