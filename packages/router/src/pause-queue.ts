/** A request waiting for its track to have a ready instance. */
export interface Waiter {
  track: string;
  /** Called when the wait ends: with `true` to try again, `false` when it timed out. */
  wake(retry: boolean): void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Requests that arrived while their track had no ready instance. Bounded in count (memory) and in
 * time; woken when an instance becomes ready or the table changes.
 */
export class PauseQueue {
  private waiters: Waiter[] = [];

  get size(): number {
    return this.waiters.length;
  }

  /** Returns false when the queue is full: the caller answers 503 at once. */
  add(track: string, timeoutMs: number, max: number, wake: (retry: boolean) => void): boolean {
    if (this.waiters.length >= max || timeoutMs <= 0) return false;
    const w: Waiter = { track, wake, timer: undefined };
    w.timer = setTimeout(() => {
      const i = this.waiters.indexOf(w);
      if (i >= 0) this.waiters.splice(i, 1);
      w.wake(false);
    }, timeoutMs);
    this.waiters.push(w);
    return true;
  }

  /** Wakes the waiters for which `ready(track)` is true, in arrival order. */
  wake(ready: (track: string) => boolean): void {
    if (this.waiters.length === 0) return;
    const keep: Waiter[] = [];
    const go: Waiter[] = [];
    for (const w of this.waiters) (ready(w.track) ? go : keep).push(w);
    this.waiters = keep;
    for (const w of go) {
      clearTimeout(w.timer);
      w.wake(true);
    }
  }

  /** Ends every wait with a timeout answer (router shutting down). */
  clear(): void {
    const all = this.waiters;
    this.waiters = [];
    for (const w of all) {
      clearTimeout(w.timer);
      w.wake(false);
    }
  }
}
