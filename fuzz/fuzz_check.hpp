#pragma once

#include <cstdio>
#include <cstdlib>

// A property every fuzz target asserts: a violation aborts, so libFuzzer saves the input and
// the replay test fails. Kept in release builds too (unlike assert).
#define BB_FUZZ_CHECK(condition)                                                           \
    do {                                                                                   \
        if (!(condition)) {                                                                \
            std::fprintf(stderr, "fuzz check failed: %s at %s:%d\n", #condition, __FILE__, \
                         __LINE__);                                                        \
            std::abort();                                                                  \
        }                                                                                  \
    } while (false)
