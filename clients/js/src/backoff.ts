// Reconnect delays: exponential backoff with full jitter (a uniformly random delay between
// 0 and the current cap), so clients dropped together by a restart do not come back together.

export interface BackoffOptions {
  /** Cap of the first retry's delay. Default 500 ms. */
  initialMs?: number;
  /** Largest cap, reached after a few failures. Default 30,000 ms. */
  maxMs?: number;
  /** Growth of the cap per failed attempt. Default 2. */
  factor?: number;
}

export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;

  constructor(options: BackoffOptions = {}, private readonly random: () => number = Math.random) {
    this.initialMs = Math.max(1, options.initialMs ?? 500);
    this.maxMs = Math.max(this.initialMs, options.maxMs ?? 30_000);
    this.factor = Math.max(1, options.factor ?? 2);
  }

  /** The delay before the next attempt; each call raises the cap until maxMs. */
  next(): number {
    const cap = Math.min(this.maxMs, this.initialMs * Math.pow(this.factor, this.attempt));
    if (cap < this.maxMs) this.attempt += 1;
    return Math.floor(this.random() * cap);
  }

  /** After a connection that worked: the next failure starts from initialMs again. */
  reset(): void {
    this.attempt = 0;
  }
}

/** A server-requested delay ("come back in about N ms"), spread by ±25 % so that every
 *  client of a restarting node does not arrive in the same millisecond. */
export function aroundMs(ms: number, random: () => number = Math.random): number {
  return Math.max(0, Math.round(ms * (0.75 + 0.5 * random())));
}
