// CLOCK_MONOTONIC in nanoseconds: publishers stamp it into each payload ("ts") and the
// readers subtract it from their own reading; all run on one machine.
#pragma once

#include <time.h>

#include <cstdint>

namespace bench {

inline int64_t monotonic_ns() {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return int64_t(t.tv_sec) * 1000000000 + t.tv_nsec;
}

}  // namespace bench
