// The floor of a push consumer on nats.c: a callback decodes each body and acknowledges the
// message asynchronously (manual ack, explicit ack policy).
#include "bench_nats.hpp"
#include "run_until_stopped.hpp"

#include <string>

namespace {

constexpr const char* kUsage =
    "usage: bench-push-consumer --url U --stream S --durable D --subject SUBJ\n"
    "       [--max-ack-pending 4096] [--seconds 600]\n";

void on_message(natsConnection*, natsSubscription*, natsMsg* m, void*) {
    if (!bench::decode_event(natsMsg_GetData(m), natsMsg_GetDataLength(m))) {
        std::fprintf(stderr, "body is not a MessagePack map\n");
        std::exit(1);
    }
    bench::check(natsMsg_Ack(m, nullptr), "ack");
    natsMsg_Destroy(m);
}

}  // namespace

int main(int argc, char** argv) {
    bench::Args args(argc, argv, kUsage);
    bench::Connection c(args.text("url"));
    std::string stream = args.text("stream");
    std::string durable = args.text("durable");
    std::string subject = args.text("subject");
    std::string inbox = "bench.deliver." + durable;

    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream.c_str();
    so.ManualAck = true;
    so.Config.Durable = durable.c_str();
    so.Config.DeliverSubject = inbox.c_str();
    so.Config.FilterSubject = subject.c_str();
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.DeliverPolicy = js_DeliverAll;
    so.Config.MaxAckPending = args.number("max-ack-pending", 4096);
    so.Config.AckWait = int64_t{30} * 1000 * 1000 * 1000;  // nanoseconds
    natsSubscription* sub = nullptr;
    jsErrCode jerr{};
    natsStatus s =
        js_Subscribe(&sub, c.js, subject.c_str(), on_message, nullptr, nullptr, &so, &jerr);
    if (s != NATS_OK) bench::fail("push subscribe", s, &jerr);
    // The default pending limits of a subscription (65,536 messages) drop messages under a
    // burst; the consumer's MaxAckPending bounds what can be outstanding anyway.
    natsSubscription_SetPendingLimits(sub, -1, -1);
    bench::wait_for_stop(args.number("seconds", 600));
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    return 0;
}
