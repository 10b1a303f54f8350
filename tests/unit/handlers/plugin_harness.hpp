#pragma once

#include "unit/handlers/fake_host.hpp"

#include <bb/plugin.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

// Driving a loaded plugin the way the handler host does: events built in memory, one
// instance per test, the fake host table standing in for NATS.
namespace bb::test {

// An event that owns its strings. Defaults are a plausible UserCreated.
struct TestEvent {
    std::string id = "ev-1";
    std::string type = "UserCreated";
    std::string source = "user-service";
    std::string subject = "user-1";  // the aggregate id
    std::string time = "2026-11-30T08:00:00.015Z";
    std::string aggregate_type = "user";
    std::string correlation_id = "corr-1";
    std::string causation_id;
    std::string user_id = "actor-1";
    std::string data_version = "1";
    std::string data_content_type = "application/json";
    std::string nats_subject = "events.user.UserCreated";
    std::string data = R"({"name":"Priya"})";
    std::string data_json = R"({"name":"Priya"})";
    std::vector<std::pair<std::string, std::string>> headers;
    uint64_t stream_seq = 1;
    uint32_t attempt = 1;
    uint32_t max_attempts = 5;
};

TestEvent make_event(std::string id, std::string type = "UserCreated");

// The bb_event view of a TestEvent; valid while both live and the TestEvent is unchanged.
class EventFrame {
public:
    explicit EventFrame(const TestEvent& ev);
    EventFrame(const EventFrame&) = delete;
    EventFrame& operator=(const EventFrame&) = delete;

    const bb_event* get() const { return &event_; }

private:
    std::vector<bb_header> headers_;
    bb_event event_;
};

struct Answer {
    bb_result result;
    std::string error;
    uint32_t retry_delay_ms;
};

// One plugin instance made through the descriptor's create and destroyed with it.
class PluginInstance {
public:
    // Throws std::runtime_error carrying create's error text when create answers NULL.
    PluginInstance(const bb_plugin_descriptor& descriptor, const FakeHost& host,
                   const std::string& config_yaml);
    ~PluginInstance();
    PluginInstance(const PluginInstance&) = delete;
    PluginInstance& operator=(const PluginInstance&) = delete;

    // Thread-safe as far as the plugin's handle() is.
    Answer handle(const TestEvent& ev, uint32_t retry_delay_ms = 1000) const;

private:
    const bb_plugin_descriptor& descriptor_;
    void* self_;
};

// What create writes into bb_error when it refuses `config_yaml`; nullopt when it accepts.
std::optional<std::string> create_error(const bb_plugin_descriptor& descriptor,
                                        const FakeHost& host, const std::string& config_yaml);

// A fresh folder under the system temp folder, removed with everything in it.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

std::vector<std::string> read_lines(const std::filesystem::path& file);

}  // namespace bb::test
