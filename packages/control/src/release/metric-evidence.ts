import type { MetricEvidence } from "../analysis/analyze-release.js";
import type { MetricCheck, MetricSample } from "../analysis/metric-analysis.js";
import { AppMetrics, type MetricMark } from "../release-metrics/app-metrics.js";
import { fillQuery, type PrometheusSource, prometheusCount } from "../release-metrics/prometheus-count.js";

/** Where the application's metrics come from during a release. */
export interface MetricSources {
  /** What services report with @baton/runtime (the control plane's release-metrics API). */
  app?: AppMetrics;
  /** For metrics with a `query`. */
  prometheus?: PrometheusSource;
}

type Marks = Map<string, MetricMark>;

/**
 * The application's metrics for one step, look by look, over the same window as the router's
 * numbers (the step so far, at most the router's 300 s), so that a count per request divides
 * numbers of the same seconds. SDK metrics are cumulative totals marked at each look; a query asks
 * Prometheus for the window itself.
 */
export class MetricEvidenceCollector {
  private readonly history: { at: number; treatment: Marks; control: Marks }[] = [];
  private readonly startedAt: number;

  constructor(
    private readonly sources: MetricSources,
    private readonly service: string,
    private readonly checks: readonly MetricCheck[],
    private readonly treatment: string,
    /** The old version, or undefined when the step compares with numbers from before a switch. */
    private readonly control: string | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
    this.history.push({ at: this.startedAt, treatment: this.marks(treatment), control: this.marks(control) });
  }

  async look(
    windowSeconds: number,
    requests: { treatment: number; control: number },
  ): Promise<MetricEvidence[]> {
    const at = this.now();
    const current = { at, treatment: this.marks(this.treatment), control: this.marks(this.control) };
    const from = at - windowSeconds * 1000;
    // The newest mark at or before the window's start (the step's first mark while the step is young).
    let start = this.history[0]!;
    for (const h of this.history) if (h.at <= from + 500) start = h;
    this.history.push(current);
    while (this.history.length > 2 && this.history[1]!.at < at - 310_000) this.history.shift();

    return Promise.all(
      this.checks.map(async (check): Promise<MetricEvidence> => {
        const side = async (
          version: string | undefined,
          now: Marks,
          then: Marks,
          n: number,
        ): Promise<MetricSample> => {
          if (version === undefined)
            return {
              kind: "unavailable",
              why: "no numbers of the old version after the switch (metrics are judged against a version serving alongside)",
            };
          if ("per" in check && check.query) {
            if (!this.sources.prometheus)
              return { kind: "unavailable", why: "no analysis.prometheus to query" };
            const { settle } = this.sources.prometheus;
            if (at - this.startedAt < settle)
              return {
                kind: "unavailable",
                why: `waiting ${Math.ceil((settle - (at - this.startedAt)) / 1000)}s more for Prometheus to scrape ${version} (analysis.prometheus.settle ${settle / 1000}s)`,
              };
            try {
              const scope = { service: this.service, version, windowSeconds };
              const source = this.sources.prometheus;
              const [count, requests] = await Promise.all([
                prometheusCount(source, fillQuery(check.query, scope), at),
                check.requestsQuery ? prometheusCount(source, fillQuery(check.requestsQuery, scope), at) : n,
              ]);
              return {
                kind: "rate",
                count: Math.max(0, Math.round(count)),
                requests: Math.max(0, Math.round(requests)),
              };
            } catch (error) {
              return { kind: "unavailable", why: (error as Error).message };
            }
          }
          if (!this.sources.app)
            return {
              kind: "unavailable",
              why: "this control plane takes no release metrics (its API runs without a client API)",
            };
          const got = AppMetrics.since(now.get(check.name)!, then.get(check.name)!);
          if (!("per" in check)) return { kind: "histogram", buckets: got.buckets };
          // Divided by the SDK's own request count when it keeps one: same reports, no lag.
          const sdkCounts = this.sources.app.countsRequests(this.service);
          return { kind: "rate", count: got.count, requests: sdkCounts ? got.requests : n };
        };
        return {
          check,
          treatment: await side(this.treatment, current.treatment, start.treatment, requests.treatment),
          control: await side(this.control, current.control, start.control, requests.control),
        };
      }),
    );
  }

  private marks(version: string | undefined): Marks {
    const out: Marks = new Map();
    for (const c of this.checks)
      out.set(
        c.name,
        version !== undefined && this.sources.app
          ? this.sources.app.mark(this.service, version, c.name)
          : { count: 0, buckets: [], requests: 0 },
      );
    return out;
  }
}
