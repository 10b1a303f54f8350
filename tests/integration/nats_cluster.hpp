#pragma once

#include <nats/nats.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "integration/nats_server.hpp"

namespace bb::itest {

// A JetStream cluster of real nats-server processes on loopback: servers n1..nN in cluster
// `bb-itest`, each with its own client port (the kernel's pick), route port (picked free in
// advance: every server must name the others' routes) and store. Each server is a
// NatsServer, so one can be stopped by its PID and restarted on the same ports and store.
class NatsCluster {
public:
    explicit NatsCluster(size_t size = 3);

    size_t size() const { return servers_.size(); }
    NatsServer& server(size_t i) { return *servers_.at(i); }
    static std::string name_of(size_t i) { return "n" + std::to_string(i + 1); }
    // The index of the server called `name`; size() when none is.
    size_t index_of(const std::string& name) const;
    // Every client URL, comma-separated, as nats.c and our `nats.url` take them.
    std::string urls() const;

private:
    std::vector<std::unique_ptr<NatsServer>> servers_;
};

// What JetStream says about a stream's placement: its leader's server name ("" while there
// is none), and whether `replicas - 1` followers are all current. Never throws.
struct StreamPlacement {
    std::string leader;
    int followers = 0;
    int current_followers = 0;
};
StreamPlacement stream_placement(jsCtx* js, const std::string& stream);

// Waits until `stream` has a leader and `replicas - 1` current followers; false at deadline.
bool wait_stream_healthy(jsCtx* js, const std::string& stream, int replicas,
                         std::chrono::milliseconds within);

}  // namespace bb::itest
