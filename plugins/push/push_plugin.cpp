// The push plugin: Web Push notifications to every device of a user (RFC 8030, 8291, 8292),
// and the store of those devices, fed by subscription events. See
// docs/PLUGINS.md#push for the configuration and the outcomes.
#include <curl/curl.h>
#include <bb/plugin.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "plugins/common/event_document.hpp"
#include "broker-bridge/webpush/ece.hpp"
#include "device_outcome.hpp"
#include "key_names.hpp"
#include "push_client.hpp"
#include "push_config.hpp"
#include "push_message.hpp"
#include "sent_marks.hpp"
#include "subscription_store.hpp"

namespace bb::push {
namespace {

using nlohmann::json;

constexpr uint32_t kClaimMarginMs = 5000;


// A device waiting for the push service's answer.
struct Pending {
    Subscription device;
    PushRequest request;
};

// curl_global_init is not thread-safe on every libcurl: run it once, from create(), on the
// host's start-up thread, before any handle() thread can reach libcurl.
void init_curl_once() {
    static const bool initialised = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    if (!initialised) throw std::runtime_error("libcurl failed to initialise");
}

}  // namespace

// One instance per binding. The config and the VAPID key are read once; handle() runs on
// the binding's worker threads, sharing only the token cache inside MessageBuilder.
class PushPlugin {
public:
    PushPlugin(plugin::Host& host, const std::string& yaml_config)
        : host_(host),
          config_((init_curl_once(), parse_push_config(yaml_config, host))),
          store_(host, config_.subscriptions_bucket, config_.max_devices_per_user),
          // A claim older than any send could take belongs to a delivery that is gone.
          marks_(host, config_.sent_bucket, config_.request_timeout_ms + kClaimMarginMs),
          builder_(config_),
          client_(PushTimeouts{config_.connect_timeout_ms, config_.request_timeout_ms},
                  config_.allow_http_endpoints) {
        host_.info("push plugin ready", {{"subscriptions_bucket", config_.subscriptions_bucket},
                                         {"sent_bucket", config_.sent_bucket},
                                         {"ttl_seconds", config_.ttl_seconds}});
    }

    plugin::Outcome handle(const plugin::EventView& ev) {
        const json doc = plugin::event_document(ev);
        // The host hands over JSON it produced itself; anything else is not worth a retry.
        if (doc["data"].is_discarded()) return plugin::Outcome::reject("data is not JSON");
        if (ev.type() == config_.subscriptions.added_type) return add_subscription(doc, ev);
        if (ev.type() == config_.subscriptions.removed_type) return remove_subscription(doc);
        return notify(doc, ev);
    }

private:
    plugin::Outcome add_subscription(const json& doc, const plugin::EventView& ev) {
        const SubscriptionEvents& f = config_.subscriptions;
        auto user = f.user.render_string(doc);
        auto endpoint = f.endpoint.render_string(doc);
        auto p256dh = f.p256dh.render_string(doc);
        auto auth = f.auth.render_string(doc);
        for (const auto* r : {&user, &endpoint, &p256dh, &auth}) {
            if (!*r) return plugin::Outcome::reject("subscription: " + r->error().what);
        }
        if (user->empty()) return plugin::Outcome::reject("subscription: the user is empty");
        auto origin = endpoint_origin(*endpoint, config_.allow_http_endpoints);
        if (!origin) return plugin::Outcome::reject("subscription: " + origin.error().what);
        auto keys = webpush::read_user_agent_keys(*p256dh, *auth);
        if (!keys) return plugin::Outcome::reject("subscription: " + keys.error().what);

        Subscription s{device_id(*endpoint), *endpoint, *p256dh, *auth, ev.stream_seq()};
        if (auto stored = store_.add(*user, s); !stored) {
            return plugin::Outcome::retry("storing the subscription: " + stored.error().what);
        }
        host_.counter_add("push_subscriptions_added_total", 1);
        host_.debug("push subscription stored", {{"device", s.device}, {"origin", *origin}});
        return plugin::Outcome::done();
    }

    plugin::Outcome remove_subscription(const json& doc) {
        auto user = config_.subscriptions.user.render_string(doc);
        auto endpoint = config_.subscriptions.endpoint.render_string(doc);
        if (!user) return plugin::Outcome::reject("subscription: " + user.error().what);
        if (!endpoint) return plugin::Outcome::reject("subscription: " + endpoint.error().what);
        const std::string device = device_id(*endpoint);
        if (auto removed = store_.remove(*user, device); !removed) {
            return plugin::Outcome::retry("removing the subscription: " + removed.error().what);
        }
        host_.counter_add("push_subscriptions_removed_total", 1);
        host_.debug("push subscription removed", {{"device", device}});
        return plugin::Outcome::done();
    }

    // The payload text: the rendered `payload:` shape (a string as it is, anything else as
    // compact JSON), or the event data as it arrived.
    Result<std::string> render_payload(const json& doc, const plugin::EventView& ev) const {
        if (!config_.payload) return std::string(ev.data_json());
        auto value = config_.payload->render(doc);
        if (!value) return value.error();
        if (value->is_string()) return value->get<std::string>();
        return value->dump(-1, ' ', false, json::error_handler_t::replace);
    }

    Result<std::string> render_topic(const json& doc) const {
        if (!config_.topic) return std::string();
        auto topic = config_.topic->render_string(doc);
        if (!topic) return topic.error();
        if (auto problem = topic_problem(*topic); !problem.empty()) return make_error(problem);
        return topic;
    }

    plugin::Outcome notify(const json& doc, const plugin::EventView& ev) {
        auto user = config_.user.render_string(doc);
        if (!user) return plugin::Outcome::reject(user.error().what);
        auto payload = render_payload(doc, ev);
        if (!payload) return plugin::Outcome::reject(payload.error().what);
        // No device could take it: say so once, before looking at any device.
        if (payload->size() > webpush::kMaxPlaintextBytes) {
            return plugin::Outcome::reject(
                "push payload is " + std::to_string(payload->size()) + " bytes; encrypted it " +
                "would exceed the 4096-byte Web Push limit (at most " +
                std::to_string(webpush::kMaxPlaintextBytes) + " bytes before encryption)");
        }
        auto topic = render_topic(doc);
        if (!topic) return plugin::Outcome::reject(topic.error().what);
        auto devices = store_.devices(*user);
        if (!devices) return plugin::Outcome::retry(devices.error().what);
        if (devices->empty()) {
            host_.counter_add("push_no_devices_total", 1);
            return plugin::Outcome::done();
        }

        std::vector<DeviceReport> reports;
        std::vector<Pending> pending;
        for (const Subscription& device : *devices) {
            auto claim = marks_.claim(ev.id(), device.device);
            if (!claim) {
                reports.push_back({device.device, DeviceResult::kRetry, claim.error().what, {}});
            } else if (claim->state == SentMarks::State::kSettled) {
                host_.counter_add("push_already_settled_total", 1);
                reports.push_back({device.device, claim->settled, "settled before", {}});
            } else if (claim->state == SentMarks::State::kBusy) {
                reports.push_back({device.device, DeviceResult::kRetry, "being sent", {}});
            } else if (auto request = builder_.build(device, *payload, *topic); !request) {
                reports.push_back(settle(ev, device, DeviceResult::kRefused, request.error().what));
            } else {
                pending.push_back({device, std::move(*request)});
            }
        }
        send(ev, *user, pending, reports);
        return verdict(reports, std::chrono::milliseconds(config_.max_retry_after_ms));
    }

    void send(const plugin::EventView& ev, const std::string& user,
              const std::vector<Pending>& pending, std::vector<DeviceReport>& reports) {
        std::vector<PushRequest> requests;
        for (const Pending& p : pending) requests.push_back(p.request);
        const std::vector<PushResponse> responses = client_.send_all(requests);
        for (std::size_t i = 0; i < pending.size(); ++i) {
            const PushResponse& r = responses[i];
            const Subscription& device = pending[i].device;
            const DeviceResult result = classify(r);
            const std::string detail = r.status != 0 ? std::to_string(r.status) : r.error;
            if (result == DeviceResult::kGone) forget(user, device);
            if (result == DeviceResult::kRefused) {
                host_.warn(
                    "push refused",
                    {{"device", device.device}, {"status", r.status}, {"reply", r.body_excerpt}});
            }
            if (result == DeviceResult::kRetry) {
                host_.counter_add("push_retried_total", 1);
                if (auto released = marks_.release(ev.id(), device.device); !released) {
                    // The claim then times out and the retry takes it over.
                    host_.warn("push claim not released",
                               {{"device", device.device}, {"error", released.error().what}});
                }
                reports.push_back({device.device, result, detail, r.retry_after});
                continue;
            }
            reports.push_back(settle(ev, device, result, detail));
        }
    }

    // Records a final result for (event, device). A failed write is only logged: the pair
    // then stays claimed until the claim times out, and only a retry of the event for
    // another device, after that, could send it again.
    DeviceReport settle(const plugin::EventView& ev, const Subscription& device,
                        DeviceResult result, const std::string& detail) {
        host_.counter_add("push_" + std::string(to_string(result)) + "_total", 1);
        if (auto marked = marks_.settle(ev.id(), device.device, result); !marked) {
            host_.warn("push result not recorded",
                       {{"device", device.device}, {"error", marked.error().what}});
        }
        return {device.device, result, detail, {}};
    }

    void forget(const std::string& user, const Subscription& device) {
        if (auto removed = store_.remove(user, device.device); !removed) {
            // The next notification meets the same 404/410 and tries again.
            host_.warn("push subscription not removed",
                       {{"device", device.device}, {"error", removed.error().what}});
            return;
        }
        host_.debug("push subscription expired", {{"device", device.device}});
    }

    plugin::Host& host_;
    const PushConfig config_;
    const SubscriptionStore store_;
    const SentMarks marks_;
    MessageBuilder builder_;
    const PushClient client_;
};

}  // namespace bb::push

BB_PLUGIN(bb::push::PushPlugin, "push", "1.0.0")
