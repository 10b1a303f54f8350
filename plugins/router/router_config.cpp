#include "router_config.hpp"

#include "broker-bridge/errors.hpp"

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <initializer_list>
#include <set>
#include <string_view>
#include <system_error>
#include <utility>

namespace bb::router {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxRouteNameBytes = 64;

[[noreturn]] void fail(const std::string& where, const std::string& what) {
    throw ConfigError(where + ": " + what);
}

std::string describe(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Map:
            return "a map";
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Scalar:
            return "'" + node.Scalar() + "'";
        default:
            return "nothing";
    }
}

// YAML reads an unquoted `{data.chatId}` as a map with one key and no value: say so, since
// "expected text, found a map" would leave the reader puzzled.
bool looks_like_unquoted_placeholder(const YAML::Node& node) {
    if (!node.IsMap() || node.size() != 1) return false;
    const auto entry = *node.begin();
    if (!entry.first.IsScalar() || !entry.second.IsNull()) return false;
    const std::string& key = entry.first.Scalar();
    return tmpl::is_document_root(key.substr(0, key.find('.')));
}

[[noreturn]] void fail_expected(const std::string& where, std::string_view expected,
                                const YAML::Node& node) {
    if (looks_like_unquoted_placeholder(node)) {
        fail(where, "a placeholder must be quoted: write \"{" + node.begin()->first.Scalar() +
                        "}\" (YAML reads an unquoted {...} as a map)");
    }
    fail(where, "expected " + std::string(expected) + ", found " + describe(node));
}

// The keys of a map, each plain text, none repeated and each one of `known`. yaml-cpp keeps
// both pairs of a repeated key and answers lookups with the first, so a repeat would
// silently drop a setting.
void check_keys(const YAML::Node& map, const std::string& where,
                std::initializer_list<std::string_view> known) {
    std::set<std::string> seen;
    for (const auto& entry : map) {
        if (!entry.first.IsScalar()) fail(where, "a key must be plain text");
        const std::string key = entry.first.Scalar();
        if (!seen.insert(key).second) fail(where + "." + key, "repeated key");
        if (std::find(known.begin(), known.end(), key) == known.end()) {
            std::string list;
            for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
            fail(where + "." + key, "unknown key (known: " + list + ")");
        }
    }
}

std::string read_text(const YAML::Node& node, const std::string& where) {
    if (!node.IsScalar()) fail_expected(where, "text", node);
    return node.Scalar();
}

// A plain scalar takes the type its text reads as (null, true/false, an integer, a number),
// as in YAML's core schema; a quoted or !!str scalar stays text.
json typed_scalar(const YAML::Node& node) {
    const std::string& text = node.Scalar();
    if (node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str") return text;
    if (text == "true" || text == "True" || text == "TRUE") return true;
    if (text == "false" || text == "False" || text == "FALSE") return false;
    const char* first = text.data();
    const char* last = first + text.size();
    int64_t integer = 0;
    auto [end_i, ec_i] = std::from_chars(first, last, integer);
    if (ec_i == std::errc{} && end_i == last) return integer;
    // from_chars also reads "inf" and "nan", which YAML spells differently: numbers only.
    const bool numeric_start =
        !text.empty() &&
        (std::isdigit(static_cast<unsigned char>(text[text[0] == '-' ? 1 : 0])) != 0);
    double number = 0;
    auto [end_d, ec_d] = std::from_chars(first, last, number);
    if (numeric_start && ec_d == std::errc{} && end_d == last) return number;
    return text;
}

json yaml_to_json(const YAML::Node& node, const std::string& where, std::size_t depth) {
    if (depth > tmpl::kMaxDepth) fail(where, "nested too deep");
    switch (node.Type()) {
        case YAML::NodeType::Scalar:
            return typed_scalar(node);
        case YAML::NodeType::Sequence: {
            json out = json::array();
            for (std::size_t i = 0; i < node.size(); ++i) {
                out.push_back(
                    yaml_to_json(node[i], where + "[" + std::to_string(i) + "]", depth + 1));
            }
            return out;
        }
        case YAML::NodeType::Map: {
            if (looks_like_unquoted_placeholder(node)) fail_expected(where, "a value", node);
            json out = json::object();
            for (const auto& entry : node) {
                if (!entry.first.IsScalar()) fail(where, "a key must be plain text");
                const std::string key = entry.first.Scalar();
                if (out.contains(key)) fail(where + "." + key, "repeated key");
                out[key] = yaml_to_json(entry.second, where + "." + key, depth + 1);
            }
            return out;
        }
        default:
            return nullptr;
    }
}

// ---------------------------------------------------------------------------------------------
// Conditions

bool is_ident(std::string_view s) {
    if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) {
        return false;
    }
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
    });
}

// `data.kind` and the like: a path the expression grammar reads, from a document root.
void check_field_path(const std::string& path, const std::string& where) {
    std::size_t start = 0;
    while (true) {
        const std::size_t dot = path.find('.', start);
        if (!is_ident(std::string_view(path).substr(start, dot - start))) {
            fail(where, "a field is a path of names ([A-Za-z_][A-Za-z0-9_-]*) joined by '.'");
        }
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    const std::string root = path.substr(0, path.find('.'));
    if (!tmpl::is_document_root(root)) {
        fail(where, "events have no field '" + root +
                        "'; use id, type, source, subject, time, "
                        "aggregatetype, correlationid, causationid, userid, dataversion or "
                        "data.<path>");
    }
    if (root != "data" && root != path) fail(where, "'" + root + "' is text and has no members");
}

std::string literal_text(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// `{type: X, data.kind: [a, b]}` as the expression `type == "X" and data.kind in ["a","b"]`,
// so both forms of `when` mean exactly what the expression grammar says.
std::string expression_from_map(const YAML::Node& when, const std::string& where) {
    if (!when["type"]) fail(where + ".type", "a condition map needs the event type");
    std::set<std::string> seen;
    std::string text;
    for (const auto& entry : when) {
        if (!entry.first.IsScalar()) fail(where, "a key must be plain text");
        const std::string path = entry.first.Scalar();
        const std::string at = where + "." + path;
        if (!seen.insert(path).second) fail(at, "repeated key");
        check_field_path(path, at);
        if (!text.empty()) text += " and ";
        const YAML::Node& value = entry.second;
        if (value.IsSequence()) {
            json items = json::array();
            for (const auto& item : value) {
                if (!item.IsScalar() && !item.IsNull())
                    fail_expected(at, "a list of values", value);
                items.push_back(item.IsNull() ? json(nullptr) : typed_scalar(item));
            }
            if (items.empty()) fail(at, "an empty list matches nothing");
            text += path + " in " + literal_text(items);
        } else if (value.IsScalar() || value.IsNull()) {
            text +=
                path + " == " + literal_text(value.IsNull() ? json(nullptr) : typed_scalar(value));
        } else {
            fail_expected(at, "a value or a list of values", value);
        }
    }
    return text;
}

expr::Expression read_when(const YAML::Node& node, const std::string& where) {
    if (!node) fail(where, "missing (a map such as {type: MessageSent}, or an expression)");
    std::string text;
    if (node.IsMap()) {
        text = expression_from_map(node, where);
    } else if (node.IsScalar()) {
        text = node.Scalar();
    } else {
        fail_expected(where, "a map of fields or an expression", node);
    }
    expr::Expression e = expr::Expression::parse(text, where);
    for (const auto& root : e.roots()) {
        if (!tmpl::is_document_root(root)) {
            fail(where, "reads '" + root +
                            "', which events do not have; use id, type, source, "
                            "subject, time, aggregatetype, correlationid, causationid, userid, "
                            "dataversion or data.<path>");
        }
    }
    return e;
}

// ---------------------------------------------------------------------------------------------
// Routes

std::string read_token(const YAML::Node& node, const std::string& where) {
    std::string text = read_text(node, where);
    if (text.find('{') != std::string::npos || text.find('}') != std::string::npos) {
        fail(where, "must be literal: event and aggregate types are fixed in the config");
    }
    if (auto problem = tmpl::subject_token_problem(text); !problem.empty()) {
        fail(where, "must be one subject token, but it " + problem);
    }
    return text;
}

tmpl::JsonTemplate read_shape(const YAML::Node& node, const std::string& where) {
    return tmpl::JsonTemplate::parse(yaml_to_json(node, where, 0), where);
}

EmitSpec read_emit(const YAML::Node& node, const std::string& where) {
    if (!node.IsMap()) fail_expected(where, "a map with type, aggregate_type, aggregate_id", node);
    check_keys(node, where, {"type", "aggregate_type", "aggregate_id", "data"});
    for (const char* key : {"type", "aggregate_type", "aggregate_id"}) {
        if (!node[key]) fail(where + "." + key, "missing");
    }
    EmitSpec emit{read_token(node["type"], where + ".type"),
                  read_token(node["aggregate_type"], where + ".aggregate_type"),
                  tmpl::Template::parse(read_text(node["aggregate_id"], where + ".aggregate_id"),
                                        where + ".aggregate_id"),
                  std::nullopt};
    if (node["data"]) emit.data = read_shape(node["data"], where + ".data");
    return emit;
}

std::string read_name(const YAML::Node& node, const std::string& where) {
    std::string name = read_text(node, where);
    bool ok = !name.empty() && name.size() <= kMaxRouteNameBytes &&
              std::isalpha(static_cast<unsigned char>(name[0])) != 0 &&
              std::all_of(name.begin(), name.end(), [](char c) {
                  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
              });
    if (!ok) {
        fail(where, "a route name is a letter then letters, digits, '_' or '-', at most " +
                        std::to_string(kMaxRouteNameBytes) + " bytes (it goes into message ids)");
    }
    return name;
}

// A route that emits the type its map condition matches would route its own output again,
// forever (each follow-up has a new id). Expression conditions are not analysed.
void check_no_self_loop(const YAML::Node& node, const EmitSpec& emit, const std::string& where) {
    const YAML::Node& when = node["when"];
    if (!when.IsMap()) return;
    const YAML::Node& type = when["type"];
    bool loops = type.IsScalar() && type.Scalar() == emit.type;
    if (type.IsSequence()) {
        for (const auto& t : type) loops = loops || (t.IsScalar() && t.Scalar() == emit.type);
    }
    if (loops) {
        fail(where + ".emit.type", "the route would match the " + emit.type +
                                       " it emits and route its own output forever");
    }
}

Route read_route(const YAML::Node& node, std::size_t index, std::set<std::string>& names) {
    const std::string where = "routes[" + std::to_string(index) + "]";
    if (!node.IsMap()) fail_expected(where, "a map", node);
    check_keys(node, where, {"name", "when", "channel_subject", "data", "emit"});
    std::string name = std::to_string(index);
    if (node["name"]) name = read_name(node["name"], where + ".name");
    if (!names.insert(name).second) fail(where + ".name", "another route is named " + name);
    Route route{name,         where,        read_when(node["when"], where + ".when"),
                std::nullopt, std::nullopt, std::nullopt};
    const bool has_channel = static_cast<bool>(node["channel_subject"]);
    if (has_channel == static_cast<bool>(node["emit"])) {
        fail(where, "a route has either channel_subject or emit, not " +
                        std::string(has_channel ? "both" : "neither"));
    }
    if (has_channel) {
        route.channel_subject = tmpl::Template::parse_subject(
            read_text(node["channel_subject"], where + ".channel_subject"),
            where + ".channel_subject");
        if (node["data"]) route.data = read_shape(node["data"], where + ".data");
        return route;
    }
    if (node["data"]) fail(where + ".data", "an emit route takes its data under emit.data");
    route.emit = read_emit(node["emit"], where + ".emit");
    check_no_self_loop(node, *route.emit, where);
    return route;
}

bool reads(const std::vector<std::string>& roots, std::string_view name) {
    return std::find(roots.begin(), roots.end(), name) != roots.end();
}

bool route_reads_data(const Route& r) {
    if (reads(r.when.roots(), "data")) return true;
    if (r.channel_subject && reads(r.channel_subject->roots(), "data")) return true;
    if (r.data && reads(r.data->roots(), "data")) return true;
    if (!r.emit) return false;
    return (r.emit->data && reads(r.emit->data->roots(), "data")) ||
           reads(r.emit->aggregate_id.roots(), "data");
}

YAML::Node load(const std::string& yaml_text) {
    try {
        return YAML::Load(yaml_text);
    } catch (const YAML::Exception& e) {
        throw ConfigError(std::string("router config: ") + e.what());
    }
}

}  // namespace

RouterConfig parse_router_config(const std::string& yaml_text) {
    YAML::Node root = load(yaml_text);
    if (!root.IsMap()) fail("router config", "expected a map with routes:");
    check_keys(root, "config", {"routes"});
    const YAML::Node& list = root["routes"];
    if (!list || !list.IsSequence() || list.size() == 0) {
        fail("routes", "expected a list of at least one route");
    }
    RouterConfig config;
    std::set<std::string> names;
    for (std::size_t i = 0; i < list.size(); ++i) {
        config.routes.push_back(read_route(list[i], i, names));
        config.reads_data = config.reads_data || route_reads_data(config.routes.back());
    }
    return config;
}

}  // namespace bb::router
