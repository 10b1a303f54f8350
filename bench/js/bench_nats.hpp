// Shared pieces of the JetStream bench tools: argument parsing, connecting, decoding.
// The tools call nats.c's C API directly (no wrapper of ours), so they measure the floor of
// what a client of this library can do on this machine.
#pragma once

#include <nats/nats.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

namespace bench {

// `--key value` pairs; every tool documents its keys in its usage text.
class Args {
public:
    Args(int argc, char** argv, const char* usage) : usage_(usage) {
        for (int i = 1; i < argc; ++i) {
            std::string_view k = argv[i];
            if (k.substr(0, 2) != "--" || i + 1 >= argc) die("bad argument: " + std::string(k));
            values_[std::string(k.substr(2))] = argv[++i];
        }
    }
    std::string text(const std::string& key, const std::string& fallback = {}) const {
        auto it = values_.find(key);
        if (it != values_.end()) return it->second;
        if (fallback.empty()) die("missing --" + key);
        return fallback;
    }
    int64_t number(const std::string& key, int64_t fallback = -1) const {
        auto it = values_.find(key);
        if (it == values_.end()) {
            if (fallback < 0) die("missing --" + key);
            return fallback;
        }
        return std::strtoll(it->second.c_str(), nullptr, 10);
    }
    [[noreturn]] void die(const std::string& why) const {
        std::fprintf(stderr, "%s\n%s", why.c_str(), usage_);
        std::exit(2);
    }

private:
    const char* usage_;
    std::map<std::string, std::string> values_;
};

[[noreturn]] inline void fail(const char* what, natsStatus s, const jsErrCode* jerr = nullptr) {
    std::fprintf(stderr, "%s: %s (%s, js error %d)\n", what, natsStatus_GetText(s),
                 nats_GetLastError(nullptr), jerr != nullptr ? static_cast<int>(*jerr) : 0);
    std::exit(1);
}

inline void check(natsStatus s, const char* what) {
    if (s != NATS_OK) fail(what, s);
}

struct Connection {
    natsConnection* nc = nullptr;
    jsCtx* js = nullptr;

    explicit Connection(const std::string& url) {
        check(natsConnection_ConnectTo(&nc, url.c_str()), "connect");
        jsOptions o;
        jsOptions_Init(&o);
        o.Wait = 10000;
        o.PublishAsync.MaxPending = 4096;
        check(natsConnection_JetStream(&js, nc, &o), "jetstream context");
    }
    ~Connection() {
        jsCtx_Destroy(js);
        natsConnection_Destroy(nc);
    }
};

// Decodes one event body the way a handler would read it; false when it is not MessagePack.
bool decode_event(const char* data, int len);

// Microseconds of CPU (user + system) this process has used.
int64_t own_cpu_us();

}  // namespace bench
