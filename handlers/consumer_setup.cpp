#include "handlers/consumer_setup.hpp"

#include <vector>

#include "broker-bridge/errors.hpp"
#include "broker-bridge/log.hpp"

namespace bb::handlers {
namespace {

int64_t nanos(std::chrono::milliseconds ms) { return static_cast<int64_t>(ms.count()) * 1000000; }

using JsConsumerInfoList =
    std::unique_ptr<jsConsumerInfoList, CDestroy<&jsConsumerInfoList_Destroy>>;

[[noreturn]] void fail(const BindingConfig& b, const std::string& durable, const std::string& what,
                       const Error& e) {
    throw StartupError("binding " + b.name + ": consumer " + durable + ": " + what + ": " + e.what);
}

void fill_config(jsConsumerConfig& cc, const Config& config, const BindingConfig& b,
                 const std::string& subject, const std::string& durable,
                 const std::string& description, std::chrono::milliseconds ack_wait) {
    jsConsumerConfig_Init(&cc);
    cc.Durable = durable.c_str();
    cc.Description = description.c_str();
    cc.FilterSubject = subject.c_str();
    cc.AckPolicy = js_AckExplicit;
    cc.AckWait = nanos(ack_wait);
    // JetStream stops redelivering after MaxDeliver deliveries and sends the max-deliveries
    // advisory, which dead-letters an event whose handler crashes the process every time.
    // One delivery more than `attempts`: a message released at shutdown (or after a failed
    // dead-letter publish) on its last attempt comes back once more instead of being
    // reported as a crash loop; failed attempts are still capped at `attempts` by the host.
    cc.MaxDeliver = b.attempts + 1;
    cc.MaxAckPending = config.handlers.max_ack_pending;
    switch (b.start.kind) {
        case StartPosition::Kind::kNew: cc.DeliverPolicy = js_DeliverNew; break;
        case StartPosition::Kind::kAll: cc.DeliverPolicy = js_DeliverAll; break;
        case StartPosition::Kind::kTime:
            cc.DeliverPolicy = js_DeliverByStartTime;
            cc.OptStartTime = b.start.time_unix_ns;
            break;
    }
}

// The binding named in a description `<mark>binding=<name>`; empty when there is none.
std::string binding_of(std::string_view description, std::string_view mark) {
    std::string_view rest = description.substr(mark.size());
    constexpr std::string_view kKey = "binding=";
    if (rest.rfind(kKey, 0) != 0) return {};
    return std::string(rest.substr(kKey.size()));
}

}  // namespace

std::string consumer_description(const std::string& group, const std::string& binding) {
    return "broker-bridge group=" + group + " binding=" + binding;
}

NatsSubscription bind_pull_consumer(const NatsClient& nats, const Config& config,
                                    const BindingConfig& b, const std::string& subject,
                                    const std::string& durable, std::chrono::milliseconds ack_wait,
                                    bool* outstanding) {
    if (outstanding) *outstanding = false;
    const std::string& stream = binding_stream(config, b).name;
    std::string description = consumer_description(config.handlers.group, b.name);
    jsConsumerConfig cc;
    fill_config(cc, config, b, subject, durable, description, ack_wait);

    jsConsumerInfo* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetConsumerInfo(&raw, nats.js(), stream.c_str(), durable.c_str(), nullptr,
                                      &jerr);
    JsConsumerInfo existing(raw);
    raw = nullptr;
    if (s == NATS_NOT_FOUND) {
        s = js_AddConsumer(&raw, nats.js(), stream.c_str(), &cc, nullptr, &jerr);
        if (s != NATS_OK) fail(b, durable, "cannot create it", nats_error(s, &jerr));
        log::info("consumer created", {{"binding", b.name}, {"consumer", durable},
                                       {"subject", subject}, {"stream", stream}});
    } else if (s == NATS_OK) {
        // Where a consumer starts is fixed at creation; everything else follows the config.
        cc.DeliverPolicy = existing->Config->DeliverPolicy;
        cc.OptStartTime = existing->Config->OptStartTime;
        cc.OptStartSeq = existing->Config->OptStartSeq;
        s = js_UpdateConsumer(&raw, nats.js(), stream.c_str(), &cc, nullptr, &jerr);
        if (outstanding) *outstanding = existing->NumAckPending > 0 || existing->NumRedelivered > 0;
        if (s != NATS_OK) fail(b, durable, "cannot update it", nats_error(s, &jerr));
        log::info("consumer bound", {{"binding", b.name}, {"consumer", durable},
                                     {"subject", subject}, {"stream", stream}});
    } else {
        fail(b, durable, "cannot look it up", nats_error(s, &jerr));
    }
    JsConsumerInfo created(raw);

    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream.c_str();
    so.Consumer = durable.c_str();
    natsSubscription* sub = nullptr;
    s = js_PullSubscribe(&sub, nats.js(), subject.c_str(), durable.c_str(), nullptr, &so, &jerr);
    if (s != NATS_OK) fail(b, durable, "cannot subscribe", nats_error(s, &jerr));
    return NatsSubscription(sub);
}

void remove_stale_consumers(const NatsClient& nats, const Config& config,
                            const std::set<std::string>& keep) {
    if (config.bindings.empty()) return;  // nothing here owns a consumer
    remove_stale_consumers(nats, config, config.events.name, keep);
    if (config.presence) remove_stale_consumers(nats, config, config.presence->name, keep);
}

void remove_stale_consumers(const NatsClient& nats, const Config& config,
                            const std::string& stream, const std::set<std::string>& keep) {
    std::string mark = "broker-bridge group=" + config.handlers.group + " ";
    jsConsumerInfoList* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_Consumers(&raw, nats.js(), stream.c_str(), nullptr, &jerr);
    if (s == NATS_NOT_FOUND) return;
    if (s != NATS_OK) {
        throw StartupError("cannot list the consumers of stream " + stream + ": " +
                           nats_error(s, &jerr).what);
    }
    JsConsumerInfoList list(raw);
    for (int i = 0; i < list->Count; ++i) {
        const jsConsumerInfo* ci = list->List[i];
        const char* desc = ci->Config ? ci->Config->Description : nullptr;
        if (!desc || std::string_view(desc).rfind(mark, 0) != 0) continue;
        if (keep.count(ci->Name)) continue;
        if (config.bindings_elsewhere.count(binding_of(desc, mark))) continue;
        s = js_DeleteConsumer(nats.js(), stream.c_str(), ci->Name, nullptr, &jerr);
        if (s != NATS_OK && s != NATS_NOT_FOUND) {
            log::warn("stale consumer not removed", {{"consumer", ci->Name},
                                                     {"error", nats_error(s, &jerr).what}});
            continue;
        }
        log::info("consumer removed", {{"consumer", ci->Name}, {"stream", stream},
                                       {"reason", "no binding uses it"}});
    }
}

}  // namespace bb::handlers
