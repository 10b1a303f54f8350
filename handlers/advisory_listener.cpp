#include "handlers/advisory_listener.hpp"

#include <nlohmann/json.hpp>

#include "broker-bridge/errors.hpp"
#include "broker-bridge/log.hpp"
#include "handlers/dead_letter.hpp"

namespace bb::handlers {

AdvisoryListener::AdvisoryListener(const Config& config, const NatsClient& nats, Metrics& metrics,
                                   std::string stream, std::map<std::string, Target> targets)
    : config_(config),
      nats_(nats),
      metrics_(metrics),
      stream_(std::move(stream)),
      targets_(std::move(targets)) {}

std::string AdvisoryListener::durable_for(const Config& config, const std::string& stream) {
    std::string durable = "bridge_advisories_" + config.handlers.group;
    if (stream != config.events.name) durable += "_" + stream;
    return durable;
}

AdvisoryListener::~AdvisoryListener() { stop(); }

void AdvisoryListener::start() {
    const std::string& stream = config_.advisories.name;
    std::string subject = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + stream_ + ".>";
    std::string durable = durable_for(config_, stream_);
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = durable.c_str();
    cc.FilterSubject = subject.c_str();
    cc.AckPolicy = js_AckExplicit;
    cc.AckWait = 30LL * 1000000000;
    cc.DeliverPolicy = js_DeliverAll;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream.c_str();
    so.Config = cc;
    natsSubscription* sub = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s =
        js_PullSubscribe(&sub, nats_.js(), subject.c_str(), durable.c_str(), nullptr, &so, &jerr);
    if (s != NATS_OK) {
        throw StartupError("cannot read stream " + stream +
                           " (max-deliveries advisories): " + nats_error(s, &jerr).what);
    }
    sub_.reset(sub);
    thread_ = std::thread([this] { loop(); });
}

void AdvisoryListener::stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
    sub_.reset();
}

void AdvisoryListener::loop() {
    while (!stopping_) {
        NatsMsgList list;
        jsErrCode jerr = static_cast<jsErrCode>(0);
        natsStatus s = natsSubscription_Fetch(list.get(), sub_.get(), 16, 250, &jerr);
        if (s == NATS_TIMEOUT) continue;
        if (s != NATS_OK) {
            // Disconnected: nats.c reconnects by itself; try again shortly.
            for (int i = 0; i < 5 && !stopping_; ++i) {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
            continue;
        }
        for (natsMsg* m : list) {
            if (handle(m)) {
                natsMsg_Ack(m, nullptr);
            } else {
                natsMsg_NakWithDelay(m, 1000, nullptr);
            }
        }
    }
}

bool AdvisoryListener::handle(natsMsg* advisory) {
    std::string_view body(natsMsg_GetData(advisory),
                          static_cast<size_t>(natsMsg_GetDataLength(advisory)));
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (!j.is_object() || j.value("stream", "") != stream_) return true;
    auto target = targets_.find(j.value("consumer", ""));
    if (target == targets_.end()) return true;  // another group's consumer
    uint64_t seq = j.value("stream_seq", uint64_t{0});
    natsMsg* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetMsg(&raw, nats_.js(), stream_.c_str(), seq, nullptr, &jerr);
    NatsMsg original(raw);
    if (s == NATS_NOT_FOUND) {
        log::warn("crash-looping event already gone from the stream",
                  {{"binding", target->second.binding}, {"seq", seq}});
        return true;
    }
    if (s != NATS_OK) {
        log::warn("cannot read crash-looping event", {{"binding", target->second.binding},
                                                      {"seq", seq},
                                                      {"error", nats_error(s, &jerr).what}});
        return false;
    }
    DeadLetter info;
    info.binding = target->second.binding;
    info.plugin = target->second.plugin;
    info.reason = DlqReason::kMaxDeliveries;
    info.error = "no answer after " + std::to_string(j.value("deliveries", 0)) +
                 " deliveries: the handler crashed or hung its process (or the process stopped) "
                 "each time";
    info.attempts = j.value("deliveries", 0u);
    info.stream = stream_;
    info.stream_seq = seq;
    info.original_subject = natsMsg_GetSubject(original.get());
    auto headers = read_headers(original.get());
    std::string_view data(natsMsg_GetData(original.get()),
                          static_cast<size_t>(natsMsg_GetDataLength(original.get())));
    auto published =
        publish_dead_letter(nats_, build_dead_letter(headers ? *headers : Headers{}, data, info));
    if (!published) {
        log::error("dead-letter publish failed",
                   {{"binding", info.binding}, {"seq", seq}, {"error", published.error().what}});
        return false;
    }
    metrics_.dead_letters(info.binding, "max_deliveries").Increment();
    log::warn("event dead-lettered", {{"binding", info.binding},
                                      {"seq", seq},
                                      {"reason", "max_deliveries"},
                                      {"attempts", info.attempts}});
    return true;
}

}  // namespace bb::handlers
