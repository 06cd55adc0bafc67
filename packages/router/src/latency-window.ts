import * as hdr from "hdr-histogram-js";

/** Latencies are recorded in microseconds, clamped to one minute. */
const MAX_US = 60_000_000;

export function newHistogram(): hdr.JsHistogram {
  return hdr.build({
    bitBucketSize: 32,
    autoResize: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: MAX_US,
    numberOfSignificantValueDigits: 2,
    useWebAssembly: false,
  }) as unknown as hdr.JsHistogram;
}

export function clampMicros(us: number): number {
  return us < 1 ? 1 : us > MAX_US ? MAX_US : Math.round(us);
}

/** Counters for one second of traffic of one track. */
interface Slot {
  second: number;
  requests: number;
  errors: number;
  connectFailures: number;
  histogram: hdr.JsHistogram | null;
}

/** The shape `GET /v1/stats` reports for one track (or one instance) over a window. */
export interface WindowSummary {
  requests: number;
  errors5xx: number;
  connectFailures: number;
  errorRate: number;
  latencyMs: { p50: number; p95: number; p99: number; mean: number; max: number };
  /** Non-empty histogram buckets as [upper bound in ms, count]: enough for rank tests. */
  latencyBuckets: [number, number][];
}

/**
 * A ring of one-second slots, so the analysis engine can ask "the last 30 s" without the router
 * keeping every sample. Histograms are allocated lazily and reused as the ring turns.
 */
export class LatencyWindow {
  private readonly slots: Slot[];
  private current: Slot;

  constructor(readonly seconds = 300) {
    this.slots = Array.from({ length: seconds }, () => ({
      second: -1,
      requests: 0,
      errors: 0,
      connectFailures: 0,
      histogram: null,
    }));
    this.current = this.slots[0]!;
  }

  private slotFor(nowMs: number): Slot {
    const second = Math.floor(nowMs / 1000);
    const cur = this.current;
    if (cur.second === second) return cur;
    const slot = this.slots[second % this.seconds]!;
    if (slot.second !== second) {
      slot.second = second;
      slot.requests = 0;
      slot.errors = 0;
      slot.connectFailures = 0;
      slot.histogram?.reset();
    }
    this.current = slot;
    return slot;
  }

  record(nowMs: number, latencyUs: number, is5xx: boolean): void {
    const slot = this.slotFor(nowMs);
    slot.requests++;
    if (is5xx) slot.errors++;
    (slot.histogram ??= newHistogram()).recordValue(clampMicros(latencyUs));
  }

  /** Epoch ms of the last second that saw traffic (0 when none yet). */
  get lastActiveMs(): number {
    return this.current.second < 0 ? 0 : this.current.second * 1000;
  }

  recordConnectFailure(nowMs: number): void {
    this.slotFor(nowMs).connectFailures++;
  }

  summarize(nowMs: number, windowSeconds: number): WindowSummary {
    const now = Math.floor(nowMs / 1000);
    const from = now - Math.min(windowSeconds, this.seconds) + 1;
    const merged = newHistogram();
    let requests = 0;
    let errors = 0;
    let connectFailures = 0;
    for (const s of this.slots) {
      if (s.second < from || s.second > now) continue;
      requests += s.requests;
      errors += s.errors;
      connectFailures += s.connectFailures;
      if (s.histogram && s.requests > 0) merged.add(s.histogram);
    }
    return summarizeHistogram(merged, requests, errors, connectFailures);
  }
}

export function summarizeHistogram(
  h: hdr.JsHistogram,
  requests: number,
  errors: number,
  connectFailures: number,
): WindowSummary {
  const ms = (us: number) => Math.round(us) / 1000;
  const buckets: [number, number][] = [];
  if (h.totalCount > 0) {
    const it = h.recordedValuesIterator;
    it.reset();
    while (it.hasNext()) {
      const v = it.next();
      buckets.push([ms(h.highestEquivalentValue(v.valueIteratedTo)), v.countAtValueIteratedTo]);
    }
  }
  return {
    requests,
    errors5xx: errors,
    connectFailures,
    errorRate: requests > 0 ? errors / requests : 0,
    latencyMs: {
      p50: ms(h.getValueAtPercentile(50)),
      p95: ms(h.getValueAtPercentile(95)),
      p99: ms(h.getValueAtPercentile(99)),
      mean: ms(h.mean),
      max: ms(h.maxValue),
    },
    latencyBuckets: buckets,
  };
}
