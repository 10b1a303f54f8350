// Self-check of edge_peer.mjs on loopback: starts its own nats-server and edge peer, connects
// 50 `ws` clients split over two channels, publishes 100 messages on each channel's subject
// and requires every client to get exactly its channel's 100, in order. Also requires one
// NATS subscription per channel (read from nats-server's monitoring port), that the last
// client leaving a channel closes its subscription, and that SIGTERM closes the clients
// (1001) and exits 0. Exits non-zero naming what failed. Stops only the processes it started.
//
//   node edge_peer_check.mjs [--timeout-ms 10000]
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { connect } from "@nats-io/transport-node";
import WebSocket from "ws";

const CLIENTS = 50;
const CHANNELS = ["check0", "check1"];
const MESSAGES = 100;
const POLL_MS = 20;

const { values } = parseArgs({ options: { "timeout-ms": { type: "string", default: "10000" } } });
const TIMEOUT_MS = Number(values["timeout-ms"]);
const started = [];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what, condition) {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${TIMEOUT_MS} ms: ${what}`);
    await sleep(POLL_MS);
  }
}

function start(command, args, name) {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  child.exited = new Promise((resolve) => {
    child.once("exit", (code) => resolve(code));
    child.once("error", () => resolve(null)); // never started: no exit event follows
  });
  child.output = "";
  child.log = ""; // stderr, printed if the check fails
  child.stdout.on("data", (d) => (child.output += d));
  child.stderr.on("data", (d) => (child.log += d));
  child.label = name;
  child.once("error", (err) => console.error(`${name} could not start: ${err.message}`));
  started.push(child);
  return child;
}

async function startNats(dir) {
  start("nats-server", ["-a", "127.0.0.1", "-p", "-1", "-m", "-1", "--ports_file_dir", dir],
    "nats-server");
  const portsFile = await waitFor("nats-server ports file", () =>
    readdirSync(dir).find((f) => f.endsWith(".ports")));
  const ports = JSON.parse(readFileSync(join(dir, portsFile), "utf8"));
  return { url: ports.nats[0], monitoring: ports.monitoring[0] };
}

async function startPeer(natsUrl) {
  const peer = start(process.execPath,
    [new URL("./edge_peer.mjs", import.meta.url).pathname, "--nats", natsUrl, "--port", "0"],
    "edge-peer");
  const port = await waitFor("edge peer printing 'listening <port>'", () => {
    if (peer.exitCode !== null) throw new Error(`edge peer exited ${peer.exitCode}`);
    return /^listening (\d+)\n/.exec(peer.output)?.[1];
  });
  return { peer, port };
}

function subscribeClient(port, index) {
  const client = { channel: CHANNELS[index % CHANNELS.length], started: false, seqs: [] };
  client.ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  client.closed = new Promise((resolve) => client.ws.once("close", (code) => resolve(code)));
  client.ws.on("error", (err) => (client.error = err.message));
  client.ws.once("open", () => client.ws.send(JSON.stringify({
    id: index + 1, jsonrpc: "2.0", method: "subscription",
    params: { path: "channel", input: { channel: client.channel } },
  })));
  client.ws.on("message", (text) => {
    const frame = JSON.parse(text.toString());
    if (frame.id !== index + 1 || frame.jsonrpc !== "2.0" || !frame.result) {
      client.error = `unexpected frame ${text}`;
    } else if (frame.result.type === "started") {
      client.started = true;
    } else if (frame.result.type === "data" && frame.result.data.channel === client.channel) {
      client.seqs.push(frame.result.data.seq);
    } else if (frame.result.type !== "stopped") {
      client.error = `unexpected frame ${text}`;
    }
  });
  return client;
}

async function peerSubjects(monitoring) {
  const response = await fetch(`${monitoring}/connz?subs=1`);
  const connz = await response.json();
  const peer = connz.connections.find((c) => c.name === "edge-peer");
  return (peer?.subscriptions_list ?? []).sort();
}

function expectEqual(what, actual, expected) {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`${what}: got ${JSON.stringify(actual)}, want ${JSON.stringify(expected)}`);
  }
}

async function publishAll(natsUrl) {
  const nc = await connect({ servers: natsUrl });
  for (let seq = 0; seq < MESSAGES; seq++) {
    for (const channel of CHANNELS) {
      nc.publish(`bench.${channel}`, JSON.stringify({ seq, ts: Date.now(), channel }));
    }
  }
  await nc.drain();
}

async function check(dir) {
  const nats = await startNats(dir);
  const { peer, port } = await startPeer(nats.url);
  const clients = Array.from({ length: CLIENTS }, (_, i) => subscribeClient(port, i));
  await waitFor("every client seeing 'started'", () => clients.every((c) => c.started));
  expectEqual("NATS subscriptions of the peer", await peerSubjects(nats.monitoring),
    CHANNELS.map((c) => `bench.${c}`));

  await publishAll(nats.url);
  const want = Array.from({ length: MESSAGES }, (_, i) => i);
  // A timeout here is reported below as the first client that is short.
  await waitFor(`every client receiving ${MESSAGES} messages`, () =>
    clients.every((c) => c.seqs.length >= MESSAGES || c.error)).catch(() => {});
  for (const [i, c] of clients.entries()) {
    if (c.error) throw new Error(`client ${i}: ${c.error}`);
    const first = want.findIndex((seq, at) => c.seqs[at] !== seq);
    if (first >= 0 || c.seqs.length !== MESSAGES) {
      throw new Error(`client ${i} (${c.channel}) got ${c.seqs.length} messages, ` +
        `want seq 0..${MESSAGES - 1} in order; first wrong at index ${first}: ` +
        `seq ${c.seqs[first]}`);
    }
  }

  const leaving = clients.filter((c) => c.channel === CHANNELS[1]);
  for (const c of leaving) c.ws.close();
  await waitFor(`the peer's subscription to bench.${CHANNELS[1]} closing`, async () =>
    JSON.stringify(await peerSubjects(nats.monitoring)) === `["bench.${CHANNELS[0]}"]`);

  peer.kill("SIGTERM");
  const exitCode = await Promise.race([peer.exited, sleep(TIMEOUT_MS).then(() => "timeout")]);
  expectEqual("edge peer exit code after SIGTERM", exitCode, 0);
  const staying = clients.filter((c) => c.channel === CHANNELS[0]);
  expectEqual("close codes after SIGTERM", [...new Set(await Promise.all(
    staying.map((c) => c.closed)))], [1001]);
}

const dir = mkdtempSync(join(tmpdir(), "edge-peer-check-"));
let failed = false;
try {
  await check(dir);
  console.log(`edge peer check passed clients=${CLIENTS} messages=${MESSAGES}`);
} catch (err) {
  failed = true;
  for (const child of started) if (child.log) console.error(`[${child.label}]\n${child.log}`);
  console.error(`edge peer check failed: ${err.message}`);
} finally {
  for (const child of started) if (child.exitCode === null) child.kill("SIGKILL");
  await Promise.all(started.map((child) => child.exited));
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
