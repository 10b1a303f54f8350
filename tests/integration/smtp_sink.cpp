#include "integration/smtp_sink.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <sstream>

#include "integration/wait.hpp"

namespace bb::itest {
namespace {

std::string read_text(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

SmtpSink::SmtpSink(std::filesystem::path dir, std::vector<std::string> args)
    : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
    std::string script = std::string(BB_SOURCE_DIR) + "/tests/tools/smtp_sink.py";
    std::string ready = (dir_ / "port").string();
    std::string mail = folder().string();
    // Debian's interpreter: python3-aiosmtpd is installed there, not in a pyenv on PATH.
    std::vector<std::string> argv = {"/usr/bin/python3", script, "--folder", mail,
                                     "--ready-file",     ready,  "--port",   "0"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string log = (dir_ / "sink.log").string();
    pid_ = ::fork();
    BOOST_TEST_REQUIRE(pid_ >= 0, "fork failed");
    if (pid_ == 0) {
        int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            ::dup2(fd, 1);
            ::dup2(fd, 2);
        }
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a test that dies leaves no sink behind
        std::vector<char*> c_argv;
        for (auto& a : argv) c_argv.push_back(a.data());
        c_argv.push_back(nullptr);
        ::execv(c_argv[0], c_argv.data());
        ::_exit(127);
    }
    bool up = wait_until([&] { return std::filesystem::exists(ready); }, std::chrono::seconds(15),
                         std::chrono::milliseconds(20));
    BOOST_TEST_REQUIRE(up, "smtp sink did not start:\n" << log_text());
    port_ = std::stoi(read_text(ready));
}

SmtpSink::~SmtpSink() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    bool gone = wait_until([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; },
                           std::chrono::seconds(5), std::chrono::milliseconds(10));
    if (!gone) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
    }
}

std::vector<nlohmann::json> SmtpSink::messages() const {
    std::vector<nlohmann::json> out;
    // The sink writes <n>.json, then <n>.eml: a message counts once its .eml is there, so a
    // test that reads the raw bytes next never finds them missing.
    for (int n = 1;; ++n) {
        auto base = folder() / std::to_string(n);
        if (!std::filesystem::exists(base.string() + ".eml")) break;
        out.push_back(nlohmann::json::parse(read_text(base.string() + ".json")));
    }
    return out;
}

std::string SmtpSink::log_text() const { return read_text(dir_ / "sink.log"); }

}  // namespace bb::itest
