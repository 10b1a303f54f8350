// Measures one consumer process from outside, the same way for every peer: polls the
// consumer's info until every message of a stream sequence range is acknowledged (and, for
// the dead-letter path, the DLQ holds the expected count), then prints one line:
//   msgs=<n> seconds=<s> msgs_per_s=<r> consumer_cpu_us=<us> server_cpu_us=<us>
// (--dlq-count: entries added to the DLQ stream after the watch started).
// The rate is taken between the first poll that saw an acknowledgement and the poll that
// saw the last one, so a slow start-up (Node.js) does not count against a peer; CPU is the
// consumer's whole life (start-up included) and nats-server's from the watch's start.
// Polling backs off to every --poll-ms (250): frequent consumer-info requests slow the
// server down (JETSTREAM-NOTES), so it only polls faster when the end is near.
#include "bench_nats.hpp"
#include "proc_cpu.hpp"

#include <sys/types.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

namespace {

constexpr const char* kUsage =
    "usage: bench-drain-watch --url U --stream S --consumer-prefix P --first-seq A --last-seq B\n"
    "       --pid-file F --ready-file R --server-pid PID [--dlq-stream DLQ --dlq-count N]\n"
    "       [--timeout-s 300] [--poll-ms 250]\n";

using Clock = std::chrono::steady_clock;

struct Progress {
    uint64_t acked = 0;
    bool drained = false;
};

std::optional<std::string> find_consumer(jsCtx* js, const std::string& stream,
                                         const std::string& prefix) {
    jsConsumerNamesList* list = nullptr;
    if (js_ConsumerNames(&list, js, stream.c_str(), nullptr, nullptr) != NATS_OK) {
        return std::nullopt;
    }
    std::optional<std::string> found;
    for (int i = 0; i < list->Count; ++i) {
        if (std::string_view(list->List[i]).substr(0, prefix.size()) == prefix) {
            found = list->List[i];
        }
    }
    jsConsumerNamesList_Destroy(list);
    return found;
}

uint64_t stream_count(jsCtx* js, const std::string& stream) {
    jsStreamInfo* si = nullptr;
    if (js_GetStreamInfo(&si, js, stream.c_str(), nullptr, nullptr) != NATS_OK) return 0;
    uint64_t n = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    return n;
}

Progress poll(jsCtx* js, const std::string& stream, const std::string& consumer, uint64_t first,
              uint64_t last) {
    jsConsumerInfo* ci = nullptr;
    Progress p;
    if (js_GetConsumerInfo(&ci, js, stream.c_str(), consumer.c_str(), nullptr, nullptr) !=
        NATS_OK) {
        return p;
    }
    uint64_t floor = std::min(ci->AckFloor.Stream, last);
    p.acked = floor >= first ? floor - first + 1 : 0;
    // Delivered.Consumer counts deliveries: a consumer that started after the block (deliver
    // policy "new") has none and never counts as drained.
    p.drained = ci->NumPending == 0 && ci->NumAckPending == 0 && ci->Delivered.Stream >= last &&
                ci->Delivered.Consumer >= last - first + 1;
    if (p.drained) p.acked = last - first + 1;
    jsConsumerInfo_Destroy(ci);
    return p;
}

bool alive(int pid) { return kill(pid, 0) == 0; }

// The watch starts before the consumer (so the DLQ and server CPU baselines come first);
// the harness writes the consumer's PID to this file once it has started it.
int read_pid_file(const std::string& path, Clock::time_point deadline) {
    while (Clock::now() < deadline) {
        std::ifstream in(path);
        int pid = 0;
        if (in >> pid && pid > 0) return pid;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::fprintf(stderr, "no PID in %s\n", path.c_str());
    std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
    bench::Args args(argc, argv, kUsage);
    bench::Connection c(args.text("url"));
    std::string stream = args.text("stream");
    std::string prefix = args.text("consumer-prefix");
    auto first = static_cast<uint64_t>(args.number("first-seq"));
    auto last = static_cast<uint64_t>(args.number("last-seq"));
    int server_pid = static_cast<int>(args.number("server-pid"));
    std::string dlq = args.text("dlq-stream", "-");
    auto dlq_count = static_cast<uint64_t>(args.number("dlq-count", 0));
    auto poll_ms = args.number("poll-ms", 250);
    auto deadline = Clock::now() + std::chrono::seconds(args.number("timeout-s", 300));
    int64_t server_cpu0 = bench::process_cpu_us(server_pid);
    // --dlq-count counts entries added after the watch started.
    uint64_t dlq_count0 = dlq_count > 0 ? stream_count(c.js, dlq) : 0;
    // The harness starts the consumer only once this file exists: a consumer that started
    // before the baseline was read had its first DLQ entries counted in the baseline.
    std::ofstream(args.text("ready-file")) << "ready\n";
    int pid = read_pid_file(args.text("pid-file"), deadline);
    uint64_t total = last - first + 1;

    std::optional<std::string> consumer;
    std::optional<Clock::time_point> t0;
    Progress p;
    uint64_t dlq_seen = 0;
    uint64_t acked0 = 0;
    uint64_t prev = 0;
    auto prev_at = Clock::now();
    while (Clock::now() < deadline) {
        if (!alive(pid)) {
            std::fprintf(stderr, "the consumer process %d exited before the end\n", pid);
            return 1;
        }
        if (!consumer) consumer = find_consumer(c.js, stream, prefix);
        p = Progress{};
        if (consumer) p = poll(c.js, stream, *consumer, first, last);
        auto now = Clock::now();
        if (!t0 && p.acked > 0) {
            t0 = now;
            acked0 = p.acked;
        }
        if (dlq_count > 0) dlq_seen = stream_count(c.js, dlq) - dlq_count0;
        bool dlq_done = dlq_seen >= dlq_count;
        if (p.drained && dlq_done && t0) {
            int64_t cpu = bench::process_cpu_us(pid);
            int64_t server_cpu = bench::process_cpu_us(server_pid) - server_cpu0;
            double secs = std::chrono::duration<double>(now - *t0).count();
            uint64_t n = total - acked0;
            // All was acknowledged before a second poll: too fast to time with this method.
            double rate = secs > 0 && n > 0 ? static_cast<double>(n) / secs : 0;
            std::printf(
                "msgs=%llu seconds=%.3f msgs_per_s=%.0f consumer_cpu_us=%lld "
                "server_cpu_us=%lld\n",
                static_cast<unsigned long long>(total), secs, rate, static_cast<long long>(cpu),
                static_cast<long long>(server_cpu));
            return 0;
        }
        // Sleep a third of the expected time left, between 10 ms and --poll-ms.
        double dt = std::chrono::duration<double>(now - prev_at).count();
        double rate = dt > 0 && p.acked > prev ? static_cast<double>(p.acked - prev) / dt : 0;
        int64_t wait_ms = poll_ms;
        if (rate > 0) {
            auto left_ms =
                static_cast<int64_t>(1000.0 * static_cast<double>(total - p.acked) / rate);
            wait_ms = std::clamp<int64_t>(left_ms / 3, 10, poll_ms);
        }
        prev = p.acked;
        prev_at = now;
        std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    }
    std::fprintf(stderr,
                 "not drained before the timeout: consumer=%s acked=%llu of %llu drained=%d "
                 "dlq_entries=%llu of %llu\n",
                 consumer ? consumer->c_str() : "(not found)",
                 static_cast<unsigned long long>(p.acked), static_cast<unsigned long long>(total),
                 p.drained ? 1 : 0, static_cast<unsigned long long>(dlq_seen),
                 static_cast<unsigned long long>(dlq_count));
    return 1;
}
