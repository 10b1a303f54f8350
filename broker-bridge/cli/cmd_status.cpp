// `broker-bridge status`: streams, consumers, lag, pending and DLQ depth per binding.
#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "broker-bridge/cli/commands.hpp"
#include "broker-bridge/config.hpp"
#include "broker-bridge/errors.hpp"
#include "broker-bridge/log.hpp"
#include "broker-bridge/nats_client.hpp"
#include "broker-bridge/provisioner.hpp"
#include "broker-bridge/subject.hpp"

namespace bb::cli {
namespace {

// Messages in the DLQ under dlq.<binding>.>, counted by the server per subject.
uint64_t dlq_depth(const NatsClient& nats, const Config& c, const std::string& binding) {
    jsOptions o;
    jsOptions_Init(&o);
    std::string filter = "dlq." + binding + ".>";
    o.Stream.Info.SubjectsFilter = filter.c_str();
    jsStreamInfo* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (js_GetStreamInfo(&raw, nats.js(), c.dlq.name.c_str(), &o, &jerr) != NATS_OK) return 0;
    JsStreamInfo info(raw);
    uint64_t total = 0;
    if (info->State.Subjects) {
        for (int i = 0; i < info->State.Subjects->Count; ++i) {
            total += info->State.Subjects->List[i].Msgs;
        }
    }
    return total;
}

nlohmann::json consumer_json(const NatsClient& nats, const Config& c,
                             const BindingConfig& b, const std::string& subject) {
    std::string durable = durable_name(b.name, subject, c.handlers.group);
    nlohmann::json j = {{"consumer", durable}, {"subject", subject}};
    jsConsumerInfo* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const std::string& stream = binding_stream(c, b).name;
    natsStatus s =
        js_GetConsumerInfo(&raw, nats.js(), stream.c_str(), durable.c_str(), nullptr, &jerr);
    JsConsumerInfo info(raw);
    if (s != NATS_OK) {
        j["error"] = s == NATS_NOT_FOUND ? "not created yet (start `broker-bridge run`)"
                                         : nats_error(s, &jerr).what;
        return j;
    }
    j["lag"] = info->NumPending;
    j["ack_pending"] = info->NumAckPending;
    j["redelivered"] = info->NumRedelivered;
    j["delivered_stream_seq"] = info->Delivered.Stream;
    return j;
}

nlohmann::json collect(const NatsClient& nats, const Config& c) {
    nlohmann::json out = {{"streams", nlohmann::json::array()},
                          {"bindings", nlohmann::json::array()}};
    for (const StreamConfig* s : {&c.events, &c.dlq, &c.realtime, &c.advisories}) {
        auto st = stream_status(nats.js(), s->name);
        if (!st) {
            out["streams"].push_back({{"name", s->name}, {"error", st.error().what}});
            continue;
        }
        out["streams"].push_back({{"name", st->name}, {"messages", st->messages},
                                  {"bytes", st->bytes}, {"first_seq", st->first_seq},
                                  {"last_seq", st->last_seq},
                                  {"consumers", st->consumer_count}});
    }
    for (const auto& b : c.bindings) {
        nlohmann::json jb = {{"name", b.name}, {"plugin", b.plugin},
                             {"dlq", dlq_depth(nats, c, b.name)},
                             {"consumers", nlohmann::json::array()}};
        for (const auto& subject : b.subjects) {
            jb["consumers"].push_back(consumer_json(nats, c, b, subject));
        }
        out["bindings"].push_back(jb);
    }
    return out;
}

void print_table(const nlohmann::json& j) {
    std::printf("%-20s %12s %14s %12s\n", "STREAM", "MESSAGES", "BYTES", "LAST SEQ");
    for (const auto& s : j["streams"]) {
        if (s.contains("error")) {
            std::printf("%-20s %s\n", s["name"].get<std::string>().c_str(),
                        s["error"].get<std::string>().c_str());
            continue;
        }
        std::printf("%-20s %12llu %14llu %12llu\n", s["name"].get<std::string>().c_str(),
                    s["messages"].get<unsigned long long>(), s["bytes"].get<unsigned long long>(),
                    s["last_seq"].get<unsigned long long>());
    }
    std::printf("\n%-20s %-40s %10s %12s %12s %8s\n", "BINDING", "CONSUMER", "LAG",
                "ACK PENDING", "REDELIVERED", "DLQ");
    for (const auto& b : j["bindings"]) {
        for (const auto& c : b["consumers"]) {
            if (c.contains("error")) {
                std::printf("%-20s %-40s %s\n", b["name"].get<std::string>().c_str(),
                            c["consumer"].get<std::string>().c_str(),
                            c["error"].get<std::string>().c_str());
                continue;
            }
            std::printf("%-20s %-40s %10llu %12lld %12lld %8llu\n",
                        b["name"].get<std::string>().c_str(),
                        c["consumer"].get<std::string>().c_str(),
                        c["lag"].get<unsigned long long>(), c["ack_pending"].get<long long>(),
                        c["redelivered"].get<long long>(), b["dlq"].get<unsigned long long>());
        }
    }
}

}  // namespace

int status(const std::string& file, bool json) {
    Config c = load_config(file);
    // The table is the output: lifecycle lines would only interleave with it.
    log::configure(std::max(c.log.level, log::Level::kWarn), c.log.format);
    NatsClient nats = NatsClient::connect(c.nats, "status");
    if (!nats.wait_connected(c.nats.connect_timeout + c.nats.request_timeout)) {
        throw StartupError("cannot reach NATS at " + redacted_url(c.nats.url) + " (nats.url in " +
                           file + ")");
    }
    nlohmann::json j = collect(nats, c);
    if (json) {
        std::printf("%s\n", j.dump(2).c_str());
    } else {
        print_table(j);
    }
    return 0;
}

}  // namespace bb::cli
