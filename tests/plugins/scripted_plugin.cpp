// A test plugin whose behaviour per event type comes from its config, so one binding in an
// integration test can mix successes, retries, rejects, crashes, slow handlers and follow-up
// events:
//
//   log_file: /tmp/x/handled.log  # one line per handle(), see below
//   fail_times: 2                 # every event: attempts 1 and 2 retry (bb_event.attempt, so
//                                 # the count survives host restarts)
//   reject_types: [Bad]           # reject at once
//   fail_types: [Flaky]           # retry on every attempt
//   abort_types: [Crash]          # std::abort(): a handler that takes the process down
//   throw_types: [Throw]          # throw std::runtime_error from handle()
//   sleep_ms_types: {Slow: 200}   # sleep first (then the other rules apply)
//   in_progress_ms: 100           # while sleeping, call host in_progress this often
//   emit_types: {UserCreated: WelcomeQueued}  # publish a follow-up through the host
//   retry_after_ms: 500           # every retry answer asks for at least this delay
//
// A log line is `<unix_ms> <event id> <attempt> <type> <outcome>`, the outcome one of done,
// retry, reject, abort, throw. The line is written before abort and throw, so a test counts
// crashed attempts too.
#include <bb/plugin.hpp>

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

namespace bb::test_plugins {
namespace {

using plugin::EventView;
using plugin::Outcome;

constexpr int64_t kMaxSleepMs = 600000;

struct Script {
    std::string log_file;
    uint32_t fail_times = 0;
    std::set<std::string, std::less<>> reject_types;
    std::set<std::string, std::less<>> fail_types;
    std::set<std::string, std::less<>> abort_types;
    std::set<std::string, std::less<>> throw_types;
    std::map<std::string, int64_t, std::less<>> sleep_ms_types;
    std::map<std::string, std::string, std::less<>> emit_types;
    int64_t retry_after_ms = 0;
    std::string once_bucket;     // idempotency keys: a second handling of an id does nothing
    int64_t tick_ms = 0;         // log a "tick" line on the host's timer
    int64_t in_progress_ms = 0;  // 0: sleep in one piece
};

[[noreturn]] void fail(const std::string& key, const std::string& what) {
    throw std::invalid_argument("scripted config: " + key + ": " + what);
}

int64_t read_integer(const YAML::Node& node, const std::string& key, int64_t low, int64_t high) {
    int64_t value = 0;
    if (!node.IsScalar() || !YAML::convert<int64_t>::decode(node, value) || value < low ||
        value > high) {
        fail(key,
             "expected an integer from " + std::to_string(low) + " to " + std::to_string(high));
    }
    return value;
}

std::set<std::string, std::less<>> read_types(const YAML::Node& node, const std::string& key) {
    if (!node.IsSequence()) fail(key, "expected a list of event types");
    std::set<std::string, std::less<>> types;
    for (const auto& item : node) types.insert(item.as<std::string>());
    return types;
}

template <typename Value, typename Read>
std::map<std::string, Value, std::less<>> read_map(const YAML::Node& node, const std::string& key,
                                                   Read read) {
    if (!node.IsMap()) fail(key, "expected a map from event type");
    std::map<std::string, Value, std::less<>> out;
    for (const auto& item : node) out[item.first.as<std::string>()] = read(item.second);
    return out;
}

void read_setting(Script& s, const std::string& key, const YAML::Node& value) {
    if (key == "log_file") {
        s.log_file = value.as<std::string>();
    } else if (key == "fail_times") {
        s.fail_times = static_cast<uint32_t>(read_integer(value, key, 0, 1000000));
    } else if (key == "reject_types") {
        s.reject_types = read_types(value, key);
    } else if (key == "fail_types") {
        s.fail_types = read_types(value, key);
    } else if (key == "abort_types") {
        s.abort_types = read_types(value, key);
    } else if (key == "throw_types") {
        s.throw_types = read_types(value, key);
    } else if (key == "sleep_ms_types") {
        s.sleep_ms_types = read_map<int64_t>(
            value, key, [&](const YAML::Node& n) { return read_integer(n, key, 0, kMaxSleepMs); });
    } else if (key == "emit_types") {
        s.emit_types = read_map<std::string>(
            value, key, [](const YAML::Node& n) { return n.as<std::string>(); });
    } else if (key == "once_bucket") {
        s.once_bucket = value.as<std::string>();
    } else if (key == "in_progress_ms") {
        s.in_progress_ms = read_integer(value, key, 0, kMaxSleepMs);
    } else if (key == "tick_ms") {
        s.tick_ms = read_integer(value, key, 0, 3600000);
    } else if (key == "retry_after_ms") {
        s.retry_after_ms = read_integer(value, key, 0, UINT32_MAX);
    } else {
        fail(key, "unknown key");
    }
}

Script parse_script(const std::string& yaml_text) {
    Script script;
    YAML::Node root = YAML::Load(yaml_text);
    if (!root.IsDefined() || root.IsNull()) return script;
    if (!root.IsMap()) throw std::invalid_argument("scripted config: expected a map");
    std::set<std::string> seen;
    for (const auto& entry : root) {
        const std::string key = entry.first.as<std::string>();
        if (!seen.insert(key).second) fail(key, "repeated key");
        read_setting(script, key, entry.second);
    }
    return script;
}

int64_t unix_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

// Thread-safe: the script is read-only after construction and each log line is one write(2)
// to an O_APPEND descriptor, which the kernel appends whole.
class ScriptedPlugin {
public:
    ScriptedPlugin(plugin::Host& host, const std::string& yaml_config)
        : host_(host), script_(parse_script(yaml_config)) {
        script_.log_file = host.resolve_path(script_.log_file);
        if (script_.tick_ms > 0) host.set_tick(std::chrono::milliseconds(script_.tick_ms));
        if (script_.log_file.empty()) return;
        log_fd_ = ::open(script_.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd_ < 0) {
            throw std::runtime_error("scripted: cannot open " + script_.log_file + ": " +
                                     std::strerror(errno));
        }
    }

    ~ScriptedPlugin() {
        if (log_fd_ >= 0) ::close(log_fd_);
    }
    ScriptedPlugin(const ScriptedPlugin&) = delete;
    ScriptedPlugin& operator=(const ScriptedPlugin&) = delete;

    Outcome handle(const EventView& ev) {
        const std::string type(ev.type());
        if (auto it = script_.sleep_ms_types.find(type); it != script_.sleep_ms_types.end()) {
            sleep(ev, it->second);
        }
        if (script_.abort_types.contains(type)) {
            record(ev, "abort");
            std::abort();
        }
        if (script_.throw_types.contains(type)) {
            record(ev, "throw");
            throw std::runtime_error("scripted: " + type + " throws");
        }
        const char* label = nullptr;
        Outcome outcome = decide(ev, type, label);
        record(ev, label ? label : outcome_name(outcome));
        return outcome;
    }

    // Logs one "tick" line per call of the host's timer.
    void tick() { write_line(std::to_string(unix_ms()) + " tick 0 tick tick\n"); }

private:
    // Sleeps `ms`, in slices of in_progress_ms with an in_progress call after each one.
    void sleep(const EventView& ev, int64_t ms) {
        int64_t slice = script_.in_progress_ms > 0 ? script_.in_progress_ms : ms;
        for (int64_t left = ms; left > 0; left -= slice) {
            std::this_thread::sleep_for(std::chrono::milliseconds(std::min(slice, left)));
            if (script_.in_progress_ms == 0 || left <= slice) continue;
            auto status = host_.in_progress(ev);
            if (!status.ok()) throw std::runtime_error("scripted: in_progress: " + status.error);
        }
    }

    Outcome decide(const EventView& ev, const std::string& type, const char*& label) {
        if (script_.reject_types.contains(type))
            return Outcome::reject("scripted: rejects " + type);
        if (script_.fail_types.contains(type)) return retry("scripted: always fails " + type);
        if (ev.attempt() <= script_.fail_times) {
            return retry("scripted: attempt " + std::to_string(ev.attempt()) + " of the first " +
                         std::to_string(script_.fail_times) + " fails");
        }
        if (!script_.once_bucket.empty()) {
            auto created = host_.kv_create(script_.once_bucket, "done." + std::string(ev.id()),
                                           std::string(type));
            if (created.code == BB_EXISTS) {  // handled before: do nothing again
                label = "duplicate";
                return Outcome::done();
            }
            if (!created.ok()) return retry("scripted: idempotency key: " + created.error);
        }
        if (auto it = script_.emit_types.find(type); it != script_.emit_types.end()) {
            std::string data(ev.data_json().empty() ? "{}" : ev.data_json());
            plugin::Status sent = host_.publish_event(
                ev, {it->second, ev.aggregate_type(), ev.aggregate_id(), data, ""});
            if (!sent) return retry("scripted: follow-up not published: " + sent.error);
        }
        return Outcome::done();
    }

    Outcome retry(std::string reason) const {
        if (script_.retry_after_ms == 0) return Outcome::retry(std::move(reason));
        return Outcome::retry(std::move(reason), std::chrono::milliseconds(script_.retry_after_ms));
    }

    static const char* outcome_name(const Outcome& outcome) {
        switch (outcome.result()) {
            case BB_RESULT_DONE:
                return "done";
            case BB_RESULT_RETRY:
                return "retry";
            case BB_RESULT_REJECT:
                return "reject";
        }
        return "unknown";
    }

    void record(const EventView& ev, const char* outcome) const {
        write_line(std::to_string(unix_ms()) + ' ' + std::string(ev.id()) + ' ' +
                   std::to_string(ev.attempt()) + ' ' + std::string(ev.type()) + ' ' + outcome +
                   '\n');
    }

    void write_line(const std::string& line) const {
        if (log_fd_ < 0) return;
        // A short write to a local regular file does not happen short of a full disk; a torn
        // line then shows up in the test that reads it.
        [[maybe_unused]] ssize_t n = ::write(log_fd_, line.data(), line.size());
    }

    plugin::Host& host_;
    Script script_;
    int log_fd_ = -1;
};

}  // namespace bb::test_plugins

BB_PLUGIN(bb::test_plugins::ScriptedPlugin, "scripted", "1.0.0")
