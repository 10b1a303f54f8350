// The Node.js peer of the handler host: the JetStream consumer a TypeScript service would
// write with @nats-io/jetstream. It consumes a durable pull consumer, decodes each
// MessagePack body and acknowledges each message, until SIGTERM or --seconds.
//   node consumer.mjs --url U --stream S --durable D --subject SUBJ [--seconds 600]
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import { decode } from "@msgpack/msgpack";

function args() {
  const out = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i + 1 < argv.length; i += 2) out[argv[i].replace(/^--/, "")] = argv[i + 1];
  for (const k of ["url", "stream", "durable", "subject"]) {
    if (!out[k]) throw new Error(`missing --${k}`);
  }
  return out;
}

const a = args();
const nc = await connect({ servers: a.url });
const jsm = await jetstreamManager(nc);
await jsm.consumers.add(a.stream, {
  durable_name: a.durable,
  filter_subject: a.subject,
  ack_policy: AckPolicy.Explicit,
  deliver_policy: DeliverPolicy.All,
  max_ack_pending: 4096,
  ack_wait: 30_000_000_000, // nanoseconds
});
const consumer = await jetstream(nc).consumers.get(a.stream, a.durable);
const messages = await consumer.consume({ max_messages: 1024 });

const stop = async () => {
  await messages.close();
  await nc.close();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
setTimeout(stop, 1000 * Number(a.seconds ?? 600)).unref();

for await (const m of messages) {
  const body = decode(m.data);
  if (body === null || typeof body !== "object") throw new Error("body is not a map");
  m.ack();
}
