#pragma once

#include <string>
#include <string_view>

// Key names in the push plugin's key-value buckets. NATS keys allow only
// [-/_=.A-Za-z0-9], so user ids and endpoints never appear raw.
namespace bb::push {

// A device's id: the first 128 bits of SHA-256 of its endpoint, in hex. The endpoint URL is
// a capability (anyone who has it can push), so logs and keys carry only this.
std::string device_id(std::string_view endpoint);

// `user.<id>`, where bytes outside [A-Za-z0-9_-] become `=HH`: reversible and readable
// for the usual ids (u-42, UUIDs).
std::string user_key(std::string_view user);

// `sent.<binding>.<event hash>.<device id>`: one (event, device) pair already settled.
std::string sent_key(std::string_view binding, std::string_view event_id, std::string_view device);

}  // namespace bb::push
