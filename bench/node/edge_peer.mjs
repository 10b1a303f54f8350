// The Node.js peer of the WebSocket edge: what a TypeScript team would write for the job, a
// tRPC v11 router served by @trpc/server's WebSocket adapter on a `ws` server, fed by core
// NATS subscriptions.
//
//   node edge_peer.mjs --nats nats://127.0.0.1:<p> --port <PORT> [--shutdown-grace-ms 1000]
//
// Prints `listening <port>` on stdout once the WebSocket server accepts connections (with
// --port 0 it is the port the kernel picked). SIGTERM or SIGINT closes every connection,
// drains NATS and exits 0. Errors go to stderr; losing NATS exits 1.
//
// Wire format (text frames, JSON; observed from @trpc/server 11.25.2 with the default
// jsonEncoder and no transformer; keys in this order):
//   client: {"id":1,"jsonrpc":"2.0","method":"subscription",
//            "params":{"path":"channel","input":{"channel":"c0"}}}
//   server: {"id":1,"jsonrpc":"2.0","result":{"type":"started"}}
//   server: {"id":1,"jsonrpc":"2.0","result":{"type":"data","data":<payload>}}  (per message)
//   client: {"id":1,"jsonrpc":"2.0","method":"subscription.stop"}
//   server: {"id":1,"jsonrpc":"2.0","result":{"type":"stopped"}}
// <payload> is the NATS message body parsed as JSON and serialized again by tRPC for each
// subscriber (no extra "id" field: that appears only for tracked() events, not used here).
// A bad request gets {"id":1,"jsonrpc":"2.0","error":{"message":..,"code":-32600,..}}.
// "started" is sent only after the channel's NATS subscription reached the server, so a
// message published after a client saw "started" reaches that client.
//
// Channel <name> maps to the NATS subject `bench.<name>`; a name is letters, digits, '_' or
// '-' in dot-separated tokens (anything else, wildcards included, is a BAD_REQUEST).
// ONE core NATS subscription per distinct channel, shared by all of its subscribers
// through an in-process EventEmitter (channel_hub.mjs): this is how such services are
// usually written, since a NATS subscription per WebSocket client would make nats-server
// copy every message once per client over the one connection, and parse the JSON once per
// client.
import { parseArgs } from "node:util";
import { initTRPC } from "@trpc/server";
import { applyWSSHandler } from "@trpc/server/adapters/ws";
import { connect } from "@nats-io/transport-node";
import { WebSocketServer } from "ws";
import { z } from "zod";
import { ChannelHub } from "./channel_hub.mjs";

function readOptions() {
  const { values } = parseArgs({
    options: {
      nats: { type: "string" },
      port: { type: "string" },
      "shutdown-grace-ms": { type: "string", default: "1000" },
    },
    strict: true,
  });
  if (!values.nats) throw new Error("missing --nats nats://HOST:PORT");
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port must be 0..65535, got '${values.port ?? ""}'`);
  }
  const graceMs = Number(values["shutdown-grace-ms"]);
  if (!Number.isInteger(graceMs) || graceMs < 0) {
    throw new Error(`--shutdown-grace-ms must be a whole number >= 0`);
  }
  return { natsUrl: values.nats, port, graceMs };
}

// A channel name becomes one subject token or several dot-separated ones; NATS wildcards,
// spaces and empty tokens are refused so one client cannot subscribe to many channels.
const channelName = z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, {
  message: "channel must be letters, digits, '_' or '-', in dot-separated tokens",
});

function makeRouter(hub) {
  // isDev false: errors carry no stack trace, as with NODE_ENV=production.
  const t = initTRPC.create({ isDev: false });
  return t.router({
    channel: t.procedure
      .input(z.object({ channel: channelName }))
      // An async resolver that returns the feed (rather than an async generator that
      // joins in its body) so the NATS subscription is live before tRPC says "started".
      .subscription(async ({ input, signal }) => hub.join(input.channel, signal)),
  });
}

function listen(port) {
  const wss = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    wss.once("listening", () => resolve(wss));
    wss.once("error", reject);
  });
}

function logTrpcError({ error, path, type }) {
  console.error(
    `trpc request failed path=${path ?? "-"} type=${type} code=${error.code} ` +
      `message=${JSON.stringify(error.message)}`,
  );
}

// Closes every WebSocket (1001 going away), terminates those still open after graceMs,
// then drains NATS so every subscription is unsubscribed before the connection closes.
// Either may still be missing when the signal comes during start-up.
async function shutdown({ wss, nc }, graceMs) {
  if (wss) {
    wss.close();
    for (const client of wss.clients) client.close(1001, "server shutting down");
    const deadline = Date.now() + graceMs;
    while (wss.clients.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    for (const client of wss.clients) client.terminate();
  }
  if (nc) await nc.drain();
}

async function main() {
  const options = readOptions();
  const peer = { nc: null, wss: null, stopping: false };
  const stop = async (signal) => {
    if (peer.stopping) return;
    peer.stopping = true;
    try {
      await shutdown(peer, options.graceMs);
      process.exit(0);
    } catch (err) {
      console.error(`shutdown failed signal=${signal} message=${err.message}`);
      process.exit(1);
    }
  };
  // Before anything starts, so a signal during start-up also ends in a clean exit.
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));

  peer.nc = await connect({ servers: options.natsUrl, name: "edge-peer" });
  peer.nc.closed().then((err) => {
    if (peer.stopping) return;
    console.error(`nats connection closed error=${JSON.stringify(String(err ?? "none"))}`);
    process.exit(1);
  });
  if (peer.stopping) return; // stop() saw no connection yet; this one is dropped at exit
  const hub = new ChannelHub(peer.nc, "bench.");
  peer.wss = await listen(options.port);
  if (peer.stopping) return;
  peer.wss.on("error", (err) => console.error(`websocket server error message=${err.message}`));
  applyWSSHandler({ wss: peer.wss, router: makeRouter(hub), onError: logTrpcError });
  process.stdout.write(`listening ${peer.wss.address().port}\n`);
}

main().catch((err) => {
  console.error(`edge peer failed message=${JSON.stringify(err.message)}`);
  process.exit(1);
});
