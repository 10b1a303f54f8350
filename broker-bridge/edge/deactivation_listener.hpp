#pragma once

#include <functional>
#include <string>

#include "broker-bridge/nats_client.hpp"
#include "broker-bridge/nats_handles.hpp"

// Listens on <presence prefix>.control.UserDeactivated, where the presence plugin announces
// a deactivated user ({"user": "..."}), and hands each user to `on_user` (on a NATS
// delivery thread). Every edge node subscribes, so the user's connections close everywhere.
namespace bb::edge {

class DeactivationListener {
public:
    using OnUser = std::function<void(const std::string& user)>;

    DeactivationListener(const NatsClient& nats, const std::string& subject, OnUser on_user);
    ~DeactivationListener();
    DeactivationListener(const DeactivationListener&) = delete;
    DeactivationListener& operator=(const DeactivationListener&) = delete;

private:
    static void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure);

    OnUser on_user_;
    NatsSubscription sub_;
};

}  // namespace bb::edge
