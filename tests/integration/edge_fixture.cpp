#include "integration/edge_fixture.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <sstream>

#include "broker-bridge/edge/subscription_hub.hpp"
#include "broker-bridge/edge/token_verifier.hpp"
#include "broker-bridge/provisioner.hpp"

namespace bb::itest {
namespace {

// Runs before the fixture's first NATS call (the NatsServer member makes none).
bool shared_delivery = (bb::edge::use_shared_delivery_threads(), true);

std::string config_text(const std::string& url, const std::string& edge_yaml,
                        const std::string& realtime_yaml, const std::string& auth_yaml) {
    std::ostringstream out;
    out << "nats:\n  url: " << url << "\n  reconnect_wait: 50ms\n  reconnect_wait_max: 200ms\n"
        << "log:\n  level: info\n";
    if (!realtime_yaml.empty()) out << "streams:\n  realtime: " << realtime_yaml << "\n";
    out << "edge:\n"
        << "  listen: 127.0.0.1:0\n"
        << "  connect_timeout: 800ms\n"
        << "  drain_timeout: 3s\n"
        << "  shutdown_reconnect_in: 1500ms\n"
        << "  auth:\n"
        << "    audience: bridge-test\n"
        << "    leeway: 1s\n"
        << "    keys:\n"
        << "      - {kid: k1, alg: HS256, secret: \"" << kEdgeSecret << "\"}\n"
        << auth_yaml << "  channels:\n"
        << "    - pattern: \"user:{user}:notifications\"\n"
        << "      subject: \"rt.user.{user}.notifications\"\n"
        << "      subscribe: \"{user} == sub\"\n"
        << "    - pattern: \"chat:{room}\"\n"
        << "      subject: \"rt.chat.{room}\"\n"
        << "      subscribe: authenticated\n"
        << "      skip_author: user\n"
        << "    - pattern: \"doc:{doc}\"\n"
        << "      subject: \"rt.doc.{doc}\"\n"
        << "      subscribe: authenticated\n"
        << "      skip_author: connection\n"
        << "      publish:\n"
        << "        rule: authenticated\n"
        << "        event: {type: DocumentEdited, aggregate_type: Document, "
           "aggregate_id: \"{doc}\"}\n"
        << "    - pattern: \"org:{org}:presence\"\n"
        << "      subject: \"rt.org.{org}.presence\"\n"
        << "      subscribe: \"{org} in orgs\"\n"
        << edge_yaml;
    return out.str();
}

}  // namespace

EdgeFixture::EdgeFixture() {
    (void)shared_delivery;
    char tmpl[] = "/tmp/bb-edge-itest-XXXXXX";
    dir_ = mkdtemp(tmpl);
    NatsConfig nc;
    nc.url = server_.url();
    client_ = std::make_unique<NatsClient>(NatsClient::connect(nc, "edge-itest"));
    BOOST_TEST_REQUIRE(client_->wait_connected(std::chrono::seconds(10)));
}

EdgeFixture::~EdgeFixture() {
    edge_.reset();
    client_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

void EdgeFixture::start_edge(const std::string& edge_yaml, const std::string& realtime_yaml,
                             const std::string& auth_yaml) {
    config_ = parse_config(config_text(server_.url(), edge_yaml, realtime_yaml, auth_yaml),
                           dir_ / "config.yaml");
    ensure_stream(client_->js(), config_.events);
    ensure_stream(client_->js(), config_.realtime);
    metrics_ = std::make_unique<Metrics>();
    edge_ = std::make_unique<bb::edge::Edge>(config_, *client_, *metrics_);
    edge_->start();
}

void EdgeFixture::stop_edge() { edge_->shutdown(); }

std::string EdgeFixture::token(const std::string& sub, const nlohmann::json& extra, int64_t ttl_s) {
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    nlohmann::json claims = {{"sub", sub}, {"iat", now}, {"exp", now + ttl_s}};
    for (auto& [k, v] : extra.items()) claims[k] = v;
    auto t = bb::edge::mint_dev_token(config_.edge->auth, claims);
    BOOST_TEST_REQUIRE(t.ok());
    return *t;
}

uint64_t EdgeFixture::publish_rt(const std::string& subject, const nlohmann::json& data,
                                 const std::string& author, const std::string& connection_id) {
    Headers headers;
    if (!author.empty()) headers.emplace_back("ce-userid", author);
    if (!connection_id.empty()) headers.emplace_back("Bridge-Connection-Id", connection_id);
    auto seq = client_->js_publish(subject, headers, data.dump(), "");
    BOOST_TEST_REQUIRE(seq.ok(), (seq.ok() ? "" : seq.error().what));
    return *seq;
}

double EdgeFixture::metric(const std::string& name_and_labels) const {
    std::istringstream text(metrics_->serialize());
    std::string line;
    while (std::getline(text, line)) {
        if (line.rfind(name_and_labels + " ", 0) == 0) {
            return std::stod(line.substr(name_and_labels.size() + 1));
        }
    }
    return -1;
}

}  // namespace bb::itest
