import type { VersionSet } from "./release-recovery.js";

/** The previous version blue-green keeps running and health-checked, and until when. */
export interface Warm extends VersionSet {
  until: number;
  source: { dir: string | null; env: Record<string, string> };
}

/** setTimeout's ceiling (about 24.8 days); longer warm periods are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Holds the warm previous version and the timer that ends its warm period. Taking it (for an
 * instant rollback, a new release, or shutting down) cancels the timer, so it is retired once.
 */
export class WarmVersion {
  private warm: Warm | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly expired: () => void) {}

  get current(): Warm | undefined {
    return this.warm;
  }

  keep(set: Warm): void {
    this.take();
    this.warm = set;
    const arm = () => {
      this.timer = setTimeout(
        () => {
          if (this.warm !== set) return;
          if (Date.now() < set.until) return arm();
          this.expired();
        },
        Math.max(0, Math.min(set.until - Date.now(), MAX_TIMER_MS)),
      );
      this.timer.unref();
    };
    arm();
  }

  /** The warm version, no longer kept: whoever takes it retires it or switches to it. */
  take(): Warm | undefined {
    clearTimeout(this.timer);
    const warm = this.warm;
    this.warm = undefined;
    return warm;
  }

  /** Stops the timer and forgets the version, leaving its instances running (`baton up` exiting). */
  detach(): void {
    clearTimeout(this.timer);
  }
}
