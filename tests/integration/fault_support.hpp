#pragma once

#include <nats/nats.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "integration/bridge_process.hpp"

// Helpers shared by the fault suite (bb_itest_faults): its sizes from the environment (so
// scripts/soak runs the same tests longer), a stopwatch, the figures each test prints, and
// probes of the real processes (/readyz, the edge's port, the analytics table, consumers).
namespace bb::itest {

// The number in environment variable `name`, or `fallback` when it is unset or empty;
// throws std::invalid_argument naming the variable when it is not a whole number.
int64_t env_number(const char* name, int64_t fallback);

class Stopwatch {
public:
    int64_t ms() const {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - start_)
            .count();
    }
    void reset() { start_ = std::chrono::steady_clock::now(); }

private:
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// A temporary folder removed with everything in it when this object goes.
struct TempFolder {
    explicit TempFolder(const std::string& prefix);
    ~TempFolder();
    TempFolder(const TempFolder&) = delete;
    TempFolder& operator=(const TempFolder&) = delete;
    std::filesystem::path path;
};

void write_file(const std::filesystem::path& file, const std::string& text);

// Prints one line "figures <scenario> key=value ..." to the test log and stdout, where
// scripts/soak and docs/RELIABILITY.md pick them up.
void print_figures(const std::string& scenario, const std::string& fields);

// The HTTP status of GET http://127.0.0.1:<port><path>; 0 when nothing answers.
int http_status(int port, const std::string& path);

// The port from an edge's "edge listening ... port=N" line after `from` bytes of its log;
// -1 before it is logged.
int edge_port(const BridgeProcess& edge);

// `SELECT count(*) ...` on a SQLite file opened read-only; -1 when it cannot be read.
int64_t sqlite_count(const std::filesystem::path& db, const std::string& sql);

// True when stream `stream` has exactly `expected` consumers and none of them has a message
// waiting or unacknowledged.
bool consumers_idle(jsCtx* js, const std::string& stream, int expected);
// Messages delivered and not yet acknowledged, summed over the stream's consumers.
int64_t ack_pending(jsCtx* js, const std::string& stream);

// A one-shot `broker-bridge <args...>` run as a child process, its output in `log`. The
// destructor kills it by its PID if it still runs.
class BridgeCommand {
public:
    BridgeCommand(std::vector<std::string> args, std::filesystem::path log);
    ~BridgeCommand();
    BridgeCommand(const BridgeCommand&) = delete;
    BridgeCommand& operator=(const BridgeCommand&) = delete;

    // Its exit status once it exited within `within`; -1 when it still runs (or was killed
    // by a signal).
    int wait(std::chrono::milliseconds within);
    bool exited() const { return pid_ <= 0; }
    std::string output() const;

private:
    std::filesystem::path log_;
    pid_t pid_ = -1;
    int status_ = -1;
};

// The last `bytes` of `text`, for failure messages.
std::string tail(const std::string& text, size_t bytes = 3000);

}  // namespace bb::itest
