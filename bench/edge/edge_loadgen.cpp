// The edge load generator: opens N WebSocket clients to one server, subscribes them, and
// measures publish→receive latency and loss while a publisher sends at a fixed rate.
//
//   bench-edge-loadgen --url ws://127.0.0.1:P/path --protocol bb|nats|trpc|floor
//       --clients N [--per-user 1] [--modes ramp,fixed | idle] [--server-pid PID] ...
//
// Modes: `ramp` raises the delivered rate step by step (x2) until a step fails, then
// bisects between the last pass and the first failure; a step passes with no loss, p99
// at most --p99-limit-ms, no client closed, and at least 90% of the asked rate delivered.
// `fixed` runs one step at --fixed-rate delivered messages per second. `idle` holds the
// clients open and reports the server's memory per connection and its CPU at rest.
// Output: one `step ...` line per step and a last `result ...` line, key=value fields.
#include <arpa/inet.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "../js/bench_nats.hpp"
#include "../js/proc_cpu.hpp"
#include "client_pool.hpp"
#include "clock.hpp"
#include "publisher.hpp"

namespace bench {
namespace {

const char* kUsage =
    "bench-edge-loadgen --url ws://HOST:PORT/PATH --protocol bb|nats|trpc|floor --clients N\n"
    "  [--per-user 0|1] [--threads 2] [--modes ramp,fixed|idle] [--server-pid PID]\n"
    "  [--nats-url URL --publish core|js] [--payload-bytes 128] [--jwt-secret S]\n"
    "  [--jwt-issuer I] [--jwt-audience A] [--ramp-start 20000] [--ramp-max 4000000]\n"
    "  [--bisect 3] [--retry-failed 1] [--step-ms 2000] [--fixed-rate 10000] [--fixed-ms 5000]\n"
    "  [--drain-ms 3000] [--p99-limit-ms 100] [--connect-timeout-ms 120000]\n"
    "  [--idle-settle-ms 2000] [--idle-rest-ms 5000] [--deflate 0|1] [--source-addresses 8]\n";

int64_t self_cpu_us() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return int64_t(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000 + u.ru_utime.tv_usec +
           u.ru_stime.tv_usec;
}

// Raises this process's open-files limit to its hard limit; returns what was granted.
uint64_t raise_nofile() {
    rlimit r{};
    getrlimit(RLIMIT_NOFILE, &r);
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
    getrlimit(RLIMIT_NOFILE, &r);
    return r.rlim_cur;
}

// VmRSS of a process in KiB (-1 when unreadable).
int64_t rss_kib(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
    }
    return -1;
}

// The soft open-files limit another process was granted (-1 when unreadable).
long long nofile_of(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("Max open files", 0) == 0) {
            return std::strtoll(line.c_str() + std::strlen("Max open files"), nullptr, 10);
        }
    }
    return -1;
}

std::string format(double v, int decimals = 2) {
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", decimals, v);
    return b;
}

struct StepResult {
    double target = 0, achieved = 0;
    uint64_t expected = 0, loss = 0, duplicates = 0, closed = 0;
    double p50 = -1, p99 = -1, p999 = -1, gen_cpu_pct = 0, server_cpu_pct = 0;
    uint64_t frames = 0;  // frames the clients read (a frame may carry several messages)
    bool pass = false;
    bool capped = false;  // a ramp that reached --ramp-max without failing
};

class Generator {
public:
    Generator(const Args& args, ClientPool& pool, Publisher& publisher)
        : args_(args),
          pool_(pool),
          publisher_(publisher),
          clients_(static_cast<uint32_t>(args.number("clients"))),
          per_user_(args.number("per-user", 0) == 1),
          server_pid_(static_cast<int>(args.number("server-pid", 0))),
          p99_limit_ms_(double(args.number("p99-limit-ms", 100))),
          drain_ms_(args.number("drain-ms", 3000)) {}

    StepResult step(const char* kind, double target, int64_t duration_ms) {
        double fanout = per_user_ ? 1.0 : double(clients_);
        double rate = std::max(target / fanout, 0.5);
        auto count = static_cast<uint64_t>(std::max(1.0, std::round(rate * duration_ms / 1e3)));
        uint64_t first = next_seq_, last = first + count - 1;
        next_seq_ = last + 1;
        uint64_t closed_before = total_closes();
        pool_.begin_window(first, last);
        StepResult r;
        r.target = target;
        r.expected = count * (per_user_ ? 1 : clients_);
        int64_t t0 = monotonic_ns(), cpu0 = self_cpu_us();
        int64_t srv0 = server_pid_ ? process_cpu_us(server_pid_) : 0;
        publisher_.publish(first, count, rate);
        StepCounts c = wait_for(r.expected, monotonic_ns() + drain_ms_ * 1000000);
        int64_t end = c.unique >= r.expected ? c.last_frame_ns : monotonic_ns();
        // At least the publishing window: a step of one message delivered in a burst is not
        // a high rate.
        double seconds =
            std::max(double(std::max<int64_t>(end - t0, 1)) / 1e9, double(count) / rate);
        r.achieved = double(c.unique) / seconds;
        r.loss = r.expected - std::min(c.unique, r.expected);
        r.duplicates = c.duplicates;
        r.frames = c.frames;
        r.p50 = c.latency.quantile_ms(0.5);
        r.p99 = c.latency.quantile_ms(0.99);
        r.p999 = c.latency.quantile_ms(0.999);
        r.gen_cpu_pct = double(self_cpu_us() - cpu0) / (seconds * 1e4);
        if (server_pid_)
            r.server_cpu_pct = double(process_cpu_us(server_pid_) - srv0) / (seconds * 1e4);
        r.closed = total_closes() - closed_before;
        r.pass = r.loss == 0 && r.closed == 0 && r.p99 >= 0 && r.p99 <= p99_limit_ms_ &&
                 r.achieved >= 0.9 * target;
        print(kind, r);
        settle(r);
        return r;
    }

    // One step of the ramp; a failed one is run once more (--retry-failed) before it counts:
    // on a shared machine one step can fail for a neighbour's burst.
    StepResult ramp_step(const char* kind, double target, int64_t ms) {
        StepResult r = step(kind, target, ms);
        for (int64_t i = 0; !r.pass && i < args_.number("retry-failed", 1); ++i) {
            r = step("retry", target, ms);
        }
        return r;
    }

    // Ramp x2 from --ramp-start until a step fails, then bisect; returns the best pass.
    StepResult ramp() {
        double rate = double(args_.number("ramp-start", 20000));
        double max_rate = double(args_.number("ramp-max", 4000000));
        int64_t ms = args_.number("step-ms", 2000);
        StepResult best, r;
        double fail = 0;
        for (int i = 0; i < 16 && rate <= max_rate; ++i, rate *= 2) {
            r = ramp_step("ramp", rate, ms);
            if (!r.pass) {
                fail = rate;
                break;
            }
            best = r;
        }
        best.capped = fail == 0;
        for (int i = 0; i < 3 && best.target == 0 && fail > 1; ++i) {  // start was too high
            r = ramp_step("ramp", fail / 4, ms);
            if (r.pass)
                best = r;
            else
                fail /= 4;
        }
        for (int64_t i = 0, n = args_.number("bisect", 3); i < n && best.target > 0 && fail > 0;
             ++i) {
            double mid = std::sqrt(best.target * fail);
            r = ramp_step("bisect", mid, ms);
            if (r.pass)
                best = r;
            else
                fail = mid;
        }
        return best;
    }

private:
    StepCounts wait_for(uint64_t expected, int64_t deadline) {
        StepCounts c = pool_.counts();
        while (c.unique < expected && monotonic_ns() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            c = pool_.counts();
        }
        return c;
    }

    // After a step: wait until no frame came for 300 ms (at most 10 s), reopen closed clients.
    void settle(const StepResult& r) {
        int64_t deadline = monotonic_ns() + 10'000'000'000;
        while (monotonic_ns() < deadline &&
               monotonic_ns() - pool_.counts().last_frame_ns < 300'000'000) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (r.closed > 0 || pool_.ready() < clients_) {
            bool ok = pool_.open_all(args_.number("connect-timeout-ms", 120000));
            std::fprintf(stderr, "reopened clients: ready=%u of %u%s\n", pool_.ready(), clients_,
                         ok ? "" : " (not all)");
        }
    }

    uint64_t total_closes() const {
        uint64_t n = 0;
        for (auto& [code, k] : pool_.closes()) n += k;
        return n;
    }

    void print(const char* kind, const StepResult& r) {
        std::printf(
            "step kind=%s target=%.0f achieved=%.0f expected=%llu loss=%llu dup=%llu "
            "closed=%llu p50_ms=%s p99_ms=%s p999_ms=%s gen_cpu_pct=%.0f "
            "server_cpu_pct=%.0f frames=%llu pass=%d\n",
            kind, r.target, r.achieved, (unsigned long long)r.expected, (unsigned long long)r.loss,
            (unsigned long long)r.duplicates, (unsigned long long)r.closed, format(r.p50).c_str(),
            format(r.p99).c_str(), format(r.p999).c_str(), r.gen_cpu_pct, r.server_cpu_pct,
            (unsigned long long)r.frames, r.pass ? 1 : 0);
        std::fflush(stdout);
    }

    const Args& args_;
    ClientPool& pool_;
    Publisher& publisher_;
    uint32_t clients_;
    bool per_user_;
    int server_pid_;
    double p99_limit_ms_;
    int64_t drain_ms_;
    uint64_t next_seq_ = 1;
};

PoolConfig pool_config(const Args& args) {
    std::string url = args.text("url");
    if (url.rfind("ws://", 0) != 0) args.die("--url must start with ws://");
    std::string rest = url.substr(5);
    size_t slash = rest.find('/');
    PoolConfig c;
    c.host_header = rest.substr(0, slash);
    c.path = slash == std::string::npos ? "/" : rest.substr(slash);
    size_t colon = c.host_header.rfind(':');
    if (colon == std::string::npos) args.die("--url needs a port");
    c.server.sin_family = AF_INET;
    c.server.sin_port = htons(static_cast<uint16_t>(std::stoi(c.host_header.substr(colon + 1))));
    if (inet_pton(AF_INET, c.host_header.substr(0, colon).c_str(), &c.server.sin_addr) != 1) {
        args.die("--url host must be an IPv4 address");
    }
    c.clients = static_cast<uint32_t>(args.number("clients"));
    c.threads = static_cast<int>(args.number("threads", 2));
    c.source_addresses = static_cast<int>(args.number("source-addresses", 8));
    c.deflate = args.number("deflate", 0) == 1;
    return c;
}

std::unique_ptr<Publisher> make_publisher(const Args& args, const ProtocolAdapter& adapter,
                                          const PoolConfig& pc, bool per_user) {
    auto payload = static_cast<size_t>(args.number("payload-bytes", 128));
    if (adapter.protocol() == Protocol::kFloor) {
        char host[32];
        inet_ntop(AF_INET, &pc.server.sin_addr, host, sizeof host);
        return std::make_unique<FloorPublisher>(host, ntohs(pc.server.sin_port),
                                                per_user ? pc.clients : 0, payload);
    }
    uint32_t clients = pc.clients;
    auto subject_of = [&adapter, per_user, clients](uint64_t seq) {
        return adapter.subject(per_user ? static_cast<uint32_t>(seq % clients) : 0);
    };
    return std::make_unique<NatsPublisher>(
        args.text("nats-url"), args.text("publish", "core") == "js", subject_of, payload);
}

void run_idle(const Args& args, ClientPool& pool, int server_pid, int64_t rss_before,
              uint32_t clients) {
    std::this_thread::sleep_for(std::chrono::milliseconds(args.number("idle-settle-ms", 2000)));
    int64_t rss_after = rss_kib(server_pid);
    int64_t rest_ms = args.number("idle-rest-ms", 5000);
    int64_t srv0 = process_cpu_us(server_pid), self0 = self_cpu_us();
    std::this_thread::sleep_for(std::chrono::milliseconds(rest_ms));
    double srv_pct = double(process_cpu_us(server_pid) - srv0) / (double(rest_ms) * 10);
    double self_pct = double(self_cpu_us() - self0) / (double(rest_ms) * 10);
    double per_conn = double(rss_after - rss_before) * 1024.0 / clients;
    std::printf(
        "result clients=%u ready=%u rss_before_kib=%lld rss_after_kib=%lld "
        "bytes_per_conn=%.0f server_cpu_pct_at_rest=%s gen_cpu_pct=%s server_nofile=%lld\n",
        clients, pool.ready(), (long long)rss_before, (long long)rss_after, per_conn,
        format(srv_pct).c_str(), format(self_pct).c_str(), nofile_of(server_pid));
}

int run(int argc, char** argv) {
    Args args(argc, argv, kUsage);
    uint64_t nofile = raise_nofile();
    AdapterConfig ac;
    ac.protocol = parse_protocol(args.text("protocol"));
    ac.per_user = args.number("per-user", 0) == 1;
    ac.jwt_secret = args.text("jwt-secret", "-");
    ac.jwt_issuer = args.text("jwt-issuer", "-");
    ac.jwt_audience = args.text("jwt-audience", "-");
    if (ac.jwt_issuer == "-") ac.jwt_issuer.clear();
    if (ac.jwt_audience == "-") ac.jwt_audience.clear();
    ProtocolAdapter adapter(ac);
    PoolConfig pc = pool_config(args);
    if (pc.clients + 64 > nofile) {
        std::fprintf(stderr, "open-files limit %llu is too low for %u clients\n",
                     (unsigned long long)nofile, pc.clients);
        return 2;
    }
    int server_pid = static_cast<int>(args.number("server-pid", 0));
    std::string modes = args.text("modes", "ramp,fixed");
    int64_t rss_before = server_pid ? rss_kib(server_pid) : -1;
    ClientPool pool(pc, adapter);
    int64_t t0 = monotonic_ns();
    bool all = pool.open_all(args.number("connect-timeout-ms", 120000));
    double open_s = double(monotonic_ns() - t0) / 1e9;
    std::fprintf(stderr, "clients ready=%u of %u in %.1f s (failed attempts %u), nofile=%llu\n",
                 pool.ready(), pc.clients, open_s, pool.failed(), (unsigned long long)nofile);
    if (!all) {
        std::printf("result error=clients_not_ready ready=%u clients=%u\n", pool.ready(),
                    pc.clients);
        return 1;
    }
    if (modes == "idle") {
        run_idle(args, pool, server_pid, rss_before, pc.clients);
        return 0;
    }
    auto publisher = make_publisher(args, adapter, pc, ac.per_user);
    Generator gen(args, pool, *publisher);
    std::ostringstream result;
    result << "result clients=" << pc.clients << " open_s=" << format(open_s, 1);
    if (modes.find("ramp") != std::string::npos) {
        StepResult best = gen.ramp();
        result << " strict_max=" << format(best.target, 0)
               << " strict_max_p99_ms=" << format(best.p99)
               << " strict_max_gen_cpu_pct=" << format(best.gen_cpu_pct, 0)
               << " strict_max_capped=" << (best.capped ? 1 : 0);
    }
    if (modes.find("fixed") != std::string::npos) {
        StepResult f = gen.step("fixed", double(args.number("fixed-rate", 10000)),
                                args.number("fixed-ms", 5000));
        result << " fixed_rate=" << format(f.target, 0)
               << " fixed_achieved=" << format(f.achieved, 0) << " fixed_loss=" << f.loss
               << " p50_ms=" << format(f.p50) << " p99_ms=" << format(f.p99)
               << " p999_ms=" << format(f.p999) << " fixed_gen_cpu_pct=" << format(f.gen_cpu_pct, 0)
               << " fixed_server_cpu_pct=" << format(f.server_cpu_pct, 0);
    }
    std::printf("%s\n", result.str().c_str());
    return 0;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
    try {
        return bench::run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench-edge-loadgen: %s\n", e.what());
        return 1;
    }
}
