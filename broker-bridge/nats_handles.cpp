#include "broker-bridge/nats_handles.hpp"

#include <cstdlib>
#include <string_view>

#include "broker-bridge/received_headers.hpp"

namespace bb {
namespace {

// nats.c hands out arrays of borrowed strings that the caller must free().
struct FreeArray {
    void operator()(const char** array) const noexcept { std::free(static_cast<void*>(array)); }
};
using StringArray = std::unique_ptr<const char*, FreeArray>;

// RFC 7230 field-name characters, minus nothing NATS adds: visible ASCII except ':'.
bool valid_header_name(std::string_view name) {
    if (name.empty()) return false;
    for (unsigned char c : name) {
        if (c <= 0x20 || c >= 0x7f || c == ':') return false;
    }
    return true;
}

// A tab is allowed inside a value; every other control character could end the line.
bool valid_header_value(std::string_view value) {
    for (unsigned char c : value) {
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    }
    return true;
}

}  // namespace

Error nats_error(natsStatus status, const jsErrCode* jerr) {
    natsStatus last_status = NATS_OK;
    const char* last = nats_GetLastError(&last_status);
    std::string_view detail = last != nullptr ? last : "";
    // nats.c prefixes its source position, "(jsm.c:1033): ": noise in an operator's log.
    if (!detail.empty() && detail.front() == '(') {
        size_t end = detail.find("): ");
        if (end != std::string_view::npos) detail.remove_prefix(end + 3);
    }
    std::string what = natsStatus_GetText(status);
    if (status == NATS_ERR && !detail.empty()) {
        what = detail;  // the generic "Error" adds nothing to the server's own text
    } else if (!detail.empty() && detail != what) {
        what += ": ";
        what += detail;
    }
    if (jerr != nullptr && *jerr != 0) {
        what += " (jetstream error " + std::to_string(static_cast<int>(*jerr)) + ")";
    }
    return Error{std::move(what)};
}

Result<void> read_headers_into(natsMsg* msg, Headers& out) {
    if (read_received_headers_into(msg, out)) return {};
    out.clear();
    const char** raw_keys = nullptr;
    int key_count = 0;
    natsStatus s = natsMsgHeader_Keys(msg, &raw_keys, &key_count);
    if (s == NATS_NOT_FOUND) return {};
    if (s != NATS_OK) return nats_error(s);
    StringArray keys(raw_keys);

    for (int i = 0; i < key_count; ++i) {
        const char** raw_values = nullptr;
        int value_count = 0;
        s = natsMsgHeader_Values(msg, keys.get()[i], &raw_values, &value_count);
        if (s != NATS_OK) return nats_error(s);
        StringArray values(raw_values);
        for (int j = 0; j < value_count; ++j) {
            const char* v = values.get()[j];
            out.emplace_back(keys.get()[i], v != nullptr ? v : "");
        }
    }
    return {};
}

Result<Headers> read_headers(natsMsg* msg) {
    Headers out;
    if (auto ok = read_headers_into(msg, out); !ok) return ok.error();
    return out;
}

bool writable_header(std::string_view name, std::string_view value) {
    return valid_header_name(name) && valid_header_value(value) && !value.empty();
}

Result<void> add_headers(natsMsg* msg, const Headers& headers) {
    for (const auto& [name, value] : headers) {
        if (!valid_header_name(name)) {
            return Error{"header name is empty or holds a space, colon or control character"};
        }
        if (!valid_header_value(value)) {
            return Error{"header " + name + " has a control character in its value"};
        }
        // nats.c 3.4.1 writes "Name: \r\n" correctly but reads it back with the next header
        // line as the value, losing that header: refuse rather than corrupt the message.
        if (value.empty()) return Error{"header " + name + " has an empty value"};
    }
    for (const auto& [name, value] : headers) {
        natsStatus s = natsMsgHeader_Add(msg, name.c_str(), value.c_str());
        if (s != NATS_OK) return nats_error(s);
    }
    return {};
}

const char* header_value(natsMsg* msg, const char* name) {
    const char* value = nullptr;
    if (natsMsgHeader_Get(msg, name, &value) != NATS_OK) return nullptr;
    return value;
}

}  // namespace bb
