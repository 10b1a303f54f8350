#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace bb::analytics {

// One stored event. An empty string is an absent attribute and is stored as NULL, the way
// plugin.h marks an absent optional attribute with len == 0.
struct Row {
    std::string id;
    std::string type;
    std::string aggregate_type;
    std::string aggregate_id;
    std::string source;
    std::string user_id;
    std::string correlation_id;
    std::string causation_id;
    std::string time;
    std::string data;  // JSON text
    uint64_t stream_seq = 0;
    std::string received_at;  // RFC 3339, UTC, milliseconds
};

struct BatchResult {
    size_t inserted = 0;  // new rows; a row whose id was already stored is not counted
    std::string error;    // empty when the batch was committed

    bool ok() const { return error.empty(); }
};

// Where analytics rows go. write_batch stores all rows in one transaction or none, and
// returns only once the outcome is final (committed and durable, or rolled back). A row whose
// id is already stored is left as it is: redelivery and duplicate publishes keep one row.
// Called from one thread at a time.
class EventSink {
public:
    virtual ~EventSink() = default;
    virtual BatchResult write_batch(std::span<const Row> rows) = 0;
};

}  // namespace bb::analytics
