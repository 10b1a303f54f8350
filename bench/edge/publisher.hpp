// Publishes the messages of one step: seqs [first, first + count) at `rate` per second,
// each a JSON payload {"seq":N,"ts":<CLOCK_MONOTONIC ns at publish>,"pad":"..."}. Through
// NATS (core publish, or JetStream publish with asynchronous acks for the edge's stream
// RT), or by asking the floor server to generate them itself.
#pragma once

#include <nats/nats.h>

#include <cstdint>
#include <functional>
#include <string>

namespace bench {

class Publisher {
public:
    virtual ~Publisher() = default;
    // Returns the seconds publishing took; throws when it could not publish.
    virtual double publish(uint64_t first, uint64_t count, double rate) = 0;
};

std::string make_payload(uint64_t seq, int64_t ts_ns, const std::string& pad);

class NatsPublisher : public Publisher {
public:
    // subject_of(seq): where message seq goes. jetstream: wait for every ack at the end.
    NatsPublisher(const std::string& url, bool jetstream,
                  std::function<std::string(uint64_t)> subject_of, size_t payload_bytes);
    ~NatsPublisher() override;
    double publish(uint64_t first, uint64_t count, double rate) override;

private:
    natsConnection* nc_ = nullptr;
    jsCtx* js_ = nullptr;
    std::function<std::string(uint64_t)> subject_of_;
    std::string pad_;
};

// The floor server paces and stamps its own messages: one control connection asks it for
// a step ("pub <first> <count> <rate> <per-user clients> <pad bytes>") and waits for "done".
class FloorPublisher : public Publisher {
public:
    FloorPublisher(const std::string& host, int port, uint32_t per_user_clients,
                   size_t payload_bytes);
    ~FloorPublisher() override;
    double publish(uint64_t first, uint64_t count, double rate) override;

private:
    int fd_ = -1;
    uint32_t per_user_clients_;
    size_t payload_bytes_;
};

}  // namespace bench
