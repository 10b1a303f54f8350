#include "email_config.hpp"

#include <yaml-cpp/yaml.h>

#include <set>

#include "broker-bridge/duration.hpp"
#include "broker-bridge/errors.hpp"

namespace bb::email {
namespace {

[[noreturn]] void fail(const std::string& where, const std::string& what) {
    throw ConfigError(where + ": " + what);
}

std::string text(const YAML::Node& node, const std::string& where) {
    if (!node.IsScalar()) {
        fail(where, node.IsMap() ? "expected text, found a map (quote a \"{placeholder}\")"
                                 : "expected text");
    }
    return node.Scalar();
}

std::chrono::milliseconds duration(const YAML::Node& node, const std::string& where,
                                   std::chrono::milliseconds low, std::chrono::milliseconds high) {
    std::string why;
    auto d = parse_duration(text(node, where), &why);
    if (!d) fail(where, why);
    if (*d < low || *d > high) {
        fail(where, "must be from " + format_duration(low) + " to " + format_duration(high));
    }
    return *d;
}

bool boolean(const YAML::Node& node, const std::string& where) {
    bool value = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
        fail(where, "expected true or false");
    }
    return value;
}

TlsMode tls_mode(const std::string& value, const std::string& where) {
    if (value == "none") return TlsMode::kNone;
    if (value == "starttls") return TlsMode::kStartTls;
    if (value == "starttls-if-offered") return TlsMode::kStartTlsIfOffered;
    fail(where, "expected none, starttls or starttls-if-offered, found '" + value + "'");
}

// Visits each key of a map once, refusing repeated keys (yaml-cpp keeps both).
template <typename Fn>
void each_key(const YAML::Node& map, const std::string& where, Fn fn) {
    if (!map.IsMap()) fail(where.empty() ? "config" : where, "expected a map");
    std::set<std::string> seen;
    for (const auto& entry : map) {
        std::string key = entry.first.Scalar();
        std::string path = where.empty() ? key : where + "." + key;
        if (!seen.insert(key).second) fail(path, "repeated key");
        fn(key, path, entry.second);
    }
}

SmtpSettings parse_smtp(const YAML::Node& node) {
    using std::chrono::milliseconds;
    SmtpSettings s;
    each_key(node, "smtp",
             [&](const std::string& key, const std::string& path, const YAML::Node& v) {
                 if (key == "url") {
                     s.url = text(v, path);
                 } else if (key == "tls") {
                     s.tls = tls_mode(text(v, path), path);
                 } else if (key == "username") {
                     s.username = text(v, path);
                 } else if (key == "password") {
                     s.password = text(v, path);
                 } else if (key == "ca_file") {
                     s.ca_file = text(v, path);
                 } else if (key == "verify_peer") {
                     s.verify_peer = boolean(v, path);
                 } else if (key == "connect_timeout") {
                     s.connect_timeout = duration(v, path, milliseconds(1), milliseconds(600000));
                 } else if (key == "send_timeout") {
                     s.send_timeout = duration(v, path, milliseconds(1), milliseconds(3600000));
                 } else if (key == "max_idle_connections") {
                     int n = -1;
                     if (!v.IsScalar() || !YAML::convert<int>::decode(v, n) || n < 0 || n > 256) {
                         fail(path, "expected an integer from 0 to 256");
                     }
                     s.max_idle_connections = n;
                 } else {
                     fail(path, "unknown key");
                 }
             });
    if (s.url.rfind("smtp://", 0) != 0 && s.url.rfind("smtps://", 0) != 0) {
        fail("smtp.url", "expected smtp://host:port or smtps://host:port, found '" + s.url + "'");
    }
    return s;
}

}  // namespace

EmailConfig parse_email_config(const std::string& yaml_text) {
    YAML::Node root = YAML::Load(yaml_text);
    std::optional<SmtpSettings> smtp;
    std::optional<tmpl::Template> from, to, to_name;
    // Template has no empty state: placeholders until the real values are read below.
    EmailConfig c{.smtp = {},
                  .from = tmpl::Template::parse("", "from"),
                  .to = tmpl::Template::parse("", "to"),
                  .to_name = std::nullopt,
                  .template_name = {},
                  .templates_dir = {},
                  .bucket = {}};
    bool have_template = false;
    each_key(root, "", [&](const std::string& key, const std::string& path, const YAML::Node& v) {
        if (key == "smtp") {
            smtp = parse_smtp(v);
        } else if (key == "from") {
            from = tmpl::Template::parse(text(v, path), path);
        } else if (key == "to") {
            to = tmpl::Template::parse(text(v, path), path);
        } else if (key == "to_name") {
            to_name = tmpl::Template::parse(text(v, path), path);
        } else if (key == "template") {
            c.template_name = text(v, path);
            have_template = true;
        } else if (key == "templates_dir") {
            c.templates_dir = text(v, path);
        } else if (key == "bucket") {
            c.bucket = text(v, path);
        } else if (key == "in_progress_interval") {
            c.in_progress_interval = duration(v, path, std::chrono::milliseconds(10),
                                              std::chrono::milliseconds(3600000));
        } else if (key == "missing_recipient") {
            std::string m = text(v, path);
            if (m != "skip" && m != "reject") fail(path, "expected skip or reject");
            c.missing_recipient = m == "skip" ? MissingRecipient::kSkip : MissingRecipient::kReject;
        } else {
            fail(path, "unknown key");
        }
    });
    if (!smtp) fail("smtp", "required (at least smtp.url)");
    if (!from) fail("from", "required: the sender, \"Name <addr>\" or \"addr\"");
    if (!to) fail("to", "required: the recipient, e.g. \"{data.email}\"");
    if (!have_template) fail("template", "required: the name of files under templates_dir");
    if (c.bucket.empty()) fail("bucket", "required: the key-value bucket for sent markers");
    if (c.template_name.find('/') != std::string::npos || c.template_name.empty()) {
        fail("template", "a plain file name without '/'");
    }
    c.smtp = std::move(*smtp);
    c.from = std::move(*from);
    c.to = std::move(*to);
    c.to_name = std::move(to_name);
    if (c.templates_dir.empty()) c.templates_dir = "templates";
    return c;
}

}  // namespace bb::email
