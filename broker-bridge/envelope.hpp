#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "broker-bridge/result.hpp"

// The event envelope: a CloudEvents 1.0 event in the binary content mode of the CloudEvents
// NATS protocol binding (attributes as percent-encoded `ce-` headers, data as the body), and
// the structured mode (`Content-Type: application/cloudevents+json`) on the reading side.
//
// Everything here is a pure function of its arguments: no state, safe from any thread.
// Every value that arrives from outside is checked before it becomes part of a subject or a
// header, and error texts never carry more than a short, escaped preview of a bad value, so
// they are safe to log and to copy into a header (Bridge-Dlq-Error).
namespace bb {

enum class DataFormat { kMsgpack, kJson };
using HeaderList = std::vector<std::pair<std::string, std::string>>;  // wire order kept

struct Event {
    std::string id, type, source, subject /* aggregate id */, time /* RFC 3339 */;
    std::string aggregate_type, correlation_id, causation_id, user_id, data_version;
    DataFormat format = DataFormat::kMsgpack;
    std::string data;          // the body bytes exactly as on the wire (msgpack or JSON text)
    std::string traceparent;   // W3C trace context, passed through untouched
    HeaderList extra_headers;  // every other header, passed through (names as received)

    friend bool operator==(const Event&, const Event&) = default;
};

struct WireMessage {
    std::string subject;  // events.<aggregate type lower-case>.<event type>
    HeaderList headers;   // Nats-Msg-Id, ce-*, traceparent, extras
    std::string body;
};

// Containers nested deeper than this are refused in event data (msgpack and JSON alike), so
// recursive code that walks the data (ours, plugins') has a known stack bound.
inline constexpr std::size_t kMaxDataDepth = 64;
// A subject token longer than this is refused: ids and type names are far shorter, and NATS
// parses a PUB line (subject included) against a 4 KiB control-line limit.
inline constexpr std::size_t kMaxSubjectTokenBytes = 256;
inline constexpr std::size_t kMaxSubjectBytes = 1024;
// The event id is copied unencoded into Nats-Msg-Id, so it is held to printable ASCII.
inline constexpr std::size_t kMaxEventIdBytes = 256;

inline constexpr std::string_view kContentTypeMsgpack = "application/msgpack";
inline constexpr std::string_view kContentTypeJson = "application/json";
inline constexpr std::string_view kContentTypeStructured = "application/cloudevents+json";

// One subject token: non-empty, at most kMaxSubjectTokenBytes, no '.', '*', '>', white space
// (ASCII and Unicode), control characters (C0, DEL, C1), and valid UTF-8. Used everywhere a
// value from outside becomes part of a subject.
bool is_valid_subject_token(std::string_view token);
// The reason a token is refused ("contains '.' at byte 3"), empty when it is valid.
std::string subject_token_problem(std::string_view token);
// Whole subject: dot-separated valid tokens (no wildcards), at most kMaxSubjectBytes.
bool is_valid_subject(std::string_view subject);

// Header value check. Refuses every control character (0x00-0x1F, 0x7F), tab included: none
// of our own values needs one, and NATS clients trim or fold tabs like other white space, so
// a tab-bearing value would not reach the other side byte for byte. Also refuses leading and
// trailing spaces (RFC 7230 field values exclude surrounding white space, parsers strip it)
// and invalid UTF-8. An empty value is valid.
bool is_valid_header_value(std::string_view value);
// An RFC 7230 token: the characters a header name may use.
bool is_valid_header_name(std::string_view name);

// Percent-encoding of ce- header values as the CloudEvents NATS binding prescribes (its
// HTTP-binding rules): space, '"', '%' and every byte outside printable ASCII 0x21-0x7E
// become %XX (upper-case hex) of the UTF-8 bytes. decode is the inverse: it accepts
// needlessly encoded and lower-case escapes, refuses a malformed '%' and a result that is
// not valid UTF-8 (overlong forms included).
std::string percent_encode(std::string_view value);
Result<std::string> percent_decode(std::string_view value);
// What a receiver does with a ce- header value: undo an RFC 7230 quoted string (values from
// older senders), then one round of percent_decode.
Result<std::string> decode_header_value(std::string_view value);
// The same into `out`, whose storage is reused (its content is undefined after an error).
Result<void> decode_header_value_into(std::string_view value, std::string& out);

// RFC 3339 date-time: 2026-11-30T08:00:00.015Z, with an offset or Z, fraction optional.
bool is_valid_rfc3339(std::string_view time);

// The ce-datacontenttype value for a format, and the format for a media type
// (application/json, *+json, application/msgpack, application/x-msgpack; parameters ignored).
std::string_view content_type(DataFormat format);
Result<DataFormat> parse_content_type(std::string_view media_type);

// The first header whose name matches case-insensitively (NATS header names are), or null.
const std::string* find_header(const HeaderList& headers, std::string_view name);

Result<std::string> event_subject(const Event& e, std::string_view prefix = "events");
// Checks every attribute, the extra headers and the data; the same rules encode applies.
Result<void> validate_event(const Event& e);
// Validates required attributes (id, type, source, subject, aggregate_type; time if set must
// be RFC 3339), the tokens that go into the subject, header values, and that the data is
// well-formed in its format; builds headers: Nats-Msg-Id=id, ce-specversion=1.0, ce-id,
// ce-type, ce-source, ce-time, ce-subject, ce-aggregatetype, ce-correlationid,
// ce-causationid, ce-userid, ce-dataversion (only the set ones), ce-datacontenttype,
// traceparent, extras.
Result<WireMessage> encode(const Event& e, std::string_view prefix = "events");
// Reads binary mode (ce- headers, body = data) and structured mode (Content-Type:
// application/cloudevents+json, body = the whole CloudEvent JSON with a `data` member, or
// `data_base64`; a `data` member under a msgpack datacontenttype is packed into msgpack).
// Applies validate_event; errors say which attribute or header and why.
// Nats-Msg-Id is not kept (encode derives it from the id); a DLQ copy carries its own.
// Other headers land in extra_headers as received; in structured mode, extension
// attributes become ce-<name> extra headers, percent-encoded.
Result<Event> decode(const HeaderList& headers, std::string_view body);
// decode into an event whose strings keep their storage, for a caller that decodes one
// event after another (the handler host); `out` is undefined after an error.
Result<void> decode_into(const HeaderList& headers, std::string_view body, Event& out);

// Data conversions. msgpack input is bounded before anything is allocated: every declared
// array or map length must be backed by input bytes, nesting is capped at kMaxDataDepth,
// exactly one object must fill the input. JSON output needs string map keys, valid UTF-8
// strings, finite floats, and no bin/ext values (JSON cannot hold them).
Result<std::string> data_as_json(const Event& e);  // compact JSON text of the data
Result<std::string> json_to_msgpack(const nlohmann::json& v);
Result<nlohmann::json> msgpack_to_json(std::string_view bytes);
// The same value as compact JSON text (what msgpack_to_json(...)->dump() gives), written
// straight from the msgpack without building a json value; the same errors.
Result<std::string> msgpack_to_json_text(std::string_view bytes);
// Empty data (an event without data) reads as JSON null.
Result<nlohmann::json> data_as_json_value(const Event& e);
// Well-formedness of data in its format without building a value (no allocation per node).
Result<void> check_msgpack(std::string_view bytes);
Result<void> check_json_text(std::string_view text, std::size_t max_depth = kMaxDataDepth);

// The publish input shape, one JSON object per line of a .jsonl file:
// {id, type, aggregateId, aggregateType, data, metadata: {userId, correlationId, timestamp,
//  source, version, causationId}}. data is encoded in `format`; version becomes data_version
// (as text); timestamp becomes time. Errors name the field (metadata.timestamp: ...).
Result<Event> event_from_json(const nlohmann::json& obj, DataFormat format);
// Event -> a JSON object in the CloudEvents JSON format: the attributes, `data` as JSON (or
// `data_base64` with the raw bytes when the data has no JSON form) and, when there are any,
// `headers` as [[name, value], ...] (for dlq show / --json). Without extra headers the
// result is a structured-mode body that decode reads back.
nlohmann::json event_to_json(const Event& e);

std::string base64_encode(std::string_view bytes);
Result<std::string> base64_decode(std::string_view text);  // RFC 4648, padding required

}  // namespace bb
