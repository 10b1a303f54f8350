// The floor consumers run until the harness stops them (SIGTERM or SIGINT) or their
// --seconds bound passes, whichever comes first.
#pragma once

#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>

namespace bench {

inline std::atomic<bool> g_stop{false};

inline void wait_for_stop(int64_t seconds) {
    std::signal(SIGTERM, [](int) { g_stop = true; });
    std::signal(SIGINT, [](int) { g_stop = true; });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (!g_stop && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

}  // namespace bench
