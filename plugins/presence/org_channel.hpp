#pragma once

#include <bb/plugin.hpp>

#include <cstdint>
#include <string>

#include "presence_config.hpp"
#include "presence_state.hpp"

// One org's presence: its entry org.<org> in the bucket and its channel
// <channel_prefix>.<org>.presence in stream RT. The entry holds who is online or away,
// `seq` (the RT sequence it is valid at: it holds every change published up to there and
// none after) and at most one `pending` change. A change is first written as pending (a
// compare-and-set, so one at a time per org), then published with its own Nats-Msg-Id, then
// folded into the entry with the sequence the stream gave it. Whoever finds a pending change
// finishes it first; the message id makes publishing it twice harmless. docs/PRESENCE.md.
namespace bb::presence {

class OrgChannel {
public:
    OrgChannel(const plugin::Host& host, const Store& store, const PresenceConfig& config)
        : host_(host), store_(store), config_(config) {}

    // Brings the org in line with the user's state as of the user entry's revision
    // `user_rev`: nothing happens when the org already holds that revision or a later one.
    void sync(const std::string& org, const std::string& user, const std::string& status,
              const std::string& last_seen, uint64_t user_rev) const;

    static std::string key(const std::string& org) { return "org." + key_token(org); }

private:
    // Publishes the entry's pending change and folds it in. False when the entry moved on
    // meanwhile (someone else finished it).
    bool finish(const std::string& org, const Versioned& entry) const;

    const plugin::Host& host_;
    const Store& store_;
    const PresenceConfig& config_;
};

}  // namespace bb::presence
