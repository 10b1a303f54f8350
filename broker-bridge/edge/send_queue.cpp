#include "broker-bridge/edge/send_queue.hpp"

namespace bb::edge {

void SendQueue::push(Encoded message) {
    bytes_ += message->size();
    items_.push_back(std::move(message));
}

void SendQueue::clear() {
    items_.clear();
    bytes_ = 0;
}

size_t SendQueue::take_frame(std::string& out, size_t max_frame, bool newline_separated) {
    size_t count = 0;
    size_t start = out.size();
    while (!items_.empty()) {
        const std::string& next = *items_.front();
        size_t extra = next.size() + (count > 0 && newline_separated ? 1 : 0);
        if (count > 0 && out.size() - start + extra > max_frame) break;
        if (count > 0 && newline_separated) out += '\n';
        out += next;
        bytes_ -= next.size();
        items_.pop_front();
        ++count;
    }
    return count;
}

}  // namespace bb::edge
