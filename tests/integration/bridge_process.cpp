#include "integration/bridge_process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "integration/wait.hpp"

namespace bb::itest {

std::filesystem::path bridge_binary() {
    return std::filesystem::path(BB_BINARY_DIR) / "bin" / "broker-bridge";
}

BridgeProcess::BridgeProcess(std::filesystem::path config, std::filesystem::path log,
                             std::string command, std::vector<std::string> extra_args)
    : config_(std::move(config)),
      log_(std::move(log)),
      command_(std::move(command)),
      extra_args_(std::move(extra_args)) {}

BridgeProcess::~BridgeProcess() {
    if (pid_ > 0) stop(std::chrono::seconds(10));
}

std::string BridgeProcess::log_text() const {
    std::ifstream in(log_);
    std::ostringstream s;
    s << in.rdbuf();
    std::string all = s.str();
    return log_offset_ < all.size() ? all.substr(log_offset_) : std::string{};
}

bool BridgeProcess::start(std::chrono::milliseconds ready_within) {
    std::error_code ec;
    log_offset_ = std::filesystem::exists(log_, ec) ? std::filesystem::file_size(log_, ec) : 0;
    std::string binary = bridge_binary().string();
    std::vector<std::string> args{binary, command_, "--config", config_.string()};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        bool user_dropped = uid_ == static_cast<uid_t>(-1) ||
                            (setgroups(0, nullptr) == 0 && setgid(gid_) == 0 && setuid(uid_) == 0);
        if (!user_dropped) _exit(126);
        // After the uid change, which clears it: a test that dies leaves no daemon behind.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execv(binary.c_str(), argv.data());
        _exit(127);
    }
    pid_ = pid;
    return wait_until(
               [&] {
                   if (exited()) return true;
                   return log_text().find("broker-bridge ready") != std::string::npos;
               },
               ready_within, std::chrono::milliseconds(20)) &&
           running();
}

bool BridgeProcess::exited(int* status) {
    if (pid_ <= 0) {
        if (status) *status = last_status_;
        return true;
    }
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
        pid_ = -1;
        last_status_ = st;
        if (status) *status = st;
        return true;
    }
    return false;
}

void BridgeProcess::kill_now() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
}

int BridgeProcess::stop(std::chrono::milliseconds within) {
    if (pid_ <= 0) return 0;
    kill(pid_, SIGTERM);
    int status = 0;
    if (wait_until([&] { return exited(&status); }, within, std::chrono::milliseconds(10))) {
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return -1;
}

}  // namespace bb::itest
