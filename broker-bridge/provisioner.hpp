#pragma once

#include <cstdint>
#include <string>

#include <nats/nats.h>

#include "broker-bridge/config.hpp"
#include "broker-bridge/result.hpp"

// Brings JetStream streams and key-value buckets in line with the config at start-up.
// Creates what is missing, updates what may change in place (subjects, limits, duplicate
// window, replicas, direct get), and refuses what may not (storage, retention) with a
// StartupError that names the stream, the field, both values and what to do. Runs on the
// start-up thread, before any consumer binds.
namespace bb {

enum class Provisioned { kCreated, kUpdated, kUpToDate };

// Streams are created with limits retention and AllowDirect (read by `dlq show` and the edge).
Provisioned ensure_stream(jsCtx* js, const StreamConfig& config);

// The bucket's backing stream is KV_<name>; history is 1..64 (a nats.c and server limit).
Provisioned ensure_bucket(jsCtx* js, const BucketConfig& config);

struct StreamStatus {
    std::string name;
    uint64_t messages = 0;
    uint64_t bytes = 0;
    uint64_t first_seq = 0;
    uint64_t last_seq = 0;
    int64_t consumer_count = 0;
};

// One JetStream API round trip; an error when the stream does not exist or the call fails.
Result<StreamStatus> stream_status(jsCtx* js, const std::string& name);

}  // namespace bb
