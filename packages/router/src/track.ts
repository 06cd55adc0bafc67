import type { TrackConfig } from "./config-schema.js";
import type { Instance } from "./instance.js";
import type { TrackStats } from "./track-stats.js";

/**
 * One track of one routing table: its bucket range and its members. A table's tracks never change
 * after it is built except `ready`, which is rebuilt (off the request path) when an instance's
 * state changes.
 */
export class Track {
  /** Instances of this track that take traffic now. */
  ready: Instance[] = [];

  constructor(
    readonly name: string,
    readonly config: TrackConfig,
    /** Sticky buckets [start, end) of this track. */
    readonly start: number,
    readonly end: number,
    readonly members: Instance[],
    readonly stats: TrackStats,
  ) {}

  get version(): string {
    return this.config.version;
  }

  refreshReady(): void {
    this.ready = this.members.filter((m) => m.acceptsTraffic);
  }

  /** Power of two choices on in-flight requests: cheap, and avoids piling onto a slow instance. */
  pick(exclude?: ReadonlySet<Instance>): Instance | undefined {
    const ready = this.ready;
    const n = ready.length;
    if (n === 0) return undefined;
    if (!exclude || exclude.size === 0) {
      if (n === 1) return ready[0];
      const a = ready[(Math.random() * n) | 0]!;
      const b = ready[(Math.random() * n) | 0]!;
      return a.inflight <= b.inflight ? a : b;
    }
    let best: Instance | undefined;
    for (const i of ready) {
      if (exclude.has(i)) continue;
      if (!best || i.inflight < best.inflight) best = i;
    }
    return best;
  }
}
