import type { ServiceConfig } from "./config-schema.js";

export type ClientLimits = ServiceConfig["clients"];

/** An exchange as the guard sees it: something that may be waiting on a client. */
export interface GuardedExchange {
  /** Whether the router is waiting on the client right now (for body bytes, or for it to read). */
  waitingOnClient(): boolean;
  /** Bytes the client has moved so far, both ways; only differences matter. */
  clientProgress(): number;
  /** The client is too slow: end its exchange (408 if nothing was answered yet, else a cut). */
  cutSlowClient(): void;
  /** Guard bookkeeping: start of the current window and the progress at that moment. */
  guardWindowStart: number;
  guardMark: number;
}

/**
 * Per-service protection against clients that hold the router's resources at their own pace
 * (nginx's client_body_timeout/send_timeout and limit_conn, as a rate rather than a stall):
 *
 * - a client that moves fewer than `minBytes` in `minBytesWindow` while the router waits on it is
 *   cut. Trickling a byte now and then does not reset anything, unlike a plain idle timeout.
 * - one client address has at most `maxConcurrent` exchanges in flight with the service.
 *
 * Exchanges are watched only once they wait on their client (a body still arriving, a response
 * backed up), so fast requests never touch the set; one timer per service does the checking.
 */
export class ClientGuard {
  private readonly watched = new Set<GuardedExchange>();
  private readonly perAddress = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly limits: () => ClientLimits) {}

  /** Exchanges in flight per client address (for tests and views). */
  inFlight(address: string): number {
    return this.perAddress.get(address) ?? 0;
  }

  get watching(): number {
    return this.watched.size;
  }

  /** Takes a slot for `address`; false when it already has `maxConcurrent` exchanges in flight. */
  acquire(address: string): boolean {
    const max = this.limits().maxConcurrent;
    if (max === 0) return true;
    const n = this.perAddress.get(address) ?? 0;
    if (n >= max) return false;
    this.perAddress.set(address, n + 1);
    return true;
  }

  release(address: string): void {
    const n = this.perAddress.get(address);
    if (n === undefined) return;
    if (n <= 1) this.perAddress.delete(address);
    else this.perAddress.set(address, n - 1);
  }

  watch(x: GuardedExchange): void {
    if (this.watched.has(x) || this.limits().minBytes === 0) return;
    x.guardWindowStart = Date.now();
    x.guardMark = x.clientProgress();
    this.watched.add(x);
    if (!this.timer) {
      this.timer = setInterval(() => this.check(), 1000);
      this.timer.unref();
    }
  }

  unwatch(x: GuardedExchange): void {
    this.watched.delete(x);
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.watched.clear();
  }

  private check(): void {
    const { minBytes, minBytesWindow } = this.limits();
    const now = Date.now();
    const cut: GuardedExchange[] = [];
    for (const x of this.watched) {
      // Time the router spends waiting on the instance or on the pool is not the client's fault.
      if (!x.waitingOnClient()) {
        x.guardWindowStart = now;
        x.guardMark = x.clientProgress();
        continue;
      }
      if (now - x.guardWindowStart < minBytesWindow) continue;
      const progress = x.clientProgress();
      if (minBytes > 0 && progress - x.guardMark < minBytes) cut.push(x);
      x.guardWindowStart = now;
      x.guardMark = progress;
    }
    for (const x of cut) {
      this.watched.delete(x);
      x.cutSlowClient();
    }
    if (this.watched.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
