// Commands awaiting their reply on one connection. The edge answers `limit` when a
// connection has 4 subscribes or publishes waiting (docs/PROTOCOL.md): those go through a
// queue that keeps at most 4 on the wire.
import { BridgeError } from "./errors.js";
import type { ServerMessage } from "./frames.js";

export const kMaxHeavyInFlight = 4;

interface Pending {
  resolve: (reply: ServerMessage) => void;
  reject: (error: BridgeError) => void;
  timer: ReturnType<typeof setTimeout>;
  heavy: boolean;
}

export class CommandQueue {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private heavyInFlight = 0;
  private readonly waiting: Array<{ go: () => void; reject: (e: BridgeError) => void }> = [];

  constructor(
    private readonly send: (text: string) => void,
    private readonly timeoutMs: number,
  ) {}

  /** Sends `command` with a fresh id; resolves with the reply, rejects on an `error` reply. */
  request(command: Record<string, unknown>, heavy = false): Promise<ServerMessage> {
    return new Promise((resolve, reject) => this.call(command, heavy, resolve, reject));
  }

  /**
   * As request, but the callbacks run synchronously while the reply's frame is handled:
   * a `subscribed` must be applied before the messages that follow it in the same frame.
   */
  call(
    command: Record<string, unknown>,
    heavy: boolean,
    resolve: (reply: ServerMessage) => void,
    reject: (error: BridgeError) => void,
  ): void {
    const go = () => this.sendNow(command, heavy, resolve, reject);
    if (heavy && this.heavyInFlight >= kMaxHeavyInFlight) {
      this.waiting.push({ go, reject });
    } else {
      go();
    }
  }

  /** A server message with an `id`: settles its command. Returns false for other messages. */
  settle(message: ServerMessage): boolean {
    if (typeof message.id !== "number") return false;
    const p = this.pending.get(message.id);
    if (!p) return true;  // a reply after its timeout: nothing waits for it any more
    this.finish(message.id, p);
    if (message.op === "error") {
      p.reject(new BridgeError(String(message.code), String(message.message ?? message.code)));
    } else {
      p.resolve(message);
    }
    return true;
  }

  /** The connection went: every command still waiting fails with `error`. */
  failAll(error: BridgeError): void {
    const all = [...this.pending.values()];
    const queued = this.waiting.splice(0);
    this.pending.clear();
    this.heavyInFlight = 0;
    for (const p of all) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    for (const q of queued) q.reject(error);
  }

  private sendNow(
    command: Record<string, unknown>,
    heavy: boolean,
    resolve: (reply: ServerMessage) => void,
    reject: (error: BridgeError) => void,
  ): void {
    const id = this.nextId++;
    const timer = setTimeout(() => {
      const p = this.pending.get(id);
      if (!p) return;
      this.finish(id, p);
      const op = String(command.op);
      reject(new BridgeError("timeout", `no reply to ${op} in ${this.timeoutMs} ms`));
    }, this.timeoutMs);
    this.pending.set(id, { resolve, reject, timer, heavy });
    if (heavy) this.heavyInFlight += 1;
    try {
      this.send(JSON.stringify({ ...command, id }));
    } catch (e) {
      this.finish(id, this.pending.get(id)!);
      reject(new BridgeError("disconnected", `could not send ${String(command.op)}: ${String(e)}`));
    }
  }

  private finish(id: number, p: Pending): void {
    clearTimeout(p.timer);
    this.pending.delete(id);
    if (!p.heavy) return;
    this.heavyInFlight -= 1;
    this.waiting.shift()?.go();
  }
}
