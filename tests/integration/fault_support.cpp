#include "integration/fault_support.hpp"

#include <sqlite3.h>

#include <cstdlib>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <stdexcept>

#include "integration/wait.hpp"

namespace bb::itest {

int64_t env_number(const char* name, int64_t fallback) {
    const char* text = std::getenv(name);
    if (text == nullptr || *text == '\0') return fallback;
    size_t used = 0;
    int64_t value = std::stoll(text, &used);
    if (used != std::string(text).size()) {
        throw std::invalid_argument(std::string(name) + ": not a whole number: " + text);
    }
    return value;
}

TempFolder::TempFolder(const std::string& prefix) {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    path = mkdtemp(tmpl.data());
}

TempFolder::~TempFolder() {
    if (std::getenv("BB_ITEST_KEEP_TEMP")) return;  // for reading the daemons' logs after a run
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
}

void write_file(const std::filesystem::path& file, const std::string& text) {
    std::ofstream out(file);
    out << text;
}

void print_figures(const std::string& scenario, const std::string& fields) {
    std::string line = "figures " + scenario + " " + fields;
    BOOST_TEST_MESSAGE(line);
    std::cout << line << std::endl;
}

int http_status(int port, const std::string& path) {
    namespace beast = boost::beast;
    namespace http = beast::http;
    try {
        boost::asio::io_context io;
        beast::tcp_stream stream(io);
        stream.expires_after(std::chrono::seconds(2));
        boost::asio::ip::tcp::endpoint to(boost::asio::ip::make_address("127.0.0.1"),
                                          static_cast<unsigned short>(port));
        stream.connect(to);
        http::request<http::empty_body> request(http::verb::get, path, 11);
        request.set(http::field::host, "127.0.0.1");
        http::write(stream, request);
        beast::flat_buffer buffer;
        http::response<http::string_body> response;
        http::read(stream, buffer, response);
        return static_cast<int>(response.result_int());
    } catch (const std::exception&) {
        return 0;
    }
}

int edge_port(const BridgeProcess& edge) {
    std::string log = edge.log_text();
    size_t line = log.rfind("edge listening");
    size_t at = line == std::string::npos ? line : log.find(" port=", line);
    return at == std::string::npos ? -1 : std::stoi(log.substr(at + 6));
}

int64_t sqlite_count(const std::filesystem::path& db, const std::string& sql) {
    sqlite3* handle = nullptr;
    if (sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        sqlite3_close(handle);
        return -1;
    }
    sqlite3_busy_timeout(handle, 1000);
    sqlite3_stmt* statement = nullptr;
    int64_t n = -1;
    if (sqlite3_prepare_v2(handle, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW) {
        n = sqlite3_column_int64(statement, 0);
    }
    sqlite3_finalize(statement);
    sqlite3_close(handle);
    return n;
}

namespace {

// Calls `each` for every consumer of `stream`; false when the list cannot be read.
template <typename Each>
bool for_each_consumer(jsCtx* js, const std::string& stream, int* count, Each&& each) {
    jsConsumerInfoList* list = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (js_Consumers(&list, js, stream.c_str(), nullptr, &jerr) != NATS_OK) return false;
    *count = list->Count;
    for (int i = 0; i < list->Count; ++i) each(*list->List[i]);
    jsConsumerInfoList_Destroy(list);
    return true;
}

}  // namespace

bool consumers_idle(jsCtx* js, const std::string& stream, int expected) {
    int count = 0;
    bool idle = true;
    bool read = for_each_consumer(js, stream, &count, [&](const jsConsumerInfo& c) {
        idle = idle && c.NumAckPending == 0 && c.NumPending == 0;
    });
    return read && idle && count == expected;
}

int64_t ack_pending(jsCtx* js, const std::string& stream) {
    int count = 0;
    int64_t pending = 0;
    bool read = for_each_consumer(js, stream, &count,
                                  [&](const jsConsumerInfo& c) { pending += c.NumAckPending; });
    return read ? pending : -1;
}

BridgeCommand::BridgeCommand(std::vector<std::string> args, std::filesystem::path log)
    : log_(std::move(log)) {
    std::string binary = bridge_binary().string();
    args.insert(args.begin(), binary);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
        int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        prctl(PR_SET_PDEATHSIG, SIGKILL);  // a test that dies leaves no daemon behind
        execv(binary.c_str(), argv.data());
        _exit(127);
    }
}

BridgeCommand::~BridgeCommand() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
}

int BridgeCommand::wait(std::chrono::milliseconds within) {
    if (pid_ > 0) {
        wait_until(
            [&] {
                int st = 0;
                if (waitpid(pid_, &st, WNOHANG) != pid_) return false;
                pid_ = -1;
                status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
                return true;
            },
            within, std::chrono::milliseconds(10));
    }
    return pid_ > 0 ? -1 : status_;
}

std::string BridgeCommand::output() const {
    std::ifstream in(log_);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string tail(const std::string& text, size_t bytes) {
    return text.substr(text.size() > bytes ? text.size() - bytes : 0);
}

}  // namespace bb::itest
