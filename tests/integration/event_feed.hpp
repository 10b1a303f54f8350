#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "broker-bridge/envelope.hpp"
#include "broker-bridge/nats_client.hpp"

namespace bb::itest {

// Publishes events <prefix>-0 .. <prefix>-(count-1) to stream EVENTS from its own thread, one
// at a time and in order, as a careful producer does through a fault: a publish that fails
// (no server, no stream leader) is retried with the same Nats-Msg-Id until it is stored, so a
// retry of a publish that was stored after all is a duplicate the stream drops. Each event is
// given up after `per_event` of failures (counted in given_up()).
struct FeedPacing {
    std::chrono::microseconds between_events{0};  // a steady producer rather than a burst
    std::chrono::milliseconds retry_pause{50};
    std::chrono::milliseconds per_event{30000};
};

class EventFeed {
public:
    // `make` builds the event for number n (its id is set by the feed).
    EventFeed(const NatsClient& client, std::string prefix, int count,
              std::function<Event(int n)> make, FeedPacing pacing = {});
    ~EventFeed();
    EventFeed(const EventFeed&) = delete;
    EventFeed& operator=(const EventFeed&) = delete;

    void join();
    int stored() const { return stored_.load(); }        // acknowledged by the stream
    int64_t retries() const { return retries_.load(); }  // failed publishes retried
    int given_up() const { return given_up_.load(); }    // events never stored
    std::string id(int n) const { return prefix_ + "-" + std::to_string(n); }

private:
    void run();
    bool publish_one(const WireMessage& wire, const std::string& id);

    const NatsClient& client_;
    std::string prefix_;
    int count_;
    std::function<Event(int)> make_;
    FeedPacing pacing_;
    std::atomic<int> stored_{0};
    std::atomic<int64_t> retries_{0};
    std::atomic<int> given_up_{0};
    std::thread thread_;
};

// A JSON event of type `type` on aggregate Test/`aggregate_id` with `data` as its body.
Event fault_event(const std::string& type, const std::string& aggregate_id,
                  const std::string& data);

}  // namespace bb::itest
