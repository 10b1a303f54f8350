#include "broker-bridge/edge/presence_reporter.hpp"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include <set>

#include "broker-bridge/envelope.hpp"
#include "broker-bridge/log.hpp"
#include "broker-bridge/time_text.hpp"

namespace bb::edge {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// A failed publish (NATS away) is tried again after this pause, so the thread neither spins
// nor falls far behind once NATS is back.
constexpr std::chrono::milliseconds kRetryPause{100};

std::string default_node_id() {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, 5, "edge");
    std::string id;
    for (const char* p = host; *p; ++p) id += (*p == '.' || *p == ' ') ? '-' : *p;
    return id + "-" + std::to_string(getpid());
}

template <typename T>
T& metric(prometheus::Registry& r, const std::string& name, const std::string& help,
          const std::string& node) {
    return prometheus::detail::Builder<T>().Name(name).Help(help).Register(r).Add({{"node", node}});
}

int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

PresenceReporter::PresenceReporter(const EdgePresenceConfig& config, const NatsClient& nats,
                                   prometheus::Registry& registry)
    : config_(config),
      nats_(nats),
      node_id_(config.node_id.empty() ? default_node_id() : config.node_id),
      subject_prefix_(config.subject_prefix),
      connections_(metric<prometheus::Gauge>(registry, "broker_bridge_edge_presence_connections",
                                             "Connections this node reports as live.", node_id_)),
      users_(metric<prometheus::Gauge>(registry, "broker_bridge_edge_presence_users",
                                       "Users with a connection on this node.", node_id_)),
      heartbeats_(metric<prometheus::Counter>(registry,
                                              "broker_bridge_edge_presence_heartbeats_total",
                                              "Heartbeats this node published.", node_id_)),
      failures_(metric<prometheus::Counter>(
          registry, "broker_bridge_edge_presence_publish_failures_total",
          "Presence publishes that failed (retried while NATS is away).", node_id_)),
      dropped_(metric<prometheus::Counter>(
          registry, "broker_bridge_edge_presence_dropped_events_total",
          "Presence events dropped because too many waited for NATS.", node_id_)) {
    if (!is_valid_subject_token(node_id_)) {
        throw std::runtime_error("edge.presence.node_id '" + node_id_ + "' is not a subject token");
    }
}

PresenceReporter::~PresenceReporter() { stop(std::chrono::milliseconds(0)); }

void PresenceReporter::start() {
    thread_ = std::thread([this] { run(); });
    log::info("presence reporting", {{"node", node_id_},
                                     {"heartbeat_ms", config_.heartbeat_interval.count()},
                                     {"subjects", subject_prefix_ + ".node.>"}});
}

void PresenceReporter::stop(std::chrono::milliseconds within) {
    {
        std::lock_guard lock(mu_);
        if (stopping_ && !thread_.joinable()) return;
        stopping_ = true;
        stop_deadline_ = Clock::now() + within;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void PresenceReporter::opened(const std::string& connection, const std::string& user,
                              const std::vector<std::string>& orgs, const std::string& status) {
    push(Change{Kind::kOpened, connection, user, orgs, status});
}

void PresenceReporter::status(const std::string& connection, const std::string& user,
                              const std::string& status) {
    push(Change{Kind::kStatus, connection, user, {}, status});
}

void PresenceReporter::closed(const std::string& connection, const std::string& user) {
    push(Change{Kind::kClosed, connection, user, {}, ""});
}

void PresenceReporter::push(Change change) {
    {
        std::lock_guard lock(mu_);
        if (static_cast<int64_t>(queue_.size()) >= config_.max_queued_events) {
            queue_.pop_front();
            dropped_.Increment();
        }
        queue_.push_back(std::move(change));
    }
    wake_.notify_one();
}

// One thread sends everything, so the stream holds a node's events in the order they
// happened; a heartbeat lists exactly the connections announced before it.
void PresenceReporter::run() {
    auto next_heartbeat = Clock::now();
    std::unique_lock lock(mu_);
    while (true) {
        wake_.wait_until(lock, next_heartbeat, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_ && (queue_.empty() || Clock::now() >= stop_deadline_)) return;
        if (!queue_.empty()) {
            Change change = queue_.front();
            lock.unlock();
            bool sent = send(change);
            lock.lock();
            if (sent) {
                queue_.pop_front();
                apply(change);
            } else {
                wake_.wait_for(lock, kRetryPause, [&] { return stopping_; });
            }
            continue;
        }
        if (stopping_) return;
        lock.unlock();
        bool sent = send_heartbeat();
        lock.lock();
        next_heartbeat = Clock::now() + (sent ? config_.heartbeat_interval : kRetryPause);
    }
}

void PresenceReporter::apply(const Change& change) {
    if (change.kind == Kind::kClosed) {
        live_.erase(change.connection);
    } else {
        live_[change.connection] = Live{change.user, change.status};
    }
    std::set<std::string> users;
    for (const auto& [id, l] : live_) users.insert(l.user);
    connections_.Set(static_cast<double>(live_.size()));
    users_.Set(static_cast<double>(users.size()));
}

bool PresenceReporter::send(const Change& change) {
    json data = {{"node", node_id_}, {"connection", change.connection}, {"user", change.user}};
    std::string type;
    switch (change.kind) {
        case Kind::kOpened:
            type = "ConnectionOpened";
            data["orgs"] = change.orgs;
            data["status"] = change.status;
            break;
        case Kind::kStatus:
            type = "ConnectionStatusChanged";
            data["status"] = change.status;
            break;
        case Kind::kClosed:
            type = "ConnectionClosed";
            break;
    }
    return publish(type, data.dump(), change.user);
}

// Compact: each user once, with the ids of its connections here ("~away" marks away ones).
bool PresenceReporter::send_heartbeat() {
    json users = json::object();
    for (const auto& [id, l] : live_) {
        users[l.user].push_back(l.status == "away" ? id + "~away" : id);
    }
    json data = {{"node", node_id_},
                 {"interval_ms", config_.heartbeat_interval.count()},
                 {"sequence", ++sequence_},
                 {"sent_ms", unix_ms()},
                 {"users", std::move(users)}};
    bool ok = publish("NodeHeartbeat", data.dump(), "");
    if (ok) heartbeats_.Increment();
    return ok;
}

bool PresenceReporter::publish(const std::string& type, const std::string& data,
                               const std::string& user) {
    static std::atomic<uint64_t> counter{0};
    Event e;
    e.id = node_id_ + "-" + std::to_string(unix_ms()) + "-" + std::to_string(++counter);
    e.type = type;
    e.source = "broker-bridge-edge";
    e.subject = node_id_;
    e.aggregate_type = "Node";
    e.correlation_id = e.id;
    e.user_id = user;
    e.time = rfc3339_now();
    e.format = DataFormat::kJson;
    e.data = data;
    auto wire = encode(e, subject_prefix_);
    if (!wire) {
        log::error("presence event not encodable", {{"type", type}, {"error", wire.error().what}});
        return true;  // never retried: it cannot get better
    }
    auto seq = nats_.js_publish(wire->subject, wire->headers, wire->body, e.id);
    if (seq) return true;
    failures_.Increment();
    log::warn("presence publish failed", {{"type", type}, {"error", seq.error().what}});
    return false;
}

}  // namespace bb::edge
