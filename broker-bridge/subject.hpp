#pragma once

#include <string>
#include <string_view>

// NATS subject patterns as they appear in configuration (stream subjects, binding subjects,
// publish prefixes). Values that come from events or clients are checked one token at a
// time by the envelope code instead; a pattern here may hold wildcards.
namespace bb {

// Dot-separated non-empty tokens; '*' only as a whole token; '>' only as the whole last
// token; no white space or control characters.
bool is_valid_subject_pattern(std::string_view pattern);

// True when every subject matched by `inner` is also matched by `outer`
// (events.> covers events.user.*; events.user.* does not cover events.>).
bool subject_pattern_covers(std::string_view outer, std::string_view inner);

// True when some subject is matched by both patterns (events.> and events.user.* overlap;
// events.a.* and events.b.* do not).
bool subject_patterns_overlap(std::string_view a, std::string_view b);

// A stable, valid durable consumer name from a binding and one of its subjects:
// "analytics" + "events.>" -> "analytics__events_gt_bf0fd7cd". Only [A-Za-z0-9_-], at most
// 64 characters, always ending in a hash of group, binding and subject, so no two of them
// share a consumer. A handler group other than "default" prefixes the name.
std::string durable_name(std::string_view binding, std::string_view subject,
                         std::string_view group = "default");

}  // namespace bb
