import { valueBucket } from "./value-bucket.js";

/** What `POST /api/client/release-metrics` carries: one instance's metrics since its last report. */
export interface MetricsPayload {
  service: string;
  version: string;
  instanceId?: string;
  /**
   * Requests this instance handled since the last report (health probes left out): what a count
   * `per: request` is divided by, taken from the same reports as the counts so that neither lags
   * the other.
   */
  requests?: number;
  /** Increments since the last report. */
  counters: Record<string, number>;
  /** Observations since the last report: [bucket upper bound, count], ascending. */
  histograms: Record<string, [number, number][]>;
}

/** Metric names as Prometheus spells them, so that the same name works in both sources. */
export const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]{0,199}$/;

/**
 * Counters and histograms gathered since the last report. A report that could not be sent is
 * merged back; memory is bounded by the names the application uses and ~90 buckets a decade.
 */
export class MetricsReport {
  #requests = 0;
  #counters = new Map<string, number>();
  #histograms = new Map<string, Map<number, number>>();

  request(): void {
    this.#requests++;
  }

  count(name: string, by: number): void {
    this.#counters.set(name, (this.#counters.get(name) ?? 0) + by);
  }

  observe(name: string, value: number, times = 1): void {
    let h = this.#histograms.get(name);
    if (!h) {
      h = new Map();
      this.#histograms.set(name, h);
    }
    const le = valueBucket(value);
    h.set(le, (h.get(le) ?? 0) + times);
  }

  /** What was gathered, and a fresh start; undefined when nothing was. */
  take(): Pick<MetricsPayload, "requests" | "counters" | "histograms"> | undefined {
    if (this.#requests === 0 && this.#counters.size === 0 && this.#histograms.size === 0) return undefined;
    const requests = this.#requests;
    const counters = Object.fromEntries(this.#counters);
    const histograms: Record<string, [number, number][]> = {};
    for (const [name, h] of this.#histograms) histograms[name] = [...h.entries()].sort((a, b) => a[0] - b[0]);
    this.#requests = 0;
    this.#counters = new Map();
    this.#histograms = new Map();
    return { requests, counters, histograms };
  }

  /** Puts back a report that could not be sent. */
  restore(payload: Pick<MetricsPayload, "requests" | "counters" | "histograms">): void {
    this.#requests += payload.requests ?? 0;
    for (const [name, n] of Object.entries(payload.counters)) this.count(name, n);
    for (const [name, buckets] of Object.entries(payload.histograms))
      for (const [le, n] of buckets) this.observe(name, le, n);
  }
}
