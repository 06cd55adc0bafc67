import { LatencyWindow } from "./latency-window.js";

/** Traffic of one version of one track, kept across table swaps so windows survive weight moves. */
export class TrackStats {
  readonly window = new LatencyWindow(300);
  requests = 0;
  errors5xx = 0;
  websocketsOpen = 0;
  websocketsTotal = 0;
  /** Requests that waited for a ready instance (paused), and those that gave up waiting. */
  paused = 0;
  pauseTimeouts = 0;
  /** Passive ejections of the version's instances, and when the recent ones happened (epoch ms). */
  ejections = 0;
  private readonly ejectedAt: number[] = [];

  constructor(
    readonly track: string,
    readonly version: string,
  ) {}

  recordEjection(nowMs: number): void {
    this.ejections++;
    const times = this.ejectedAt;
    times.push(nowMs);
    // Ejections are rare (each one takes an instance out for a back-off), so a plain array is
    // enough; times older than the longest window, or past a bound, are dropped.
    const horizon = nowMs - this.window.seconds * 1000;
    while (times.length > 0 && (times[0]! <= horizon || times.length > 10_000)) times.shift();
  }

  /** Ejections in the last `windowSeconds` up to `nowMs`. */
  ejectionsWithin(nowMs: number, windowSeconds: number): number {
    const from = nowMs - windowSeconds * 1000;
    let n = 0;
    for (const t of this.ejectedAt) if (t > from && t <= nowMs) n++;
    return n;
  }
}
