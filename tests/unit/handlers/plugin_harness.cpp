#include "unit/handlers/plugin_harness.hpp"

#include <bb/plugin.hpp>

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace bb::test {

TestEvent make_event(std::string id, std::string type) {
    TestEvent ev;
    ev.id = std::move(id);
    ev.type = std::move(type);
    ev.nats_subject = "events.user." + ev.type;
    return ev;
}

EventFrame::EventFrame(const TestEvent& ev) : event_{} {
    using plugin::to_bb_str;
    for (const auto& [name, value] : ev.headers) {
        headers_.push_back(bb_header{to_bb_str(name), to_bb_str(value)});
    }
    event_.struct_size = sizeof(bb_event);
    event_.id = to_bb_str(ev.id);
    event_.type = to_bb_str(ev.type);
    event_.source = to_bb_str(ev.source);
    event_.subject = to_bb_str(ev.subject);
    event_.time = to_bb_str(ev.time);
    event_.aggregate_type = to_bb_str(ev.aggregate_type);
    event_.correlation_id = to_bb_str(ev.correlation_id);
    event_.causation_id = to_bb_str(ev.causation_id);
    event_.user_id = to_bb_str(ev.user_id);
    event_.data_version = to_bb_str(ev.data_version);
    event_.data_content_type = to_bb_str(ev.data_content_type);
    event_.nats_subject = to_bb_str(ev.nats_subject);
    event_.data = to_bb_str(ev.data);
    event_.data_json = to_bb_str(ev.data_json);
    event_.headers = headers_.empty() ? nullptr : headers_.data();
    event_.header_count = headers_.size();
    event_.stream_seq = ev.stream_seq;
    event_.attempt = ev.attempt;
    event_.max_attempts = ev.max_attempts;
}

PluginInstance::PluginInstance(const bb_plugin_descriptor& descriptor, const FakeHost& host,
                               const std::string& config_yaml)
    : descriptor_(descriptor), self_(nullptr) {
    bb_error err{};
    self_ = descriptor.create(host.table(), config_yaml.data(), config_yaml.size(), &err);
    if (self_ == nullptr) {
        throw std::runtime_error(std::string("create failed: ") + err.message);
    }
}

PluginInstance::~PluginInstance() { descriptor_.destroy(self_); }

Answer PluginInstance::handle(const TestEvent& ev, uint32_t retry_delay_ms) const {
    EventFrame frame(ev);
    bb_error err{};
    bb_result result = descriptor_.handle(self_, frame.get(), &retry_delay_ms, &err);
    return Answer{result, err.message, retry_delay_ms};
}

std::optional<std::string> create_error(const bb_plugin_descriptor& descriptor,
                                        const FakeHost& host, const std::string& config_yaml) {
    bb_error err{};
    void* self = descriptor.create(host.table(), config_yaml.data(), config_yaml.size(), &err);
    if (self != nullptr) {
        descriptor.destroy(self);
        return std::nullopt;
    }
    return std::string(err.message);
}

TempDir::TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "bb-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
        throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    }
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::vector<std::string> read_lines(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

}  // namespace bb::test
