#include "org_channel.hpp"

#include <stdexcept>
#include <vector>

namespace bb::presence {

void OrgChannel::sync(const std::string& org, const std::string& user, const std::string& status,
                      const std::string& last_seen, uint64_t user_rev) const {
    if (!is_subject_token(org)) {
        host_.warn("presence org skipped", {{"org", org}, {"reason", "not a subject token"}});
        return;
    }
    const std::string k = key(org);
    for (int attempt = 0; attempt < store_.max_attempts(); ++attempt) {
        Versioned entry = store_.read(k);
        if (entry.value.contains("pending") && !entry.value["pending"].is_null()) {
            finish(org, entry);
            continue;
        }
        const json& revs = entry.value.contains("revs") ? entry.value["revs"] : json::object();
        if (revs.value(user, uint64_t{0}) >= user_rev) return;
        std::string shown = "offline";
        const json* users = entry.value.contains("data") ? &entry.value["data"]["users"] : nullptr;
        if (users && users->is_object() && users->contains(user)) {
            shown = (*users)[user].value("status", "offline");
        }
        json next = entry.value;
        // Every entry names its sequence and state, also before its first change is out.
        if (!next.contains("seq")) next["seq"] = 0;
        if (!next["data"]["users"].is_object()) next["data"]["users"] = json::object();
        if (shown == status) {
            next["revs"][user] = user_rev;  // nothing to tell: remember it is up to date
            if (store_.write(k, next, entry.revision)) return;
            continue;
        }
        next["pending"] = {{"id", "presence:" + key_token(org) + ":" + key_token(user) + ":" +
                                      std::to_string(user_rev)},
                           {"user", user},
                           {"status", status},
                           {"last_seen", last_seen},
                           {"rev", user_rev}};
        uint64_t written = 0;
        if (!store_.write(k, next, entry.revision, &written)) {
            host_.counter_add("cas_conflicts_total", 1);
            continue;
        }
        finish(org, Versioned{std::move(next), written});
        return;
    }
    throw std::runtime_error("gave up on org " + org + " after " +
                             std::to_string(store_.max_attempts()) + " rounds");
}

bool OrgChannel::finish(const std::string& org, const Versioned& entry) const {
    const json& p = entry.value["pending"];
    const std::string subject = config_.channel_prefix + "." + org + ".presence";
    const std::string body =
        json{{"user", p["user"]}, {"status", p["status"]}, {"last_seen", p["last_seen"]}}.dump();
    const std::string msg_id = p["id"].get<std::string>();
    const std::string expected = std::to_string(entry.value.value("seq", uint64_t{0}));
    std::vector<bb_header> headers{
        {plugin::to_bb_str("Nats-Msg-Id"), plugin::to_bb_str(msg_id)},
        {plugin::to_bb_str("Content-Type"), plugin::to_bb_str("application/json")},
        {plugin::to_bb_str("Nats-Expected-Last-Subject-Sequence"), plugin::to_bb_str(expected)}};
    plugin::KvRevision sent = host_.publish_with_seq(subject, body, headers);
    if (sent.code == BB_EXISTS) {
        // The channel's last message is not the one the entry names. Either its messages
        // expired (a quiet org) or another finisher got further: only in the first case,
        // with the entry unchanged, is publishing without the expectation right.
        if (store_.read(key(org)).revision != entry.revision) return false;
        headers.pop_back();
        sent = host_.publish_with_seq(subject, body, headers);
    }
    if (!sent) throw std::runtime_error("publish to " + subject + " failed: " + sent.error);
    json next = entry.value;
    const std::string user = p["user"].get<std::string>();
    if (p["status"] == "offline") {
        if (next["data"]["users"].is_object()) next["data"]["users"].erase(user);
    } else {
        next["data"]["users"][user] = {{"status", p["status"]}, {"last_seen", p["last_seen"]}};
    }
    if (!next["data"]["users"].is_object()) next["data"]["users"] = json::object();
    next["revs"][user] = p["rev"];
    next["seq"] = sent.revision;
    next["pending"] = nullptr;
    if (!store_.write(key(org), next, entry.revision)) return false;
    host_.counter_add("changes_published_total", 1);
    host_.gauge_set("org_entry_bytes", static_cast<double>(next.dump().size()));
    return true;
}

}  // namespace bb::presence
