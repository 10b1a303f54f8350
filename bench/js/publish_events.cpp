// Publishes --count domain events (CloudEvents binary mode, ~300-byte MessagePack bodies) to
// one subject with asynchronous publishes, then prints the stream sequence range they got:
//   first_seq=<n> last_seq=<n> seconds=<s>
#include "bench_nats.hpp"

#include <chrono>
#include <msgpack.hpp>
#include <string>

namespace {

constexpr const char* kUsage =
    "usage: bench-publish-events --url U --stream S --subject SUBJ --type T --count N\n";

// A body shaped like an application's order event: about 300 bytes of MessagePack.
std::string event_body(int64_t i) {
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> p(buf);
    p.pack_map(6);
    p.pack("orderId");
    p.pack("order-" + std::to_string(i));
    p.pack("userId");
    p.pack("user-" + std::to_string(i % 1000));
    p.pack("total");
    p.pack(12.5 + static_cast<double>(i % 100));
    p.pack("currency");
    p.pack("EUR");
    p.pack("items");
    p.pack_array(3);
    for (int k = 0; k < 3; ++k) {
        p.pack_map(3);
        p.pack("sku");
        p.pack("sku-" + std::to_string((i + k) % 5000));
        p.pack("qty");
        p.pack(k + 1);
        p.pack("title");
        p.pack(std::string("an item with a plain description of moderate length"));
    }
    p.pack("note");
    p.pack(std::string("leave the parcel at the door; ring twice, the bell is quiet"));
    return std::string(buf.data(), buf.size());
}

uint64_t last_seq(jsCtx* js, const std::string& stream) {
    jsStreamInfo* si = nullptr;
    jsErrCode jerr{};
    natsStatus s = js_GetStreamInfo(&si, js, stream.c_str(), nullptr, &jerr);
    if (s != NATS_OK) bench::fail("stream info", s, &jerr);
    uint64_t seq = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    return seq;
}

void publish_one(jsCtx* js, const std::string& subject, const std::string& type, int64_t i,
                 const std::string& body) {
    natsMsg* m = nullptr;
    bench::check(
        natsMsg_Create(&m, subject.c_str(), nullptr, body.data(), static_cast<int>(body.size())),
        "message");
    std::string id = "bench-" + type + "-" + std::to_string(i);
    natsMsgHeader_Set(m, "Nats-Msg-Id", id.c_str());
    natsMsgHeader_Set(m, "ce-specversion", "1.0");
    natsMsgHeader_Set(m, "ce-id", id.c_str());
    natsMsgHeader_Set(m, "ce-type", type.c_str());
    natsMsgHeader_Set(m, "ce-source", "bench");
    natsMsgHeader_Set(m, "ce-time", "2026-01-01T00:00:00Z");
    natsMsgHeader_Set(m, "ce-subject", ("order-" + std::to_string(i)).c_str());
    natsMsgHeader_Set(m, "ce-aggregatetype", "Order");
    natsMsgHeader_Set(m, "ce-datacontenttype", "application/msgpack");
    // PublishMsgAsync takes the message over, also when it fails.
    bench::check(js_PublishMsgAsync(js, &m, nullptr), "publish");
}

}  // namespace

int main(int argc, char** argv) {
    bench::Args args(argc, argv, kUsage);
    bench::Connection c(args.text("url"));
    std::string stream = args.text("stream");
    std::string subject = args.text("subject");
    std::string type = args.text("type");
    int64_t count = args.number("count");
    auto start = std::chrono::steady_clock::now();
    uint64_t before = last_seq(c.js, stream);
    for (int64_t i = 0; i < count; ++i) publish_one(c.js, subject, type, i, event_body(i));
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 60000;
    bench::check(js_PublishAsyncComplete(c.js, &po), "publish complete");
    uint64_t after = last_seq(c.js, stream);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (after - before != static_cast<uint64_t>(count)) {
        std::fprintf(stderr, "stored %llu of %lld events\n",
                     static_cast<unsigned long long>(after - before),
                     static_cast<long long>(count));
        return 1;
    }
    std::printf("first_seq=%llu last_seq=%llu seconds=%.3f\n",
                static_cast<unsigned long long>(before + 1), static_cast<unsigned long long>(after),
                secs);
    return 0;
}
