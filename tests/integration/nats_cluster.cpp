#include "integration/nats_cluster.hpp"

#include "integration/free_port.hpp"
#include "integration/wait.hpp"

namespace bb::itest {

NatsCluster::NatsCluster(size_t size) {
    std::vector<int> route_ports;
    for (size_t i = 0; i < size; ++i) route_ports.push_back(free_loopback_port());
    for (size_t i = 0; i < size; ++i) {
        std::string routes;
        for (size_t j = 0; j < size; ++j) {
            if (j == i) continue;
            if (!routes.empty()) routes += ",";
            routes += "nats://127.0.0.1:" + std::to_string(route_ports[j]);
        }
        servers_.push_back(std::make_unique<NatsServer>(std::vector<std::string>{
            "--server_name", name_of(i), "--cluster_name", "bb-itest", "--cluster",
            "nats://127.0.0.1:" + std::to_string(route_ports[i]), "--routes", routes}));
    }
}

size_t NatsCluster::index_of(const std::string& name) const {
    for (size_t i = 0; i < servers_.size(); ++i) {
        if (name_of(i) == name) return i;
    }
    return servers_.size();
}

std::string NatsCluster::urls() const {
    std::string out;
    for (const auto& s : servers_) out += (out.empty() ? "" : ",") + s->url();
    return out;
}

StreamPlacement stream_placement(jsCtx* js, const std::string& stream) {
    StreamPlacement p;
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (js_GetStreamInfo(&si, js, stream.c_str(), nullptr, &jerr) != NATS_OK) return p;
    if (si->Cluster != nullptr) {
        p.leader = si->Cluster->Leader != nullptr ? si->Cluster->Leader : "";
        p.followers = si->Cluster->ReplicasLen;
        for (int i = 0; i < si->Cluster->ReplicasLen; ++i) {
            const jsPeerInfo* peer = si->Cluster->Replicas[i];
            p.current_followers += peer->Current && !peer->Offline;
        }
    }
    jsStreamInfo_Destroy(si);
    return p;
}

bool wait_stream_healthy(jsCtx* js, const std::string& stream, int replicas,
                         std::chrono::milliseconds within) {
    return wait_until(
        [&] {
            StreamPlacement p = stream_placement(js, stream);
            return !p.leader.empty() && p.current_followers == replicas - 1;
        },
        within, std::chrono::milliseconds(50));
}

}  // namespace bb::itest
