// Template rendering (broker-bridge/template.hpp), as router routes, e-mail recipients and
// edge rules use it. The first byte chooses the input's shape:
//   't'  template text, a newline, the event's data as JSON: parsed, then rendered as a
//        value, as text and as a subject; a rendered subject must be valid (no wildcard, no
//        empty token, nothing a client value could add)
//   'j'  a JSON shape whose string leaves are templates (a route's `data:`), rendered
//        against a sample event
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "broker-bridge/envelope.hpp"
#include "broker-bridge/errors.hpp"
#include "broker-bridge/template.hpp"
#include "fuzz/fuzz_check.hpp"

namespace {

using nlohmann::json;

// The document binding filters read, for the first event of configs/sample-events.jsonl.
json document(json data) {
    return {{"id", "0b6c1b9e-5a51-4c1e-9d7e-000000000001"},
            {"type", "UserCreated"},
            {"source", "user-service"},
            {"subject", "u-42"},
            {"time", "2026-12-01T08:00:00Z"},
            {"aggregatetype", "User"},
            {"correlationid", "c-0001"},
            {"causationid", ""},
            {"userid", "u-1"},
            {"dataversion", "1"},
            {"data", std::move(data)}};
}

void render_all(const bb::tmpl::Template& t, const json& doc) {
    (void)t.render_value(doc);
    auto text = t.render_string(doc);
    auto subject = t.render_subject(doc);
    if (subject) {
        BB_FUZZ_CHECK(bb::is_valid_subject(*subject));
        BB_FUZZ_CHECK(text.ok() && *text == *subject);
    }
}

void fuzz_text(std::string_view input) {
    size_t newline = input.find('\n');
    std::string_view text = input.substr(0, newline);
    json data = nullptr;
    if (newline != std::string_view::npos) {
        std::string_view data_text = input.substr(newline + 1);
        if (bb::check_json_text(data_text)) data = json::parse(data_text, nullptr, false);
        if (data.is_discarded()) data = nullptr;
    }
    json doc = document(std::move(data));
    try {
        render_all(bb::tmpl::Template::parse(text, "route"), doc);
    } catch (const bb::ConfigError&) {
        return;  // refused as a config would be
    }
    try {
        render_all(bb::tmpl::Template::parse_subject(text, "route"), doc);
    } catch (const bb::ConfigError&) {
    }
}

void fuzz_shape(std::string_view input) {
    if (!bb::check_json_text(input)) return;
    json shape = json::parse(input, nullptr, false);
    if (shape.is_discarded()) return;
    try {
        auto t = bb::tmpl::JsonTemplate::parse(shape, "data");
        (void)t.render(document(json{{"chatId", "c-1"}, {"items", {1, "two", nullptr}}}));
    } catch (const bb::ConfigError&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (data[0] == 't') fuzz_text(input);
    if (data[0] == 'j') fuzz_shape(input);
    return 0;
}
