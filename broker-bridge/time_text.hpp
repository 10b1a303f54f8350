#pragma once

#include <string>

namespace bb {

// The current UTC time as RFC 3339 with milliseconds: 2026-12-04T16:40:00.123Z.
std::string rfc3339_now();

}  // namespace bb
