// Reading the `bindings:` section: one entry per plugin binding (see docs/CONFIGURATION.md).
#include <algorithm>
#include <ctime>
#include <set>

#include "broker-bridge/config.hpp"
#include "broker-bridge/config_node.hpp"
#include "broker-bridge/errors.hpp"
#include "broker-bridge/expression.hpp"
#include "broker-bridge/subject.hpp"

namespace bb {
namespace {

using config::Node;

bool is_binding_name(const std::string& s) {
    return !s.empty() && s.size() <= 48 && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
}

// RFC 3339 with a Z or numeric offset, fraction optional: 2026-12-01T08:00:00.5Z.
bool parse_rfc3339(const std::string& s, int64_t& unix_ns) {
    std::tm tm{};
    const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest) return false;
    int64_t nanos = 0;
    if (*rest == '.') {
        int64_t scale = 100000000;
        ++rest;
        if (!std::isdigit(static_cast<unsigned char>(*rest))) return false;
        while (std::isdigit(static_cast<unsigned char>(*rest))) {
            nanos += (*rest - '0') * scale;
            scale /= 10;
            ++rest;
        }
    }
    int64_t offset = 0;
    if (*rest == 'Z' || *rest == 'z') {
        ++rest;
    } else if (*rest == '+' || *rest == '-') {
        int sign = *rest == '-' ? -1 : 1;
        int hh = 0, mm = 0;
        if (std::sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2) return false;
        offset = sign * (hh * 3600 + mm * 60);
        rest += 6;
    } else {
        return false;
    }
    if (*rest != '\0') return false;
    int64_t secs = timegm(&tm) - offset;
    unix_ns = secs * 1000000000LL + nanos;
    return true;
}

StartPosition read_start(const Node& n) {
    StartPosition p;
    std::string s = n.as_string();
    if (s == "new") return p;
    if (s == "all") {
        p.kind = StartPosition::Kind::kAll;
        return p;
    }
    if (!parse_rfc3339(s, p.time_unix_ns)) {
        n.fail(
            "start must be 'new', 'all' or an RFC 3339 time such as 2026-12-01T08:00:00Z, "
            "got '" +
            s + "'");
    }
    p.kind = StartPosition::Kind::kTime;
    return p;
}

void read_backoff(const Node& n, BackoffPolicy& b) {
    if (!n.defined()) return;
    n.expect_keys({"initial", "factor", "max", "jitter"});
    if (n.has("initial")) b.initial = n["initial"].as_duration();
    if (n.has("factor")) b.factor = n["factor"].as_double(1.0, 100.0);
    if (n.has("max")) b.max = n["max"].as_duration();
    if (n.has("jitter")) b.jitter = n["jitter"].as_double(0.0, 1.0);
    if (b.max < b.initial) n["max"].fail("max may not be below initial");
}

void read_enums(const Node& n, BindingConfig& b) {
    if (n.has("ordering")) {
        std::string o = n["ordering"].as_string();
        if (o == "none") {
            b.ordering = Ordering::kNone;
        } else if (o == "per-aggregate") {
            b.ordering = Ordering::kPerAggregate;
        } else {
            n["ordering"].fail("ordering must be 'none' or 'per-aggregate', got '" + o + "'");
        }
    }
    if (n.has("priority")) {
        std::string p = n["priority"].as_string();
        if (p == "high") {
            b.priority = Priority::kHigh;
        } else if (p == "normal") {
            b.priority = Priority::kNormal;
        } else if (p == "low") {
            b.priority = Priority::kLow;
        } else {
            n["priority"].fail("priority must be 'high', 'normal' or 'low', got '" + p + "'");
        }
    }
}

void read_subjects(const Node& n, BindingConfig& b, const StreamConfig& events) {
    Node subjects = n.required("subjects");
    b.subjects = subjects.as_string_list();
    if (b.subjects.empty()) subjects.fail("a binding needs at least one subject");
    std::set<std::string> seen;
    for (const auto& s : b.subjects) {
        if (!is_valid_subject_pattern(s)) subjects.fail("'" + s + "' is not a valid subject");
        for (const auto& earlier : seen) {
            if (subject_patterns_overlap(earlier, s)) {
                subjects.fail("subjects '" + earlier + "' and '" + s +
                              "' overlap: an event matching both would be handled twice");
            }
        }
        seen.insert(s);
        bool covered =
            std::any_of(events.subjects.begin(), events.subjects.end(),
                        [&](const std::string& o) { return subject_pattern_covers(o, s); });
        if (!covered) {
            subjects.fail("subject '" + s + "' is outside stream " + events.name +
                          " (its subjects: " + events.subjects.front() + "...)");
        }
    }
}

// The names a filter may read: the CloudEvents attributes and `data`.
constexpr std::string_view kFilterRoots[] = {
    "id",          "type",   "source",      "subject", "time", "aggregatetype", "correlationid",
    "causationid", "userid", "dataversion", "data"};

void read_filter(const Node& n, BindingConfig& b) {
    b.filter = n.as_string();
    try {
        auto e = expr::Expression::parse(b.filter, "filter");
        for (const auto& root : e.roots()) {
            if (std::find(std::begin(kFilterRoots), std::end(kFilterRoots), root) ==
                std::end(kFilterRoots)) {
                n.fail("filter reads '" + root +
                       "', which events do not have; use id, type, source, subject, time, "
                       "aggregatetype, correlationid, causationid, userid, dataversion or "
                       "data.<path>");
            }
        }
    } catch (const ConfigError& e) {
        std::string text = e.what();
        if (text.rfind("filter: ", 0) == 0) n.fail(text.substr(8));
        throw;
    }
}

BindingConfig read_binding(const Node& n, const Config& c) {
    n.expect_keys({"name", "plugin", "subjects", "filter", "concurrency", "ordering", "priority",
                   "attempts", "backoff", "timeout", "start", "publish_prefixes", "config",
                   "stream"});
    BindingConfig b;
    b.where = n.where();
    b.name = n.required("name").as_string();
    if (!is_binding_name(b.name)) {
        n["name"].fail("a binding name is 1-48 characters of a-z, 0-9, '_' and '-'");
    }
    b.plugin = n.required("plugin").as_string();
    if (!is_binding_name(b.plugin) || b.plugin.find('-') != std::string::npos) {
        n["plugin"].fail(
            "a plugin name is 1-48 characters of a-z, 0-9 and '_' (the file is "
            "libbb_plugin_<name>.so)");
    }
    const StreamConfig* stream = &c.events;
    if (n.has("stream")) {
        std::string key = n["stream"].as_string();
        if (key == "presence" && c.presence) {
            stream = &*c.presence;
        } else if (key != "events") {
            n["stream"].fail("stream must be 'events' or 'presence' (with streams.presence "
                             "configured), got '" + key + "'");
        }
    }
    b.stream = stream->name;
    read_subjects(n, b, *stream);
    if (n.has("filter")) read_filter(n["filter"], b);
    if (n.has("concurrency")) b.concurrency = static_cast<int>(n["concurrency"].as_int(1, 1024));
    read_enums(n, b);
    if (n.has("attempts")) b.attempts = static_cast<int>(n["attempts"].as_int(1, 1000));
    read_backoff(n["backoff"], b.backoff);
    if (n.has("timeout")) b.timeout = n["timeout"].as_duration();
    if (b.timeout.count() <= 0) n["timeout"].fail("timeout must be above 0");
    if (n.has("start")) b.start = read_start(n["start"]);
    if (n.has("publish_prefixes")) {
        b.publish_prefixes = n["publish_prefixes"].as_string_list();
        for (const auto& p : b.publish_prefixes) {
            if (!is_valid_subject_pattern(p)) {
                n["publish_prefixes"].fail("'" + p + "' is not a valid subject pattern");
            }
        }
    }
    b.plugin_config_yaml = n["config"].to_yaml();
    b.config_where = n["config"].defined() ? n["config"].where() : b.where;
    return b;
}

}  // namespace

void read_bindings(const Node& n, Config& c) {
    if (!n.defined()) return;
    std::set<std::string> names;
    for (const auto& item : n.items()) {
        BindingConfig b = read_binding(item, c);
        if (!names.insert(b.name).second) {
            item["name"].fail("duplicate binding name '" + b.name +
                              "': durable consumers are named after it");
        }
        c.bindings.push_back(std::move(b));
    }
}

}  // namespace bb

namespace bb {

void select_bindings(Config& c, const std::vector<std::string>& names) {
    std::string known;
    for (const auto& b : c.bindings) known += (known.empty() ? "" : ", ") + b.name;
    std::set<std::string> wanted;
    for (const auto& name : names) {
        bool exists = std::any_of(c.bindings.begin(), c.bindings.end(),
                                  [&](const BindingConfig& b) { return b.name == name; });
        if (!exists) {
            throw ConfigError(c.file.string() + ": --bindings names '" + name +
                              "', which is not a binding of this file (it has: " +
                              (known.empty() ? "none" : known) + ")");
        }
        if (!wanted.insert(name).second) {
            throw ConfigError("--bindings names '" + name + "' twice");
        }
    }
    for (const auto& b : c.bindings) {
        if (!wanted.count(b.name)) c.bindings_elsewhere.insert(b.name);
    }
    std::erase_if(c.bindings, [&](const BindingConfig& b) { return !wanted.count(b.name); });
}

}  // namespace bb
