#include "broker-bridge/edge/protocol.hpp"

#include "broker-bridge/envelope.hpp"

#include <functional>
#include <set>
#include <string>
#include <vector>

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

constexpr size_t kMaxKeyInMessage = 64;

// nlohmann::json keeps the last of repeated keys, so `{"amount":1,"amount":100}` would mean
// whichever value some parser keeps: ambiguous input, refused. The parser's own callback
// sees every key with its object; this remembers the first repeat as a dotted path.
class RepeatedKeyFinder {
public:
    bool operator()(int /*depth*/, json::parse_event_t event, json& parsed) {
        switch (event) {
            case json::parse_event_t::object_start:
            case json::parse_event_t::array_start:
                open_.push_back({event == json::parse_event_t::object_start, child_path(), {}, {}});
                break;
            case json::parse_event_t::object_end:
            case json::parse_event_t::array_end:
                if (!open_.empty()) open_.pop_back();
                break;
            case json::parse_event_t::key:
                if (!open_.empty() && parsed.is_string()) on_key(parsed.get<std::string>());
                break;
            case json::parse_event_t::value:
                break;
        }
        return true;
    }

    const std::string& first_repeat() const { return first_repeat_; }

private:
    struct Container {
        bool object;
        std::string path;
        std::string last_key;
        std::set<std::string> keys;
    };

    static std::string join(const std::string& path, const std::string& key) {
        return path.empty() ? key : path + "." + key;
    }

    std::string child_path() const {
        if (open_.empty()) return "";
        const Container& parent = open_.back();
        return parent.object ? join(parent.path, parent.last_key) : parent.path + "[]";
    }

    void on_key(std::string key) {
        Container& object = open_.back();
        if (!object.keys.insert(key).second && first_repeat_.empty()) {
            first_repeat_ = join(object.path, key).substr(0, kMaxKeyInMessage);
        }
        object.last_key = std::move(key);
    }

    std::vector<Container> open_;
    std::string first_repeat_;
};

// The command document; `problem` says why there is none, or names a repeated key (then the
// document is returned too, so the error reply can carry the command's id).
std::optional<json> read_document(std::string_view payload, bool binary, std::string& problem) {
    if (binary) {
        auto v = msgpack_to_json(payload);
        if (!v) {
            problem = v.error().what;
            return std::nullopt;
        }
        return std::move(*v);
    }
    if (!check_json_text(payload, kMaxDepth)) return std::nullopt;
    RepeatedKeyFinder finder;
    json v = json::parse(payload, std::ref(finder), false);
    if (v.is_discarded()) return std::nullopt;
    if (!finder.first_repeat().empty()) {
        problem = "repeated key " + finder.first_repeat() + " (each key may appear once)";
    }
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
    std::string problem;
    auto doc = read_document(payload, binary, problem);
    if (!doc || !doc->is_object()) {
        return CommandError{nullptr, problem.empty() ? "not a JSON object" : problem};
    }
    Command c;
    if (auto it = doc->find("id"); it != doc->end() && !it->is_null()) {
        if (!valid_id(*it)) return CommandError{nullptr, "id must be an integer or short string"};
        c.id = *it;
    }
    auto op = doc->find("op");
    auto known =
        op != doc->end() && op->is_string() ? op_named(op->get<std::string>()) : std::nullopt;
    if (!known) return CommandError{c.id, "unknown op"};
    if (!problem.empty()) return CommandError{c.id, problem};
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
