// Errors the SDK hands to the application: the server's `code` when the server refused a
// command, or one of the SDK's own codes when the connection failed.

/** Codes the edge sends in `error` replies (docs/PROTOCOL.md). */
export type ServerErrorCode =
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "bad_channel"
  | "limit"
  | "not_found"
  | "unavailable";

/** Codes the SDK adds: no reply in time, the connection went, or the client was closed. */
export type ClientErrorCode = "timeout" | "disconnected" | "closed" | "token" | "connection";

export class BridgeError extends Error {
  /** The server's error code, or one of the SDK's ClientErrorCode values. */
  readonly code: ServerErrorCode | ClientErrorCode | string;
  /** The WebSocket close code, when the error is a close. */
  readonly closeCode?: number;

  constructor(code: string, message: string, closeCode?: number) {
    super(message);
    this.name = "BridgeError";
    this.code = code;
    if (closeCode !== undefined) this.closeCode = closeCode;
  }
}
