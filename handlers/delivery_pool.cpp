#include "handlers/delivery_pool.hpp"

namespace bb::handlers {

std::shared_ptr<DeliveryPool> DeliveryPool::make(std::size_t keep) {
    return std::shared_ptr<DeliveryPool>(new DeliveryPool(keep));
}

std::shared_ptr<Delivery> DeliveryPool::take() {
    std::unique_ptr<Delivery> d;
    {
        std::lock_guard lock(mutex_);
        if (!idle_.empty()) {
            d = std::move(idle_.back());
            idle_.pop_back();
        }
    }
    if (!d) d = std::make_unique<Delivery>();
    return std::shared_ptr<Delivery>(d.release(), [pool = shared_from_this()](Delivery* used) {
        pool->give_back(used);
    });
}

std::size_t DeliveryPool::idle() const {
    std::lock_guard lock(mutex_);
    return idle_.size();
}

void DeliveryPool::give_back(Delivery* d) noexcept {
    std::unique_ptr<Delivery> owned(d);
    owned->recycle();  // drops the message now, on the thread that answered it
    std::lock_guard lock(mutex_);
    if (idle_.size() < keep_) idle_.push_back(std::move(owned));
}

}  // namespace bb::handlers
