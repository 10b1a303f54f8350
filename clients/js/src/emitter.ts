// A minimal typed event emitter: the SDK has no runtime dependencies, and the DOM's
// EventTarget would make every listener unwrap a CustomEvent.

type Listener = (...args: unknown[]) => void;

export class Emitter<Events extends Record<string, unknown[]>> {
  private readonly listeners = new Map<keyof Events, Set<Listener>>();

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    const held = listener as unknown as Listener;
    set.add(held);
    return () => set?.delete(held);
  }

  protected emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        listener(...args);
      } catch (e) {
        // An application listener that throws must not break the connection's bookkeeping.
        setTimeout(() => {
          throw e;
        }, 0);
      }
    }
  }
}
