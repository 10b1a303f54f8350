#pragma once

#include <chrono>
#include <thread>
#include <utility>

namespace bb::itest {

using namespace std::chrono_literals;

// Polls `pred` until it holds or `deadline` passes; true when it held. The short pause
// between polls only spares the CPU: the condition, not the clock, ends the wait.
template <typename Pred>
bool wait_until(Pred&& pred, std::chrono::steady_clock::time_point deadline,
                std::chrono::milliseconds poll = 5ms) {
    while (true) {
        if (pred()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(poll);
    }
}

template <typename Pred, typename Rep, typename Period>
bool wait_until(Pred&& pred, std::chrono::duration<Rep, Period> timeout,
                std::chrono::milliseconds poll = 5ms) {
    return wait_until(std::forward<Pred>(pred), std::chrono::steady_clock::now() + timeout, poll);
}

}  // namespace bb::itest
