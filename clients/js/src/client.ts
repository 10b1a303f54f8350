// The connection to the edge: connects, re-authenticates, reconnects with backoff, and
// re-subscribes every channel with `since` its last position (docs/PROTOCOL.md).
import { aroundMs, Backoff } from "./backoff.js";
import { Channel } from "./channel.js";
import { CommandQueue } from "./commands.js";
import { Emitter } from "./emitter.js";
import { BridgeError } from "./errors.js";
import { splitFrame, type ServerMessage } from "./frames.js";
import { tokenExpiryMs } from "./token.js";
import type {
  ConnectionState, ConnectOptions, MessageHandler, PresenceStatus, PublishResult,
  UnrecoveredChannel, Unsubscribe, WebSocketConstructor,
} from "./types.js";

export const kSubprotocol = "bridge.json.v1";

/** Close codes after which reconnecting cannot help (docs/PROTOCOL.md, Close codes). */
const kAccountDisabled = 4010;
const kUnauthorized = 4001;
const kTokenExpired = 4009;
const kLongestTimer = 2_147_483_647;  // setTimeout's largest delay

interface Socket {
  onopen: (() => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface ClientEvents extends Record<string, unknown[]> {
  state: [ConnectionState];
  /** Refusals and failures not tied to a command the application awaits. */
  error: [BridgeError];
  unrecovered: [UnrecoveredChannel];
}

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

export class Client extends Emitter<ClientEvents> {
  private current: ConnectionState = "connecting";
  private socket: Socket | undefined;
  private commands: CommandQueue | undefined;
  private generation = 0;
  private clientId = "";
  private token = "";
  private presence: PresenceStatus = "online";
  private shutdownDelayMs: number | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly backoff: Backoff;
  private readonly channels = new Map<string, Channel>();
  private readonly connectedWaiters = new Set<Waiter>();
  private readonly random: () => number;
  private readonly WebSocketImpl: WebSocketConstructor;

  constructor(private readonly url: string, private readonly options: ConnectOptions) {
    super();
    if (!options.token && !options.getToken) throw new Error("connect: give token or getToken");
    const global = globalThis as { WebSocket?: WebSocketConstructor };
    const impl = options.WebSocket ?? global.WebSocket;
    if (!impl) throw new Error("connect: no global WebSocket: pass options.WebSocket (ws)");
    this.WebSocketImpl = impl;
    this.random = options.random ?? Math.random;
    this.backoff = new Backoff(options.backoff, this.random);
    void this.open();
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** The server's id for the current connection ("" while not connected). */
  get connectionId(): string {
    return this.current === "connected" ? this.clientId : "";
  }

  /** Resolves once connected (at once if connected now); rejects when the client is closed. */
  ready(timeoutMs = this.commandTimeoutMs()): Promise<void> {
    if (this.current === "connected") return Promise.resolve();
    if (this.current === "closed") {
      return Promise.reject(new BridgeError("closed", "client closed"));
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.connectedWaiters.delete(waiter);
        reject(new BridgeError("timeout", `not connected within ${timeoutMs} ms`));
      }, timeoutMs);
      this.connectedWaiters.add(waiter);
    });
  }

  subscribe(channel: string, handler: MessageHandler): Unsubscribe {
    let ch = this.channels.get(channel);
    const isNew = !ch;
    if (!ch) {
      ch = new Channel(channel);
      this.channels.set(channel, ch);
    }
    ch.handlers.add(handler);
    const ready = ch.liveOn === this.generation && this.current === "connected"
      ? Promise.resolve()
      : ch.whenReady();
    ready.catch(() => undefined);  // the application may never look at it
    if (isNew && this.current === "connected") this.requestSubscribe(ch);
    const held = ch;
    const unsubscribe = () => this.dropHandler(held, handler);
    return Object.assign(unsubscribe, { ready });
  }

  async publish(channel: string, data: unknown): Promise<PublishResult> {
    const reply = await this.heavyWithRetry({ op: "publish", channel, data });
    return { eventId: String(reply.event_id) };
  }

  /** Sets this connection's presence; kept and sent again after each reconnect. */
  async setPresence(status: PresenceStatus): Promise<void> {
    this.presence = status;
    await this.ready();
    await this.commands!.request({ op: "presence", status });
  }

  /** Closes for good: no reconnect; commands waiting fail with code "closed". */
  close(): void {
    if (this.current === "closed") return;
    this.clearTimers();
    const socket = this.socket;
    this.socket = undefined;
    this.commands?.failAll(new BridgeError("closed", "client closed"));
    socket?.close(1000, "client closed");
    this.setState("closed");
    for (const w of this.connectedWaiters) w.reject(new BridgeError("closed", "client closed"));
    this.connectedWaiters.clear();
  }

  private commandTimeoutMs(): number {
    return this.options.commandTimeoutMs ?? 10_000;
  }

  private async open(): Promise<void> {
    this.generation += 1;
    const generation = this.generation;
    try {
      this.token = this.options.getToken ? await this.options.getToken() : this.options.token!;
    } catch (e) {
      this.emit("error", new BridgeError("token", `getToken failed: ${String(e)}`));
      return this.scheduleReconnect(this.backoff.next());
    }
    if (generation !== this.generation || this.current === "closed") return;
    const socket = new this.WebSocketImpl(this.url, kSubprotocol) as Socket;
    this.socket = socket;
    const commands = new CommandQueue((text) => socket.send(text), this.commandTimeoutMs());
    this.commands = commands;
    socket.onopen = () => this.authenticate(generation);
    socket.onmessage = (ev) => this.onFrame(generation, ev.data);
    socket.onerror = () => undefined;  // a close always follows, with the code
    socket.onclose = (ev) => this.onClose(generation, ev.code, ev.reason);
    this.connectTimer = setTimeout(() => socket.close(), this.commandTimeoutMs());
  }

  private authenticate(generation: number): void {
    const commands = this.commands!;
    commands.request({ op: "connect", token: this.token }).then(
      (reply) => {
        if (generation !== this.generation) return;
        clearTimeout(this.connectTimer);
        this.clientId = String(reply.client ?? "");
        this.onConnected();
      },
      (e: BridgeError) => {
        if (generation === this.generation) this.emit("error", e);
      },
    );
  }

  private onConnected(): void {
    this.backoff.reset();
    this.shutdownDelayMs = undefined;
    this.setState("connected");
    this.scheduleRefresh();
    for (const ch of this.channels.values()) this.requestSubscribe(ch);
    if (this.presence !== "online") {
      this.commands!.request({ op: "presence", status: this.presence }).catch((e) =>
        this.emit("error", e as BridgeError));
    }
    for (const w of this.connectedWaiters) w.resolve();
    this.connectedWaiters.clear();
  }

  private onFrame(generation: number, data: unknown): void {
    if (generation !== this.generation) return;
    const text = typeof data === "string" ? data : new TextDecoder().decode(data as ArrayBuffer);
    let messages: ServerMessage[];
    try {
      messages = splitFrame(text);
    } catch (e) {
      this.emit("error", new BridgeError("bad_frame", String(e)));
      return;
    }
    for (const m of messages) this.onMessage(generation, m);
  }

  private onMessage(generation: number, m: ServerMessage): void {
    if (this.commands?.settle(m)) return;
    switch (m.op) {
      case "message":
      case "snapshot":
        return this.deliver(generation, m);
      case "shutdown":
        this.shutdownDelayMs = Number(m.reconnect_in_ms ?? 0);
        return;
      case "error":
        this.emit("error", new BridgeError(String(m.code), String(m.message ?? m.code)));
        return;
      default:
        return;  // an op this version does not know: newer servers may add some
    }
  }

  private deliver(generation: number, m: ServerMessage): void {
    const ch = this.channels.get(String(m.channel));
    if (!ch || ch.liveOn !== generation) return;
    ch.deliver(m.data, {
      channel: ch.name,
      seq: Number(m.seq),
      epoch: String(m.epoch),
      kind: m.op === "snapshot" ? "snapshot" : "message",
    });
  }

  private requestSubscribe(ch: Channel): void {
    if (ch.requesting || ch.liveOn === this.generation) return;
    ch.requesting = true;
    const generation = this.generation;
    const since = ch.since();
    const command: Record<string, unknown> = { op: "subscribe", channel: ch.name };
    if (since) command.since = since;
    this.commands!.call(
      command, true,
      (reply) => this.onSubscribed(ch, generation, reply),
      (e) => this.onSubscribeFailed(ch, generation, e),
    );
  }

  private onSubscribed(ch: Channel, generation: number, reply: ServerMessage): void {
    ch.requesting = false;
    if (generation !== this.generation) return;
    if (this.channels.get(ch.name) !== ch) {
      // Unsubscribed while the subscribe was on the wire.
      this.commands!.request({ op: "unsubscribe", channel: ch.name }).catch(() => undefined);
      return;
    }
    const lost = ch.applySubscribed({
      seq: Number(reply.seq),
      epoch: String(reply.epoch),
      recovered: reply.recovered === true,
    }, generation);
    if (lost !== undefined) {
      this.emit("unrecovered", {
        channel: ch.name, lastSeq: lost, seq: ch.seq ?? 0, epoch: ch.epoch ?? "",
      });
    }
    ch.settleReady();
  }

  private onSubscribeFailed(ch: Channel, generation: number, e: BridgeError): void {
    ch.requesting = false;
    if (generation !== this.generation || this.channels.get(ch.name) !== ch) return;
    if (e.code === "limit" || e.code === "unavailable" || e.code === "timeout") {
      const delay = aroundMs(this.options.retryAfterLimitMs ?? 500, this.random);
      setTimeout(() => {
        if (generation === this.generation && this.current === "connected") {
          this.requestSubscribe(ch);
        }
      }, delay);
      return;
    }
    if (e.code === "disconnected" || e.code === "closed") return;  // the reconnect retries
    // Refused for good (forbidden, bad_channel, ...): the channel is dropped.
    this.channels.delete(ch.name);
    const error = new BridgeError(e.code, `subscribe ${ch.name}: ${e.message}`);
    ch.settleReady(error);
    this.emit("error", error);
  }

  private dropHandler(ch: Channel, handler: MessageHandler): void {
    ch.handlers.delete(handler);
    if (ch.handlers.size > 0 || this.channels.get(ch.name) !== ch) return;
    this.channels.delete(ch.name);
    if (ch.liveOn === this.generation && this.current === "connected") {
      this.commands!.request({ op: "unsubscribe", channel: ch.name }).catch(() => undefined);
    }
  }

  private async heavyWithRetry(command: Record<string, unknown>): Promise<ServerMessage> {
    const attempts = 4;
    for (let i = 1; ; ++i) {
      await this.ready();
      try {
        return await this.commands!.request(command, true);
      } catch (e) {
        const retry = e instanceof BridgeError && (e.code === "limit" || e.code === "unavailable");
        if (!retry || i >= attempts) throw e;
        const delay = aroundMs((this.options.retryAfterLimitMs ?? 500) * i, this.random);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    const margin = this.options.refreshBeforeExpiryMs ?? 30_000;
    const exp = tokenExpiryMs(this.token);
    if (!this.options.getToken || margin <= 0 || exp === undefined) return;
    const left = exp - Date.now();
    // A token shorter-lived than the margin is refreshed halfway through its life.
    const delay = left > margin ? left - margin : Math.max(0, left / 2);
    const generation = this.generation;
    this.refreshTimer = setTimeout(() => void this.refresh(generation),
                                   Math.min(delay, kLongestTimer));
  }

  private async refresh(generation: number): Promise<void> {
    try {
      const token = await this.options.getToken!();
      if (generation !== this.generation || this.current !== "connected") return;
      await this.commands!.request({ op: "refresh", token });
      this.token = token;
      this.scheduleRefresh();
    } catch (e) {
      // The server closes with 4009 at expiry; the reconnect fetches a new token then.
      if (generation === this.generation) {
        this.emit("error", e instanceof BridgeError ? e : new BridgeError("token", String(e)));
      }
    }
  }

  private onClose(generation: number, code: number, reason: string): void {
    if (generation !== this.generation || this.current === "closed") return;
    this.clearTimers();
    this.socket = undefined;
    this.commands?.failAll(new BridgeError("disconnected", `connection closed (${code})`, code));
    for (const ch of this.channels.values()) ch.liveOn = -1;
    const fatal = code === kAccountDisabled ||
      (!this.options.getToken && (code === kUnauthorized || code === kTokenExpired));
    if (fatal) {
      const why = `closed by the server: ${code} ${reason}`;
      this.emit("error", new BridgeError(closeCodeName(code), why, code));
      return this.close();
    }
    if (code === kUnauthorized) {
      const why = `closed by the server: ${code} ${reason}`;
      this.emit("error", new BridgeError("unauthorized", why, code));
    }
    const delay = this.shutdownDelayMs !== undefined
      ? aroundMs(this.shutdownDelayMs, this.random)
      : code === kTokenExpired ? 0 : this.backoff.next();
    this.shutdownDelayMs = undefined;
    this.scheduleReconnect(delay);
  }

  private scheduleReconnect(delayMs: number): void {
    if (this.current === "closed") return;
    this.setState("reconnecting");
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.open(), delayMs);
  }

  private clearTimers(): void {
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.refreshTimer);
    clearTimeout(this.connectTimer);
  }

  private setState(state: ConnectionState): void {
    if (this.current === state) return;
    this.current = state;
    this.emit("state", state);
  }
}

function closeCodeName(code: number): string {
  if (code === kAccountDisabled) return "account_disabled";
  if (code === kTokenExpired) return "token_expired";
  return "unauthorized";
}
