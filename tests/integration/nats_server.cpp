#include "integration/nats_server.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <system_error>
#include <thread>

#ifndef BB_NATS_SERVER
#error "BB_NATS_SERVER must name the nats-server binary (tests/integration/CMakeLists.txt)"
#endif

namespace bb::itest {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kStartDeadline = 10s;
constexpr auto kStopDeadline = 10s;
constexpr auto kPoll = 10ms;

std::filesystem::path make_temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "bb-itest-nats-XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) {
        throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    }
    return pattern;
}

// Reaps `pid` if it has exited; true once it is gone (also when it was reaped before).
bool reap(pid_t pid, int* status) {
    while (true) {
        pid_t r = ::waitpid(pid, status, WNOHANG);
        if (r == pid) return true;
        if (r == 0) return false;
        if (errno == EINTR) continue;
        return true;  // ECHILD: nothing left to wait for
    }
}

bool wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    int status = 0;
    while (!reap(pid, &status)) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(kPoll);
    }
    return true;
}

// The client URL from a ports file, or "" while the file is missing or half written.
std::string url_from_ports_file(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) return {};
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto json = nlohmann::json::parse(text, nullptr, false);
    if (json.is_discarded() || !json.contains("nats") || !json["nats"].is_array() ||
        json["nats"].empty() || !json["nats"][0].is_string()) {
        return {};
    }
    return json["nats"][0].get<std::string>();
}

}  // namespace

NatsServer::NatsServer(std::vector<std::string> extra_args) : extra_args_(std::move(extra_args)) {
    if (::access(BB_NATS_SERVER, X_OK) != 0) {
        throw std::runtime_error("nats-server is missing or not executable at " BB_NATS_SERVER
                                 "; install the Debian package nats-server");
    }
    dir_ = make_temp_dir();
    try {
        start(-1);
    } catch (...) {
        stop();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
        throw;
    }
}

NatsServer::~NatsServer() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

std::vector<std::string> NatsServer::argv_for(int port) const {
    std::vector<std::string> args = {BB_NATS_SERVER, "-js", "-a", "127.0.0.1"};
    args.insert(args.end(), {"-p", std::to_string(port), "-sd", (dir_ / "store").string()});
    args.insert(args.end(), {"--ports_file_dir", dir_.string()});
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    return args;
}

void NatsServer::start(int port) {
    std::vector<std::string> args = argv_for(port);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string log = (dir_ / "server.log").string();

    pid_t pid = ::fork();
    if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork nats-server");
    if (pid == 0) {
        // The test process has threads: only async-signal-safe calls until exec.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a crashed test leaves no server behind
        int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        int in = ::open("/dev/null", O_RDONLY);
        if (out >= 0) {
            ::dup2(out, STDOUT_FILENO);
            ::dup2(out, STDERR_FILENO);
        }
        if (in >= 0) ::dup2(in, STDIN_FILENO);
        // Inherited client sockets would keep the test's own connections half alive.
        if (::close_range(3, ~0U, 0) != 0) {
            for (int fd = 3; fd < 1024; ++fd) ::close(fd);
        }
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    pid_ = pid;
    url_ = wait_for_ports_file(pid);
    auto colon = url_.rfind(':');
    port_ = std::stoi(url_.substr(colon + 1));
}

std::string NatsServer::wait_for_ports_file(pid_t pid) {
    auto file = dir_ / ("nats-server_" + std::to_string(pid) + ".ports");
    auto deadline = Clock::now() + kStartDeadline;
    while (true) {
        int status = 0;
        if (reap(pid, &status)) {
            pid_ = -1;
            throw std::runtime_error("nats-server exited (wait status " + std::to_string(status) +
                                     ") before listening; its log:\n" + log_tail());
        }
        std::string url = url_from_ports_file(file);
        if (!url.empty()) return url;
        if (Clock::now() >= deadline) {
            stop();
            throw std::runtime_error("nats-server wrote no ports file within 10 s; its log:\n" +
                                     log_tail());
        }
        std::this_thread::sleep_for(kPoll);
    }
}

void NatsServer::stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    if (!wait_exit(pid_, kStopDeadline)) {
        ::kill(pid_, SIGKILL);
        wait_exit(pid_, kStopDeadline);
    }
    pid_ = -1;
}

void NatsServer::kill_now() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    wait_exit(pid_, kStopDeadline);
    pid_ = -1;
}

void NatsServer::restart() {
    stop();
    start(port_);
}

std::string NatsServer::log_tail() const {
    std::ifstream in(dir_ / "server.log");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    constexpr size_t kTail = 4000;
    return text.size() > kTail ? text.substr(text.size() - kTail) : text;
}

}  // namespace bb::itest
