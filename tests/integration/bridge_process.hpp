#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace bb::itest {

// Runs the real `broker-bridge <command> --config <file>` (`run`, or `edge` for the edge alone)
// as a child process, its output in a log file beside the config. The destructor stops it (SIGTERM,
// then SIGKILL after a deadline), by its PID only.
class BridgeProcess {
public:
    // `command` is `run` or `edge`; `extra_args` go after `--config <file>`, e.g.
    // {"--bindings", "a,b"}.
    BridgeProcess(std::filesystem::path config, std::filesystem::path log,
                  std::string command = "run", std::vector<std::string> extra_args = {});
    ~BridgeProcess();
    BridgeProcess(const BridgeProcess&) = delete;
    BridgeProcess& operator=(const BridgeProcess&) = delete;

    // Starts it and waits until it logs that it is ready; false (with the log kept) if it
    // exits or is not ready by the deadline.
    bool start(std::chrono::milliseconds ready_within = std::chrono::seconds(20));
    // SIGTERM and wait for the exit; returns the exit status (-1 if it had to be killed).
    int stop(std::chrono::milliseconds within = std::chrono::seconds(20));
    // SIGKILL, as a crash would end it, and reap it: nothing runs its shutdown.
    void kill_now();
    // True once the process has exited (reaps it); `status` is its wait status, also when
    // an earlier call reaped it.
    bool exited(int* status = nullptr);
    bool running() const { return pid_ > 0; }
    // Runs later starts under this user and group, with no supplementary groups (as
    // `setpriv --reuid --regid --clear-groups` would): a test running as root can then show
    // what file permissions do to the daemon. Needs root; the log file is opened before.
    void run_as(uid_t uid, gid_t gid) {
        uid_ = uid;
        gid_ = gid;
    }
    std::string log_text() const;

private:
    std::filesystem::path config_;
    std::filesystem::path log_;
    std::string command_;
    std::vector<std::string> extra_args_;
    pid_t pid_ = -1;
    uid_t uid_ = static_cast<uid_t>(-1);  // -1: the test's own user
    gid_t gid_ = static_cast<gid_t>(-1);
    int last_status_ = 0;    // wait status of the last reaped run
    size_t log_offset_ = 0;  // where this run's output starts in the log
};

// Path of the broker-bridge binary of this build.
std::filesystem::path bridge_binary();

}  // namespace bb::itest
