#include "integration/bridge_fixture.hpp"

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <sstream>

#include "broker-bridge/config.hpp"
#include "broker-bridge/provisioner.hpp"
#include "integration/wait.hpp"

namespace bb::itest {

const std::string* StoredMessage::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (k == name) return &v;
    }
    return nullptr;
}

BridgeFixture::BridgeFixture() {
    char tmpl[] = "/tmp/bb-itest-XXXXXX";
    dir_ = mkdtemp(tmpl);
    NatsConfig nc;
    nc.url = server_.url();
    nc.reconnect_wait = std::chrono::milliseconds(50);
    nc.reconnect_wait_max = std::chrono::milliseconds(200);
    client_ = std::make_unique<NatsClient>(NatsClient::connect(nc, "itest"));
    BOOST_TEST_REQUIRE(client_->wait_connected(std::chrono::seconds(10)));
    Config defaults;
    for (const StreamConfig* s : {&defaults.events, &defaults.dlq, &defaults.realtime}) {
        ensure_stream(client_->js(), *s);
    }
}

BridgeFixture::~BridgeFixture() {
    bridge_.reset();
    client_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

void BridgeFixture::start_bridge(const std::string& bindings_yaml, const std::string& extra,
                                 const std::vector<std::string>& run_args) {
    bridge_ = std::make_unique<BridgeProcess>(write_config(bindings_yaml, extra),
                                              dir_ / "bridge.log", "run", run_args);
    bool ready = bridge_->start();
    BOOST_TEST_REQUIRE(ready, "broker-bridge did not become ready:\n" << bridge_->log_text());
}

std::filesystem::path BridgeFixture::write_config(const std::string& bindings_yaml,
                                                  const std::string& extra) {
    std::ofstream out(dir_ / "config.yaml");
    out << "nats:\n  url: " << server_.url() << "\n  reconnect_wait: 50ms\n"
        << "  reconnect_wait_max: 200ms\n"
        << "log:\n  level: debug\n"
        << "plugins:\n  path: [" << BB_PLUGIN_DIR << ", " << BB_TEST_PLUGIN_DIR
        << "]\n"
        // fetch_wait as in production: nats.c 3.4.1 can drop a message that arrives just
        // as a fetch gives up (it then comes back after its ack wait, one delivery later),
        // and short fetches make that edge frequent enough to show in attempt counts.
        << "handlers:\n  ack_margin: 500ms\n  fetch_wait: 500ms\n  shutdown_timeout: 3s\n"
        << "  lag_poll_interval: 200ms\n"
        << extra << "bindings:\n"
        << bindings_yaml;
    return dir_ / "config.yaml";
}

Event BridgeFixture::make_event(const std::string& type, const std::string& id,
                                const std::string& aggregate_id) {
    Event e;
    e.id = id;
    e.type = type;
    e.source = "itest";
    e.subject = aggregate_id;
    e.aggregate_type = "Test";
    e.correlation_id = "corr-" + id;
    e.time = "2026-12-01T08:00:00Z";
    e.format = DataFormat::kJson;
    e.data = R"({"n":1})";
    return e;
}

void BridgeFixture::publish(const Event& e) {
    auto wire = encode(e, "events");
    BOOST_TEST_REQUIRE(wire.ok(), (wire.ok() ? "" : wire.error().what));
    auto seq = client_->js_publish(wire->subject, wire->headers, wire->body, e.id);
    BOOST_TEST_REQUIRE(seq.ok(), (seq.ok() ? "" : seq.error().what));
}

void BridgeFixture::publish_raw(const std::string& subject, const Headers& headers,
                                const std::string& body) {
    auto seq = client_->js_publish(subject, headers, body, "");
    BOOST_TEST_REQUIRE(seq.ok(), (seq.ok() ? "" : seq.error().what));
}

uint64_t BridgeFixture::stream_messages(const std::string& stream) {
    auto st = stream_status(client_->js(), stream);
    return st ? st->messages : 0;
}

std::optional<StoredMessage> BridgeFixture::stream_message(const std::string& stream,
                                                           uint64_t seq) {
    natsMsg* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (js_GetMsg(&raw, client_->js(), stream.c_str(), seq, nullptr, &jerr) != NATS_OK) {
        return std::nullopt;
    }
    NatsMsg msg(raw);
    StoredMessage m;
    m.subject = natsMsg_GetSubject(msg.get());
    auto headers = read_headers(msg.get());
    if (headers) m.headers = *headers;
    m.body.assign(natsMsg_GetData(msg.get()),
                  static_cast<size_t>(natsMsg_GetDataLength(msg.get())));
    return m;
}

std::vector<StoredMessage> BridgeFixture::dlq_messages() {
    std::vector<StoredMessage> out;
    auto st = stream_status(client_->js(), "DLQ");
    if (!st || st->messages == 0) return out;
    for (uint64_t seq = st->first_seq; seq <= st->last_seq; ++seq) {
        if (auto m = stream_message("DLQ", seq)) out.push_back(std::move(*m));
    }
    return out;
}

std::vector<Handled> BridgeFixture::handled() { return read_handled_log(handled_log()); }

std::vector<Handled> read_handled_log(const std::filesystem::path& path) {
    std::vector<Handled> out;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        Handled h;
        if (fields >> h.unix_ms >> h.id >> h.attempt >> h.type >> h.outcome) out.push_back(h);
    }
    return out;
}

std::vector<Handled> BridgeFixture::handled(const std::string& id) {
    std::vector<Handled> out;
    for (auto& h : handled()) {
        if (h.id == id) out.push_back(h);
    }
    return out;
}

}  // namespace bb::itest
