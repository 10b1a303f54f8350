#include "broker-bridge/config_node.hpp"

#include <algorithm>
#include <cstdlib>
#include <set>

#include "broker-bridge/duration.hpp"
#include "broker-bridge/errors.hpp"

namespace bb::config {
namespace {

std::string position(const std::string& file, const YAML::Mark& mark) {
    if (mark.is_null()) return file;
    return file + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::string join(std::initializer_list<std::string_view> words) {
    std::string out;
    for (auto w : words) {
        if (!out.empty()) out += ", ";
        out += w;
    }
    return out;
}

// Walks the whole document once: duplicate keys, depth and the expanded node count (an
// alias is a shared node, so a small file can expand to billions of visits).
class Checker {
public:
    Checker(const std::string& file, const LoadLimits& limits) : file_(file), limits_(limits) {}

    void check(const YAML::Node& node, size_t depth) {
        if (++visited_ > limits_.max_nodes) {
            throw ConfigError(
                position(file_, node.Mark()) + ": the document expands to more than " +
                std::to_string(limits_.max_nodes) + " nodes (an alias bomb?): refusing it");
        }
        if (depth > limits_.max_depth) {
            throw ConfigError(position(file_, node.Mark()) + ": nesting deeper than " +
                              std::to_string(limits_.max_depth) + " levels");
        }
        if (node.IsSequence()) {
            for (const auto& item : node) check(item, depth + 1);
        } else if (node.IsMap()) {
            check_map(node, depth);
        }
    }

private:
    void check_map(const YAML::Node& node, size_t depth) {
        std::set<std::string> seen;
        for (const auto& kv : node) {
            if (!kv.first.IsScalar()) {
                throw ConfigError(position(file_, kv.first.Mark()) +
                                  ": a key must be a plain scalar");
            }
            const std::string& key = kv.first.Scalar();
            if (!seen.insert(key).second) {
                throw ConfigError(position(file_, kv.first.Mark()) + ": duplicate key '" + key +
                                  "' (each key may appear once in a map)");
            }
            check(kv.second, depth + 1);
        }
    }

    const std::string& file_;
    const LoadLimits& limits_;
    size_t visited_ = 0;
};

// yaml-cpp returns an invalid "zombie" node for a missing key of a const map; most of its
// methods throw on one, even assignment: an explicit Undefined node answers every query.
YAML::Node valid_or_undefined(const YAML::Node& node) {
    return node.IsDefined() ? node : YAML::Node(YAML::NodeType::Undefined);
}

}  // namespace

Node::Node(YAML::Node node, std::string path, std::shared_ptr<const std::string> file,
           YAML::Mark mark, bool offline)
    : node_(valid_or_undefined(node)),
      path_(std::move(path)),
      file_(std::move(file)),
      mark_(mark),
      offline_(offline) {}

std::string Node::where() const { return position(*file_, mark_); }

void Node::fail(std::string_view what) const {
    std::string text = where() + ": ";
    if (!path_.empty()) text += path_ + ": ";
    text += what;
    throw ConfigError(text);
}

void Node::require_map() const {
    if (!node_.IsMap()) fail("expected a map of keys");
}

bool Node::has(std::string_view key) const {
    if (!node_.IsMap()) return false;
    auto child = node_[std::string(key)];
    return child.IsDefined() && !child.IsNull();
}

Node Node::operator[](std::string_view key) const {
    std::string child_path = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
    if (!node_.IsMap())
        return Node(YAML::Node(YAML::NodeType::Undefined), child_path, file_, mark_, offline_);
    YAML::Node child = node_[std::string(key)];
    YAML::Mark mark = child.IsDefined() && !child.Mark().is_null() ? child.Mark() : mark_;
    return Node(child, std::move(child_path), file_, mark, offline_);
}

Node Node::required(std::string_view key) const {
    require_map();
    Node child = (*this)[key];
    if (!child.defined()) fail("missing required key '" + std::string(key) + "'");
    return child;
}

void Node::expect_keys(std::initializer_list<std::string_view> allowed) const {
    if (!node_.IsDefined() || node_.IsNull()) return;
    require_map();
    for (const auto& kv : node_) {
        const std::string& key = kv.first.Scalar();
        if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
        std::string_view best;
        size_t best_distance = 3;  // suggest only near misses
        for (auto candidate : allowed) {
            size_t d = edit_distance(key, candidate);
            if (d < best_distance) {
                best_distance = d;
                best = candidate;
            }
        }
        std::string text = position(*file_, kv.first.Mark()) + ": ";
        if (!path_.empty()) text += path_ + ": ";
        text += "unknown key '" + key + "'";
        if (!best.empty()) text += " (did you mean '" + std::string(best) + "'?)";
        text += "; known keys: " + join(allowed);
        throw ConfigError(text);
    }
}

std::string Node::as_string() const {
    if (!node_.IsScalar()) fail("expected a text value");
    return substitute_env(node_.Scalar(), where() + ": " + path_, offline_);
}

int64_t Node::as_int(int64_t min, int64_t max) const {
    std::string text = as_string();
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno == ERANGE) {
        fail("expected a whole number, got '" + text + "'");
    }
    if (v < min || v > max) {
        fail("value " + text + " is out of range [" + std::to_string(min) + ", " +
             std::to_string(max) + "]");
    }
    return v;
}

double Node::as_double(double min, double max) const {
    std::string text = as_string();
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || v != v) fail("expected a number, got '" + text + "'");
    if (v < min || v > max) {
        fail("value " + text + " is out of range [" + std::to_string(min) + ", " +
             std::to_string(max) + "]");
    }
    return v;
}

bool Node::as_bool() const {
    std::string text = as_string();
    if (text == "true") return true;
    if (text == "false") return false;
    fail("expected true or false, got '" + text + "'");
}

std::chrono::milliseconds Node::as_duration() const {
    std::string why;
    auto d = parse_duration(as_string(), &why);
    if (!d) fail(why);
    return *d;
}

std::vector<std::string> Node::as_string_list() const {
    std::vector<std::string> out;
    if (node_.IsScalar()) {
        out.push_back(as_string());
        return out;
    }
    if (!node_.IsSequence()) fail("expected a list of text values");
    for (const auto& item : items()) out.push_back(item.as_string());
    return out;
}

std::vector<Node> Node::items() const {
    if (!node_.IsSequence()) fail("expected a list");
    std::vector<Node> out;
    size_t i = 0;
    for (const auto& item : node_) {
        out.emplace_back(item, path_ + "[" + std::to_string(i++) + "]", file_,
                         item.Mark().is_null() ? mark_ : item.Mark(), offline_);
    }
    return out;
}

std::vector<std::pair<std::string, Node>> Node::entries() const {
    require_map();
    std::vector<std::pair<std::string, Node>> out;
    for (const auto& kv : node_) {
        std::string key = kv.first.Scalar();
        std::string child_path = path_.empty() ? key : path_ + "." + key;
        YAML::Mark mark = kv.second.Mark().is_null() ? kv.first.Mark() : kv.second.Mark();
        out.emplace_back(key, Node(kv.second, std::move(child_path), file_, mark, offline_));
    }
    return out;
}

namespace {

// Writes `node` with ${ENV} substituted in its scalars. A scalar that was quoted in the
// file (yaml-cpp tags it "!") is written quoted, so "5" or "true" reaches the plugin as
// text, not as a number or a boolean.
void emit_substituted(YAML::Emitter& out, const YAML::Node& node, const std::string& where,
                      bool keep_unset) {
    if (node.IsScalar()) {
        std::string value = substitute_env(node.Scalar(), where, keep_unset);
        if (node.Tag() == "!") {
            out << YAML::DoubleQuoted << value;
        } else {
            out << value;
        }
    } else if (node.IsSequence()) {
        out << YAML::BeginSeq;
        for (const auto& item : node) emit_substituted(out, item, where, keep_unset);
        out << YAML::EndSeq;
    } else if (node.IsMap()) {
        out << YAML::BeginMap;
        for (const auto& kv : node) {
            out << YAML::Key << kv.first.Scalar() << YAML::Value;
            emit_substituted(out, kv.second, where, keep_unset);
        }
        out << YAML::EndMap;
    } else {
        out << YAML::Null;
    }
}

}  // namespace

std::string Node::to_yaml() const {
    if (!defined()) return "{}";
    YAML::Emitter out;
    emit_substituted(out, node_, where() + ": " + path_, offline_);
    return out.c_str();
}

Node load_document(const std::string& text, const std::string& file, const LoadLimits& limits,
                   bool offline) {
    auto name = std::make_shared<const std::string>(file);
    if (text.size() > limits.max_bytes) {
        throw ConfigError(file + ": the file is " + std::to_string(text.size()) +
                          " bytes; a config may be at most " + std::to_string(limits.max_bytes));
    }
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        throw ConfigError(position(file, e.mark) + ": not valid YAML: " + e.msg);
    }
    Checker(file, limits).check(root, 0);
    YAML::Mark start;
    start.line = 0;
    start.column = 0;
    return Node(root, "", name, root.Mark().is_null() ? start : root.Mark(), offline);
}

std::string substitute_env(std::string_view value, std::string_view where, bool keep_unset) {
    std::string out;
    size_t i = 0;
    while (i < value.size()) {
        if (value.compare(i, 3, "$${") == 0) {
            out += "${";
            i += 3;
            continue;
        }
        if (value.compare(i, 2, "${") != 0) {
            out += value[i++];
            continue;
        }
        size_t close = value.find('}', i + 2);
        if (close == std::string_view::npos) {
            throw ConfigError(std::string(where) + ": unclosed '${' in value");
        }
        std::string_view inner = value.substr(i + 2, close - i - 2);
        size_t dash = inner.find(":-");
        std::string name(inner.substr(0, dash));
        bool name_ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
            return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '_';
        });
        if (!name_ok) {
            throw ConfigError(std::string(where) + ": bad variable name '" + name +
                              "' in ${...}: use letters, digits and _");
        }
        const char* env = std::getenv(name.c_str());
        if (env && *env) {
            out += env;
        } else if (dash != std::string_view::npos) {
            out += inner.substr(dash + 2);
        } else if (keep_unset) {
            out += value.substr(i, close + 1 - i);
        } else {
            throw ConfigError(std::string(where) + ": environment variable " + name +
                              " is not set (write ${" + name + ":-default} for a default)");
        }
        i = close + 1;
    }
    return out;
}

}  // namespace bb::config
