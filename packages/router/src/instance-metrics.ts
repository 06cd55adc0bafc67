/** Prometheus histogram bucket upper bounds, in seconds. */
export const LATENCY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BUCKETS_US = LATENCY_BUCKETS_S.map((s) => s * 1e6);

/** Cumulative counters for one instance while it serves one track (what `/metrics` exports). */
export class InstanceMetrics {
  requests = 0;
  errors5xx = 0;
  /** Responses by status class, [1xx, 2xx, 3xx, 4xx, 5xx]: what a Prometheus query of the analysis can divide. */
  readonly byClass = [0, 0, 0, 0, 0];
  connectFailures = 0;
  retries = 0;
  websocketsTotal = 0;
  /** Passive ejections while serving this track. */
  ejections = 0;
  latencySumUs = 0;
  /** Non-cumulative counts per bucket; the last slot is +Inf. */
  readonly latencyCounts = new Float64Array(BUCKETS_US.length + 1);

  /** `status` 0: no status was sent (the attempt failed before one); counted as a 5xx when `is5xx`. */
  record(latencyUs: number, is5xx: boolean, status = 0): void {
    this.requests++;
    if (is5xx) this.errors5xx++;
    const cls = status >= 100 && status < 600 ? Math.floor(status / 100) : is5xx ? 5 : 0;
    if (cls > 0) this.byClass[cls - 1]!++;
    this.latencySumUs += latencyUs;
    let i = 0;
    while (i < BUCKETS_US.length && latencyUs > BUCKETS_US[i]!) i++;
    this.latencyCounts[i]!++;
  }
}
