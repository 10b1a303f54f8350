#include "integration/push_receiver.hpp"

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

using nlohmann::json;

std::string read_all(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

json scenario_json(const std::string& key, const std::string& subject,
                   const std::map<std::string, std::vector<Reply>>& devices) {
    json scenario = {{"vapid_public_key", key}, {"subject", subject}, {"devices", json::object()}};
    for (const auto& [name, replies] : devices) {
        json list = json::array();
        for (const Reply& r : replies)
            list.push_back({{"status", r.status}, {"headers", r.headers}});
        scenario["devices"][name] = list;
    }
    return scenario;
}

}  // namespace

PushReceiver::PushReceiver(const std::filesystem::path& dir, const std::string& vapid_public_key,
                           const std::string& subject,
                           const std::map<std::string, std::vector<Reply>>& devices)
    : dir_(dir) {
    std::ofstream(dir_ / "scenario.json") << scenario_json(vapid_public_key, subject, devices);
    const std::string script = std::string(BB_SOURCE_DIR) + "/tests/push-receiver/receiver.mjs";
    const std::string scenario = (dir_ / "scenario.json").string();
    const std::string out = (dir_ / "receiver.json").string();
    const std::string log = (dir_ / "received.jsonl").string();
    const std::string output = (dir_ / "receiver.log").string();
    pid_t pid = fork();
    if (pid == 0) {
        int fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        prctl(PR_SET_PDEATHSIG, SIGKILL);  // a test that dies leaves no receiver behind
        execlp("node", "node", script.c_str(), "--scenario", scenario.c_str(), "--out", out.c_str(),
               "--log", log.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    pid_ = pid;
    const bool started =
        wait_until([&] { return std::filesystem::exists(dir_ / "receiver.json"); }, 20s, 20ms);
    BOOST_TEST_REQUIRE(started, "the push receiver did not start:\n" << log_text());
    const json info = json::parse(read_all(dir_ / "receiver.json"));
    for (const auto& [name, d] : info["devices"].items()) {
        devices_[name] = ReceiverDevice{d["endpoint"], d["p256dh"], d["auth"]};
    }
}

PushReceiver::~PushReceiver() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    const bool ended = wait_until([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, 5s);
    if (!ended) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
    }
}

std::string PushReceiver::log_text() const { return read_all(dir_ / "receiver.log"); }

std::vector<ReceivedPush> PushReceiver::received() const {
    std::vector<ReceivedPush> out;
    std::istringstream lines(read_all(dir_ / "received.jsonl"));
    std::string line;
    while (std::getline(lines, line)) {
        const json j = json::parse(line, nullptr, false);
        if (j.is_discarded()) continue;  // a line still being written
        ReceivedPush r;
        r.device = j["device"];
        r.at_ms = j["at_ms"];
        r.status = j["status"];
        r.problems = j["problems"].get<std::vector<std::string>>();
        r.payload = j["payload"];
        r.ttl = j["ttl"];
        r.urgency = j["urgency"];
        r.topic = j["topic"];
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<ReceivedPush> PushReceiver::received(const std::string& device) const {
    std::vector<ReceivedPush> out;
    for (auto& r : received()) {
        if (r.device == device) out.push_back(std::move(r));
    }
    return out;
}

}  // namespace bb::itest
