import { twoDigitBucket } from "@baton/flags";
import { z } from "zod";
import type { Buckets } from "../analysis/histogram.js";
import { METRIC_NAME } from "../analysis/metric-check-schema.js";
import { BatonControlError } from "../errors.js";

const name = z.string().regex(METRIC_NAME, "a metric name: letters, digits, _ and :, at most 200 characters");
const count = z.number().finite().min(0).max(1e12);

/**
 * `POST /api/client/release-metrics` (Baton's own): one instance's counters and histograms since
 * its last report, sent by @baton/runtime's `createReleaseMetrics`.
 */
export const releaseMetricsBody = z
  .strictObject({
    service: z.string().min(1).max(256),
    version: z.string().min(1).max(256),
    instanceId: z.string().max(256).optional(),
    requests: count.optional(),
    counters: z.record(name, count).default({}),
    histograms: z
      .record(name, z.array(z.tuple([z.number().finite().min(0).max(1e15), count])).max(2_000))
      .default({}),
  })
  .refine(
    (r) => Object.keys(r.counters).length + Object.keys(r.histograms).length <= 500,
    "at most 500 metrics per report",
  );
export type ReleaseMetricsReport = z.infer<typeof releaseMetricsBody>;

interface Series {
  count: number;
  buckets: Map<number, number>;
  seenAt: number;
}

/** Cumulative totals of one metric of one version at one moment. */
export interface MetricMark {
  count: number;
  buckets: Buckets;
  /** The version's requests as its SDKs counted them, up to the same reports. */
  requests: number;
}

/** How many (service, version, metric) series are kept; idle ones make room first. */
export const MAX_SERIES = 10_000;
const IDLE_MS = 15 * 60_000;

/**
 * The application's own metrics per service, version and name, summed over every instance since
 * the control plane started. Kept in memory, like flag outcomes: the analysis compares what came
 * in during its window (two marks), and after a restart a step's window starts again. Bounded:
 * only the series `keeps` accepts (the control plane: the metrics baton.yaml's analysis reads, of
 * the versions it runs), at most MAX_SERIES, values put back on a grid of ~1,600 buckets.
 */
export class AppMetrics {
  private readonly series = new Map<string, Series>();

  /**
   * @param keeps which series to keep (the rest of a report is dropped, not refused: an SDK may
   *   count more than the analysis reads); the control plane keeps the metrics its
   *   `analysis.metrics` names, of the versions it runs. `metric` is "" for a version's requests.
   */
  constructor(
    private readonly keeps: (service: string, version: string, metric: string) => boolean = () => true,
    private readonly now: () => number = Date.now,
  ) {}

  /** Adds a report whole, or nothing of it (a report that would pass MAX_SERIES is refused). */
  add(report: ReleaseMetricsReport): void {
    const at = this.now();
    const { service, version } = report;
    const kept = (metric: string) => this.keeps(service, version, metric === REQUESTS ? "" : metric);
    const counters = Object.entries(report.counters).filter(([m]) => kept(m));
    const histograms = Object.entries(report.histograms).filter(([m]) => kept(m));
    const requests = report.requests !== undefined && kept(REQUESTS) ? report.requests : undefined;
    const names = [
      ...(requests !== undefined ? [REQUESTS] : []),
      ...counters.map(([m]) => m),
      ...histograms.map(([m]) => m),
    ];
    const fresh = names.filter((m) => !this.series.has(key(service, version, m)));
    if (this.series.size + fresh.length > MAX_SERIES) this.evictIdle(at);
    if (this.series.size + fresh.length > MAX_SERIES)
      throw new BatonControlError(
        "BATON_BAD_REQUEST",
        `the control plane already keeps ${this.series.size} metric series (service, version, name) reported in the last ${IDLE_MS / 60_000} minutes, of ${MAX_SERIES} at most; ${fresh.length} new ones from ${service} ${version} were refused`,
      );
    if (requests !== undefined) this.at(report, REQUESTS, at).count += requests;
    for (const [metric, n] of counters) this.at(report, metric, at).count += n;
    for (const [metric, buckets] of histograms) {
      const s = this.at(report, metric, at);
      for (const [value, n] of buckets) {
        const le = gridOf(value);
        s.buckets.set(le, (s.buckets.get(le) ?? 0) + n);
        s.count += n;
      }
    }
  }

  /** The totals of a metric of a version now (zeros when nobody reported it). */
  mark(service: string, version: string, metric: string): MetricMark {
    const requests = this.series.get(key(service, version, REQUESTS))?.count ?? 0;
    const s = this.series.get(key(service, version, metric));
    if (!s) return { count: 0, buckets: [], requests };
    return { count: s.count, buckets: [...s.buckets.entries()].sort((a, b) => a[0] - b[0]), requests };
  }

  /**
   * Whether the service's SDKs count requests (any version did): then a count per request is
   * divided by theirs, and a version that has not reported yet has no numbers, rather than a
   * count of 0 against the router's requests.
   */
  countsRequests(service: string): boolean {
    const suffix = `\u0000${REQUESTS}`;
    for (const k of this.series.keys())
      if (k.startsWith(`${service}\u0000`) && k.endsWith(suffix)) return true;
    return false;
  }

  /** Whether any instance of the service reported anything: "no SDK" is said differently from "no events". */
  reported(service: string): boolean {
    const prefix = `${service}\u0000`;
    for (const k of this.series.keys()) if (k.startsWith(prefix)) return true;
    return false;
  }

  /** What came in between two marks. */
  static since(now: MetricMark, start: MetricMark): MetricMark {
    const before = new Map(start.buckets.map(([le, n]) => [le, n]));
    const buckets = now.buckets
      .map(([le, n]) => [le, n - (before.get(le) ?? 0)] as [number, number])
      .filter(([, n]) => n > 0);
    return {
      count: Math.max(0, now.count - start.count),
      buckets,
      requests: Math.max(0, now.requests - start.requests),
    };
  }

  private at(report: ReleaseMetricsReport, metric: string, at: number): Series {
    const k = key(report.service, report.version, metric);
    let s = this.series.get(k);
    if (!s) {
      s = { count: 0, buckets: new Map(), seenAt: at };
      this.series.set(k, s);
    }
    s.seenAt = at;
    return s;
  }

  private evictIdle(at: number): void {
    for (const [k, s] of this.series) if (at - s.seenAt > IDLE_MS) this.series.delete(k);
  }
}

/** The series of a version's requests; not a valid metric name, so no report can collide with it. */
const REQUESTS = " requests";
const key = (service: string, version: string, metric: string) => `${service}\u0000${version}\u0000${metric}`;

/** The SDK's grid (two significant digits), so that whatever a client sends, a series holds ~90 buckets a decade. */
function gridOf(value: number): number {
  // 1e-6 to 1e12: eighteen decades, at most ~1,600 buckets a series whatever values arrive.
  return value > 0 ? twoDigitBucket(value, 1e-6, 1e12) : 0;
}
