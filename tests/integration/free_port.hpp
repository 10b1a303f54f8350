#pragma once

namespace bb::itest {

// A TCP port on 127.0.0.1 that the kernel considers free now: bound to port 0, read back,
// released. Another process may take it before the caller binds it; callers that cannot pick
// their port themselves (PostgreSQL, nats-server cluster routes) use it.
int free_loopback_port();

}  // namespace bb::itest
