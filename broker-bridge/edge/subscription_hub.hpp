#pragma once

#include <nats/nats.h>

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker-bridge/edge/edge_metrics.hpp"
#include "broker-bridge/edge/live_message.hpp"
#include "broker-bridge/edge/stream_reader.hpp"
#include "broker-bridge/nats_handles.hpp"
#include "broker-bridge/result.hpp"

// One NATS core subscription per republished subject for the whole process, counted per event
// loop and dropped with its last subscriber. Each message is read once into a LiveMessage and
// handed, shared, to every loop that wants the subject; the loop fans it out to connections.
//
// add() and remove() are called from event loops; messages arrive on nats.c's delivery
// threads. `deliver` runs there and must only queue (EventLoop::post_live). Destroy the hub
// before the NATS connection; it unsubscribes everything.
namespace bb::edge {

// Call before the first NATS call of the process: nats.c then delivers the messages of all
// async subscriptions on a small shared pool instead of one thread per subscription, which
// the edge needs with one subscription per channel subject.
void use_shared_delivery_threads();

class SubscriptionHub {
public:
    using Deliver = std::function<void(size_t loop, const LivePtr& message)>;

    SubscriptionHub(natsConnection* nc, StreamReader& reader, EdgeMetrics& metrics, size_t loops,
                    Deliver deliver);
    ~SubscriptionHub();
    SubscriptionHub(const SubscriptionHub&) = delete;
    SubscriptionHub& operator=(const SubscriptionHub&) = delete;

    // One more subscriber of `live_subject` on `loop`; subscribes on the first.
    Result<void> add(const std::string& live_subject, size_t loop);
    void remove(const std::string& live_subject, size_t loop);

    size_t subjects() const;

private:
    struct Entry {
        NatsSubscription sub;
        std::vector<int> counts;  // subscribers per loop
        uint64_t last_seq = 0;
    };

    static void on_message(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* closure);
    void dispatch(natsMsg* msg);
    bool check_order(const std::string& subject, uint64_t seq);

    natsConnection* nc_;
    StreamReader& reader_;
    EdgeMetrics& metrics_;
    size_t loops_;
    Deliver deliver_;
    mutable std::mutex mu_;
    std::unordered_map<std::string, Entry> entries_;
};

}  // namespace bb::edge
