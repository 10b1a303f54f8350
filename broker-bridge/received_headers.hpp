#pragma once

#include <optional>

#include <nats/nats.h>

#include "broker-bridge/nats_handles.hpp"

namespace bb {

// The headers of a received message read straight from the bytes nats.c received, in wire
// order, or nullopt when this fast path does not apply and the caller should ask nats.c's
// header API instead (read_headers does).
//
// Why by hand: nats.c 3.4.1 "lifts" headers on first access into a hash map with one
// allocation per header, one per hash resize and one array per key asked for, and frees
// them on its garbage-collector thread: about a quarter of the handler host's CPU per
// event. nats.c keeps a received message in one block, [subject\0][reply\0][header
// block\0][data\0] (msg.c, natsMsg_create), and the public getters give the reply and the
// data addresses, which bound the header block. The block is used only when it looks
// exactly as nats.c received it: "NATS/1.0\r\n" (no status), "Name: value\r\n" lines and a
// blank line. Anything else (a lifted message, whose separators nats.c overwrote with
// NULs; a status; folded lines; an empty value) returns nullopt, so the result is always
// what the header API would give. received_headers_test pins the layout on our nats.c.
std::optional<Headers> read_received_headers(natsMsg* msg);
// The same into `out`, whose strings keep their storage; false (and `out` undefined) where
// read_received_headers gives nullopt.
bool read_received_headers_into(natsMsg* msg, Headers& out);

}  // namespace bb
