#include "broker-bridge/edge/deactivation_listener.hpp"

#include <nlohmann/json.hpp>

#include "broker-bridge/errors.hpp"
#include "broker-bridge/log.hpp"

namespace bb::edge {

DeactivationListener::DeactivationListener(const NatsClient& nats, const std::string& subject,
                                           OnUser on_user)
    : on_user_(std::move(on_user)) {
    natsSubscription* raw = nullptr;
    natsStatus s =
        natsConnection_Subscribe(&raw, nats.connection(), subject.c_str(), &on_message, this);
    if (s != NATS_OK) {
        throw StartupError("edge: cannot subscribe to " + subject + ": " + nats_error(s).what);
    }
    sub_.reset(raw);
}

DeactivationListener::~DeactivationListener() {
    // Unsubscribed before on_user_ goes: no callback runs once the destructor has returned.
    if (sub_) natsSubscription_Unsubscribe(sub_.get());
    sub_.reset();
}

void DeactivationListener::on_message(natsConnection*, natsSubscription*, natsMsg* msg,
                                      void* closure) {
    NatsMsg owned(msg);
    auto* self = static_cast<DeactivationListener*>(closure);
    std::string_view body(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
    auto doc = nlohmann::json::parse(body, nullptr, false);
    auto user = doc.is_object() ? doc.find("user") : doc.end();
    if (doc.is_discarded() || !doc.is_object() || user == doc.end() || !user->is_string()) {
        log::warn("deactivation message ignored", {{"reason", "no user"}});
        return;
    }
    log::info("edge closing deactivated user", {{"user", user->get<std::string>()}});
    self->on_user_(user->get<std::string>());
}

}  // namespace bb::edge
