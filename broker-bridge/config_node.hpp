#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// A checked view of a YAML document for reading configuration. Every read names its place
// on failure: "configs/local.yaml:12:5: bindings[0].backoff.max: bad duration '3x' ...".
// Loading refuses what yaml-cpp lets through: duplicate keys (it keeps both and returns the
// first), oversized files and alias bombs. `${VAR}` and `${VAR:-default}` are substituted when
// a scalar is read as a value, never in the raw text (so a secret holding YAML syntax cannot
// change the document's shape) and never in keys.
namespace bb::config {

struct LoadLimits {
    size_t max_bytes = 1 << 20;
    size_t max_nodes = 100000;  // after alias expansion
    size_t max_depth = 64;
};

class Node {
public:
    Node(YAML::Node node, std::string path, std::shared_ptr<const std::string> file,
         YAML::Mark mark, bool offline = false);

    const std::string& path() const { return path_; }
    // "file:line:col" (1-based), or just "file" when the position is unknown.
    std::string where() const;
    [[noreturn]] void fail(std::string_view what) const;

    bool defined() const { return node_.IsDefined() && !node_.IsNull(); }
    bool is_map() const { return node_.IsMap(); }
    bool is_sequence() const { return node_.IsSequence(); }
    bool is_scalar() const { return node_.IsScalar(); }

    // Read for `check-config --offline`: an unset ${VAR} stays the literal text `${VAR}`, and
    // readers skip what needs files or secrets (key files, a secret's length).
    bool offline() const { return offline_; }

    bool has(std::string_view key) const;
    // The child at `key`; an absent one is !defined() and reports the parent's position.
    Node operator[](std::string_view key) const;
    Node required(std::string_view key) const;
    // Refuses any key outside `allowed`, pointing at the key and suggesting the closest one.
    void expect_keys(std::initializer_list<std::string_view> allowed) const;

    std::string as_string() const;  // scalar, ${ENV} substituted
    int64_t as_int(int64_t min, int64_t max) const;
    double as_double(double min, double max) const;
    bool as_bool() const;
    std::chrono::milliseconds as_duration() const;
    std::vector<std::string> as_string_list() const;  // a sequence of scalars, or one scalar

    std::vector<Node> items() const;                             // sequence
    std::vector<std::pair<std::string, Node>> entries() const;  // map, in file order
    std::string to_yaml() const;  // the subtree as YAML text (${ENV} substituted)

private:
    void require_map() const;

    YAML::Node node_;
    std::string path_;
    std::shared_ptr<const std::string> file_;
    YAML::Mark mark_;
    bool offline_ = false;
};

// Parses `text` as one YAML document named `file` in messages. Throws ConfigError.
// `offline`: see Node::offline().
Node load_document(const std::string& text, const std::string& file, const LoadLimits& limits = {},
                   bool offline = false);

// Replaces ${VAR} and ${VAR:-default} in a scalar; "$${" stands for a literal "${".
// Throws ConfigError (prefixed with `where`) for an unset variable without default, unless
// `keep_unset`, which leaves such a reference as it is written.
std::string substitute_env(std::string_view value, std::string_view where, bool keep_unset = false);

}  // namespace bb::config
