#include "handlers/delivery.hpp"

namespace bb::handlers {
namespace {

bb_str str(const std::string& s) { return bb_str{s.data(), s.size()}; }

}  // namespace

void build_c_event(Delivery& d, uint32_t max_attempts) {
    const Event& e = d.event;
    d.c_headers.clear();
    d.c_headers.reserve(d.headers.size());
    for (const auto& [k, v] : d.headers) d.c_headers.push_back(bb_header{str(k), str(v)});
    bb_event& c = d.c_event;
    c = bb_event{};
    c.struct_size = sizeof(bb_event);
    c.id = str(e.id);
    c.type = str(e.type);
    c.source = str(e.source);
    c.subject = str(e.subject);
    c.time = str(e.time);
    c.aggregate_type = str(e.aggregate_type);
    c.correlation_id = str(e.correlation_id);
    c.causation_id = str(e.causation_id);
    c.user_id = str(e.user_id);
    c.data_version = str(e.data_version);
    static const std::string kMsgpack = "application/msgpack";
    static const std::string kJson = "application/json";
    c.data_content_type = str(e.format == DataFormat::kJson ? kJson : kMsgpack);
    c.nats_subject = str(d.subject);
    c.data = str(e.data);
    if (d.json_converted) c.data_json = str(d.data_json);
    c.headers = d.c_headers.data();
    c.header_count = d.c_headers.size();
    c.stream_seq = d.stream_seq;
    c.attempt = static_cast<uint32_t>(d.delivered);
    c.max_attempts = max_attempts;
}

void Delivery::recycle() noexcept {
    msg.reset();
    stream_seq = 0;
    delivered = 1;
    aggregate_key.clear();
    state = kQueued;
    deadline = {};
    holds_slot = false;
    retry_delay_ms = 0;
    durable = nullptr;
    // headers and event are overwritten by the next decode, which reuses their strings.
    headers_read = false;
    data_json.clear();
    json_converted = false;
    json_error.clear();
    c_headers.clear();
    c_event = bb_event{};
}

const std::string* ensure_data_json(Delivery& d) {
    if (!d.json_converted) {
        auto json = data_as_json(d.event);
        if (json) {
            d.data_json = std::move(*json);
        } else {
            d.json_error = json.error().what;
        }
        d.json_converted = true;
        if (json) d.c_event.data_json = str(d.data_json);
    }
    return d.json_error.empty() ? &d.data_json : nullptr;
}

namespace {
thread_local Delivery* handled_here = nullptr;
}  // namespace

HandlingScope::HandlingScope(Delivery& d) noexcept : outer_(handled_here) { handled_here = &d; }

HandlingScope::~HandlingScope() { handled_here = outer_; }

Delivery* delivery_handled_here(const bb_event* event) noexcept {
    if (handled_here == nullptr || event != &handled_here->c_event) return nullptr;
    return handled_here;
}

}  // namespace bb::handlers
