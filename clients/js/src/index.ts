// broker-bridge client SDK: connect to the edge, subscribe to channels, publish, presence.
import { Client } from "./client.js";
import type { ConnectOptions } from "./types.js";

export { Client, kSubprotocol } from "./client.js";
export type { ClientEvents } from "./client.js";
export { BridgeError } from "./errors.js";
export type { ClientErrorCode, ServerErrorCode } from "./errors.js";
export { Backoff } from "./backoff.js";
export type { BackoffOptions } from "./backoff.js";
export { splitFrame } from "./frames.js";
export type * from "./types.js";

/** Opens a connection to the edge's WebSocket `url`; it reconnects until close(). */
export function connect(url: string, options: ConnectOptions): Client {
  return new Client(url, options);
}
