// Public types of the SDK.
import type { BackoffOptions } from "./backoff.js";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "closed";

export type PresenceStatus = "online" | "away";

/** Where a delivered message sits in its channel: keep nothing, the client does it. */
export interface MessageMeta {
  channel: string;
  /** The message's sequence in stream RT; grows within an epoch. */
  seq: number;
  epoch: string;
  /** "snapshot": the channel's whole state (e.g. who is online); "message": one change. */
  kind: "message" | "snapshot";
}

export type MessageHandler = (data: unknown, meta: MessageMeta) => void;

/** The unsubscribe function returned by subscribe, with a promise of the first `subscribed`. */
export interface Unsubscribe {
  (): void;
  /** Resolves once the server confirmed the subscription; rejects with a BridgeError. */
  readonly ready: Promise<void>;
}

/** A channel whose missed messages the server could not replay: reload its state. */
export interface UnrecoveredChannel {
  channel: string;
  /** The last sequence delivered before the reconnect. */
  lastSeq: number;
  /** The channel's sequence now: delivery continues after it. */
  seq: number;
  epoch: string;
}

/** The constructor of a WHATWG-style WebSocket: the browser's, or the `ws` package's. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => unknown;

export interface ConnectOptions {
  /** A fixed token. Without getToken the client cannot re-authenticate after it expires. */
  token?: string;
  /** Called for each connection attempt and before the token expires; may be async. */
  getToken?: () => string | Promise<string>;
  /** Required in Node.js 20 (no global WebSocket): pass `WebSocket` from the `ws` package. */
  WebSocket?: WebSocketConstructor;
  backoff?: BackoffOptions;
  /** Refresh the token this long before its `exp`. Default 30,000 ms; 0 turns it off. */
  refreshBeforeExpiryMs?: number;
  /** A command without a reply in this time fails with code "timeout". Default 10,000 ms. */
  commandTimeoutMs?: number;
  /** Retry delay after a `limit` or `unavailable` reply (jittered). Default 500 ms. */
  retryAfterLimitMs?: number;
  /** Random source for jitter, in [0, 1); tests may fix it. */
  random?: () => number;
}

export interface PublishResult {
  eventId: string;
}
