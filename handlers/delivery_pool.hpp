#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "handlers/delivery.hpp"

namespace bb::handlers {

// Recycles the Delivery objects of one binding. A delivery holds a dozen strings and two
// vectors (headers, attributes, data, the plugin's view of them); a recycled one decodes
// the next event into the storage the last one left, so an event costs a few allocations
// instead of a few dozen (malloc and free were a fifth of the host's CPU per event).
//
// take() hands out a delivery whose last owner gives it back to the pool, from any thread;
// the pool lives as long as any delivery it handed out. At most `keep` wait for reuse.
class DeliveryPool : public std::enable_shared_from_this<DeliveryPool> {
public:
    static std::shared_ptr<DeliveryPool> make(std::size_t keep);

    std::shared_ptr<Delivery> take();
    std::size_t idle() const;

private:
    explicit DeliveryPool(std::size_t keep) : keep_(keep) {}
    void give_back(Delivery* d) noexcept;

    const std::size_t keep_;
    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<Delivery>> idle_;
};

}  // namespace bb::handlers
