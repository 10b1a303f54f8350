// `broker-bridge publish`: domain events from a .jsonl file (or one from the command line)
// into the EVENTS stream.
#include "broker-bridge/cli/commands.hpp"

#include "broker-bridge/cli/console.hpp"
#include "broker-bridge/envelope.hpp"
#include "broker-bridge/time_text.hpp"
#include "broker-bridge/nats_handles.hpp"
#include "broker-bridge/provisioner.hpp"
#include "handlers/dead_letter.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <istream>
#include <limits>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace bb::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxLineBytes = 1024 * 1024;
// In flight at once: enough to keep the server busy (JETSTREAM-NOTES.md measured ~80-100k
// events/s with a window of 4,096), few enough that a stalled server is noticed quickly.
constexpr int64_t kMaxPendingAcks = 4096;
// Lines may be 1 MB each: 4,096 of them in flight would hold 4 GB, so bytes are capped too.
constexpr std::size_t kMaxPendingBytes = 64 * 1024 * 1024;
// How often the file loop prints acknowledgement failures reported on the nats.c thread.
constexpr uint64_t kFailureFlushLines = 1024;

struct PublishCounts {
    uint64_t published = 0;   // newly stored
    uint64_t duplicates = 0;  // acknowledged as already stored (same Nats-Msg-Id in the window)
    uint64_t failed = 0;      // refused by the server or never acknowledged
};

// Publishes through nats.c's asynchronous JetStream API and counts acknowledgements as they
// arrive: one synchronous round trip per event would cap a file near 5k events/s. Driven
// from one thread; nats.c calls on_ack on its own thread, which touches only the members
// under mu_. Every message handed to nats.c is settled (acknowledged, refused or counted as
// unacknowledged) before finish() returns.
class AsyncPublisher {
public:
    AsyncPublisher(natsConnection* nc, Millis ack_wait) : ack_wait_(ack_wait) {
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.Wait = ack_wait.count();
        jo.PublishAsync.MaxPending = kMaxPendingAcks;
        jo.PublishAsync.StallWait = ack_wait.count();
        jo.PublishAsync.AckHandler = &AsyncPublisher::on_ack;
        jo.PublishAsync.AckHandlerClosure = this;
        jsCtx* raw = nullptr;
        natsStatus s = natsConnection_JetStream(&raw, nc, &jo);
        if (s != NATS_OK) {
            throw StartupError("nats: cannot create a JetStream context: " + nats_error(s).what);
        }
        js_.reset(raw);
    }
    AsyncPublisher(const AsyncPublisher&) = delete;
    AsyncPublisher& operator=(const AsyncPublisher&) = delete;
    ~AsyncPublisher() { finish(); }

    // Hands one message to nats.c. An error means it was not sent; the caller reports it.
    Result<void> send(const WireMessage& m, uint64_t line) {
        natsMsg* raw = nullptr;
        natsStatus s = natsMsg_Create(&raw, m.subject.c_str(), nullptr, m.body.data(),
                                      static_cast<int>(m.body.size()));
        if (s != NATS_OK) return nats_error(s);
        NatsMsg msg(raw);
        if (auto added = add_headers(msg.get(), m.headers); !added) return added.error();
        std::size_t bytes = m.body.size() + m.subject.size();
        if (!wait_for_room(bytes)) {
            return make_error(
                fmt::format("not sent: no acknowledgement arrived for {} ms", ack_wait_.count()));
        }
        // Registered before sending: the acknowledgement may arrive before the call returns.
        track(msg.get(), line, bytes);
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = ack_wait_.count();
        natsMsg* handed = msg.release();
        s = js_PublishMsgAsync(js_.get(), &handed, &po);
        if (s == NATS_OK) return {};  // nats.c owns it now and gives it back in on_ack
        Error e = nats_error(s);
        untrack(handed);
        natsMsg_Destroy(handed);
        return e;
    }

    // Waits for every acknowledgement; messages still unacknowledged after the wait count as
    // failed. Idempotent.
    void finish() {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = ack_wait_.count();
        if (js_PublishAsyncComplete(js_.get(), &po) == NATS_OK) return;
        NatsMsgList pending;
        if (js_PublishAsyncGetPendingList(pending.get(), js_.get()) == NATS_OK) {
            for (natsMsg* m : pending) {
                settle_failed(m, fmt::format("no acknowledgement within {} ms", ack_wait_.count()));
            }
        }
        // An acknowledgement taken off the list just before it was read is still being
        // handled; nats.c counts it until on_ack returns.
        (void)js_PublishAsyncComplete(js_.get(), &po);
    }

    PublishCounts counts() const {
        std::lock_guard lock(mu_);
        return counts_;
    }

    // The acknowledgement failures reported since the last call, "line N: why".
    std::vector<std::string> take_failures() {
        std::lock_guard lock(mu_);
        return std::exchange(failures_, {});
    }

private:
    struct InFlight {
        uint64_t line = 0;
        std::size_t bytes = 0;
    };

    static void on_ack(jsCtx* /*js*/, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
        auto* self = static_cast<AsyncPublisher*>(closure);
        if (pa != nullptr) {
            self->settle_acked(msg, pa->Duplicate);
        } else {
            std::string why = "no acknowledgement";
            if (pae != nullptr) {
                why = (pae->ErrText != nullptr && *pae->ErrText != '\0')
                          ? pae->ErrText
                          : natsStatus_GetText(pae->Err);
                if (pae->ErrCode != 0) why += fmt::format(" (jetstream error {})", pae->ErrCode);
            }
            self->settle_failed(msg, "refused: " + why);
        }
        natsMsg_Destroy(msg);
    }

    bool wait_for_room(std::size_t bytes) {
        std::unique_lock lock(mu_);
        return room_.wait_for(lock, ack_wait_, [&] {
            return in_flight_.empty() || pending_bytes_ + bytes <= kMaxPendingBytes;
        });
    }

    void track(natsMsg* m, uint64_t line, std::size_t bytes) {
        std::lock_guard lock(mu_);
        in_flight_[m] = InFlight{line, bytes};
        pending_bytes_ += bytes;
    }

    std::optional<InFlight> untrack_locked(natsMsg* m) {
        auto it = in_flight_.find(m);
        if (it == in_flight_.end()) return std::nullopt;
        InFlight f = it->second;
        in_flight_.erase(it);
        pending_bytes_ -= f.bytes;
        room_.notify_all();
        return f;
    }

    void untrack(natsMsg* m) {
        std::lock_guard lock(mu_);
        (void)untrack_locked(m);
    }

    void settle_acked(natsMsg* m, bool duplicate) {
        std::lock_guard lock(mu_);
        (void)untrack_locked(m);
        ++(duplicate ? counts_.duplicates : counts_.published);
    }

    void settle_failed(natsMsg* m, const std::string& why) {
        std::lock_guard lock(mu_);
        auto f = untrack_locked(m);
        ++counts_.failed;
        failures_.push_back(f ? fmt::format("line {}: {}", f->line, why) : why);
    }

    Millis ack_wait_;
    mutable std::mutex mu_;
    std::condition_variable room_;
    std::unordered_map<natsMsg*, InFlight> in_flight_;
    std::size_t pending_bytes_ = 0;
    PublishCounts counts_;
    std::vector<std::string> failures_;
    JsCtx js_;  // last: destroyed first, after finish() has settled every message
};

// Reads lines of at most `max` bytes without ever holding more: a longer line is skipped to
// its end and reported, so one bad line costs neither memory nor the lines after it.
class LineReader {
public:
    struct Line {
        uint64_t number = 0;
        std::string_view text;  // without the line end; valid until the next call
        bool too_long = false;
    };

    LineReader(std::istream& in, std::size_t max) : in_(in), max_(max), buf_(max + 2, '\0') {}

    std::optional<Line> next() {
        if (!in_.good()) return std::nullopt;
        in_.getline(buf_.data(), static_cast<std::streamsize>(buf_.size()));
        auto extracted = static_cast<std::size_t>(in_.gcount());
        if (extracted == 0 && in_.eof()) return std::nullopt;
        Line line;
        line.number = ++number_;
        if (in_.fail() && !in_.eof() && !in_.bad()) {
            // getline filled the buffer without reaching the line end.
            in_.clear();
            in_.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
            line.too_long = true;
            return line;
        }
        // gcount() counts the '\n' getline consumed; a last line without one ends at EOF.
        std::string_view text(buf_.data(), in_.eof() ? extracted : extracted - 1);
        if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
        line.too_long = text.size() > max_;
        line.text = text;
        return line;
    }

    bool failed() const { return in_.bad(); }
    uint64_t lines_read() const { return number_; }

private:
    std::istream& in_;
    std::size_t max_;
    std::vector<char> buf_;
    uint64_t number_ = 0;
};

bool is_blank(std::string_view text) {
    return text.find_first_not_of(" \t\r\f\v") == std::string_view::npos;
}

DataFormat data_format(const PublishOptions& o) {
    return o.json_data ? DataFormat::kJson : DataFormat::kMsgpack;
}

// CloudEvents requires a source: an event that names none is stamped with --source, the
// producer this tool stands in for.
void default_source(nlohmann::json& event, const std::string& source) {
    if (!event.is_object()) return;
    auto& metadata = event["metadata"];
    if (metadata.is_null()) metadata = nlohmann::json::object();
    if (!metadata.is_object()) return;  // event_from_json says what is wrong with it
    auto it = metadata.find("source");
    if (it == metadata.end() || it->is_null()) metadata["source"] = source;
}

// One line of the input shape to the message that carries it.
Result<WireMessage> wire_from_line(std::string_view text, const PublishOptions& o) {
    // Checked without building anything first, so a deeply nested line is refused before the
    // recursive steps below see it: one level for the event object, the rest for its data.
    if (auto ok = check_json_text(text, kMaxDataDepth + 1); !ok) return ok.error();
    auto event_json = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
    if (event_json.is_discarded()) return make_error("JSON text is not valid");
    default_source(event_json, o.source);
    auto event = event_from_json(event_json, data_format(o));
    if (!event) return event.error();
    return encode(*event);
}

std::string summary(const PublishCounts& c, Clock::time_point start) {
    return fmt::format(
        "published {}, {}, {} failed in {}", count_of(c.published, "event", "events"),
        count_of(c.duplicates, "duplicate", "duplicates"), c.failed, seconds_since(start));
}

struct FileRun {
    const Console& console;
    Progress progress;
    AsyncPublisher publisher;
    uint64_t refused = 0;  // lines that were not sent at all

    void report(uint64_t line, std::string_view why) {
        progress.clear();
        console.err << "line " << line << ": " << why << '\n';
        ++refused;
    }

    void flush_failures() {
        auto failures = publisher.take_failures();
        if (failures.empty()) return;
        progress.clear();
        for (const auto& f : failures) console.err << f << '\n';
    }

    PublishCounts counts() const {
        PublishCounts c = publisher.counts();
        c.failed += refused;
        return c;
    }
};

void publish_lines(std::istream& in, const PublishOptions& o, FileRun& run) {
    LineReader reader(in, kMaxLineBytes);
    while (auto line = reader.next()) {
        if (line->too_long) {
            run.report(line->number, fmt::format("longer than {} bytes", kMaxLineBytes));
        } else if (!is_blank(line->text)) {
            auto wire = wire_from_line(line->text, o);
            if (!wire) {
                run.report(line->number, wire.error().what);
            } else if (auto sent = run.publisher.send(*wire, line->number); !sent) {
                run.report(line->number, sent.error().what);
            }
        }
        if (line->number % kFailureFlushLines == 0) run.flush_failures();
        run.progress.update([&] {
            auto c = run.counts();
            return fmt::format("line {}: {} published, {} duplicates, {} failed", line->number,
                               c.published, c.duplicates, c.failed);
        });
    }
    if (reader.failed()) {
        run.progress.clear();
        run.console.err << "publish: reading " << o.file << " failed after line "
                        << reader.lines_read() << '\n';
        ++run.refused;
    }
}

int publish_file(const PublishOptions& o, const Console& console, const Session& session) {
    std::ifstream file;
    std::istream* in = &std::cin;
    if (o.file != "-") {
        file.open(o.file, std::ios::binary);
        if (!file) {
            console.err << "publish: cannot open " << o.file << '\n';
            return 2;
        }
        in = &file;
    }
    auto start = Clock::now();
    FileRun run{console, Progress(console),
                AsyncPublisher(session.nats.connection(), session.config.nats.request_timeout)};
    publish_lines(*in, o, run);
    run.publisher.finish();
    run.flush_failures();
    run.progress.clear();
    PublishCounts c = run.counts();
    console.out << summary(c, start) << '\n';
    return c.failed == 0 ? 0 : 1;
}

std::string random_uuid() {
    std::random_device seed;
    std::mt19937_64 rng((static_cast<uint64_t>(seed()) << 32) ^ seed());
    uint64_t hi = rng(), lo = rng();
    hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
    lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // RFC 4122 variant
    return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xFFFF,
                       hi & 0xFFFF, lo >> 48, lo & 0xFFFFFFFFFFFFULL);
}

// The single event of --type, --aggregate-type, --aggregate-id and --data, in the input
// shape, so it passes the same checks as a line of a file.
Result<WireMessage> wire_from_options(const PublishOptions& o) {
    if (auto ok = check_json_text(o.data, kMaxDataDepth); !ok) {
        return make_error("--data: " + ok.error().what);
    }
    auto data = nlohmann::json::parse(o.data, nullptr, false);
    if (data.is_discarded()) return make_error("--data: JSON text is not valid");
    nlohmann::json metadata = {{"source", o.source}, {"timestamp", rfc3339_now()}};
    if (!o.user_id.empty()) metadata["userId"] = o.user_id;
    nlohmann::json event = {{"id", o.id.empty() ? random_uuid() : o.id},
                            {"type", o.type},
                            {"aggregateType", o.aggregate_type},
                            {"aggregateId", o.aggregate_id},
                            {"data", std::move(data)},
                            {"metadata", std::move(metadata)}};
    auto e = event_from_json(event, data_format(o));
    if (!e) return e.error();
    return encode(*e);
}

int publish_one(const PublishOptions& o, const Console& console, const Session& session) {
    auto wire = wire_from_options(o);
    if (!wire) {
        console.err << "publish: " << wire.error().what << '\n';
        return 2;
    }
    const std::string& id = *find_header(wire->headers, "Nats-Msg-Id");
    // Nats-Msg-Id is among the encoded headers already.
    auto ack = session.nats.js_publish_ack(wire->subject, wire->headers, wire->body, "");
    if (!ack) {
        console.err << "publish: event " << id << " not published: " << ack.error().what << '\n';
        return 1;
    }
    if (ack->duplicate) {
        console.out << "event " << id << " is already in " << ack->stream << " at sequence "
                    << ack->seq << " (duplicate, not stored again)\n";
    } else {
        console.out << "published event " << id << " to " << wire->subject << " (" << ack->stream
                    << " sequence " << ack->seq << ")\n";
    }
    return 0;
}

}  // namespace

int publish(const PublishOptions& o, const Console& console) {
    Session session = open_session(o.config, "publish");
    // A fresh server has no EVENTS stream yet: without it every publish would go unanswered.
    ensure_stream(session.nats.js(), session.config.events);
    if (o.file.empty()) return publish_one(o, console, session);
    return publish_file(o, console, session);
}

int publish(const PublishOptions& o) { return publish(o, Console::standard()); }

}  // namespace bb::cli
