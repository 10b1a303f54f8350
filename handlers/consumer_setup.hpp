#pragma once

#include <chrono>
#include <set>
#include <string>

#include "broker-bridge/config.hpp"
#include "broker-bridge/nats_client.hpp"

// Durable pull consumers of the EVENTS stream, created from bindings. Start-up only: a
// failure throws StartupError naming the binding and consumer.
namespace bb::handlers {

// Creates the durable consumer for one subject of a binding, or updates the one that exists
// (a start position cannot change once a consumer exists: the existing one is kept), then
// binds a pull subscription to it. `outstanding` (optional) tells whether the consumer had
// deliveries awaiting an answer or a redelivery when it was looked up (another process's,
// or those of a process that crashed); a new consumer has none.
NatsSubscription bind_pull_consumer(const NatsClient& nats, const Config& config,
                                    const BindingConfig& binding, const std::string& subject,
                                    const std::string& durable, std::chrono::milliseconds ack_wait,
                                    bool* outstanding = nullptr);

// The description that marks a consumer as this group's; only such consumers are ever
// removed, so consumers other applications made on the stream are left alone.
std::string consumer_description(const std::string& group, const std::string& binding);

// Deletes the stale consumers of this process's group (`handlers.group`) on the events and
// presence streams: those marked with the group whose names are not in `keep` (the names
// this process's bindings use) and whose binding is not one the file leaves to another
// process (`bindings_elsewhere`, from `run --bindings`). Other groups' consumers, and ones
// other applications made, are never touched. Call it only with at least one binding: a
// process without bindings (an edge alone) owns no consumers and deletes none.
void remove_stale_consumers(const NatsClient& nats, const Config& config,
                            const std::set<std::string>& keep);
// The same for one stream.
void remove_stale_consumers(const NatsClient& nats, const Config& config,
                            const std::string& stream, const std::set<std::string>& keep);

}  // namespace bb::handlers
