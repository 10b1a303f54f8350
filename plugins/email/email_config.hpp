#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "broker-bridge/template.hpp"

namespace bb::email {

// How the connection to the SMTP server is protected. An smtps:// URL is implicit TLS
// whatever this says.
enum class TlsMode {
    kNone,               // plain SMTP
    kStartTlsIfOffered,  // STARTTLS when the server offers it, plain otherwise
    kStartTls,           // STARTTLS or no delivery
};

struct SmtpSettings {
    std::string url;  // smtp://host:port[/helo-name] or smtps://host:port[/helo-name]
    TlsMode tls = TlsMode::kStartTlsIfOffered;
    std::string username;  // AUTH when set; give credentials as ${ENV} in the config
    std::string password;
    std::string ca_file;  // PEM bundle to verify the server with; system store when empty
    bool verify_peer = true;
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds send_timeout{60000};  // one whole message, connect included
    int max_idle_connections = 4;                   // kept open for the next message
};

// What a message with no recipient does.
enum class MissingRecipient { kSkip, kReject };

struct EmailConfig {
    SmtpSettings smtp;
    tmpl::Template from;  // "Name <addr>" or "addr", may hold placeholders
    tmpl::Template to;
    std::optional<tmpl::Template> to_name;  // display name of the recipient
    std::string template_name;
    std::string templates_dir;  // relative to the config's folder
    std::string bucket;         // idempotency keys, one per (binding, event id)
    std::chrono::milliseconds in_progress_interval{1000};
    MissingRecipient missing_recipient = MissingRecipient::kSkip;
};

// Reads the binding's `config:` YAML text. Throws bb::ConfigError naming the key path
// ("smtp.tls: ...") for an unknown or repeated key, a missing required key, a wrong type,
// a bad template or an out-of-range duration.
EmailConfig parse_email_config(const std::string& yaml_text);

}  // namespace bb::email
