#pragma once

#include <nats/nats.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
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
//
// A republished copy is core NATS: one lost between server and edge (a failover, a
// reconnect) would be lost live. Each copy names the previous sequence stored on its subject
// (Nats-Last-Sequence); when that is past the last one delivered, the hub reads the missing
// messages from RT (direct gets, blocking) and delivers them first. A request made on a
// delivery thread is answered: nats.c reads replies on a subscription of its own, outside
// the shared pool. After a reconnect, fill_after_reconnect() does the same for every subject,
// since a copy lost while disconnected may have no successor to reveal it.
//
// Both need a position to fill from. Before the first delivery it is the last sequence RT
// had stored on the subject when a subscription started (subscription_started()), so a copy
// lost before anything was delivered is read back too.
namespace bb::edge {

// Call before the first NATS call of the process: nats.c then delivers the messages of all
// async subscriptions on a small shared pool instead of one thread per subscription, which
// the edge needs with one subscription per channel subject.
void use_shared_delivery_threads();

class SubscriptionHub {
public:
    using Deliver = std::function<void(size_t loop, const LivePtr& message)>;

    // `max_fill` bounds the messages read back for one gap; past it the rest is skipped
    // with a warning (clients then see a sequence jump and recover by themselves).
    SubscriptionHub(natsConnection* nc, StreamReader& reader, EdgeMetrics& metrics, size_t loops,
                    int64_t max_fill, Deliver deliver);
    ~SubscriptionHub();
    SubscriptionHub(const SubscriptionHub&) = delete;
    SubscriptionHub& operator=(const SubscriptionHub&) = delete;

    // One more subscriber of `live_subject` on `loop`; subscribes on the first.
    Result<void> add(const std::string& live_subject, size_t loop);
    void remove(const std::string& live_subject, size_t loop);

    // A subscriber of `live_subject` read `last_seq` (0: none) as the last message RT stored
    // on `stream_subject`, after add(). Until a message is delivered the lowest such sequence
    // is the subject's position: a lower one only reads back messages that subscribers drop
    // as already seen, a higher one could skip a message another subscriber still needs.
    void subscription_started(const std::string& live_subject, const std::string& stream_subject,
                              uint64_t last_seq);

    size_t subjects() const;

    // Blocking: delivers what RT stored on each subject past the last message delivered.
    // Call on a thread that may wait on NATS (not an event loop, not a delivery thread).
    void fill_after_reconnect();

private:
    struct Entry {
        NatsSubscription sub;
        std::vector<int> counts;     // subscribers per loop
        bool started = false;        // a subscription start or a delivery gave last_seq
        bool delivered = false;      // a message was delivered: last_seq is its sequence
        uint64_t last_seq = 0;       // of the last message delivered, else of the start
        std::string epoch;           // of the last message delivered
        std::string stream_subject;  // rt.<rest>, from a subscription start or a message
        // Held while one message, and the gap before it, is delivered: keeps the order of a
        // subject between the delivery thread and a reconnect fill.
        std::shared_ptr<std::mutex> order = std::make_shared<std::mutex>();
    };
    struct Position {
        bool started = false;
        bool delivered = false;
        uint64_t last_seq = 0;
        std::string epoch;
        std::string stream_subject;
    };

    static void on_message(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* closure);
    void dispatch(natsMsg* msg);
    void dispatch_in_order(natsMsg* msg, const std::string& subject);
    std::shared_ptr<std::mutex> order_of(const std::string& subject) const;
    std::optional<Position> position(const std::string& subject) const;
    void record(const std::string& subject, const LiveMessage& m);
    void fill(const std::string& subject, const std::string& stream_subject, uint64_t from,
              uint64_t to);
    void deliver_all(const std::string& subject, const LivePtr& m);

    natsConnection* nc_;
    StreamReader& reader_;
    EdgeMetrics& metrics_;
    size_t loops_;
    int64_t max_fill_;
    Deliver deliver_;
    mutable std::mutex mu_;
    std::unordered_map<std::string, Entry> entries_;
};

}  // namespace bb::edge
