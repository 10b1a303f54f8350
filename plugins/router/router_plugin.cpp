// The router plugin: domain events become realtime messages in stream RT and follow-up
// domain events, as YAML routes say. See README.md for the routes and the message format.
#include "plugins/common/event_document.hpp"
#include "router_config.hpp"

#include <bb/plugin.hpp>
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace bb::router {
namespace {

using nlohmann::json;

// What one matching route does for one event. Every matching route is rendered before
// anything is published, so a bad value in any of them publishes nothing at all.
struct Publication {
    const Route* route;
    std::string subject;
    std::string body;
};

struct FollowUp {
    const Route* route;
    std::string aggregate_id;
    std::string data_json;
};

using Action = std::variant<Publication, FollowUp>;

// ce- header values are percent-encoded as the CloudEvents NATS binding prescribes, the
// same way the event envelope writes them: an id of printable ASCII reads as it is.
std::string percent_encode(std::string_view value) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(value.size());
    for (char ch : value) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 0x21 && c <= 0x7e && c != '"' && c != '%') {
            out += ch;
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 0xF];
        }
    }
    return out;
}

std::string compact(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<Action> render_publication(const Route& route, const json& doc,
                                  const plugin::EventView& ev) {
    auto subject = route.channel_subject->render_subject(doc);
    if (!subject) return subject.error();
    if (!route.data) {
        return Action{Publication{&route, std::move(*subject), std::string(ev.data_json())}};
    }
    auto body = route.data->render(doc);
    if (!body) return body.error();
    return Action{Publication{&route, std::move(*subject), compact(*body)}};
}

Result<Action> render_follow_up(const Route& route, const json& doc, const plugin::EventView& ev) {
    const EmitSpec& emit = *route.emit;
    auto aggregate_id = emit.aggregate_id.render_string(doc);
    if (!aggregate_id) return aggregate_id.error();
    if (aggregate_id->empty()) {
        return make_error(emit.aggregate_id.what() + ": rendered empty; an event needs an id");
    }
    if (!emit.data) {
        return Action{FollowUp{&route, std::move(*aggregate_id), std::string(ev.data_json())}};
    }
    auto data = emit.data->render(doc);
    if (!data) return data.error();
    return Action{FollowUp{&route, std::move(*aggregate_id), compact(*data)}};
}

}  // namespace

// One instance per binding. The routes are read once and only read afterwards, so handle()
// runs on the binding's worker threads without locks.
class RouterPlugin {
public:
    RouterPlugin(plugin::Host& host, const std::string& yaml_config)
        : host_(host), config_(parse_router_config(yaml_config)) {
        host_.info("router routes loaded",
                   {{"routes", config_.routes.size()}, {"reads_data", config_.reads_data}});
    }

    // For `broker-bridge check-config`: the routes compile as they would at start-up.
    static void check_config(const std::string& yaml_config) {
        (void)parse_router_config(yaml_config);
    }

    plugin::Outcome handle(const plugin::EventView& ev) {
        json doc = plugin::event_attributes(ev);
        if (config_.reads_data) {
            doc["data"] = json::parse(ev.data_json(), nullptr, false);
            // The host hands over JSON it produced itself; anything else is not worth a retry.
            if (doc["data"].is_discarded()) return plugin::Outcome::reject("data is not JSON");
        }
        std::vector<Action> actions;
        for (const Route& route : config_.routes) {
            if (!route.when.matches(doc)) continue;
            auto action =
                route.emit ? render_follow_up(route, doc, ev) : render_publication(route, doc, ev);
            if (!action) return cannot_render(route, ev, action.error().what);
            actions.push_back(std::move(*action));
        }
        for (const Action& action : actions) {
            if (auto failed = std::visit([&](const auto& a) { return perform(a, ev); }, action)) {
                return plugin::Outcome::retry(std::move(*failed));
            }
        }
        return plugin::Outcome::done();
    }

private:
    static std::string label(const Route& route) { return "route " + route.name + ": "; }

    // The event's attributes and data never change and the routes are read once, so a route
    // that cannot render an event now never will in this process: a retry would only repeat
    // the failure until the attempts run out. Rejected, the event goes to the dead-letter
    // stream at once with the reason, to be replayed once the routes are fixed. `error` is
    // "<template>: <reason>" (template.hpp names the template first), never the value.
    plugin::Outcome cannot_render(const Route& route, const plugin::EventView& ev,
                                  const std::string& error) const {
        size_t colon = error.find(": ");
        std::string template_name = colon == std::string::npos ? "" : error.substr(0, colon);
        std::string reason = colon == std::string::npos ? error : error.substr(colon + 2);
        host_.warn("route cannot render event", {{"route", route.name},
                                                 {"template", template_name},
                                                 {"reason", reason},
                                                 {"event_id", ev.id()},
                                                 {"seq", ev.stream_seq()}});
        host_.counter_add("render_failures_total", 1);
        return plugin::Outcome::reject(label(route) + error);
    }

    // Each perform() answers the failure text, or nullopt once published.
    std::optional<std::string> perform(const Publication& p, const plugin::EventView& ev) const {
        const Route& route = *p.route;
        std::vector<std::pair<std::string, std::string>> owned;
        // The same event routed again (a redelivery, a retry after a later route failed)
        // makes the same id, which stream RT drops inside its duplicate window.
        owned.emplace_back("Nats-Msg-Id", "rt:" + std::string(ev.id()) + ":" + route.name);
        owned.emplace_back("Content-Type", "application/json");
        owned.emplace_back("ce-id", percent_encode(ev.id()));
        owned.emplace_back("ce-type", percent_encode(ev.type()));
        // The author, so the edge can leave out the echo to them; NATS refuses empty values.
        if (!ev.user_id().empty()) owned.emplace_back("ce-userid", percent_encode(ev.user_id()));
        if (auto connection = ev.header("Bridge-Connection-Id");
            connection && !connection->empty()) {
            owned.emplace_back("Bridge-Connection-Id", std::string(*connection));
        }
        std::vector<bb_header> headers;
        for (const auto& [name, value] : owned) {
            headers.push_back(bb_header{plugin::to_bb_str(name), plugin::to_bb_str(value)});
        }
        plugin::Status status = host_.publish(p.subject, p.body, headers);
        if (!status) return label(route) + "publish to " + p.subject + " failed: " + status.error;
        host_.counter_add("routed_total", 1);
        return std::nullopt;
    }

    std::optional<std::string> perform(const FollowUp& f, const plugin::EventView& ev) const {
        const Route& route = *f.route;
        const EmitSpec& emit = *route.emit;
        // The key makes the follow-up's id: one per source event and route, however often
        // the source event is delivered.
        plugin::Status status =
            host_.publish_event(ev, plugin::NewEvent{emit.type, emit.aggregate_type, f.aggregate_id,
                                                     f.data_json, route.name});
        if (!status) return label(route) + "emitting " + emit.type + " failed: " + status.error;
        host_.counter_add("emitted_total", 1);
        return std::nullopt;
    }

    plugin::Host& host_;
    const RouterConfig config_;
};

}  // namespace bb::router

BB_PLUGIN(bb::router::RouterPlugin, "router", "1.0.0")
