#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "broker-bridge/edge/protocol.hpp"

// A connection's outgoing messages, bounded in bytes. What is queued when the socket becomes
// writable leaves as one frame: JSON messages joined by '\n', MessagePack values back to back.
// Loop thread only.
namespace bb::edge {

class SendQueue {
public:
    void push(Encoded message);
    size_t bytes() const { return bytes_; }
    size_t size() const { return items_.size() - head_; }
    bool empty() const { return head_ == items_.size(); }
    void clear();

    // Appends the next frame's payload to `out` and returns how many messages it holds: as
    // many queued messages as fit in `max_frame` bytes, and at least one.
    size_t take_frame(std::string& out, size_t max_frame, bool newline_separated);

private:
    // A vector read from head_, not a std::deque: an empty deque still holds about 600
    // bytes, and most connections are idle with an empty queue.
    std::vector<Encoded> items_;
    size_t head_ = 0;
    size_t bytes_ = 0;
};

}  // namespace bb::edge
