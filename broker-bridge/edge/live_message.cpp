#include "broker-bridge/edge/live_message.hpp"

#include <cstdlib>

#include "broker-bridge/envelope.hpp"
#include "broker-bridge/nats_handles.hpp"

namespace bb::edge {
namespace {

std::string header_text(natsMsg* msg, const char* name) {
    const char* v = header_value(msg, name);
    return v ? std::string(v) : std::string();
}

bool says_msgpack(natsMsg* msg) {
    for (const char* name : {"ce-datacontenttype", "Content-Type"}) {
        const char* v = header_value(msg, name);
        if (v && std::string_view(v).find("msgpack") != std::string_view::npos) return true;
    }
    return false;
}

Result<nlohmann::json> read_body(natsMsg* msg) {
    std::string_view body(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
    if (body.empty()) return nlohmann::json(nullptr);
    if (says_msgpack(msg)) return msgpack_to_json(body);
    if (auto ok = check_json_text(body); !ok) return ok.error();
    nlohmann::json v = nlohmann::json::parse(body, nullptr, false);
    if (v.is_discarded()) return Error{"not JSON"};
    return v;
}

}  // namespace

LiveMessage::LiveMessage(std::string subject, uint64_t seq, std::string epoch, nlohmann::json data,
                         std::string author, std::string connection_id)
    : subject_(std::move(subject)),
      seq_(seq),
      epoch_(std::move(epoch)),
      data_(std::move(data)),
      author_(std::move(author)),
      connection_(std::move(connection_id)) {
    size_hint_ = 64 + subject_.size() +
                 data_.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).size();
}

Result<LivePtr> LiveMessage::from_nats(natsMsg* msg, std::string epoch) {
    std::string subject = header_text(msg, "Nats-Subject");
    std::string seq_text = header_text(msg, "Nats-Sequence");
    char* end = nullptr;
    uint64_t seq = std::strtoull(seq_text.c_str(), &end, 10);
    if (subject.empty() || seq == 0 || end == seq_text.c_str() || *end != '\0') {
        return Error{"a realtime message without Nats-Subject or Nats-Sequence"};
    }
    auto data = read_body(msg);
    if (!data) return Error{"realtime message body: " + data.error().what};
    std::string author = header_text(msg, "ce-userid");
    if (auto decoded = decode_header_value(author)) author = *decoded;
    return std::make_shared<const LiveMessage>(std::move(subject), seq, std::move(epoch),
                                               std::move(*data), std::move(author),
                                               header_text(msg, "Bridge-Connection-Id"));
}

Encoded LiveMessage::encoded(const std::string& channel, WireFormat format) const {
    std::lock_guard lock(mu_);
    Cached* slot = nullptr;
    for (auto& c : cache_) {
        if (c.channel == channel) slot = &c;
    }
    if (!slot) slot = &cache_.emplace_back(Cached{channel, nullptr, nullptr});
    Encoded& out = format == WireFormat::kJson ? slot->json : slot->msgpack;
    if (!out) {
        nlohmann::json m = {{"op", "message"},
                            {"channel", channel},
                            {"seq", seq_},
                            {"epoch", epoch_},
                            {"data", data_}};
        out = encode(m, format);
    }
    return out;
}

}  // namespace bb::edge
