#include "integration/event_feed.hpp"

namespace bb::itest {

EventFeed::EventFeed(const NatsClient& client, std::string prefix, int count,
                     std::function<Event(int n)> make, FeedPacing pacing)
    : client_(client),
      prefix_(std::move(prefix)),
      count_(count),
      make_(std::move(make)),
      pacing_(pacing),
      thread_([this] { run(); }) {}

EventFeed::~EventFeed() { join(); }

void EventFeed::join() {
    if (thread_.joinable()) thread_.join();
}

void EventFeed::run() {
    for (int n = 0; n < count_; ++n) {
        Event e = make_(n);
        e.id = id(n);
        auto wire = encode(e, "events");
        if (!wire.ok() || !publish_one(*wire, e.id)) {
            ++given_up_;
            continue;
        }
        ++stored_;
        // The producer's rate, not a wait for a condition.
        if (pacing_.between_events.count() > 0) std::this_thread::sleep_for(pacing_.between_events);
    }
}

bool EventFeed::publish_one(const WireMessage& wire, const std::string& id) {
    auto deadline = std::chrono::steady_clock::now() + pacing_.per_event;
    while (true) {
        if (client_.js_publish(wire.subject, wire.headers, wire.body, id).ok()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        ++retries_;
        // Paces the retries of a producer facing an outage; not a wait for a condition.
        std::this_thread::sleep_for(pacing_.retry_pause);
    }
}

Event fault_event(const std::string& type, const std::string& aggregate_id,
                  const std::string& data) {
    Event e;
    e.type = type;
    e.source = "itest-faults";
    e.subject = aggregate_id;
    e.aggregate_type = "Test";
    e.time = "2026-12-01T08:00:00Z";
    e.format = DataFormat::kJson;
    e.data = data;
    return e;
}

}  // namespace bb::itest
