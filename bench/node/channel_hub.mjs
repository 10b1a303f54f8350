// One core NATS subscription per distinct channel, fanned out in process: every subscriber of
// a channel gets its own async iterable of the channel's payloads (node:events `on`, the
// pattern tRPC's documentation uses for subscriptions). The subscription is opened by the
// channel's first subscriber and closed when its last one leaves. Each NATS message is parsed
// as JSON once, whatever the number of subscribers.
import { EventEmitter, on } from "node:events";

async function* payloadsOf(events) {
  for await (const [payload] of events) yield payload;
}

export class ChannelHub {
  #nc;
  #subjectPrefix;
  #channels = new Map(); // name -> { emitter, subscription, ready, members }

  constructor(nc, subjectPrefix) {
    this.#nc = nc;
    this.#subjectPrefix = subjectPrefix;
  }

  // Resolves, once the channel's NATS subscription has reached the server, to the payloads
  // published on the channel from then on, until `signal` aborts (which also leaves).
  async join(name, signal) {
    signal.throwIfAborted();
    const channel = this.#channels.get(name) ?? this.#open(name);
    channel.members += 1;
    // Listening starts now, before the wait, so nothing published meanwhile is missed.
    const events = on(channel.emitter, "message", { signal });
    const leave = () => this.#leave(name, channel);
    signal.addEventListener("abort", leave, { once: true });
    try {
      await channel.ready;
    } catch (err) {
      signal.removeEventListener("abort", leave);
      events.return();
      leave();
      throw err;
    }
    return payloadsOf(events);
  }

  #open(name) {
    const subject = this.#subjectPrefix + name;
    const emitter = new EventEmitter();
    emitter.setMaxListeners(0); // one listener per subscriber: thousands are expected
    const subscription = this.#nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) {
          console.error(`nats subscription failed subject=${subject} error=${err}`);
          return;
        }
        let payload;
        try {
          payload = msg.json();
        } catch (parseError) {
          console.error(
            `payload is not json subject=${subject} bytes=${msg.data.length} ` +
              `error=${JSON.stringify(parseError.message)}`,
          );
          return;
        }
        emitter.emit("message", payload);
      },
    });
    // The flush's PONG proves the server processed the SUB sent before it.
    const channel = { emitter, subscription, ready: this.#nc.flush(), members: 0 };
    channel.ready.catch(() => {}); // awaited by every join; this only marks it handled
    this.#channels.set(name, channel);
    return channel;
  }

  #leave(name, channel) {
    channel.members -= 1;
    if (channel.members > 0 || this.#channels.get(name) !== channel) return;
    this.#channels.delete(name);
    channel.subscription.unsubscribe();
  }
}
