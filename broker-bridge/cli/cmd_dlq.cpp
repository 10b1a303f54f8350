// `broker-bridge dlq list|show|replay|purge`: the dead-letter stream from the command line.
#include "broker-bridge/cli/commands.hpp"

#include "broker-bridge/cli/console.hpp"
#include "broker-bridge/envelope.hpp"
#include "broker-bridge/nats_handles.hpp"
#include "broker-bridge/provisioner.hpp"
#include "handlers/dead_letter.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <strings.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bb::cli {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
namespace dl = bb::handlers;

// The host dead-letters to dlq.<binding>.<original subject> (build_dead_letter's prefix).
constexpr std::string_view kDlqPrefix = "dlq";
constexpr std::string_view kDlqHeaderPrefix = "Bridge-Dlq-";
constexpr std::size_t kListErrorBytes = 60;
// A direct-get reply carries these about the read itself; they are not part of the entry.
constexpr std::array<std::string_view, 6> kDirectGetHeaders = {
    "Nats-Stream",  "Nats-Sequence",      "Nats-Time-Stamp",
    "Nats-Subject", "Nats-Last-Sequence", "Nats-Num-Pending"};

bool same_name(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool is_dlq_header(std::string_view name) {
    return name.size() >= kDlqHeaderPrefix.size() &&
           same_name(name.substr(0, kDlqHeaderPrefix.size()), kDlqHeaderPrefix);
}

std::optional<uint64_t> parse_count(std::string_view text) {
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return {};
    return n;
}

// Header values of entries written by other tools may hold anything: control characters
// would let a value rewrite the terminal, so they are shown as '?'.
std::string printable(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    }
    return out;
}

// At most `max` bytes, cut on a UTF-8 character boundary, "..." when cut.
std::string truncated(std::string_view text, std::size_t max) {
    if (text.size() <= max) return std::string(text);
    std::size_t cut = max - 3;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    return std::string(text.substr(0, cut)) + "...";
}

std::string dump(const json& j, int indent) {
    return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

// Text as a quoted JSON string (control characters escaped), or nullopt for bytes that are
// not UTF-8.
std::optional<std::string> as_json_string(std::string_view bytes) {
    try {
        return json(std::string(bytes)).dump();
    } catch (const json::type_error&) {
        return std::nullopt;
    }
}

struct DlqEntry {
    uint64_t seq = 0;
    std::string subject;
    Headers headers;  // sorted by name; the values of one name in wire order
    std::string body;

    // The first value of `name` (case-insensitive, as NATS header names are), or "".
    std::string header(std::string_view name) const {
        const std::string* v = find_header(headers, name);
        return v != nullptr ? *v : std::string();
    }

    // From its header, or from the subject dlq.<binding>.… of an entry without one.
    std::string binding() const {
        std::string b = header(dl::kDlqBinding);
        if (!b.empty()) return b;
        std::string_view s = subject;
        if (s.substr(0, kDlqPrefix.size() + 1) != std::string(kDlqPrefix) + ".") return {};
        s.remove_prefix(kDlqPrefix.size() + 1);
        return std::string(s.substr(0, s.find('.')));
    }
};

Result<DlqEntry> to_entry(natsMsg* msg, bool direct_get) {
    auto headers = read_headers(msg);
    if (!headers) return headers.error();
    DlqEntry e;
    e.seq = natsMsg_GetSequence(msg);
    if (direct_get) {
        if (e.seq == 0) {
            const char* seq = header_value(msg, "Nats-Sequence");
            e.seq = parse_count(seq != nullptr ? seq : "").value_or(0);
        }
        std::erase_if(*headers, [](const auto& h) {
            return std::any_of(kDirectGetHeaders.begin(), kDirectGetHeaders.end(),
                               [&](std::string_view n) { return same_name(h.first, n); });
        });
    }
    std::stable_sort(headers->begin(), headers->end(), [](const auto& a, const auto& b) {
        return strcasecmp(a.first.c_str(), b.first.c_str()) < 0;
    });
    const char* subject = natsMsg_GetSubject(msg);
    e.subject = subject != nullptr ? subject : "";
    e.headers = std::move(*headers);
    e.body.assign(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
    return e;
}

// The DLQ stream, read and changed by sequence. Sequences have gaps wherever entries were
// replayed or deleted, so a walk asks for the next entry at or after a sequence instead of
// counting through them.
class DlqStream {
public:
    DlqStream(jsCtx* js, std::string name) : js_(js), name_(std::move(name)) {}

    const std::string& name() const { return name_; }

    // The entry at `seq`, read through the stream leader; nullopt when there is none.
    Result<std::optional<DlqEntry>> at(uint64_t seq) const {
        if (seq == 0) return std::optional<DlqEntry>();
        natsMsg* raw = nullptr;
        jsErrCode jerr = static_cast<jsErrCode>(0);
        natsStatus s = js_GetMsg(&raw, js_, name_.c_str(), seq, nullptr, &jerr);
        if (s == NATS_NOT_FOUND) return std::optional<DlqEntry>();
        if (s != NATS_OK) return nats_error(s, &jerr);
        NatsMsg msg(raw);
        auto e = to_entry(msg.get(), false);
        if (!e) return e.error();
        e->seq = seq;
        return std::optional<DlqEntry>(std::move(*e));
    }

    // The first entry at or after `seq` on a subject matching `filter` (wildcards allowed):
    // one direct get, however wide the gap.
    Result<std::optional<DlqEntry>> next(uint64_t seq, const std::string& filter) const {
        jsDirectGetMsgOptions o;
        jsDirectGetMsgOptions_Init(&o);
        o.Sequence = seq;
        o.NextBySubject = filter.c_str();
        natsMsg* raw = nullptr;
        natsStatus s = js_DirectGetMsg(&raw, js_, name_.c_str(), nullptr, &o);
        if (s == NATS_NOT_FOUND) return std::optional<DlqEntry>();
        if (s != NATS_OK) return nats_error(s);
        NatsMsg msg(raw);
        auto e = to_entry(msg.get(), true);
        if (!e) return e.error();
        return std::optional<DlqEntry>(std::move(*e));
    }

    // Calls fn(entry) for each entry matching `filter` that existed when the walk began:
    // entries added meanwhile (a replayed event failing again) wait for the next run.
    template <typename Fn>
    Result<void> for_each(const std::string& filter, Fn&& fn) const {
        auto status = stream_status(js_, name_);
        if (!status) return status.error();
        uint64_t seq = std::max<uint64_t>(status->first_seq, 1);
        while (seq <= status->last_seq) {
            auto e = next(seq, filter);
            if (!e) return e.error();
            if (!*e || (*e)->seq > status->last_seq) break;
            seq = (*e)->seq + 1;
            fn(**e);
        }
        return {};
    }

    Result<void> remove(uint64_t seq) const {
        jsErrCode jerr = static_cast<jsErrCode>(0);
        natsStatus s = js_DeleteMsg(js_, name_.c_str(), seq, nullptr, &jerr);
        if (s != NATS_OK) return nats_error(s, &jerr);
        return {};
    }

private:
    jsCtx* js_;
    std::string name_;
};

std::string subject_filter(const std::string& binding) {
    return fmt::format("{}.{}>", kDlqPrefix, binding.empty() ? "" : binding + ".");
}

// --binding becomes a subject token (dlq.<binding>.>): a wildcard or a dot in it would widen
// the filter to other bindings' entries, and a purge would remove them.
bool check_binding(const DlqOptions& o, const Console& console) {
    if (o.binding.empty()) return true;
    std::string problem = subject_token_problem(o.binding);
    if (problem.empty()) return true;
    console.err << "--binding " << problem << '\n';
    return false;
}

struct DlqSession {
    Session session;
    DlqStream stream;
};

DlqSession open_dlq(const DlqOptions& o, std::string_view client_name) {
    Session session = open_session(o.config, client_name);
    // Creates DLQ on a fresh server, so an empty one lists as empty instead of failing.
    ensure_stream(session.nats.js(), session.config.dlq);
    DlqStream stream(session.nats.js(), session.config.dlq.name);
    return DlqSession{std::move(session), std::move(stream)};
}

json count_or_null(const std::string& text) {
    auto n = parse_count(text);
    return n ? json(*n) : json(nullptr);
}

std::string decoded_attribute(const DlqEntry& e, std::string_view header) {
    auto v = decode_header_value(e.header(header));
    return v ? *v : std::string();
}

json entry_summary(const DlqEntry& e) {
    return json{{"seq", e.seq},
                {"subject", e.subject},
                {"binding", e.binding()},
                {"reason", e.header(dl::kDlqReason)},
                {"attempts", count_or_null(e.header(dl::kDlqAttempts))},
                {"originalSubject", e.header(dl::kDlqOriginalSubject)},
                {"failedAt", e.header(dl::kDlqFailedAt)},
                {"firstFailedAt", e.header(dl::kDlqFirstFailedAt)},
                {"replays", count_or_null(e.header(dl::kDlqReplays))},
                {"plugin", e.header(dl::kDlqPlugin)},
                {"error", e.header(dl::kDlqError)},
                {"id", decoded_attribute(e, "ce-id")},
                {"type", decoded_attribute(e, "ce-type")}};
}

std::vector<std::string> table_row(const json& s) {
    auto text = [&](const char* key) { return printable(s[key].get<std::string>()); };
    auto number = [&](const char* key) {
        return s[key].is_null() ? std::string("?") : std::to_string(s[key].get<uint64_t>());
    };
    return {std::to_string(s["seq"].get<uint64_t>()),
            text("binding"),
            text("reason"),
            number("attempts"),
            text("originalSubject"),
            text("failedAt"),
            truncated(text("error"), kListErrorBytes)};
}

void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> width(rows.front().size(), 0);
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    }
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
        }
        out << line << '\n';
    }
}

Headers without_dlq_headers(const Headers& headers) {
    Headers out;
    for (const auto& [name, value] : headers) {
        if (!is_dlq_header(name)) out.emplace_back(name, value);
    }
    return out;
}

// The event the entry holds, as `dlq show` prints it; an entry dead-lettered as invalid may
// hold none, and then says why and shows the raw body instead.
json show_json(const DlqEntry& e) {
    json headers = json::array();
    for (const auto& [name, value] : e.headers) headers.push_back({name, value});
    json j{{"seq", e.seq}, {"subject", e.subject}, {"headers", std::move(headers)}};
    auto event = decode(without_dlq_headers(e.headers), e.body);
    if (event) {
        j["event"] = event_to_json(*event);
    } else {
        j["event"] = nullptr;
        j["decodeError"] = event.error().what;
        j["bodyBase64"] = base64_encode(e.body);
    }
    return j;
}

void print_show_text(std::ostream& out, const DlqEntry& e, const json& shown) {
    out << "DLQ entry " << e.seq << " on " << printable(e.subject) << '\n' << "headers:\n";
    for (const auto& [name, value] : e.headers) {
        out << "  " << printable(name) << ": " << printable(value) << '\n';
    }
    if (!shown["event"].is_null()) {
        out << "event:\n" << dump(shown["event"], 2) << '\n';
        return;
    }
    out << "event: cannot be decoded: " << shown["decodeError"].get<std::string>() << '\n';
    if (auto text = as_json_string(e.body)) {
        out << "body (" << e.body.size() << " bytes): " << *text << '\n';
    } else {
        out << "body (" << e.body.size() << " bytes, base64): " << base64_encode(e.body) << '\n';
    }
}

// The original message as the binding first received it: every original header, minus the
// DLQ's own, except the three that let a second failure accumulate counts on the first.
Headers replay_headers(const DlqEntry& e, const std::string& binding,
                       const std::string& original_subject, uint64_t replays) {
    Headers out;
    for (const auto& [name, value] : e.headers) {
        if (is_dlq_header(name) || same_name(name, "Nats-Msg-Id") ||
            same_name(name, dl::kReplayBinding)) {
            continue;
        }
        out.emplace_back(name, value);
    }
    out.emplace_back(dl::kDlqReplays, std::to_string(replays));
    std::string first = e.header(dl::kDlqFirstFailedAt);
    if (!first.empty()) out.emplace_back(dl::kDlqFirstFailedAt, first);
    out.emplace_back(dl::kDlqOriginalSubject, original_subject);
    out.emplace_back(dl::kReplayBinding, binding);
    return out;
}

// Publishes the entry back to its original subject for its binding alone, then deletes it.
// The Nats-Msg-Id names this entry: the original id would be dropped as a duplicate inside
// the stream's window, and a duplicate acknowledgement of this one means the entry was
// already replayed, so it fails and the entry stays.
Result<std::string> replay_entry(const Session& session, const DlqStream& dlq, const DlqEntry& e) {
    std::string binding = e.header(dl::kDlqBinding);
    std::string original = e.header(dl::kDlqOriginalSubject);
    if (binding.empty() || original.empty()) {
        return make_error(fmt::format("entry {} not replayed: it has no {} or no {} header", e.seq,
                                      dl::kDlqBinding, dl::kDlqOriginalSubject));
    }
    if (!is_valid_subject(original) || !is_valid_subject_token(binding)) {
        return make_error(
            fmt::format("entry {} not replayed: its binding or original subject "
                        "is not a valid subject",
                        e.seq));
    }
    uint64_t replays = parse_count(e.header(dl::kDlqReplays)).value_or(0) + 1;
    std::string msg_id = fmt::format("replay:{}:{}", e.seq, binding);
    auto ack = session.nats.js_publish_ack(original, replay_headers(e, binding, original, replays),
                                           e.body, msg_id);
    if (!ack) return make_error(fmt::format("entry {} not replayed: {}", e.seq, ack.error().what));
    if (ack->duplicate) {
        return make_error(fmt::format(
            "entry {} not replayed: stream {} already holds Nats-Msg-Id {} (sequence {}), so "
            "the publish was dropped as a duplicate; the entry stays in {}",
            e.seq, ack->stream, msg_id, ack->seq, dlq.name()));
    }
    if (auto removed = dlq.remove(e.seq); !removed) {
        return make_error(
            fmt::format("entry {} replayed to {} ({} sequence {}) but not removed from {}: {}",
                        e.seq, original, ack->stream, ack->seq, dlq.name(), removed.error().what));
    }
    return fmt::format("replayed entry {} to {} for binding {} ({} sequence {}, replay {})", e.seq,
                       original, binding, ack->stream, ack->seq, replays);
}

int replay_one(const DlqOptions& o, const Console& console, const DlqSession& d) {
    auto entry = d.stream.at(o.seq);
    if (!entry) {
        console.err << "dlq replay: cannot read entry " << o.seq << ": " << entry.error().what
                    << '\n';
        return 1;
    }
    if (!*entry) {
        console.err << "no DLQ entry with sequence " << o.seq << '\n';
        return 1;
    }
    const DlqEntry& e = **entry;
    if (!o.binding.empty() && e.binding() != o.binding) {
        console.err << "entry " << o.seq << " belongs to binding " << printable(e.binding())
                    << ", not " << o.binding << '\n';
        return 1;
    }
    auto done = replay_entry(d.session, d.stream, e);
    if (!done) {
        console.err << done.error().what << '\n';
        return 1;
    }
    console.out << *done << '\n';
    return 0;
}

int replay_all(const DlqOptions& o, const Console& console, const DlqSession& d) {
    auto start = Clock::now();
    Progress progress(console);
    uint64_t replayed = 0, failed = 0;
    auto walked = d.stream.for_each(subject_filter(o.binding), [&](const DlqEntry& e) {
        if (auto done = replay_entry(d.session, d.stream, e); done) {
            ++replayed;
        } else {
            progress.clear();
            console.err << done.error().what << '\n';
            ++failed;
        }
        progress.update([&] { return fmt::format("replayed {}, failed {}", replayed, failed); });
    });
    progress.clear();
    if (!walked) {
        console.err << "dlq replay: reading " << d.stream.name()
                    << " failed: " << walked.error().what << '\n';
        ++failed;
    }
    console.out << fmt::format("replayed {}, {} failed in {}",
                               count_of(replayed, "entry", "entries"), failed, seconds_since(start))
                << '\n';
    return failed == 0 ? 0 : 1;
}

// The purge API answers with how many messages it removed; nats.c's js_PurgeStream drops
// that number, so the request is made here. Counting before and after instead would be
// wrong whenever the host dead-letters something in between.
Result<uint64_t> purge(const Session& session, const std::string& stream,
                       const std::string& filter) {
    std::string subject = "$JS.API.STREAM.PURGE." + stream;
    std::string body = json{{"filter", filter}}.dump();
    natsMsg* raw = nullptr;
    natsStatus s = natsConnection_Request(&raw, session.nats.connection(), subject.c_str(),
                                          body.data(), static_cast<int>(body.size()),
                                          session.config.nats.request_timeout.count());
    if (s != NATS_OK) return nats_error(s);
    NatsMsg reply(raw);
    const char* data = natsMsg_GetData(reply.get());
    auto answer = json::parse(data, data + natsMsg_GetDataLength(reply.get()), nullptr, false);
    if (!answer.is_object()) return make_error("the server's answer is not a JSON object");
    if (answer.contains("error")) {
        return make_error("the server refused: " + dump(answer["error"], -1));
    }
    if (!answer.value("success", false)) return make_error("the server did not confirm it");
    return answer.value("purged", uint64_t{0});
}

}  // namespace

int dlq_list(const DlqOptions& o, const Console& console) {
    if (!check_binding(o, console)) return 2;
    DlqSession d = open_dlq(o, "dlq-list");
    json summaries = json::array();
    auto walked = d.stream.for_each(subject_filter(o.binding), [&](const DlqEntry& e) {
        summaries.push_back(entry_summary(e));
    });
    if (!walked) {
        console.err << "dlq list: reading " << d.stream.name() << " failed: " << walked.error().what
                    << '\n';
        return 1;
    }
    if (o.json) {
        console.out << dump(summaries, 2) << '\n';
    } else if (summaries.empty()) {
        console.out << "no DLQ entries" << (o.binding.empty() ? "" : " for binding " + o.binding)
                    << '\n';
    } else {
        std::vector<std::vector<std::string>> rows = {
            {"SEQ", "BINDING", "REASON", "ATTEMPTS", "SUBJECT", "FAILED AT", "ERROR"}};
        for (const auto& s : summaries) rows.push_back(table_row(s));
        print_table(console.out, rows);
    }
    return 0;
}

int dlq_show(const DlqOptions& o, const Console& console) {
    DlqSession d = open_dlq(o, "dlq-show");
    auto entry = d.stream.at(o.seq);
    if (!entry) {
        console.err << "dlq show: cannot read entry " << o.seq << ": " << entry.error().what
                    << '\n';
        return 1;
    }
    if (!*entry) {
        console.err << "no DLQ entry with sequence " << o.seq << '\n';
        return 1;
    }
    json shown = show_json(**entry);
    if (o.json) {
        console.out << dump(shown, 2) << '\n';
    } else {
        print_show_text(console.out, **entry, shown);
    }
    return 0;
}

int dlq_replay(const DlqOptions& o, const Console& console) {
    if (!check_binding(o, console)) return 2;
    if (o.all == (o.seq != 0)) {
        console.err << "dlq replay: give a DLQ sequence or --all\n";
        return 2;
    }
    DlqSession d = open_dlq(o, "dlq-replay");
    // The original subjects belong to EVENTS: a fresh server may not have it yet.
    ensure_stream(d.session.nats.js(), d.session.config.events);
    return o.all ? replay_all(o, console, d) : replay_one(o, console, d);
}

int dlq_purge(const DlqOptions& o, const Console& console) {
    if (!check_binding(o, console)) return 2;
    DlqSession d = open_dlq(o, "dlq-purge");
    auto removed = purge(d.session, d.stream.name(), subject_filter(o.binding));
    if (!removed) {
        console.err << "dlq purge: " << d.stream.name() << " not purged: " << removed.error().what
                    << '\n';
        return 1;
    }
    console.out << "removed " << count_of(*removed, "entry", "entries")
                << (o.binding.empty() ? "" : " of binding " + o.binding) << " from "
                << d.stream.name() << '\n';
    return 0;
}

int dlq_list(const DlqOptions& o) { return dlq_list(o, Console::standard()); }
int dlq_show(const DlqOptions& o) { return dlq_show(o, Console::standard()); }
int dlq_replay(const DlqOptions& o) { return dlq_replay(o, Console::standard()); }
int dlq_purge(const DlqOptions& o) { return dlq_purge(o, Console::standard()); }

}  // namespace bb::cli
