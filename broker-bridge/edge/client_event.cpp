#include "broker-bridge/edge/client_event.hpp"

#include <openssl/rand.h>

#include <chrono>
#include <cstdio>
#include <ctime>

namespace bb::edge {
namespace {

std::string random_uuid() {
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("no randomness for an event id");
    b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);
    b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        out += kHex[b[i] >> 4];
        out += kHex[b[i] & 0x0F];
    }
    return out;
}

std::string now_rfc3339() {
    auto now = std::chrono::system_clock::now();
    std::time_t t = std::chrono::system_clock::to_time_t(now);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char out[64];
    std::snprintf(out, sizeof out, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms.count()));
    return out;
}

}  // namespace

Result<ClientEvent> client_event(const ResolvedChannel& channel, std::string_view channel_name,
                                 const nlohmann::json& data, const std::string& user,
                                 const std::string& connection_id,
                                 const std::string& events_prefix) {
    const CompiledChannel& rule = *channel.rule;
    const ChannelPublishConfig& p = *rule.config.publish;
    Event e;
    e.id = random_uuid();
    e.type = p.type;
    e.source = p.source;
    e.subject = rule.aggregate_id->expand(channel.vars);
    e.aggregate_type = p.aggregate_type;
    e.correlation_id = e.id;
    e.user_id = user;
    e.time = now_rfc3339();
    e.format = DataFormat::kJson;
    e.data = data.is_null() ? std::string("{}")
                            : data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    e.extra_headers.emplace_back("Bridge-Connection-Id", connection_id);
    e.extra_headers.emplace_back("Bridge-Channel", std::string(channel_name));
    auto wire = encode(e, events_prefix);
    if (!wire) return wire.error();
    return ClientEvent{e.id, std::move(*wire)};
}

}  // namespace bb::edge
