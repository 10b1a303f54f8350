// The e-mail plugin: renders a Mustache template from an event and sends it over SMTP, once
// per (binding, event id). See docs/PLUGINS.md#email.
#include <bb/plugin.hpp>

#include <curl/curl.h>
#include <openssl/sha.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>

#include "plugins/common/event_document.hpp"
#include "address.hpp"
#include "email_config.hpp"
#include "keep_alive.hpp"
#include "message_templates.hpp"
#include "mime.hpp"
#include "smtp_sender.hpp"

namespace bb::email {
namespace {

using nlohmann::json;
using plugin::Outcome;


std::string hex_digest(std::string_view material) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(material.data()), material.size(), digest);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 16; ++i) {
        out += kHex[digest[i] >> 4];
        out += kHex[digest[i] & 15];
    }
    return out;
}

// A key-value key holds [-/_=.a-zA-Z0-9]; event ids usually fit, others are hashed.
std::string sent_key(std::string_view binding, std::string_view id) {
    bool plain = !id.empty();
    for (char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        plain = plain && ok;
    }
    return "sent." + std::string(binding) + "." + (plain ? std::string(id) : hex_digest(id));
}

int64_t unix_seconds() {
    using namespace std::chrono;
    return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

// One instance per binding; handle() runs on several worker threads at once. The config and
// templates are read-only after construction; the sender has its own lock.
class EmailPlugin {
public:
    EmailPlugin(plugin::Host& host, const std::string& yaml_config)
        : host_(host),
          config_(parse_email_config(yaml_config)),
          templates_(host.resolve_path(config_.templates_dir), config_.template_name),
          sender_(resolved(config_.smtp, host)) {
        host_.info("email binding ready", {{"template", config_.template_name},
                                           {"smtp", config_.smtp.url},
                                           {"in_progress", host_.has_in_progress()}});
    }

    Outcome handle(const plugin::EventView& ev) {
        const std::string key = sent_key(host_.binding_name(), ev.id());
        auto sent = host_.kv_get(config_.bucket, key);
        if (sent.ok()) {
            host_.info("email already sent", {{"event", ev.id()}, {"key", key}});
            host_.counter_add("email_duplicates_total", 1);
            return Outcome::done();
        }
        if (sent.code != BB_NOT_FOUND) return Outcome::retry("sent marker: " + sent.error);
        json doc = plugin::event_document(ev);
        if (doc["data"].is_discarded()) return Outcome::reject("event data is not JSON");
        auto to = recipient(doc);
        if (!to) {
            if (to.error().what.empty()) return skip(ev);  // no address in this event
            return Outcome::reject(to.error().what);
        }
        auto from_text = config_.from.render_string(doc);
        if (!from_text) return Outcome::reject(from_text.error().what);
        auto from = parse_mailbox(*from_text, "from");
        if (!from) return Outcome::reject(from.error().what);
        auto message = compose(ev, doc, *from, *to);
        if (!message) return Outcome::reject(message.error().what);
        return deliver(ev, key, *from, *to, *message);
    }

private:
    static SmtpSettings resolved(SmtpSettings s, const plugin::Host& host) {
        if (!s.ca_file.empty()) s.ca_file = host.resolve_path(s.ca_file);
        return s;
    }

    // The recipient; an error with empty text when the event has no address at all.
    Result<Mailbox> recipient(const json& doc) {
        auto address = config_.to.render_string(doc);
        if (!address || address->empty()) return make_error("");
        std::string text = *address;
        if (config_.to_name) {
            auto name = config_.to_name->render_string(doc);
            if (name && !name->empty()) {
                if (find_line_break(*name) != std::string::npos) {
                    return make_error(
                        "to_name: contains a line break (CR or LF); refused so "
                        "that no header can be added");
                }
                // Angle brackets in a name would change what the address parser reads.
                if (name->find_first_of("<>") != std::string::npos) {
                    return make_error("to_name: contains '<' or '>'");
                }
                text = *name + " <" + *address + ">";
            }
        }
        return parse_mailbox(text, "to");
    }

    Outcome skip(const plugin::EventView& ev) {
        if (config_.missing_recipient == MissingRecipient::kReject) {
            return Outcome::reject("to: " + config_.to.text() + " gives no address for this event");
        }
        host_.info("email skipped: no recipient",
                   {{"event", ev.id()}, {"type", ev.type()}, {"to", config_.to.text()}});
        host_.counter_add("email_skipped_no_recipient_total", 1);
        return Outcome::done();
    }

    Result<std::string> compose(const plugin::EventView& ev, const json& doc, const Mailbox& from,
                                const Mailbox& to) {
        auto rendered = templates_.render(doc);
        if (!rendered) return rendered.error();
        MessageParts parts;
        parts.from = from;
        parts.to = to;
        parts.subject = std::move(rendered->subject);
        parts.text = std::move(rendered->text);
        parts.html = std::move(rendered->html);
        // The same id on every attempt: a receiver can drop the copy the exactly-once window
        // may let through (docs/PLUGINS.md).
        std::string id_hash =
            hex_digest(std::string(host_.binding_name()) + '\0' + std::string(ev.id()));
        parts.message_id = id_hash + "@" + from.domain;
        parts.boundary = "=_bb_" + id_hash;
        parts.date = rfc5322_date(unix_seconds());
        return build_message(parts);
    }

    Outcome deliver(const plugin::EventView& ev, const std::string& key, const Mailbox& from,
                    const Mailbox& to, const std::string& message) {
        auto started = std::chrono::steady_clock::now();
        SendResult r;
        {
            // The event is valid until handle() returns, and this object ends before that.
            std::function<void()> beat;
            if (host_.has_in_progress()) {
                beat = [&] {
                    auto s = host_.in_progress(ev);
                    if (!s.ok()) host_.warn("email in_progress failed", {{"error", s.error}});
                };
            }
            KeepAlive alive(config_.in_progress_interval, std::move(beat));
            r = sender_.send(from, to, message);
        }
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
        if (r.kind == SendResult::kRejected) {
            host_.counter_add("email_rejected_total", 1);
            return Outcome::reject(r.reason);
        }
        if (r.kind == SendResult::kRetry) {
            host_.counter_add("email_retried_total", 1);
            return Outcome::retry(r.reason);
        }
        host_.counter_add("email_sent_total", 1);
        host_.info("email sent", {{"event", ev.id()},
                                  {"template", templates_.name()},
                                  {"ms", ms},
                                  {"smtputf8", to.needs_smtputf8()}});
        // After the server took it: a failure here leaves the window docs/PLUGINS.md names,
        // and is no reason to send again.
        auto marked = host_.kv_put(config_.bucket, key, json{{"sent_at", unix_seconds()}}.dump());
        if (!marked.ok()) {
            host_.error("email sent but its sent marker was not written",
                        {{"event", ev.id()}, {"key", key}, {"error", marked.error}});
            host_.counter_add("email_marker_failed_total", 1);
        }
        return Outcome::done();
    }

    plugin::Host& host_;
    EmailConfig config_;
    MessageTemplates templates_;
    SmtpSender sender_;
};

}  // namespace bb::email

BB_PLUGIN(bb::email::EmailPlugin, "email", "1.0.0")
