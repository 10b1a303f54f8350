#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker-bridge/envelope.hpp"
#include "broker-bridge/nats_client.hpp"
#include "integration/bridge_process.hpp"
#include "integration/nats_server.hpp"

namespace bb::itest {

// One line of the scripted test plugin's log: a handle() call.
struct Handled {
    int64_t unix_ms = 0;
    std::string id;
    int attempt = 0;
    std::string type;
    std::string outcome;
};

// The lines of a scripted plugin's log file, in file order.
std::vector<Handled> read_handled_log(const std::filesystem::path& path);

struct StoredMessage {
    std::string subject;
    Headers headers;
    std::string body;
    const std::string* header(std::string_view name) const;
};

// A real nats-server, a temporary folder, a client for the test's own publishing and
// reading, and the daemon under test started from a config the test writes.
class BridgeFixture {
public:
    BridgeFixture();
    ~BridgeFixture();

    // Writes config.yaml from `bindings_yaml` (the text under `bindings:`) with short
    // test intervals, and starts broker-bridge; fails the test if it is not ready.
    // `run_args` are added to the command line, e.g. {"--bindings", "a"}.
    void start_bridge(const std::string& bindings_yaml, const std::string& extra_yaml = "",
                      const std::vector<std::string>& run_args = {});
    // Writes that config.yaml only and returns its path, for a test that starts the daemon
    // itself (one that must refuse to start, say).
    std::filesystem::path write_config(const std::string& bindings_yaml,
                                       const std::string& extra_yaml = "");
    BridgeProcess& bridge() { return *bridge_; }

    Event make_event(const std::string& type, const std::string& id,
                     const std::string& aggregate_id = "agg-1");
    void publish(const Event& e);
    void publish_raw(const std::string& subject, const Headers& headers, const std::string& body);

    uint64_t stream_messages(const std::string& stream);
    std::optional<StoredMessage> stream_message(const std::string& stream, uint64_t seq);
    std::vector<StoredMessage> dlq_messages();
    std::vector<Handled> handled();  // the scripted plugin's log, in file order
    std::vector<Handled> handled(const std::string& id);

    std::filesystem::path dir() const { return dir_; }
    std::filesystem::path handled_log() const { return dir_ / "handled.log"; }
    NatsServer& server() { return server_; }
    const NatsClient& client() const { return *client_; }

private:
    NatsServer server_;
    std::filesystem::path dir_;
    std::unique_ptr<NatsClient> client_;
    std::unique_ptr<BridgeProcess> bridge_;
};

}  // namespace bb::itest
