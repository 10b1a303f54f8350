// The floor of a pull consumer on nats.c: Fetch batches, decode each body, acknowledge each
// message asynchronously. Modes for the failure path:
//   ack        decode and ack every message
//   nak-first  nak the first delivery of each message (NakWithDelay 0), ack the second
//   dlq        the synchronous dead-letter loop: publish each message to dlq.<subject> and
//              wait for the stream's ack, then terminate it (+TERM)
#include "bench_nats.hpp"
#include "run_until_stopped.hpp"

#include <string>
#include <thread>

namespace {

constexpr const char* kUsage =
    "usage: bench-pull-consumer --url U --stream S --durable D --subject SUBJ\n"
    "       [--batch 256] [--max-ack-pending 4096] [--mode ack|nak-first|dlq] [--seconds 600]\n";

enum class Mode { kAck, kNakFirst, kDlq };

Mode parse_mode(const bench::Args& args) {
    std::string m = args.text("mode", "ack");
    if (m == "ack") return Mode::kAck;
    if (m == "nak-first") return Mode::kNakFirst;
    if (m == "dlq") return Mode::kDlq;
    args.die("unknown --mode " + m);
}

void dead_letter(jsCtx* js, natsMsg* m) {
    std::string subject = std::string("dlq.") + natsMsg_GetSubject(m);
    natsMsg* out = nullptr;
    bench::check(natsMsg_Create(&out, subject.c_str(), nullptr, natsMsg_GetData(m),
                                natsMsg_GetDataLength(m)),
                 "dlq message");
    const char* id = nullptr;
    if (natsMsgHeader_Get(m, "ce-id", &id) == NATS_OK) {
        natsMsgHeader_Set(out, "Nats-Msg-Id", (std::string("dlq:") + id).c_str());
    }
    natsMsgHeader_Set(out, "Bridge-Dlq-Error", "bench: always fails");
    jsPubAck* pa = nullptr;
    jsErrCode jerr{};
    natsStatus s = js_PublishMsg(&pa, js, out, nullptr, &jerr);
    if (s != NATS_OK) bench::fail("dlq publish", s, &jerr);
    jsPubAck_Destroy(pa);
    natsMsg_Destroy(out);
    bench::check(natsMsg_Term(m, nullptr), "term");
}

void handle(jsCtx* js, natsMsg* m, Mode mode) {
    if (!bench::decode_event(natsMsg_GetData(m), natsMsg_GetDataLength(m))) {
        std::fprintf(stderr, "body is not a MessagePack map\n");
        std::exit(1);
    }
    if (mode == Mode::kDlq) return dead_letter(js, m);
    if (mode == Mode::kNakFirst) {
        jsMsgMetaData* md = nullptr;
        bench::check(natsMsg_GetMetaData(&md, m), "metadata");
        bool first = md->NumDelivered == 1;
        jsMsgMetaData_Destroy(md);
        if (first) {
            bench::check(natsMsg_NakWithDelay(m, 0, nullptr), "nak");
            return;
        }
    }
    bench::check(natsMsg_Ack(m, nullptr), "ack");
}

}  // namespace

int main(int argc, char** argv) {
    bench::Args args(argc, argv, kUsage);
    Mode mode = parse_mode(args);
    int batch = static_cast<int>(args.number("batch", 256));
    bench::Connection c(args.text("url"));
    std::string stream = args.text("stream");
    std::string durable = args.text("durable");
    std::string subject = args.text("subject");

    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream.c_str();
    so.Config.Durable = durable.c_str();
    so.Config.FilterSubject = subject.c_str();
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.DeliverPolicy = js_DeliverAll;
    so.Config.MaxAckPending = args.number("max-ack-pending", 4096);
    so.Config.AckWait = int64_t{30} * 1000 * 1000 * 1000;  // nanoseconds
    natsSubscription* sub = nullptr;
    jsErrCode jerr{};
    natsStatus s =
        js_PullSubscribe(&sub, c.js, subject.c_str(), durable.c_str(), nullptr, &so, &jerr);
    if (s != NATS_OK) bench::fail("pull subscribe", s, &jerr);

    std::thread worker([&] {
        while (!bench::g_stop) {
            natsMsgList list{};
            natsStatus fs = natsSubscription_Fetch(&list, sub, batch, 200, &jerr);
            if (fs == NATS_TIMEOUT) continue;
            if (fs != NATS_OK) bench::fail("fetch", fs, &jerr);
            for (int i = 0; i < list.Count; ++i) handle(c.js, list.Msgs[i], mode);
            natsMsgList_Destroy(&list);
        }
    });
    bench::wait_for_stop(args.number("seconds", 600));
    bench::g_stop = true;
    worker.join();
    natsSubscription_Destroy(sub);
    return 0;
}
