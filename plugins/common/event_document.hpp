// The document plugins' conditions and templates read: an event's attributes under their
// CloudEvents names, as binding filters see them. Header-only: plugins share it without
// sharing a library.
#pragma once

#include <bb/plugin.hpp>
#include <nlohmann/json.hpp>

namespace bb::plugin {

inline nlohmann::json event_attributes(const EventView& ev) {
    return nlohmann::json{{"id", ev.id()},
                          {"type", ev.type()},
                          {"source", ev.source()},
                          {"subject", ev.subject()},
                          {"time", ev.time()},
                          {"aggregatetype", ev.aggregate_type()},
                          {"correlationid", ev.correlation_id()},
                          {"causationid", ev.causation_id()},
                          {"userid", ev.user_id()},
                          {"dataversion", ev.data_version()}};
}

// The attributes plus `data` parsed from the event's JSON (discarded when it is not JSON).
inline nlohmann::json event_document(const EventView& ev) {
    nlohmann::json doc = event_attributes(ev);
    doc["data"] = nlohmann::json::parse(ev.data_json(), nullptr, false);
    return doc;
}

}  // namespace bb::plugin
