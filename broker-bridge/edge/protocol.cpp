#include "broker-bridge/edge/protocol.hpp"

#include "broker-bridge/envelope.hpp"

namespace bb::edge {
namespace {

using nlohmann::json;

constexpr size_t kMaxIdText = 64;
constexpr size_t kMaxDepth = 32;

std::optional<Op> op_named(const std::string& name) {
    if (name == "connect") return Op::kConnect;
    if (name == "subscribe") return Op::kSubscribe;
    if (name == "unsubscribe") return Op::kUnsubscribe;
    if (name == "publish") return Op::kPublish;
    if (name == "refresh") return Op::kRefresh;
    if (name == "presence") return Op::kPresence;
    return std::nullopt;
}

std::optional<json> read_document(std::string_view payload, bool binary) {
    if (binary) {
        auto v = msgpack_to_json(payload);
        if (!v) return std::nullopt;
        return std::move(*v);
    }
    if (!check_json_text(payload, kMaxDepth)) return std::nullopt;
    json v = json::parse(payload, nullptr, false);
    if (v.is_discarded()) return std::nullopt;
    return v;
}

bool valid_id(const json& id) {
    if (id.is_number_integer()) return true;
    return id.is_string() && id.get_ref<const std::string&>().size() <= kMaxIdText;
}

// Reads an optional string member; false when present but not a string.
bool read_text(const json& doc, const char* key, std::string& out) {
    auto it = doc.find(key);
    if (it == doc.end() || it->is_null()) return true;
    if (!it->is_string()) return false;
    out = it->get<std::string>();
    return true;
}

std::optional<std::string> read_since(const json& doc, Command& c) {
    auto it = doc.find("since");
    if (it == doc.end() || it->is_null()) return std::nullopt;
    auto seq = it->is_object() ? it->find("seq") : it->end();
    auto epoch = it->is_object() ? it->find("epoch") : it->end();
    if (!it->is_object() || seq == it->end() || !seq->is_number_unsigned() || epoch == it->end() ||
        !epoch->is_string()) {
        return "since must be {\"seq\": N, \"epoch\": \"...\"}";
    }
    c.since = Position{seq->get<uint64_t>(), epoch->get<std::string>()};
    return std::nullopt;
}

std::optional<std::string> read_members(const json& doc, Command& c) {
    if (!read_text(doc, "token", c.token)) return "token must be a string";
    if (!read_text(doc, "channel", c.channel)) return "channel must be a string";
    if (!read_text(doc, "status", c.status)) return "status must be a string";
    if (c.op == Op::kPresence && c.status != "online" && c.status != "away") {
        return "status must be \"online\" or \"away\"";
    }
    if (auto why = read_since(doc, c)) return why;
    if (auto it = doc.find("data"); it != doc.end()) c.data = *it;
    // A published event's data is an object: handlers and templates read its fields, and
    // an array or a bare value would reach them as a shape no event has.
    if (c.op == Op::kPublish && !c.data.is_object()) return "data must be a JSON object";
    bool needs_channel = c.op == Op::kSubscribe || c.op == Op::kUnsubscribe || c.op == Op::kPublish;
    if (needs_channel && c.channel.empty()) return "channel is required";
    bool needs_token = c.op == Op::kConnect || c.op == Op::kRefresh;
    if (needs_token && c.token.empty()) return "token is required";
    return std::nullopt;
}

}  // namespace

std::variant<Command, CommandError> parse_command(std::string_view payload, bool binary) {
    auto doc = read_document(payload, binary);
    if (!doc || !doc->is_object()) return CommandError{nullptr, "not a JSON object"};
    Command c;
    if (auto it = doc->find("id"); it != doc->end() && !it->is_null()) {
        if (!valid_id(*it)) return CommandError{nullptr, "id must be an integer or short string"};
        c.id = *it;
    }
    auto op = doc->find("op");
    auto known =
        op != doc->end() && op->is_string() ? op_named(op->get<std::string>()) : std::nullopt;
    if (!known) return CommandError{c.id, "unknown op"};
    c.op = *known;
    if (auto why = read_members(*doc, c)) return CommandError{c.id, *why};
    return c;
}

json reply(std::string_view op, const json& id) {
    json r = {{"op", op}};
    if (!id.is_null()) r["id"] = id;
    return r;
}

json error_reply(const json& id, std::string_view code, std::string_view message) {
    json r = reply("error", id);
    r["code"] = code;
    r["message"] = message;
    return r;
}

Encoded encode(const json& message, WireFormat format) {
    if (format == WireFormat::kJson) {
        return std::make_shared<const std::string>(
            message.dump(-1, ' ', false, json::error_handler_t::replace));
    }
    std::vector<uint8_t> bytes = json::to_msgpack(message);
    return std::make_shared<const std::string>(bytes.begin(), bytes.end());
}

}  // namespace bb::edge
