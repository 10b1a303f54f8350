// The envelope decoder: NATS headers and bodies as they arrive from the stream, MessagePack
// and JSON data with hostile lengths and nesting, and the header value codecs. The first
// byte chooses the entry point:
//   'h'  "Name: value" lines, an empty line, then the body: bb::decode, and a decoded event
//        must encode and decode back to itself
//   'm'  MessagePack data: check_msgpack and msgpack_to_json agree, JSON goes back to msgpack
//   'j'  JSON text: check_json_text and the JSON parser agree
//   'p'  a ce- header value: decode_header_value, then percent_encode undoes it
//   '6'  base64: decode, then encode gives the input back
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "broker-bridge/envelope.hpp"
#include "fuzz/fuzz_check.hpp"

namespace {

// Splits "Name: value\n..." up to the first empty line; the rest is the body.
bb::HeaderList read_headers(std::string_view& input) {
    bb::HeaderList headers;
    while (!input.empty()) {
        size_t end = input.find('\n');
        std::string_view line = input.substr(0, end);
        input = end == std::string_view::npos ? std::string_view{} : input.substr(end + 1);
        if (line.empty()) break;
        size_t colon = line.find(':');
        std::string_view name = line.substr(0, colon);
        std::string_view value;
        if (colon != std::string_view::npos) {
            value = line.substr(colon + 1);
            if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        }
        headers.emplace_back(std::string(name), std::string(value));
    }
    return headers;
}

void fuzz_decode(std::string_view input) {
    bb::HeaderList headers = read_headers(input);
    auto event = bb::decode(headers, input);
    if (!event) {
        BB_FUZZ_CHECK(!event.error().what.empty());
        return;
    }
    BB_FUZZ_CHECK(bb::validate_event(*event).ok());
    auto wire = bb::encode(*event);
    BB_FUZZ_CHECK(wire.ok());
    BB_FUZZ_CHECK(bb::is_valid_subject(wire->subject));
    auto again = bb::decode(wire->headers, wire->body);
    BB_FUZZ_CHECK(again.ok());
    BB_FUZZ_CHECK(*again == *event);
    (void)bb::data_as_json(*event);
    (void)bb::event_to_json(*event);
}

void fuzz_msgpack(std::string_view input) {
    auto checked = bb::check_msgpack(input);
    auto value = bb::msgpack_to_json(input);
    // A value that converts to JSON was well-formed MessagePack.
    BB_FUZZ_CHECK(!value.ok() || checked.ok());
    if (!value) return;
    auto packed = bb::json_to_msgpack(*value);
    BB_FUZZ_CHECK(packed.ok());
    auto back = bb::msgpack_to_json(*packed);
    BB_FUZZ_CHECK(back.ok() && *back == *value);
}

void fuzz_json(std::string_view input) {
    auto checked = bb::check_json_text(input);
    if (!checked) return;
    // What the well-formedness check lets through, the parser reads.
    auto parsed = nlohmann::json::parse(input, nullptr, false);
    BB_FUZZ_CHECK(!parsed.is_discarded());
}

void fuzz_header_value(std::string_view input) {
    auto decoded = bb::decode_header_value(input);
    if (!decoded) return;
    std::string encoded = bb::percent_encode(*decoded);
    BB_FUZZ_CHECK(bb::is_valid_header_value(encoded));
    auto back = bb::percent_decode(encoded);
    BB_FUZZ_CHECK(back.ok() && *back == *decoded);
}

void fuzz_base64(std::string_view input) {
    auto decoded = bb::base64_decode(input);
    if (!decoded) return;
    BB_FUZZ_CHECK(bb::base64_encode(*decoded) == input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0]) {
        case 'h':
            fuzz_decode(input);
            break;
        case 'm':
            fuzz_msgpack(input);
            break;
        case 'j':
            fuzz_json(input);
            break;
        case 'p':
            fuzz_header_value(input);
            break;
        case '6':
            fuzz_base64(input);
            break;
        default:
            break;
    }
    return 0;
}
