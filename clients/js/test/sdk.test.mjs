// The SDK against a real edge, handlers and nats-server (test/stack.mjs).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import WebSocket from "ws";

import { BridgeError, connect, splitFrame } from "../dist/index.js";
import { messageSent, notificationCreated, Stack, waitFor } from "./stack.mjs";

// The `ws` WebSocket, recording every frame received and every close code, so tests can see
// what the wire carried (several messages per frame, 4009) beside what the SDK delivered.
const wire = { frames: [], closes: [] };
class RecordingWebSocket extends WebSocket {
  constructor(url, protocols) {
    super(url, protocols);
    this.addEventListener("message", (ev) => wire.frames.push(String(ev.data)));
    this.addEventListener("close", (ev) => wire.closes.push(ev.code));
  }
}

let stack;
const clients = [];

function open(tokenOrGetter, extra = {}) {
  const auth = typeof tokenOrGetter === "function" ? { getToken: tokenOrGetter }
                                                  : { token: tokenOrGetter };
  const client = connect(stack.url, {
    ...auth, WebSocket: RecordingWebSocket, backoff: { initialMs: 100, maxMs: 1000 },
    commandTimeoutMs: 5000, ...extra,
  });
  clients.push(client);
  return client;
}

// Subscribes and collects what the handler receives.
function collect(client, channel) {
  const got = [];
  const unsubscribe = client.subscribe(channel, (data, meta) => got.push({ data, meta }));
  return { got, unsubscribe, contents: () => got.map((m) => m.data.content) };
}

const range = (prefix, from, to) =>
  Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${from + i}`);

before(async () => {
  stack = await Stack.start({ maxRecovery: 20, shutdownReconnectIn: "300ms" });
});

after(async () => {
  for (const c of clients) c.close();
  await stack?.stop();
});

describe("frames", () => {
  test("a frame of several newline-separated messages splits into each, in order", () => {
    const frame = '{"op":"message","seq":1}\n{"op":"message","seq":2}\n{"op":"shutdown"}';
    assert.deepEqual(splitFrame(frame).map((m) => m.seq ?? m.op), [1, 2, "shutdown"]);
  });

  test("a line that is not a JSON object is refused", () => {
    assert.throws(() => splitFrame('{"op":"message"}\n[1,2]'), /not a JSON object/);
  });
});

describe("against a real edge", () => {
  test("messages published while the edge restarts arrive once each, in order", async () => {
    const client = open(await stack.token("u-restart"));
    const chat = collect(client, "chat:restart");
    await chat.unsubscribe.ready;
    await stack.publish(range("a", 1, 5).map((c) => messageSent("restart", c)));
    await waitFor(() => chat.got.length >= 5, "the first five messages");

    await stack.stopEdge("SIGTERM");
    await waitFor(() => client.state === "reconnecting", "the client to notice the restart");
    await stack.publish(range("a", 6, 12).map((c) => messageSent("restart", c)));
    const framesBefore = wire.frames.length;
    await stack.startEdge();
    await waitFor(() => chat.got.length >= 12, "the missed messages after the restart");

    await stack.publish([messageSent("restart", "a13")]);
    await waitFor(() => chat.got.length >= 13, "a live message after the replay");
    assert.deepEqual(chat.contents(), range("a", 1, 13));
    const seqs = chat.got.map((m) => m.meta.seq);
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), "sequences grow");
    const batched = wire.frames.slice(framesBefore).filter((f) => f.includes('"op":"message"') &&
                                                                   splitFrame(f).length > 1);
    assert.ok(batched.length > 0, "the replay came in frames carrying several messages");
  });

  test("an edge killed without goodbye: backoff, then recovery with since", async () => {
    const client = open(await stack.token("u-kill"));
    const chat = collect(client, "chat:kill");
    await chat.unsubscribe.ready;
    await stack.publish([messageSent("kill", "k1"), messageSent("kill", "k2")]);
    await waitFor(() => chat.got.length >= 2, "two messages before the kill");

    await stack.stopEdge("SIGKILL");
    await waitFor(() => client.state === "reconnecting", "the client to notice the kill");
    await stack.publish(range("k", 3, 6).map((c) => messageSent("kill", c)));
    await stack.startEdge();
    await waitFor(() => chat.got.length >= 6, "the messages published while the edge was dead");
    await stack.publish([messageSent("kill", "k7")]);
    await waitFor(() => chat.got.length >= 7, "a live message after recovery");
    assert.deepEqual(chat.contents(), range("k", 1, 7));
  });

  test("more missed messages than the server replays: the app is told to reload", async () => {
    const client = open(await stack.token("u-lost"));
    const unrecovered = [];
    client.on("unrecovered", (u) => unrecovered.push(u));
    const chat = collect(client, "chat:lost");
    await chat.unsubscribe.ready;
    await stack.publish([messageSent("lost", "l0")]);
    await waitFor(() => chat.got.length >= 1, "the first message");

    await stack.stopEdge("SIGTERM");
    await waitFor(() => client.state === "reconnecting", "the client to notice the restart");
    await stack.publish(range("l", 1, 25).map((c) => messageSent("lost", c)));  // limit is 20
    await stack.startEdge();
    await waitFor(() => unrecovered.length === 1, "the unrecovered notice");
    assert.equal(unrecovered[0].channel, "chat:lost");
    assert.equal(unrecovered[0].lastSeq, chat.got[0].meta.seq);
    assert.ok(unrecovered[0].seq > unrecovered[0].lastSeq);

    await stack.publish([messageSent("lost", "after")]);
    await waitFor(() => chat.contents().includes("after"), "live messages after the notice");
    assert.deepEqual(chat.contents(), ["l0", "after"], "nothing is replayed in part");
  });

  test("a token that expires closes with 4009; getToken's fresh token reconnects", async () => {
    let minted = 0;
    const getToken = async () => {
      minted += 1;
      return stack.token("u-expiry", { ttl: minted === 1 ? "1s" : "1h" });
    };
    const closesBefore = wire.closes.length;
    const client = open(getToken, { refreshBeforeExpiryMs: 0 });
    const chat = collect(client, "chat:expiry");
    await chat.unsubscribe.ready;
    await waitFor(() => wire.closes.slice(closesBefore).includes(4009), "close 4009", 5000);
    await waitFor(() => client.state === "connected" && minted >= 2, "re-authentication");
    await stack.publish([messageSent("expiry", "e1")]);
    await waitFor(() => chat.got.length >= 1, "a message on the re-authenticated connection");
    assert.deepEqual(chat.contents(), ["e1"]);
  });

  test("a token is refreshed before it expires: the connection stays", async () => {
    let minted = 0;
    const getToken = async () => {
      minted += 1;
      return stack.token("u-refresh", { ttl: "2s" });
    };
    const closesBefore = wire.closes.length;
    const client = open(getToken, { refreshBeforeExpiryMs: 1500 });
    await client.ready();
    const connection = client.connectionId;
    const firstExpiry = Date.now() + 2000;
    const chat = collect(client, "chat:refresh");
    await chat.unsubscribe.ready;
    await waitFor(() => Date.now() > firstExpiry + 500 && minted >= 3,
                  "two refreshes, past the first token's expiry", 8000);
    await stack.publish([messageSent("refresh", "r1")]);
    await waitFor(() => chat.got.length >= 1, "a message after the first token expired");
    assert.equal(client.connectionId, connection, "the same connection");
    assert.deepEqual(wire.closes.slice(closesBefore), [], "no close");
  });

  test("refusals carry the server's code", async () => {
    const client = open(await stack.token("u-errors"));
    await client.ready();
    await assert.rejects(client.subscribe("user:someone-else:notifications", () => {}).ready,
                         (e) => e instanceof BridgeError && e.code === "forbidden");
    await assert.rejects(client.subscribe("no-such-channel", () => {}).ready,
                         (e) => e instanceof BridgeError && e.code === "bad_channel");
    await assert.rejects(client.publish("user:u-errors:notifications", { title: "hi" }),
                         (e) => e instanceof BridgeError && e.code === "forbidden");
    await assert.rejects(client.setPresence("busy"),
                         (e) => e instanceof BridgeError && e.code === "bad_request");
    assert.equal(client.state, "connected", "refusals do not drop the connection");
  });

  test("an invalid fixed token: error unauthorized, close 4001, no reconnect", async () => {
    const errors = [];
    const client = open("not-a-token");
    client.on("error", (e) => errors.push(e));
    await waitFor(() => client.state === "closed", "the client to give up");
    assert.ok(errors.some((e) => e.code === "unauthorized" && e.closeCode === 4001),
              JSON.stringify(errors.map((e) => [e.code, e.closeCode])));
  });

  test("publish on a document reaches others, not the author; presence away is seen", async () => {
    const author = open(await stack.token("u-author"));
    const reader = open(await stack.token("u-reader"));
    const mine = collect(author, "doc:d1");
    const theirs = collect(reader, "doc:d1");
    const presence = [];
    reader.subscribe("org:7:presence", (data, meta) => presence.push({ data, meta }));
    await Promise.all([mine.unsubscribe.ready, theirs.unsubscribe.ready]);
    const { eventId } = await author.publish("doc:d1", { changes: { rev: 1 } });
    assert.ok(eventId.length > 0);
    await waitFor(() => theirs.got.length >= 1, "the change at the reader");
    assert.equal(theirs.got[0].data.by, "u-author");
    assert.equal(mine.got.length, 0, "skip_author: the author gets no echo");

    await author.setPresence("away");
    const away = (p) => p.meta.kind === "message" && p.data.user === "u-author" &&
                        p.data.status === "away";
    await waitFor(() => presence.some(away),
                  "u-author away on org 7");
    assert.equal(presence[0].meta.kind, "snapshot", "a presence channel starts with a snapshot");
  });

  test("notifications reach only their user; unsubscribe stops delivery", async () => {
    const client = open(await stack.token("u-bell"));
    const bell = collect(client, "user:u-bell:notifications");
    await bell.unsubscribe.ready;
    await stack.publish([notificationCreated("u-bell", "one"), notificationCreated("u-x", "no")]);
    await waitFor(() => bell.got.length >= 1, "the notification");
    bell.unsubscribe();
    const chat = collect(client, "chat:bell");
    await chat.unsubscribe.ready;
    await stack.publish([notificationCreated("u-bell", "two"), messageSent("bell", "sentinel")]);
    await waitFor(() => chat.got.length >= 1, "a later message on another channel");
    assert.deepEqual(bell.got.map((m) => m.data.title), ["one"]);
  });
});
