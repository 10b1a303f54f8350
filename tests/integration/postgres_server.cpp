#include "integration/postgres_server.hpp"

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "integration/free_port.hpp"
#include "integration/wait.hpp"

#ifndef BB_PG_BIN_DIR
#error "BB_PG_BIN_DIR must name PostgreSQL's bin folder (tests/integration/CMakeLists.txt)"
#endif

namespace bb::itest {
namespace {

using namespace std::chrono_literals;

constexpr auto kInitdbDeadline = 60s;
constexpr auto kStartDeadline = 20s;
constexpr auto kStopDeadline = 10s;

// Reaps `pid` if it has exited; true once it is gone.
bool reap(pid_t pid, int* status) {
    while (true) {
        pid_t r = ::waitpid(pid, status, WNOHANG);
        if (r == pid) return true;
        if (r == 0) return false;
        if (errno == EINTR) continue;
        return true;  // ECHILD
    }
}

std::string read_file(const std::filesystem::path& file) {
    std::ifstream in(file);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

struct Finish {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct Clear {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};

}  // namespace

PostgresServer::PostgresServer() {
    std::string pattern = (std::filesystem::temp_directory_path() / "bb-itest-pg-XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) {
        throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    }
    dir_ = pattern;
    uid_ = ::geteuid();
    gid_ = ::getegid();
    if (uid_ == 0) {
        const passwd* pw = ::getpwnam("postgres");  // before fork: not async-signal-safe
        if (pw == nullptr) {
            throw std::runtime_error(
                "running as root needs the user 'postgres' (Debian "
                "package postgresql) to run initdb and postgres");
        }
        uid_ = pw->pw_uid;
        gid_ = pw->pw_gid;
        switch_user_ = true;
        if (::chown(dir_.c_str(), uid_, gid_) != 0) {
            throw std::system_error(errno, std::generic_category(), "chown " + dir_.string());
        }
    }
    try {
        run_initdb();
        port_ = free_loopback_port();
        start();
    } catch (...) {
        stop();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
        throw;
    }
}

PostgresServer::~PostgresServer() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

std::string PostgresServer::dsn() const {
    return "host=127.0.0.1 port=" + std::to_string(port_) +
           " user=postgres dbname=postgres connect_timeout=5";
}

pid_t PostgresServer::spawn(const std::vector<std::string>& args,
                            const std::filesystem::path& log) {
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string log_path = log.string();
    std::string dir = dir_.string();
    pid_t pid = ::fork();
    if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork " + args[0]);
    if (pid == 0) {
        // Only async-signal-safe calls until exec. The user is switched here rather than by
        // runuser, so the PID the test holds is the server's own and its signals reach it.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (switch_user_ &&
            (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0)) {
            ::_exit(126);
        }
        if (::chdir(dir.c_str()) != 0) ::_exit(126);
        int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        int in = ::open("/dev/null", O_RDONLY);
        if (out >= 0) {
            ::dup2(out, STDOUT_FILENO);
            ::dup2(out, STDERR_FILENO);
        }
        if (in >= 0) ::dup2(in, STDIN_FILENO);
        if (::close_range(3, ~0U, 0) != 0) {
            for (int fd = 3; fd < 1024; ++fd) ::close(fd);
        }
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    return pid;
}

void PostgresServer::run_initdb() {
    std::string initdb = std::string(BB_PG_BIN_DIR) + "/initdb";
    if (::access(initdb.c_str(), X_OK) != 0) {
        throw std::runtime_error(initdb + " is missing: install the Debian package postgresql");
    }
    pid_t pid = spawn({initdb, "-D", (dir_ / "data").string(), "-A", "trust", "-U", "postgres",
                       "-E", "UTF8", "--locale=C", "--no-sync"},
                      dir_ / "initdb.log");
    int status = 0;
    bool done = wait_until([&] { return reap(pid, &status); }, kInitdbDeadline, 20ms);
    if (!done) {
        ::kill(pid, SIGKILL);
        reap(pid, &status);
    }
    if (!done || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw std::runtime_error("initdb failed (wait status " + std::to_string(status) +
                                 "): " + read_file(dir_ / "initdb.log"));
    }
}

void PostgresServer::start() {
    std::string postgres = std::string(BB_PG_BIN_DIR) + "/postgres";
    pid_ = spawn({postgres, "-D", (dir_ / "data").string(), "-p", std::to_string(port_), "-c",
                  "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + dir_.string(),
                  "-c", "fsync=off", "-c", "full_page_writes=off"},
                 dir_ / "server.log");
    if (!wait_until_accepting()) {
        std::string why = log_tail();
        stop();
        throw std::runtime_error("postgres did not accept connections on port " +
                                 std::to_string(port_) + " within 20 s; its log:\n" + why);
    }
}

bool PostgresServer::wait_until_accepting() {
    std::string conninfo = dsn();
    return wait_until(
               [&] {
                   int status = 0;
                   if (reap(pid_, &status)) {
                       pid_ = -1;
                       return true;  // exited: the caller sees running() false
                   }
                   return PQping(conninfo.c_str()) == PQPING_OK;
               },
               kStartDeadline, 20ms) &&
           pid_ > 0;
}

void PostgresServer::stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGINT);
    int status = 0;
    if (!wait_until([&] { return reap(pid_, &status); }, kStopDeadline, 10ms)) {
        ::kill(pid_, SIGKILL);
        wait_until([&] { return reap(pid_, &status); }, kStopDeadline, 10ms);
    }
    pid_ = -1;
}

void PostgresServer::restart() {
    stop();
    start();
}

std::string PostgresServer::log_tail() const {
    std::string text = read_file(dir_ / "server.log");
    constexpr size_t kTail = 4000;
    return text.size() > kTail ? text.substr(text.size() - kTail) : text;
}

std::optional<std::string> pg_value(const std::string& dsn, const std::string& sql) {
    std::unique_ptr<PGconn, Finish> conn(PQconnectdb(dsn.c_str()));
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        throw std::runtime_error("connect: " + std::string(PQerrorMessage(conn.get())));
    }
    std::unique_ptr<PGresult, Clear> r(PQexec(conn.get(), sql.c_str()));
    auto status = PQresultStatus(r.get());
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        throw std::runtime_error(sql + ": " + PQerrorMessage(conn.get()));
    }
    if (status != PGRES_TUPLES_OK || PQntuples(r.get()) == 0 || PQgetisnull(r.get(), 0, 0)) {
        return std::nullopt;
    }
    return std::string(PQgetvalue(r.get(), 0, 0));
}

long pg_count(const std::string& dsn, const std::string& sql) {
    try {
        return std::stol(pg_value(dsn, sql).value_or("-1"));
    } catch (const std::exception&) {
        return -1;
    }
}

}  // namespace bb::itest
