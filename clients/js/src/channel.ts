// One subscribed channel: its handlers, and the position (epoch, seq) of the last message
// delivered, which the next subscribe sends as `since` and which drops anything at or
// below it, so each message reaches the application once and in order across reconnects.
import type { MessageHandler, MessageMeta } from "./types.js";

export interface SubscribedReply {
  seq: number;
  epoch: string;
  recovered: boolean;
}

export class Channel {
  readonly handlers = new Set<MessageHandler>();
  seq: number | undefined;
  epoch: string | undefined;
  /** The connection generation on which the server holds this subscription; -1: none. */
  liveOn = -1;
  /** A subscribe command for this channel is on the wire. */
  requesting = false;
  private readyWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];

  constructor(readonly name: string) {}

  /** The `since` of the next subscribe, once a position is known. */
  since(): { seq: number; epoch: string } | undefined {
    if (this.seq === undefined || this.epoch === undefined) return undefined;
    return { seq: this.seq, epoch: this.epoch };
  }

  /**
   * Applies a `subscribed` reply. Returns the position that was lost when the server could
   * not replay what was missed (recovered false while a position was sent), else undefined.
   */
  applySubscribed(reply: SubscribedReply, generation: number): number | undefined {
    const sent = this.since();
    this.liveOn = generation;
    let lost: number | undefined;
    if (sent && !reply.recovered) lost = sent.seq;
    if (!sent || !reply.recovered || reply.epoch !== sent.epoch) {
      // Live messages continue after the channel's last sequence (a snapshot that follows
      // sets the position back to the state it describes).
      this.seq = reply.seq;
      this.epoch = reply.epoch;
    }
    return lost;
  }

  /** Delivers a message or snapshot unless it is at or below the position. */
  deliver(data: unknown, meta: MessageMeta): void {
    if (meta.kind === "message" && this.epoch === meta.epoch && this.seq !== undefined &&
        meta.seq <= this.seq) {
      return;  // already delivered (a replay overlapping what arrived before the drop)
    }
    this.seq = meta.seq;
    this.epoch = meta.epoch;
    for (const h of [...this.handlers]) {
      try {
        h(data, meta);
      } catch (e) {
        setTimeout(() => {
          throw e;
        }, 0);
      }
    }
  }

  whenReady(): Promise<void> {
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  settleReady(error?: Error): void {
    const waiters = this.readyWaiters.splice(0);
    for (const w of waiters) {
      if (error) {
        w.reject(error);
      } else {
        w.resolve();
      }
    }
  }
}
