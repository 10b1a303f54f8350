#pragma once

#include <string>
#include <string_view>

#include "broker-bridge/result.hpp"

namespace bb::email {

// One mailbox: an optional display name and an addr-spec (local@domain).
struct Mailbox {
    std::string display_name;  // UTF-8, may be empty
    std::string local;         // ASCII dot-atom, or UTF-8 (RFC 6531) when non-ASCII
    std::string domain;

    std::string address() const { return local + "@" + domain; }
    // The local part is not ASCII: the envelope needs SMTPUTF8 (RFC 6531).
    bool needs_smtputf8() const;
};

// Reads "local@domain" or "Display Name <local@domain>". Refuses, naming `what` ("to") and
// the reason: CR, LF or other control characters anywhere, quoted local parts, an empty or
// overlong part (local 64 bytes, address 254), characters outside dot-atom text (RFC 5322
// atext plus UTF-8, RFC 6531) or a domain that is not dot-separated labels.
Result<Mailbox> parse_mailbox(std::string_view text, std::string_view what);

// The offset of the first CR or LF in `value`, or npos: such a value never reaches a header.
size_t find_line_break(std::string_view value);

}  // namespace bb::email
