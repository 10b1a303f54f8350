#include "broker-bridge/edge/send_queue.hpp"

namespace bb::edge {
namespace {
// An emptied queue keeps room for a few messages and gives back the rest (a burst's).
constexpr size_t kKeptCapacity = 4;
}  // namespace

void SendQueue::push(Encoded message) {
    bytes_ += message->size();
    items_.push_back(std::move(message));
}

void SendQueue::clear() {
    items_ = {};
    head_ = 0;
    bytes_ = 0;
}

size_t SendQueue::take_frame(std::string& out, size_t max_frame, bool newline_separated) {
    size_t count = 0;
    size_t start = out.size();
    while (!empty()) {
        const std::string& next = *items_[head_];
        size_t extra = next.size() + (count > 0 && newline_separated ? 1 : 0);
        if (count > 0 && out.size() - start + extra > max_frame) break;
        if (count > 0 && newline_separated) out += '\n';
        out += next;
        bytes_ -= next.size();
        items_[head_++].reset();
        ++count;
    }
    if (empty()) {
        items_.clear();
        head_ = 0;
        if (items_.capacity() > kKeptCapacity) items_.shrink_to_fit();
    } else if (head_ > items_.size() / 2) {  // keep the vector from growing at the front
        items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
    }
    return count;
}

}  // namespace bb::edge
