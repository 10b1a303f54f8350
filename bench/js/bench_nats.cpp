#include "bench_nats.hpp"

#include <sys/resource.h>

#include <msgpack.hpp>

namespace bench {

bool decode_event(const char* data, int len) {
    // The limits a handler applies to untrusted bodies (see LIBRARY-NOTES: unlimited
    // defaults allocate before reading).
    msgpack::unpack_limit limit(1024, 1024, 1 << 20, 1 << 20, 1 << 20, 32);
    try {
        size_t off = 0;
        msgpack::object_handle h =
            msgpack::unpack(data, static_cast<size_t>(len), off, nullptr, nullptr, limit);
        return off == static_cast<size_t>(len) && h.get().type == msgpack::type::MAP;
    } catch (const std::exception&) {
        return false;
    }
}

int64_t own_cpu_us() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    auto us = [](const timeval& t) { return int64_t{t.tv_sec} * 1000000 + t.tv_usec; };
    return us(u.ru_utime) + us(u.ru_stime);
}

}  // namespace bench
