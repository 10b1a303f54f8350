// The presence plugin: who is online, from the edge nodes' connection events and
// heartbeats (stream PRESENCE) and UserDeactivated (stream EVENTS). See README.md and
// docs/PRESENCE.md.
#include <bb/plugin.hpp>

#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "org_channel.hpp"
#include "presence_config.hpp"
#include "presence_state.hpp"

namespace bb::presence {
namespace {

std::string user_key(const std::string& user) { return "user." + key_token(user); }
std::string node_key(const std::string& node) { return "node." + key_token(node); }
constexpr const char* kNodesKey = "nodes";

std::string text(const json& doc, const char* key) {
    auto it = doc.find(key);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

// Every step is a compare-and-set on one key, so any number of handler calls and replicas
// may run at once; a repeated event finds its change already made and changes nothing.
class PresencePlugin {
public:
    PresencePlugin(plugin::Host& host, const std::string& yaml)
        : host_(host),
          config_(parse_presence_config(yaml)),
          store_(host_, config_.bucket, config_.max_cas_attempts),
          orgs_(host_, store_, config_) {
        if (!host_.has_publish_with_seq()) {
            throw std::runtime_error("the presence plugin needs a host with publish_seq");
        }
        if (config_.check_interval.count() > 0) host_.set_tick(config_.check_interval);
    }

    plugin::Outcome handle(const plugin::EventView& ev) {
        json data = json::parse(ev.data_json(), nullptr, false);
        if (!data.is_object()) return plugin::Outcome::reject("data is not a JSON object");
        std::string type(ev.type());
        if (type == "ConnectionOpened") return opened(data);
        if (type == "ConnectionStatusChanged") return status_changed(data);
        if (type == "ConnectionClosed") return closed(data);
        if (type == "NodeHeartbeat") return heartbeat(data);
        if (type == "UserDeactivated") return deactivated(std::string(ev.aggregate_id()));
        return plugin::Outcome::done();  // not ours: a binding's subjects may be wide
    }

    // Nodes silent for missed_heartbeats of their intervals lose their connections.
    void tick() {
        Versioned nodes = store_.read(kNodesKey);
        int64_t now = now_ms();
        size_t live = 0, online = 0, bytes = nodes.value.dump().size();
        for (const auto& [node, info] : nodes.value.items()) {
            int64_t interval = std::max<int64_t>(1, info.value("interval_ms", int64_t{1000}));
            int64_t silent = now - info.value("seen_ms", now);
            if (silent <= interval * config_.missed_heartbeats) {
                ++live;
                Versioned entry = store_.read(node_key(node));
                bytes += entry.value.dump().size();
                online += entry.value.value("users", json::array()).size();
                continue;
            }
            host_.counter_add("heartbeats_missed_total", static_cast<double>(silent / interval));
            host_.warn("presence node lost", {{"node", node}, {"silent_ms", silent}});
            drop_node(node, info.value("seen_ms", int64_t{0}));
        }
        host_.gauge_set("nodes_live", static_cast<double>(live));
        host_.gauge_set("users_on_live_nodes", static_cast<double>(online));
        host_.gauge_set("state_bytes", static_cast<double>(bytes));
    }

private:
    plugin::Outcome opened(const json& d) {
        std::string node = text(d, "node"), conn = text(d, "connection"), user = text(d, "user");
        if (node.empty() || conn.empty() || user.empty()) {
            return plugin::Outcome::reject("ConnectionOpened needs node, connection and user");
        }
        json orgs = json::array();
        for (const auto& o : d.value("orgs", json::array())) {
            if (o.is_string()) orgs.push_back(o);
        }
        std::string status = text(d, "status") == "away" ? "away" : "online";
        note_node(node, user);
        change_user(user, [&](json& conns) {
            json c = {{"node", node}, {"status", status}, {"orgs", orgs}};
            if (conns.contains(conn) && conns[conn] == c) return false;
            conns[conn] = c;
            return true;
        });
        return plugin::Outcome::done();
    }

    plugin::Outcome status_changed(const json& d) {
        std::string conn = text(d, "connection"), user = text(d, "user");
        std::string status = text(d, "status") == "away" ? "away" : "online";
        change_user(user, [&](json& conns) {
            if (!conns.contains(conn) || conns[conn]["status"] == status) return false;
            conns[conn]["status"] = status;
            return true;
        });
        return plugin::Outcome::done();
    }

    plugin::Outcome closed(const json& d) {
        std::string conn = text(d, "connection"), user = text(d, "user");
        change_user(user, [&](json& conns) { return conns.erase(conn) > 0; });
        return plugin::Outcome::done();
    }

    // The node is alive; users it no longer lists have no connection there any more.
    plugin::Outcome heartbeat(const json& d) {
        std::string node = text(d, "node");
        if (node.empty()) return plugin::Outcome::reject("NodeHeartbeat needs node");
        int64_t interval = d.value("interval_ms", int64_t{1000});
        store_.update(kNodesKey, [&](json& nodes) {
            nodes[node] = {{"seen_ms", now_ms()}, {"interval_ms", interval}};
            return true;
        });
        json listed = json::array();
        const json users = d.value("users", json::object());
        for (const auto& [user, conns] : users.items()) listed.push_back(user);
        std::set<std::string> now_listed(listed.begin(), listed.end());
        std::vector<std::string> gone;
        store_.update(node_key(node), [&](json& entry) {
            gone.clear();
            for (const auto& u : entry.value("users", json::array())) {
                if (!now_listed.count(u.get<std::string>())) gone.push_back(u.get<std::string>());
            }
            entry["users"] = listed;
            return true;
        });
        for (const auto& user : gone) drop_user_from_node(user, node);
        host_.counter_add("heartbeats_total", 1);
        return plugin::Outcome::done();
    }

    plugin::Outcome deactivated(const std::string& user) {
        if (user.empty()) return plugin::Outcome::reject("UserDeactivated without a user id");
        change_user(user, [](json& conns) {
            bool had = !conns.empty();
            conns = json::object();
            return had;
        });
        json body = {{"user", user}};
        plugin::Status s = host_.publish(config_.control_subject, body.dump());
        if (!s) return plugin::Outcome::retry("control publish failed: " + s.error);
        host_.info("presence user deactivated", {{"user", user}});
        return plugin::Outcome::done();
    }

    // The node is known (and watched for silence) from its first connection on.
    void note_node(const std::string& node, const std::string& user) {
        store_.update(kNodesKey, [&](json& nodes) {
            if (nodes.contains(node)) return false;
            nodes[node] = {{"seen_ms", now_ms()}, {"interval_ms", 1000}};
            return true;
        });
        store_.update(node_key(node), [&](json& entry) {
            json& users = entry["users"];
            if (!users.is_array()) users = json::array();
            for (const auto& u : users) {
                if (u == user) return false;
            }
            users.push_back(user);
            return true;
        });
    }

    void drop_node(const std::string& node, int64_t seen_ms) {
        Versioned entry = store_.read(node_key(node));
        for (const auto& u : entry.value.value("users", json::array())) {
            drop_user_from_node(u.get<std::string>(), node);
        }
        // Forgotten only if it stayed silent: a heartbeat meanwhile brought it back.
        store_.update(kNodesKey, [&](json& nodes) {
            if (!nodes.contains(node) || nodes[node].value("seen_ms", int64_t{0}) != seen_ms) {
                return false;
            }
            nodes.erase(node);
            return true;
        });
        store_.write(node_key(node), json{{"users", json::array()}}, entry.revision);
    }

    void drop_user_from_node(const std::string& user, const std::string& node) {
        change_user(user, [&](json& conns) {
            std::vector<std::string> drop;
            for (const auto& [id, c] : conns.items()) {
                if (c.value("node", "") == node) drop.push_back(id);
            }
            for (const auto& id : drop) conns.erase(id);
            return !drop.empty();
        });
    }

    // Changes the user's connections, recomputes status and orgs, then brings every org of
    // the user in line: also when nothing changed, so a call that failed half-way (orgs
    // not told) is completed by its retry.
    void change_user(const std::string& user, const std::function<bool(json&)>& change) {
        if (user.empty()) throw std::runtime_error("event without a user");
        Versioned v = store_.update(user_key(user), [&](json& u) {
            if (!u["conns"].is_object()) u["conns"] = json::object();
            if (!change(u["conns"]) && u.contains("status")) return false;
            std::set<std::string> orgs;
            for (const auto& o : u.value("orgs", json::array())) orgs.insert(o.get<std::string>());
            for (const auto& [id, c] : u["conns"].items()) {
                for (const auto& o : c.value("orgs", json::array())) orgs.insert(o);
            }
            std::string status = resolve_status(u["conns"]);
            if (u.value("status", "") != status || !u.contains("last_seen")) {
                u["last_seen"] = now_text();
            }
            u["user"] = user;
            u["status"] = status;
            u["orgs"] = orgs;
            return true;
        });
        std::string status = v.value.value("status", "offline");
        std::string last_seen = v.value.value("last_seen", "");
        for (const auto& org : v.value.value("orgs", json::array())) {
            orgs_.sync(org.get<std::string>(), user, status, last_seen, v.revision);
        }
    }

    plugin::Host& host_;
    const PresenceConfig config_;
    const Store store_;
    const OrgChannel orgs_;
};

}  // namespace bb::presence

BB_PLUGIN(bb::presence::PresencePlugin, "presence", "1.0.0")
