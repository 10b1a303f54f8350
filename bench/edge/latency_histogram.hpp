// Publish→receive latencies in microseconds: 64 linear sub-buckets per power of two
// (under 1.6% error) up to about 2^31 µs. Each reader thread fills its own; they are
// merged after a step.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace bench {

class LatencyHistogram {
public:
    void add(int64_t us) {
        if (us < 0) us = 0;
        ++counts_[index(static_cast<uint64_t>(us))];
        ++total_;
    }
    void merge(const LatencyHistogram& o) {
        for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
        total_ += o.total_;
    }
    void clear() { *this = LatencyHistogram(); }
    uint64_t total() const { return total_; }
    // The latency at quantile q (0..1) in milliseconds, -1 without samples.
    double quantile_ms(double q) const {
        if (total_ == 0) return -1;
        uint64_t want = static_cast<uint64_t>(q * static_cast<double>(total_ - 1)) + 1, seen = 0;
        for (size_t i = 0; i < counts_.size(); ++i) {
            seen += counts_[i];
            if (seen >= want) return static_cast<double>(upper(i)) / 1000.0;
        }
        return static_cast<double>(upper(counts_.size() - 1)) / 1000.0;
    }

private:
    static constexpr int kSub = 64;
    static constexpr int kShift = 6;
    static size_t index(uint64_t v) {
        if (v < kSub) return v;
        int power = 63 - std::countl_zero(v);  // >= kShift
        size_t i = size_t(power - kShift + 1) * kSub + ((v >> (power - kShift)) - kSub);
        return i < kBuckets ? i : kBuckets - 1;
    }
    static uint64_t upper(size_t i) {
        if (i < kSub) return i;
        size_t power = i / kSub + kShift - 1;
        return ((i % kSub) + kSub + 1) << (power - kShift);
    }
    static constexpr size_t kBuckets = 26 * kSub;
    std::array<uint64_t, kBuckets> counts_{};
    uint64_t total_ = 0;
};

}  // namespace bench
