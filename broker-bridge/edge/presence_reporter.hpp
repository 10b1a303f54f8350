#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker-bridge/edge_config.hpp"
#include "broker-bridge/nats_client.hpp"

// Tells the presence plugin which connections this node holds (docs/PRESENCE.md): one event
// per connect, status change and disconnect, and a heartbeat every heartbeat_interval that
// lists the node's live connections. Everything goes out from one thread, in the order it
// happened, as CloudEvents on <prefix>.node.<Type> with the node id as aggregate id, so a
// binding ordered per aggregate sees a node's story in order.
//
// opened/status/closed are called from the event loops and never block: they queue. While
// NATS is unreachable the queue holds up to max_queued_events; past that the oldest go
// (the next heartbeat still corrects the plugin's view of this node's users).
namespace bb::edge {

class PresenceReporter {
public:
    PresenceReporter(const EdgePresenceConfig& config, const NatsClient& nats,
                     prometheus::Registry& registry);
    ~PresenceReporter();
    PresenceReporter(const PresenceReporter&) = delete;
    PresenceReporter& operator=(const PresenceReporter&) = delete;

    void start();
    // Sends what is queued (for at most `within`), then stops the thread. No heartbeat
    // follows: the closes sent just before tell the plugin the node's users left.
    void stop(std::chrono::milliseconds within);

    const std::string& node_id() const { return node_id_; }

    void opened(const std::string& connection, const std::string& user,
                const std::vector<std::string>& orgs, const std::string& status);
    void status(const std::string& connection, const std::string& user, const std::string& status);
    void closed(const std::string& connection, const std::string& user);

private:
    enum class Kind { kOpened, kStatus, kClosed };
    struct Change {
        Kind kind;
        std::string connection;
        std::string user;
        std::vector<std::string> orgs;
        std::string status;
    };
    struct Live {
        std::string user;
        std::string status;
    };

    void push(Change change);
    void run();
    bool send(const Change& change);
    bool send_heartbeat();
    bool publish(const std::string& type, const std::string& data, const std::string& user);
    void apply(const Change& change);

    const EdgePresenceConfig config_;
    const NatsClient& nats_;
    std::string node_id_;
    std::string subject_prefix_;  // <prefix>.node

    std::mutex mu_;
    std::condition_variable wake_;
    std::deque<Change> queue_;
    bool stopping_ = false;
    std::chrono::steady_clock::time_point stop_deadline_{};
    std::thread thread_;

    // The reporter thread's own view: what it has announced so far.
    std::map<std::string, Live> live_;  // by connection id
    uint64_t sequence_ = 0;             // heartbeat counter, for the plugin's logs

    prometheus::Gauge& connections_;
    prometheus::Gauge& users_;
    prometheus::Counter& heartbeats_;
    prometheus::Counter& failures_;
    prometheus::Counter& dropped_;
};

}  // namespace bb::edge
