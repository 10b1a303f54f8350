// A real broker-bridge stack for the SDK and browser tests: nats-server with JetStream on a
// free loopback port, the handlers (router and presence) in one broker-bridge process, and
// the edge in another, so a test can stop and restart the edge alone.
import { spawn, execFile } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../../..");
export const binDir = process.env.BB_BIN_DIR ?? join(repo, "build/bin");
export const pluginDir = process.env.BB_PLUGIN_DIR ?? join(repo, "build/plugins");
export const bridge = join(binDir, "broker-bridge");
const run = promisify(execFile);

/** Polls `condition` every 20 ms until it holds; fails naming `what` after `timeoutMs`. */
export async function waitFor(condition, what, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

function portOpen(port) {
  return new Promise((res) => {
    const c = tcpConnect(port, "127.0.0.1");
    c.once("connect", () => { c.destroy(); res(true); });
    c.once("error", () => res(false));
  });
}

// A child process whose output is kept (and printed when a test fails) and searched.
class Child {
  constructor(name, command, args, logDir) {
    this.name = name;
    this.output = "";
    this.proc = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    this.exited = new Promise((r) => this.proc.once("exit", (code, sig) => r({ code, sig })));
    this.running = true;
    this.exited.then(() => { this.running = false; });
    const keep = (chunk) => { this.output += chunk.toString(); };
    this.proc.stdout.on("data", keep);
    this.proc.stderr.on("data", keep);
    this.logFile = join(logDir, `${name}.log`);
  }

  async waitForOutput(text, timeoutMs = 15_000) {
    await waitFor(() => {
      if (!this.running) throw new Error(`${this.name} exited:\n${this.output}`);
      return this.output.includes(text);
    }, `"${text}" from ${this.name}`, timeoutMs);
  }

  async stop(signal = "SIGTERM", timeoutMs = 10_000) {
    if (!this.running) return;
    this.proc.kill(signal);
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), timeoutMs);
    await this.exited;
    clearTimeout(timer);
    writeFileSync(this.logFile, this.output);
  }
}

function configYaml(natsPort, edgePort, options) {
  const staticDir = options.staticDir ? `  static_dir: ${options.staticDir}\n` : "";
  const devTokens = options.devTokens ? "  dev_tokens: { enabled: true, ttl: 1h }\n" : "";
  return `nats:
  url: nats://127.0.0.1:${natsPort}
streams:
  events:   { name: EVENTS, subjects: ["events.>"], duplicate_window: 2m }
  realtime: { name: RT, subjects: ["rt.>"], max_age: 10m }
  presence: { name: PRESENCE, subjects: ["presence.>"], max_age: 1m, duplicate_window: 1m }
buckets:
  - { name: presence }
log: { level: info }
plugins:
  path: [${pluginDir}]
edge:
  listen: 127.0.0.1:${edgePort}
  threads: ${options.edgeThreads ?? 2}
  path: /ws
  shutdown_reconnect_in: ${options.shutdownReconnectIn ?? "300ms"}
  drain_timeout: 2s
  limits: { max_recovery_messages: ${options.maxRecovery ?? 20} }
${staticDir}${devTokens}  auth:
    issuer: broker-bridge-test
    audience: broker-bridge
    leeway: 0ms
    keys:
      - { kid: test, alg: HS256, secret: "sdk-test-secret-0123456789-0123456789-abcdef" }
  channels:
    - { pattern: "user:{user}:notifications", subject: "rt.user.{user}.notifications",
        subscribe: "{user} == sub" }
    - pattern: "chat:{room}"
      subject: "rt.chat.{room}"
      subscribe: authenticated
      publish:
        rule: authenticated
        event: { type: ChatMessagePosted, aggregate_type: Chat, aggregate_id: "{room}" }
    - pattern: "doc:{doc}"
      subject: "rt.doc.{doc}"
      subscribe: authenticated
      skip_author: user
      publish:
        rule: authenticated
        event: { type: DocumentUpdated, aggregate_type: Document, aggregate_id: "{doc}" }
    - { pattern: "org:{org}:presence", subject: "rt.org.{org}.presence",
        subscribe: "{org} in orgs", snapshot: "org.{org}" }
  presence: { heartbeat_interval: 200ms }
bindings:
  - name: router
    plugin: router
    subjects: ["events.>"]
    publish_prefixes: ["rt.>"]
    ordering: per-aggregate
    backoff: { initial: 100ms, factor: 2, max: 1s, jitter: 0.2 }
    config:
      routes:
        - name: chat
          when: { type: MessageSent }
          channel_subject: rt.chat.{data.chatId}
          data: { id: "{id}", messageId: "{data.messageId}", chatId: "{data.chatId}",
                  content: "{data.content}", from: "{userid}", at: "{time}" }
        - name: chat-from-edge
          when: { type: ChatMessagePosted }
          channel_subject: rt.chat.{subject}
          data: { id: "{id}", chatId: "{subject}", content: "{data.content}", from: "{userid}",
                  at: "{time}" }
        - name: notification
          when: { type: NotificationCreated }
          channel_subject: rt.user.{data.targetUserId}.notifications
          data: { id: "{subject}", type: "{data.type}", title: "{data.title}",
                  payload: "{data.payload}", at: "{time}" }
        - name: document
          when: 'type == "DocumentUpdated" and data.changes != null'
          channel_subject: rt.doc.{subject}
          data: { documentId: "{subject}", changes: "{data.changes}", by: "{userid}",
                  at: "{time}" }
  - name: presence
    plugin: presence
    stream: presence
    subjects: ["presence.node.>"]
    ordering: per-aggregate
    backoff: { initial: 100ms, factor: 2, max: 1s, jitter: 0.2 }
    publish_prefixes: ["rt.org.>", "presence.control.>"]
    config: { missed_heartbeats: 3, check_interval: 100ms }
`;
}

export class Stack {
  /** options: staticDir, devTokens, maxRecovery, shutdownReconnectIn, outDir. */
  static async start(options = {}) {
    const s = new Stack(options);
    try {
      await s.startAll();
    } catch (e) {
      await s.stop();
      throw e;
    }
    return s;
  }

  constructor(options) {
    this.options = options;
    this.dir = mkdtempSync(join(tmpdir(), "bb-js-"));
    this.logDir = options.outDir ?? this.dir;
    mkdirSync(this.logDir, { recursive: true });
    this.config = join(this.dir, "config.yaml");
    this.children = [];
  }

  async startAll() {
    this.natsPort = await freePort();
    this.edgePort = await freePort();
    writeFileSync(this.config, configYaml(this.natsPort, this.edgePort, this.options));
    this.nats = this.spawn("nats-server", "nats-server",
      ["-js", "-a", "127.0.0.1", "-p", String(this.natsPort), "-sd", join(this.dir, "js")]);
    await waitFor(() => portOpen(this.natsPort), "nats-server to listen");
    this.handlers = this.spawn("handlers", bridge,
      ["run", "--config", this.config, "--bindings", "router,presence"]);
    await this.handlers.waitForOutput("broker-bridge ready");
    await this.startEdge();
  }

  spawn(name, command, args) {
    const c = new Child(name, command, args, this.logDir);
    this.children.push(c);
    return c;
  }

  get url() {
    return `ws://127.0.0.1:${this.edgePort}/ws`;
  }

  get httpUrl() {
    return `http://127.0.0.1:${this.edgePort}`;
  }

  async startEdge() {
    this.edgeRuns = (this.edgeRuns ?? 0) + 1;
    this.edge = this.spawn(`edge-${this.edgeRuns}`, bridge, ["edge", "--config", this.config]);
    await this.edge.waitForOutput("broker-bridge ready");
  }

  /** SIGTERM: the edge tells clients `shutdown` first; SIGKILL: it just disappears. */
  async stopEdge(signal = "SIGTERM") {
    await this.edge.stop(signal);
  }

  /** A token from `broker-bridge token`; orgs as a list, ttl like "1h" or "2s". */
  async token(sub, { orgs = [7, 8], ttl = "1h" } = {}) {
    // `--claim orgs=7,8` makes a list; one value alone would be a number, not a list.
    if (orgs.length < 2) throw new Error("token: give at least two orgs");
    const args = ["token", "--config", this.config, "--sub", sub, "--ttl", ttl,
                  "--claim", `orgs=${orgs.join(",")}`];
    const { stdout } = await run(bridge, args);
    return stdout.trim();
  }

  /** Publishes domain events (objects of configs/sample-events.jsonl's form) to EVENTS. */
  publish(events) {
    return new Promise((res, rej) => {
      const p = spawn(bridge, ["publish", "--config", this.config, "--file", "-"],
                      { stdio: ["pipe", "pipe", "pipe"] });
      let out = "";
      p.stdout.on("data", (c) => { out += c; });
      p.stderr.on("data", (c) => { out += c; });
      p.on("exit", (code) => (code === 0 ? res(out) : rej(new Error(`publish failed: ${out}`))));
      p.stdin.end(events.map((e) => JSON.stringify(e)).join("\n") + "\n");
    });
  }

  async stop() {
    for (const c of [...this.children].reverse()) await c.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Every child's output, for a failing test's report. */
  logs() {
    return this.children.map((c) => `--- ${c.name}\n${c.output}`).join("\n");
  }
}

let eventCounter = 0;

export function messageSent(chatId, content, userId = "u-app") {
  eventCounter += 1;
  const id = `m-${chatId}-${process.pid}-${eventCounter}`;
  return {
    id, type: "MessageSent", aggregateId: id, aggregateType: "Message",
    data: { chatId, content, messageId: id }, metadata: { userId, source: "chat-service" },
  };
}

export function notificationCreated(targetUserId, title, type = "info") {
  eventCounter += 1;
  const id = `n-${process.pid}-${eventCounter}`;
  return {
    id, type: "NotificationCreated", aggregateId: id, aggregateType: "Notification",
    data: { targetUserId, type, title, payload: { body: title } },
    metadata: { userId: "u-system", source: "notification-service" },
  };
}
